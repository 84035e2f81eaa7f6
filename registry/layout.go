// Package registry reads and writes the floating-population register as township offices keep
// it: a spreadsheet (.xlsx, or CSV as Excel saves it — UTF-8 or GB18030) with one person per
// row under a header of Chinese column names. It validates every row, stages the valid ones
// with a store and reports the rejected ones, one problem per line, in an error file.
//
// The layout is described in docs/import.md. Files are streamed: a CSV file of a million rows
// is never held in memory.
package registry

import (
	"fmt"
	"strings"

	"yipanqi"
)

// Column is one column of the register layout.
type Column int

// The columns, in the order the template and exports write them.
const (
	ColSeq              Column = iota // 序号, ignored on import
	ColName                           // 姓名
	ColIDNumber                       // 公民身份号码
	ColSex                            // 性别
	ColBirthDate                      // 出生日期
	ColMaritalStatus                  // 婚姻状况
	ColHukouCode                      // 户籍地区划代码
	ColHukouAddress                   // 户籍地详址
	ColResidenceCode                  // 现居住地区划代码
	ColResidenceAddress               // 现居住地详址
	ColPhone                          // 联系电话
	ColArrivedOn                      // 流入日期
	numColumns
)

// columnSpec describes one column: its canonical header, the other headers township sheets
// use for it, and whether every row must fill it.
type columnSpec struct {
	header   string
	aliases  []string
	required bool
}

var columnSpecs = [numColumns]columnSpec{
	ColSeq:              {"序号", []string{"编号"}, false},
	ColName:             {"姓名", []string{"名字"}, true},
	ColIDNumber:         {"公民身份号码", []string{"身份证号", "身份证号码", "公民身份证号码", "公民身份证号", "身份证件号码", "证件号码"}, true},
	ColSex:              {"性别", nil, false},
	ColBirthDate:        {"出生日期", []string{"出生年月日", "生日"}, false},
	ColMaritalStatus:    {"婚姻状况", []string{"婚姻状态", "婚否"}, false},
	ColHukouCode:        {"户籍地区划代码", []string{"户籍地代码", "户籍区划代码", "户籍地行政区划代码"}, true},
	ColHukouAddress:     {"户籍地详址", []string{"户籍地址", "户籍地详细地址", "户籍详址", "户籍地住址"}, false},
	ColResidenceCode:    {"现居住地区划代码", []string{"现居住地代码", "居住地区划代码", "现住址区划代码", "现居住地行政区划代码"}, true},
	ColResidenceAddress: {"现居住地详址", []string{"现居住地址", "现住址", "现居住地详细地址", "居住地址", "居住地详址"}, false},
	ColPhone:            {"联系电话", []string{"手机号", "手机号码", "电话", "电话号码", "联系方式"}, false},
	ColArrivedOn:        {"流入日期", []string{"流入时间", "来本地日期", "到达日期", "流入本地日期"}, true},
}

// headerIndex maps every normalised header text to its column.
var headerIndex = func() map[string]Column {
	m := make(map[string]Column)
	for c := range numColumns {
		m[columnSpecs[c].header] = c
		for _, a := range columnSpecs[c].aliases {
			m[a] = c
		}
	}
	return m
}()

// Header returns the canonical Chinese header of the column.
func (c Column) Header() string {
	if c < 0 || c >= numColumns {
		return ""
	}
	return columnSpecs[c].header
}

// Required reports whether every data row must fill the column.
func (c Column) Required() bool { return c >= 0 && c < numColumns && columnSpecs[c].required }

// Headers returns the canonical header row, in layout order.
func Headers() []string {
	h := make([]string, numColumns)
	for c := range numColumns {
		h[c] = columnSpecs[c].header
	}
	return h
}

// normalizeHeader strips what people add around a column name: spaces, a required-field
// star, a "(必填)" note.
func normalizeHeader(s string) string {
	s = strings.TrimSpace(strings.TrimPrefix(s, "\ufeff"))
	s = strings.Trim(s, " \t\u3000*＊")
	for _, note := range []string{"（必填）", "(必填)", "（选填）", "(选填)"} {
		s = strings.TrimSuffix(s, note)
	}
	return strings.Trim(s, " \t\u3000*＊")
}

// Layout says where each column is in the rows of one file.
type Layout struct {
	index [numColumns]int    // cell index of each column, -1 when absent
	names [numColumns]string // the header text as written in the file
	Row   int                // 1-based row number of the header in the sheet
}

// ParseHeader reads a header row. Columns may come in any order and unknown columns are
// ignored. EINVALID, naming every missing required column, when some are missing, or naming
// the column that appears twice.
func ParseHeader(cells []string) (*Layout, error) {
	l := &Layout{}
	for c := range l.index {
		l.index[c] = -1
	}
	for i, cell := range cells {
		c, ok := headerIndex[normalizeHeader(cell)]
		if !ok {
			continue
		}
		if l.index[c] >= 0 {
			return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, c.Header(), "表头中“%s”列出现了两次（“%s”与“%s”）", c.Header(), l.names[c], strings.TrimSpace(cell))
		}
		l.index[c] = i
		l.names[c] = strings.TrimSpace(cell)
	}
	var missing []string
	for c := range numColumns {
		if c.Required() && l.index[c] < 0 {
			missing = append(missing, c.Header())
		}
	}
	if len(missing) > 0 {
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, missing[0], "缺少必填列：%s", strings.Join(missing, "、"))
	}
	return l, nil
}

// knownHeaders counts the cells that name a column of the layout; a row with two or more is
// taken for the header.
func knownHeaders(cells []string) int {
	n := 0
	for _, cell := range cells {
		if _, ok := headerIndex[normalizeHeader(cell)]; ok {
			n++
		}
	}
	return n
}

// Has reports whether the file has the column.
func (l *Layout) Has(c Column) bool { return l.index[c] >= 0 }

// Name returns the header of the column as the file writes it (the canonical one when absent).
func (l *Layout) Name(c Column) string {
	if l.names[c] != "" {
		return l.names[c]
	}
	return c.Header()
}

// nameAt names the column at cell index i: its header as the file writes it, or "第 N 列"
// for a column the layout does not know.
func (l *Layout) nameAt(i int) string {
	for c := range numColumns {
		if l.index[c] == i {
			return l.Name(c)
		}
	}
	return fmt.Sprintf("第 %d 列", i+1)
}

// Cell returns the trimmed value of column c in a row, "" when the row is short or the column
// is absent.
func (l *Layout) Cell(cells []string, c Column) string {
	i := l.index[c]
	if i < 0 || i >= len(cells) {
		return ""
	}
	return trimCell(cells[i])
}

// blank reports whether a row holds nothing but perhaps a sequence number: pre-numbered empty
// rows at the end of a township sheet are not data.
func (l *Layout) blank(cells []string) bool {
	for i, cell := range cells {
		if i == l.index[ColSeq] {
			continue
		}
		if trimCell(cell) != "" {
			return false
		}
	}
	return true
}

// trimCell removes surrounding white space, including the ideographic space, and the
// ="..." wrapper some tools put around numbers to keep Excel from reformatting them.
func trimCell(s string) string {
	if s == "" {
		return s
	}
	if isPlain(s) {
		return s
	}
	s = strings.TrimSpace(s)
	s = strings.Trim(s, "\u3000")
	if len(s) >= 3 && s[0] == '=' && s[1] == '"' && s[len(s)-1] == '"' {
		s = strings.TrimSpace(s[2 : len(s)-1])
	}
	return s
}

// isPlain reports whether s needs no trimming: the fast path for almost every cell.
func isPlain(s string) bool {
	first, last := s[0], s[len(s)-1]
	return first > ' ' && first != '=' && first != 0xe3 && last > ' ' && last != 0x80
}

func rowProblem(row int, l *Layout, c Column, value, format string, args ...any) Problem {
	return Problem{Row: row, Column: l.Name(c), Value: value, Reason: fmt.Sprintf(format, args...)}
}
