package registry_test

import (
	"strings"
	"testing"

	"yipanqi"
	"yipanqi/registry"
)

func TestParseHeader(t *testing.T) {
	tests := []struct {
		name    string
		header  []string
		missing []string // named in the error; nil means the header is fine
		twice   string
		idCol   int // cell index of 公民身份号码 when fine
	}{
		{name: "canonical", header: registry.Headers(), idCol: 2},
		{name: "any order and variants", header: []string{"流入日期", "身份证号", " 姓名 ", "手机号", "*户籍地区划代码", "现居住地区划代码（必填）", "备注"}, idCol: 1},
		{name: "身份证号码", header: []string{"姓名", "身份证号码", "户籍地区划代码", "现居住地区划代码", "流入日期"}, idCol: 1},
		{name: "missing several", header: []string{"序号", "姓名", "性别", "现居住地区划代码"}, missing: []string{"公民身份号码", "户籍地区划代码", "流入日期"}},
		{name: "nothing known", header: []string{"a", "b"}, missing: []string{"姓名", "公民身份号码", "户籍地区划代码", "现居住地区划代码", "流入日期"}},
		{name: "twice", header: []string{"姓名", "身份证号", "公民身份号码", "户籍地区划代码", "现居住地区划代码", "流入日期"}, twice: "公民身份号码"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := registry.ParseHeader(tt.header)
			switch {
			case tt.missing != nil || tt.twice != "":
				if yipanqi.ErrorCode(err) != yipanqi.EINVALID {
					t.Fatalf("err = %v, want EINVALID", err)
				}
				msg := yipanqi.ErrorMessage(err)
				for _, m := range tt.missing {
					if !strings.Contains(msg, m) {
						t.Errorf("message %q does not name missing column %s", msg, m)
					}
				}
				if tt.twice != "" && !strings.Contains(msg, tt.twice) {
					t.Errorf("message %q does not name %s", msg, tt.twice)
				}
			case err != nil:
				t.Fatalf("ParseHeader: %v", err)
			default:
				row := make([]string, len(tt.header))
				row[tt.idCol] = "X1"
				if got := l.Cell(row, registry.ColIDNumber); got != "X1" {
					t.Errorf("ID column read %q, want the cell at %d", got, tt.idCol)
				}
			}
		})
	}
}

func TestCheck(t *testing.T) {
	v := mustValidator(t)
	l := mustLayout(t)
	tests := []struct {
		name   string
		change map[string]string
		column string // the column of the (first) problem; "" when the row is valid
		reason string // a fragment of the reason
	}{
		{name: "valid", change: nil},
		{name: "sex and birth blank", change: map[string]string{"性别": "", "出生日期": ""}},
		{name: "date forms", change: map[string]string{"出生日期": "1990/3/15", "流入日期": "20190501"}},
		{name: "date 年月日", change: map[string]string{"出生日期": "1990年3月15日", "流入日期": "2019-5-1"}},
		{name: "lower-case x", change: map[string]string{"公民身份号码": strings.ToLower(validID)}},
		{name: "landline", change: map[string]string{"联系电话": "0755-86001234"}},
		{name: "no phone", change: map[string]string{"联系电话": ""}},
		{name: "village residence", change: map[string]string{"现居住地区划代码": "440306017001"}},
		{name: "minority name", change: map[string]string{"姓名": "阿依古丽·买买提"}},
		{name: "marital codes", change: map[string]string{"婚姻状况": "丧偶"}},
		{name: "empty name", change: map[string]string{"姓名": ""}, column: "姓名", reason: "不能为空"},
		{name: "name with digits", change: map[string]string{"姓名": "张3"}, column: "姓名", reason: "数字"},
		{name: "name too long", change: map[string]string{"姓名": strings.Repeat("张", 31)}, column: "姓名", reason: "过长"},
		{name: "bad check digit", change: map[string]string{"公民身份号码": validID[:17] + otherCheck(validID[17])}, column: "公民身份号码", reason: "校验码"},
		{name: "short ID", change: map[string]string{"公民身份号码": validID[:16]}, column: "公民身份号码", reason: "18 位"},
		{name: "ID in scientific notation", change: map[string]string{"公民身份号码": "4.30582E+17"}, column: "公民身份号码", reason: "文本"},
		{name: "no ID", change: map[string]string{"公民身份号码": ""}, column: "公民身份号码", reason: "不能为空"},
		{name: "sex disagrees", change: map[string]string{"性别": "女"}, column: "性别", reason: "不符"},
		{name: "sex unknown", change: map[string]string{"性别": "未知"}, column: "性别", reason: "男"},
		{name: "woman's ID with 男", change: map[string]string{"公民身份号码": womanID}, column: "性别", reason: "不符"},
		{name: "birth disagrees", change: map[string]string{"出生日期": "1990-03-16"}, column: "出生日期", reason: "不符"},
		{name: "impossible birth date", change: map[string]string{"出生日期": "1990-02-30"}, column: "出生日期", reason: "不是有效日期"},
		{name: "marital unknown", change: map[string]string{"婚姻状况": "同居"}, column: "婚姻状况", reason: "未婚"},
		{name: "hukou unknown", change: map[string]string{"户籍地区划代码": "439999"}, column: "户籍地区划代码", reason: "不存在"},
		{name: "hukou 4 digits", change: map[string]string{"户籍地区划代码": "4305"}, column: "户籍地区划代码", reason: "6 位"},
		{name: "hukou blank", change: map[string]string{"户籍地区划代码": ""}, column: "户籍地区划代码", reason: "不能为空"},
		{name: "residence unknown", change: map[string]string{"现居住地区划代码": "440306999"}, column: "现居住地区划代码", reason: "不存在"},
		{name: "residence letters", change: map[string]string{"现居住地区划代码": "44030A017"}, column: "现居住地区划代码", reason: "数字"},
		{name: "phone short", change: map[string]string{"联系电话": "1380013800"}, column: "联系电话", reason: "手机号"},
		{name: "phone 12", change: map[string]string{"联系电话": "12800138000"}, column: "联系电话", reason: "手机号"},
		{name: "arrival blank", change: map[string]string{"流入日期": ""}, column: "流入日期", reason: "不能为空"},
		{name: "arrival impossible", change: map[string]string{"流入日期": "2019-13-01"}, column: "流入日期", reason: "不是有效日期"},
		{name: "arrival in the future", change: map[string]string{"流入日期": today.AddDays(1).String()}, column: "流入日期", reason: "晚于今天"},
		{name: "arrival before birth", change: map[string]string{"流入日期": "1989-01-01"}, column: "流入日期", reason: "早于出生日期"},
		{name: "address like a formula", change: map[string]string{"现居住地详址": "=HYPERLINK(1)"}, column: "现居住地详址", reason: "开头"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := goodRow()
			for k, val := range tt.change {
				m[k] = val
			}
			var p yipanqi.Person
			probs, ok := v.Check(l, 5, cells(m), &p, nil)
			if tt.column == "" {
				if !ok {
					t.Fatalf("rejected: %+v", probs)
				}
				if p.IDNumber != validID || p.Sex != yipanqi.Male || p.BirthDate != birth || p.HukouCode != m["户籍地区划代码"] {
					t.Errorf("person %+v does not carry the row", p)
				}
				return
			}
			if ok || len(probs) == 0 {
				t.Fatalf("accepted, want a problem with %s", tt.column)
			}
			pr := probs[0]
			if pr.Row != 5 || pr.Column != tt.column || !strings.Contains(pr.Reason, tt.reason) {
				t.Errorf("problem %+v, want row 5, column %s, reason with %q", pr, tt.column, tt.reason)
			}
			if pr.Value != strings.TrimSpace(m[tt.column]) {
				t.Errorf("problem value %q, want the cell %q", pr.Value, m[tt.column])
			}
		})
	}
}

// TestCheckEveryProblem checks that a row with several faults reports each one.
func TestCheckEveryProblem(t *testing.T) {
	m := goodRow()
	m["姓名"], m["户籍地区划代码"], m["流入日期"] = "", "999999", "2019-02-29"
	probs, ok := mustValidator(t).Check(mustLayout(t), 2, cells(m), new(yipanqi.Person), nil)
	if ok {
		t.Fatal("accepted")
	}
	var cols []string
	for _, p := range probs {
		cols = append(cols, p.Column)
	}
	if got := strings.Join(cols, ","); got != "姓名,户籍地区划代码,流入日期" {
		t.Errorf("problems in columns %s", got)
	}
}

func TestExcelDates(t *testing.T) {
	v := mustValidator(t)
	v.ExcelDates = true
	m := goodRow()
	m["出生日期"], m["流入日期"] = "32947", "43586.5" // 1990-03-15 and 2019-05-01 noon
	var p yipanqi.Person
	if probs, ok := v.Check(mustLayout(t), 2, cells(m), &p, nil); !ok {
		t.Fatalf("rejected: %+v", probs)
	}
	if p.ArrivedOn.String() != "2019-05-01" {
		t.Errorf("arrival serial read as %s", p.ArrivedOn)
	}
	v.ExcelDates = false
	if _, ok := v.Check(mustLayout(t), 2, cells(m), &p, nil); ok {
		t.Error("serials accepted from a CSV file")
	}
}

func otherCheck(c byte) string {
	if c == '1' {
		return "2"
	}
	return "1"
}
