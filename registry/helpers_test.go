package registry_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/division"
	"yipanqi/idcard"
	"yipanqi/registry"
)

var tree = sync.OnceValues(division.Load)

// mustTree returns the embedded division tree, loaded once per test binary.
func mustTree(tb testing.TB) *division.Tree {
	tb.Helper()
	t, err := tree()
	if err != nil {
		tb.Fatalf("division.Load: %v", err)
	}
	return t
}

var today = yipanqi.Date{Year: 2025, Month: time.June, Day: 30}

func mustValidator(tb testing.TB) *registry.Validator {
	tb.Helper()
	return &registry.Validator{Divisions: mustTree(tb), Today: today}
}

// A synthetic person: valid ID (made here, not anyone's), real divisions.
var (
	birth   = yipanqi.Date{Year: 1990, Month: time.March, Day: 15}
	validID = idcard.Make("430582", birth, 123) // odd sequence: a man
	womanID = idcard.Make("430582", birth, 124)
)

// goodRow returns a valid row in the canonical layout, as a map from header to value.
func goodRow() map[string]string {
	return map[string]string{
		"序号":       "1",
		"姓名":       "张三",
		"公民身份号码":   validID,
		"性别":       "男",
		"出生日期":     "1990-03-15",
		"婚姻状况":     "已婚",
		"户籍地区划代码":  "430582",
		"户籍地详址":    "湖南省邵阳市邵东市某某村3组12号",
		"现居住地区划代码": "440306017",
		"现居住地详址":   "广东省深圳市宝安区新安街道建安一路23号",
		"联系电话":     "13800138000",
		"流入日期":     "2019-05-01",
	}
}

// cells lays a row map out in the canonical column order.
func cells(m map[string]string) []string {
	h := registry.Headers()
	out := make([]string, len(h))
	for i, name := range h {
		out[i] = m[name]
	}
	return out
}

// csvLine joins cells with commas (the test values need no quoting).
func csvLine(c []string) string { return strings.Join(c, ",") + "\r\n" }

func mustLayout(tb testing.TB) *registry.Layout {
	tb.Helper()
	l, err := registry.ParseHeader(registry.Headers())
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

// fakeStager records what an import stages.
type fakeStager struct {
	rows   []int
	people []yipanqi.Person
	reject map[int]bool // data rows to refuse as EINVALID
}

func (s *fakeStager) Add(row int, p *yipanqi.Person) error {
	if s.reject[row] {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "id_number", "第 %d 行：不收", row)
	}
	s.rows = append(s.rows, row)
	s.people = append(s.people, *p)
	return nil
}

// problemList collects problems.
type problemList []registry.Problem

func (l *problemList) Problem(p registry.Problem) error { *l = append(*l, p); return nil }
