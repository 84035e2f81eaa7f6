package division_test

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"yipanqi"
	"yipanqi/division"
)

// embeddedTree loads the embedded data once for the whole test binary.
var embeddedTree = sync.OnceValues(division.Load)

// MustTree returns the tree of the embedded data.
func MustTree(tb testing.TB) *division.Tree {
	tb.Helper()
	t, err := embeddedTree()
	if err != nil {
		tb.Fatalf("Load: %v", err)
	}
	return t
}

func TestLookup(t *testing.T) {
	tree := MustTree(t)
	tests := []struct {
		name   string
		code   string
		want   division.Division
		errMsg string // expected error code; "" for success
		errHas string // text the message must contain
	}{
		{name: "province", code: "44", want: division.Division{Code: "44", Name: "广东省", Level: yipanqi.LevelProvince}},
		{name: "city", code: "4401", want: division.Division{Code: "4401", Name: "广州市", Level: yipanqi.LevelCity, Parent: "44"}},
		{name: "county", code: "440106", want: division.Division{Code: "440106", Name: "天河区", Level: yipanqi.LevelCounty, Parent: "4401"}},
		{name: "township", code: "440106001", want: division.Division{Code: "440106001", Name: "五山街道", Level: yipanqi.LevelTownship, Parent: "440106"}},
		{name: "village", code: "440106001001", want: division.Division{Code: "440106001001", Name: "岳洲社区居委会", Level: yipanqi.LevelVillage, Parent: "440106001"}},
		{name: "placeholder city", code: "5001", want: division.Division{Code: "5001", Name: "市辖区", Level: yipanqi.LevelCity, Parent: "50"}},
		{name: "unknown county", code: "440199", errMsg: yipanqi.ENOTFOUND, errHas: "行政区划代码“440199”不存在"},
		{name: "unknown province", code: "99", errMsg: yipanqi.ENOTFOUND, errHas: "“99”不存在"},
		{name: "village outside Pan-PRD", code: "110101001001", errMsg: yipanqi.ENOTFOUND, errHas: "只覆盖泛珠三角"},
		{name: "unknown village in Pan-PRD", code: "440106001999", errMsg: yipanqi.ENOTFOUND, errHas: "“440106001999”不存在"},
		{name: "letter", code: "44x1", errMsg: yipanqi.EINVALID, errHas: "行政区划代码“44x1”格式错误：应为 2、4、6、9 或 12 位数字"},
		{name: "empty", code: "", errMsg: yipanqi.EINVALID, errHas: "格式错误"},
		{name: "odd length", code: "44010", errMsg: yipanqi.EINVALID, errHas: "格式错误"},
		{name: "too long", code: "4401060010011", errMsg: yipanqi.EINVALID, errHas: "格式错误"},
		{name: "full-width digits", code: "４４", errMsg: yipanqi.EINVALID, errHas: "格式错误"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tree.Lookup(tt.code)
			if tt.errMsg != "" {
				if code := yipanqi.ErrorCode(err); code != tt.errMsg {
					t.Fatalf("Lookup(%q) error code = %q (%v), want %q", tt.code, code, err, tt.errMsg)
				}
				if msg := yipanqi.ErrorMessage(err); !strings.Contains(msg, tt.errHas) {
					t.Errorf("message %q does not contain %q", msg, tt.errHas)
				}
				if f := yipanqi.ErrorField(err); f != "division_code" {
					t.Errorf("field = %q, want division_code", f)
				}
				if tree.Exists(tt.code) {
					t.Errorf("Exists(%q) = true for a failing lookup", tt.code)
				}
				return
			}
			if err != nil {
				t.Fatalf("Lookup(%q): %v", tt.code, err)
			}
			if got != tt.want {
				t.Errorf("Lookup(%q) = %+v, want %+v", tt.code, got, tt.want)
			}
			if !tree.Exists(tt.code) {
				t.Errorf("Exists(%q) = false", tt.code)
			}
		})
	}
	// The coverage note is for villages outside the covered provinces only.
	_, err := tree.Lookup("440106001999")
	if strings.Contains(yipanqi.ErrorMessage(err), "泛珠三角") {
		t.Errorf("message for a missing Guangdong village blames coverage: %q", yipanqi.ErrorMessage(err))
	}
}

func TestAncestors(t *testing.T) {
	tree := MustTree(t)
	tests := []struct {
		code  string
		codes []string
		names []string
	}{
		{"44", []string{"44"}, []string{"广东省"}},
		{"440106001001", []string{"44", "4401", "440106", "440106001", "440106001001"},
			[]string{"广东省", "广州市", "天河区", "五山街道", "岳洲社区居委会"}},
		{"500101", []string{"50", "5001", "500101"}, []string{"重庆市", "市辖区", "万州区"}},
		{"429004", []string{"42", "4290", "429004"}, []string{"湖北省", "省直辖县级行政区划", "仙桃市"}},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			got, err := tree.Ancestors(tt.code)
			if err != nil {
				t.Fatal(err)
			}
			var codes, names []string
			for i, d := range got {
				codes = append(codes, d.Code)
				names = append(names, d.Name)
				if i > 0 && d.Parent != got[i-1].Code {
					t.Errorf("%s: parent %q, want %q", d.Code, d.Parent, got[i-1].Code)
				}
				if d.Level != yipanqi.Level(i+1) {
					t.Errorf("%s: level %d, want %d", d.Code, d.Level, i+1)
				}
			}
			if !slices.Equal(codes, tt.codes) || !slices.Equal(names, tt.names) {
				t.Errorf("Ancestors(%s) = %v %v, want %v %v", tt.code, codes, names, tt.codes, tt.names)
			}
		})
	}
	for _, code := range []string{"440199", "4x"} {
		if _, err := tree.Ancestors(code); err == nil {
			t.Errorf("Ancestors(%q): no error", code)
		}
	}
}

func TestChildren(t *testing.T) {
	tree := MustTree(t)
	tests := []struct {
		code     string
		contains []division.Division
		minLen   int
	}{
		{"44", []division.Division{{Code: "4401", Name: "广州市", Level: yipanqi.LevelCity, Parent: "44"}}, 21},
		{"4401", []division.Division{{Code: "440106", Name: "天河区", Level: yipanqi.LevelCounty, Parent: "4401"}}, 11},
		{"50", []division.Division{{Code: "5001", Name: "市辖区", Level: yipanqi.LevelCity, Parent: "50"}, {Code: "5002", Name: "县", Level: yipanqi.LevelCity, Parent: "50"}}, 2},
		{"440106001", []division.Division{{Code: "440106001001", Name: "岳洲社区居委会", Level: yipanqi.LevelVillage, Parent: "440106001"}}, 2},
		{"440106001001", nil, 0}, // a village has no children
		{"110101001", nil, 0},    // no village data outside Pan-PRD
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			got, err := tree.Children(tt.code)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) < tt.minLen || (tt.minLen == 0 && len(got) != 0) {
				t.Errorf("Children(%s): %d, want at least %d (exactly 0 when 0)", tt.code, len(got), tt.minLen)
			}
			for _, want := range tt.contains {
				if !slices.Contains(got, want) {
					t.Errorf("Children(%s) lacks %+v", tt.code, want)
				}
			}
			if !slices.IsSortedFunc(got, func(a, b division.Division) int { return strings.Compare(a.Code, b.Code) }) {
				t.Errorf("Children(%s) not sorted by code", tt.code)
			}
			for _, d := range got {
				if d.Parent != tt.code || !strings.HasPrefix(d.Code, tt.code) {
					t.Errorf("child %+v of %s", d, tt.code)
				}
			}
		})
	}
	if _, err := tree.Children("440199"); yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
		t.Errorf("Children(440199): %v, want ENOTFOUND", err)
	}
}

// TestTreeConsistent walks the whole tree: every division is found by Lookup, is among its
// parent's children, and Len counts them all.
func TestTreeConsistent(t *testing.T) {
	tree := MustTree(t)
	n := 0
	var walk func(d division.Division)
	walk = func(d division.Division) {
		n++
		got, err := tree.Lookup(d.Code)
		if err != nil || got != d {
			t.Fatalf("Lookup(%s) = %+v, %v; want %+v", d.Code, got, err, d)
		}
		kids, err := tree.Children(d.Code)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range kids {
			walk(k)
		}
	}
	provinces := tree.Provinces()
	if len(provinces) != 31 {
		t.Errorf("%d provinces, want 31", len(provinces))
	}
	for _, p := range provinces {
		walk(p)
	}
	if n != tree.Len() {
		t.Errorf("walked %d divisions, Len() = %d", n, tree.Len())
	}
	for _, p := range []string{"44", "35", "36", "42", "43", "45", "46", "52", "50", "51", "53"} {
		if !tree.HasVillages(p) {
			t.Errorf("HasVillages(%s) = false, want true for a Pan-PRD province", p)
		}
	}
	if tree.HasVillages("11") || tree.HasVillages("x") {
		t.Error("HasVillages is true outside Pan-PRD")
	}
}

func TestCounties(t *testing.T) {
	tree := MustTree(t)
	got, err := tree.Counties("42")
	if err != nil {
		t.Fatal(err)
	}
	var viaCities int
	cities, _ := tree.Children("42")
	for _, c := range cities {
		kids, _ := tree.Children(c.Code)
		viaCities += len(kids)
	}
	if len(got) != viaCities || len(got) == 0 {
		t.Errorf("Counties(42): %d, want %d (the counties under its cities)", len(got), viaCities)
	}
	if !slices.ContainsFunc(got, func(d division.Division) bool { return d.Code == "429004" && d.Name == "仙桃市" }) {
		t.Error("Counties(42) lacks 429004 仙桃市 under 省直辖县级行政区划")
	}
	for _, d := range got {
		if d.Level != yipanqi.LevelCounty || d.Code[:2] != "42" {
			t.Errorf("Counties(42) holds %+v", d)
		}
	}
	errs := []struct{ code, want string }{{"4401", yipanqi.EINVALID}, {"4x", yipanqi.EINVALID}, {"99", yipanqi.ENOTFOUND}}
	for _, e := range errs {
		if _, err := tree.Counties(e.code); yipanqi.ErrorCode(err) != e.want {
			t.Errorf("Counties(%q): %v, want %s", e.code, err, e.want)
		}
	}
}

func TestSearch(t *testing.T) {
	tree := MustTree(t)
	tests := []struct {
		query string
		limit int
		first string // code of the first result; "" for no result
		n     int    // exact count when > 0
	}{
		{"广东", 10, "44", 0},
		{"天河区", 0, "440106", 0},
		{"仙桃", 1, "429004", 1},
		{"岳洲社区", 0, "440106001001", 0},
		{"不存在的地名xyz", 10, "", 0},
		{"", 10, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got := tree.Search(tt.query, tt.limit)
			if tt.first == "" {
				if len(got) != 0 {
					t.Fatalf("Search(%q) = %v, want none", tt.query, got)
				}
				return
			}
			if len(got) == 0 || got[0].Code != tt.first {
				t.Fatalf("Search(%q) = %v, want first %s", tt.query, got, tt.first)
			}
			if tt.limit > 0 && len(got) > tt.limit {
				t.Errorf("Search(%q, %d) returned %d", tt.query, tt.limit, len(got))
			}
			if tt.n > 0 && len(got) != tt.n {
				t.Errorf("Search(%q) returned %d, want %d", tt.query, len(got), tt.n)
			}
			for i, d := range got {
				if !strings.Contains(d.Name, tt.query) {
					t.Errorf("%+v does not match %q", d, tt.query)
				}
				if i > 0 && (d.Level < got[i-1].Level || d.Level == got[i-1].Level && d.Code < got[i-1].Code) {
					t.Errorf("results out of order at %d: %+v after %+v", i, d, got[i-1])
				}
			}
		})
	}
	// Shallow levels first: a name found at several levels lists the shallowest first.
	got := tree.Search("广州", 0)
	if len(got) < 2 || got[0].Level != yipanqi.LevelCity || got[len(got)-1].Level <= yipanqi.LevelCity {
		t.Errorf("Search(广州) = %v, want the city first and deeper levels after", got[:min(len(got), 3)])
	}
}

func TestFullName(t *testing.T) {
	tree := MustTree(t)
	tests := []struct {
		code, want string
	}{
		{"44", "广东省"},
		{"4401", "广东省广州市"},
		{"440106", "广东省广州市天河区"},
		{"440106001", "广东省广州市天河区五山街道"},
		{"440106001001", "广东省广州市天河区五山街道岳洲社区居委会"},
		{"500101", "重庆市万州区"},       // 5001 市辖区 left out
		{"500229", "重庆市城口县"},       // 5002 县 left out
		{"429004", "湖北省仙桃市"},       // 4290 省直辖县级行政区划 left out
		{"659001", "新疆维吾尔自治区石河子市"}, // 6590 自治区直辖县级行政区划 left out
		{"110101", "北京市东城区"},
		{"441900", "广东省东莞市"}, // county 东莞市 under city 东莞市: written once
		{"441900003", "广东省东莞市东城街道"},
		{"5001", "重庆市"},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			got, err := tree.FullName(tt.code)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("FullName(%s) = %q, want %q", tt.code, got, tt.want)
			}
		})
	}
	if _, err := tree.FullName("440199"); yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
		t.Errorf("FullName(440199): %v, want ENOTFOUND", err)
	}
}

func TestIsPlaceholder(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"市辖区", true}, {"县", true}, {"省直辖县级行政区划", true}, {"自治区直辖县级行政区划", true},
		{"天河区", false}, {"城口县", false}, {"", false},
	}
	for _, tt := range tests {
		if got := division.IsPlaceholder(tt.name); got != tt.want {
			t.Errorf("IsPlaceholder(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestConcurrentUse reads one tree from several goroutines (run with -race).
func TestConcurrentUse(t *testing.T) {
	tree := MustTree(t)
	want, _ := tree.FullName("440106001001")
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 8 {
		wg.Go(func() {
			for range 20 {
				if got, err := tree.FullName("440106001001"); err != nil || got != want {
					errs <- got
					return
				}
				tree.Search("天河", 5)
			}
		})
	}
	wg.Wait()
	close(errs)
	for got := range errs {
		t.Errorf("concurrent FullName = %q, want %q", got, want)
	}
}
