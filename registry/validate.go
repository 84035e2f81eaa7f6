package registry

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"yipanqi"
	"yipanqi/idcard"
)

// Problem is one thing wrong with one row: a line of the error file.
type Problem struct {
	Row    int    // row number in the sheet as Excel shows it (the header row counts)
	Column string // the column's header as the file writes it; "" for the row as a whole
	Value  string // the offending value as read
	Reason string // Chinese, for the township worker
}

// Divisions says whether a division code exists. *division.Tree satisfies it.
type Divisions interface {
	Exists(code string) bool
}

// Validator checks data rows against the layout's rules and turns them into people.
type Validator struct {
	Divisions Divisions
	Today     yipanqi.Date // dates after it are rejected

	// ExcelDates accepts a bare number in a date column as an Excel date serial (a date cell
	// of an .xlsx file read without its number format).
	ExcelDates bool
}

// Limits of free-text cells, in characters.
const (
	maxNameLen    = 30
	maxAddressLen = 200
)

// Check validates one data row and fills p from it. It appends a Problem for everything wrong
// and reports whether the row is valid; p is meaningful only then.
func (v *Validator) Check(l *Layout, row int, cells []string, p *yipanqi.Person, probs []Problem) ([]Problem, bool) {
	n := len(probs)
	*p = yipanqi.Person{}
	if probs, ok := checkCells(l, row, cells, probs); !ok {
		return probs, false
	}

	// 姓名
	name := l.Cell(cells, ColName)
	switch {
	case name == "":
		probs = append(probs, rowProblem(row, l, ColName, name, "姓名不能为空"))
	case utf8.RuneCountInString(name) > maxNameLen:
		probs = append(probs, rowProblem(row, l, ColName, name, "姓名过长：最多 %d 个字", maxNameLen))
	case !validName(name):
		probs = append(probs, rowProblem(row, l, ColName, name, "姓名不能含有数字或符号"))
	}
	p.Name = name

	// 公民身份号码, then 性别 and 出生日期, which must agree with it.
	raw := l.Cell(cells, ColIDNumber)
	var id idcard.ID
	idOK := false
	switch {
	case raw == "":
		probs = append(probs, rowProblem(row, l, ColIDNumber, raw, "公民身份号码不能为空"))
	case looksScientific(raw):
		probs = append(probs, rowProblem(row, l, ColIDNumber, raw, "公民身份号码被 Excel 当作数字保存，末几位已经丢失：请把该列设为“文本”格式后重新录入"))
	default:
		var err error
		id, err = idcard.Parse(strings.ToUpper(raw), v.Today)
		if err != nil {
			probs = append(probs, rowProblem(row, l, ColIDNumber, raw, "公民身份号码无效：%s", yipanqi.ErrorMessage(err)))
		} else {
			idOK = true
			p.IDNumber, p.Sex, p.BirthDate = id.Number, id.Sex, id.Birth
		}
	}

	if s := l.Cell(cells, ColSex); s != "" {
		sex, ok := parseSex(s)
		switch {
		case !ok:
			probs = append(probs, rowProblem(row, l, ColSex, s, "性别应填“男”或“女”"))
		case idOK && sex != id.Sex:
			probs = append(probs, rowProblem(row, l, ColSex, s, "性别与公民身份号码不符（号码显示为%s）", id.Sex.Label()))
		}
	}
	if s := l.Cell(cells, ColBirthDate); s != "" {
		d, reason := v.date(s)
		switch {
		case reason != "":
			probs = append(probs, rowProblem(row, l, ColBirthDate, s, "出生日期%s", reason))
		case idOK && d != id.Birth:
			probs = append(probs, rowProblem(row, l, ColBirthDate, s, "出生日期与公民身份号码不符（号码显示为 %s）", id.Birth))
		}
	}

	// 婚姻状况
	if s := l.Cell(cells, ColMaritalStatus); s != "" {
		m, ok := yipanqi.ParseMaritalStatus(s)
		if !ok {
			probs = append(probs, rowProblem(row, l, ColMaritalStatus, s, "婚姻状况应为未婚、初婚、再婚、离婚或丧偶（“已婚”按初婚）"))
		}
		p.MaritalStatus = m
	}

	// Divisions and addresses.
	p.HukouCode, probs = v.division(l, row, cells, ColHukouCode, "户籍地区划代码", probs)
	p.ResidenceCode, probs = v.division(l, row, cells, ColResidenceCode, "现居住地区划代码", probs)
	p.HukouAddress, probs = address(l, row, cells, ColHukouAddress, probs)
	p.ResidenceAddress, probs = address(l, row, cells, ColResidenceAddress, probs)

	// 联系电话
	if s := l.Cell(cells, ColPhone); s != "" {
		if !validPhone(s) {
			probs = append(probs, rowProblem(row, l, ColPhone, s, "联系电话格式不对：应为 11 位手机号或带区号的固定电话（如 020-12345678）"))
		}
		p.Phone = s
	}

	// 流入日期
	if s := l.Cell(cells, ColArrivedOn); s == "" {
		probs = append(probs, rowProblem(row, l, ColArrivedOn, s, "流入日期不能为空"))
	} else if d, reason := v.date(s); reason != "" {
		probs = append(probs, rowProblem(row, l, ColArrivedOn, s, "流入日期%s", reason))
	} else if idOK && d.Before(id.Birth) {
		probs = append(probs, rowProblem(row, l, ColArrivedOn, s, "流入日期早于出生日期（%s）", id.Birth))
	} else {
		p.ArrivedOn = d
	}
	return probs, len(probs) == n
}

// MaxCellBytes caps one cell: no column of the register needs more (an address is at most
// 200 characters), and a row with a longer cell is rejected, its value cut in the error file.
const MaxCellBytes = 4 << 10

// maxValueRunes is how much of a value a Problem carries into the error file.
const maxValueRunes = 100

// checkCells rejects a row with a cell that did not decode (invalid UTF-8, or U+FFFD, which is
// what an undecodable GB18030 sequence turns into; a literal U+FFFD is refused as well, so that
// nothing stored ever holds one) or that is over MaxCellBytes, naming the first such column
// (a row pasted in another encoding would otherwise fill a line per cell). Cells of columns
// the import ignores count too: the row is not what the file meant.
func checkCells(l *Layout, row int, cells []string, probs []Problem) ([]Problem, bool) {
	for i, cell := range cells {
		switch {
		case len(cell) > MaxCellBytes:
			return append(probs, Problem{Row: row, Column: l.nameAt(i), Value: Truncate(cell),
				Reason: fmt.Sprintf("%s过长（%d 字节）：一个单元格最多 %d 字节", l.nameAt(i), len(cell), MaxCellBytes)}), false
		case !utf8.ValidString(cell) || strings.ContainsRune(cell, utf8.RuneError):
			return append(probs, Problem{Row: row, Column: l.nameAt(i), Value: Truncate(cell),
				Reason: fmt.Sprintf("%s含有无法识别的字符（在第 %d 个字附近；文件的字符编码有误或不一致）：请检查该处，或将整个文件另存为 UTF-8 或 GB18030 编码", l.nameAt(i), badRuneAt(cell))}), false
		}
	}
	return probs, true
}

// badRuneAt returns the 1-based character position of the first undecodable character.
func badRuneAt(s string) int {
	pos := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		pos++
		if r == utf8.RuneError {
			return pos
		}
		i += size
	}
	return pos
}

// Truncate cuts a value for an error file: at most maxValueRunes characters, valid UTF-8
// (an undecodable byte shows as U+FFFD), with "…" when cut.
func Truncate(s string) string {
	if len(s) <= maxValueRunes && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == maxValueRunes {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

func (v *Validator) division(l *Layout, row int, cells []string, c Column, label string, probs []Problem) (string, []Problem) {
	s := l.Cell(cells, c)
	switch {
	case s == "":
		return "", append(probs, rowProblem(row, l, c, s, "%s不能为空", label))
	case len(s) != 6 && len(s) != 9 && len(s) != 12 || !allDigits(s):
		if looksScientific(s) {
			return "", append(probs, rowProblem(row, l, c, s, "%s被 Excel 当作数字保存并改写了：请把该列设为“文本”格式后重新录入", label))
		}
		return "", append(probs, rowProblem(row, l, c, s, "%s应为 6 位（县）、9 位（乡镇街道）或 12 位（村居）数字", label))
	case !v.Divisions.Exists(s):
		return "", append(probs, rowProblem(row, l, c, s, "%s“%s”不存在：请核对最新的统计用区划代码", label, s))
	}
	return s, probs
}

func address(l *Layout, row int, cells []string, c Column, probs []Problem) (string, []Problem) {
	s := l.Cell(cells, c)
	if utf8.RuneCountInString(s) > maxAddressLen {
		return "", append(probs, rowProblem(row, l, c, s, "%s过长：最多 %d 个字", l.Name(c), maxAddressLen))
	}
	if s != "" && strings.IndexByte("=+-@", s[0]) >= 0 {
		// Excel would take such a cell for a formula when the register is exported again.
		return "", append(probs, rowProblem(row, l, c, s, "%s不能以 =、+、-、@ 开头", l.Name(c)))
	}
	return s, probs
}

// date parses the date forms township sheets use and returns a reason (to follow the column
// name) when the cell is not a possible date up to today.
func (v *Validator) date(s string) (yipanqi.Date, string) {
	d, ok := parseDate(s)
	if !ok && v.ExcelDates {
		d, ok = excelSerial(s)
	}
	switch {
	case !ok:
		return d, "不是有效日期：请写成 YYYY-MM-DD，如 2024-03-15"
	case d.Year < 1900:
		return d, "早于 1900 年"
	case v.Today.Before(d):
		return d, "晚于今天"
	}
	return d, ""
}

// parseDate reads YYYY-MM-DD, YYYY-M-D, YYYY/M/D, YYYY.M.D, YYYY年M月D日 and YYYYMMDD, and
// rejects impossible dates such as 2023-02-30.
func parseDate(s string) (yipanqi.Date, bool) {
	if len(s) == 8 && allDigits(s) {
		return makeDate(atoi(s[:4]), atoi(s[4:6]), atoi(s[6:]))
	}
	var parts [3]int
	i := 0
	for k := range 3 {
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i || j-i > 4 || (k > 0 && j-i > 2) || (k == 0 && j-i != 4) {
			return yipanqi.Date{}, false
		}
		parts[k] = atoi(s[i:j])
		i = j
		if k == 2 {
			break
		}
		sep := ""
		switch {
		case i < len(s) && (s[i] == '-' || s[i] == '/' || s[i] == '.'):
			sep = s[i : i+1]
		case k == 0 && strings.HasPrefix(s[i:], "年"):
			sep = "年"
		case k == 1 && strings.HasPrefix(s[i:], "月"):
			sep = "月"
		default:
			return yipanqi.Date{}, false
		}
		i += len(sep)
	}
	rest := s[i:]
	if rest != "" && rest != "日" && rest != "号" {
		// A datetime as some exports write it: keep the date, ignore a midnight time.
		if t := strings.TrimSpace(rest); t != "00:00:00" && t != "0:00:00" && t != "00:00" && t != "0:00" {
			return yipanqi.Date{}, false
		}
	}
	return makeDate(parts[0], parts[1], parts[2])
}

func makeDate(y, m, d int) (yipanqi.Date, bool) {
	if m < 1 || m > 12 || d < 1 || d > 31 {
		return yipanqi.Date{}, false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d {
		return yipanqi.Date{}, false // 2023-02-30 rolled over into March
	}
	return yipanqi.Date{Year: y, Month: time.Month(m), Day: d}, true
}

// excelSerial reads an Excel date serial (days since 1899-12-30 in the 1900 date system; a
// fraction is a time of day and is dropped).
func excelSerial(s string) (yipanqi.Date, bool) {
	if i := strings.IndexByte(s, '.'); i >= 0 {
		if !allDigits(s[i+1:]) {
			return yipanqi.Date{}, false
		}
		s = s[:i]
	}
	if s == "" || len(s) > 6 || !allDigits(s) {
		return yipanqi.Date{}, false
	}
	n := atoi(s)
	if n < 61 { // before 1900-03-01, where Excel's phantom 1900-02-29 makes serials ambiguous
		return yipanqi.Date{}, false
	}
	return yipanqi.DateOf(time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n)), true
}

func parseSex(s string) (yipanqi.Sex, bool) {
	switch s {
	case "男", "男性", "M", "m":
		return yipanqi.Male, true
	case "女", "女性", "F", "f":
		return yipanqi.Female, true
	}
	return "", false
}

// validName accepts letters of any script, the middle dot of transcribed minority names and
// spaces inside; digits, punctuation and control characters are refused.
func validName(s string) bool {
	for _, r := range s {
		switch {
		case r == '·' || r == '•' || r == '．' || r == ' ':
		case unicode.IsLetter(r) || unicode.Is(unicode.Mn, r):
		default:
			return false
		}
	}
	return true
}

// validPhone accepts an 11-digit mobile number (1[3-9]…, optionally after +86) or a landline
// with its area code (0XX-XXXXXXXX, dash optional) and an optional extension.
func validPhone(s string) bool {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "+86"), "86-")
	if len(s) == 11 && allDigits(s) && s[0] == '1' && s[1] >= '3' {
		return true
	}
	if s == "" || s[0] != '0' {
		return false
	}
	main, ext, hasExt := strings.Cut(s, "-")
	if hasExt {
		// 0XX-XXXXXXXX or 0XX-XXXXXXXX-EXT
		local, extension, ok := strings.Cut(ext, "-")
		if ok && (extension == "" || len(extension) > 6 || !allDigits(extension)) {
			return false
		}
		return len(main) >= 3 && len(main) <= 4 && allDigits(main) &&
			len(local) >= 7 && len(local) <= 8 && allDigits(local)
	}
	// Without a dash: area code and number run together, 10 to 12 digits.
	return len(s) >= 10 && len(s) <= 12 && allDigits(s)
}

// looksScientific reports whether a number was written in scientific notation, as Excel
// does with long digit strings in a General cell.
func looksScientific(s string) bool {
	return strings.ContainsAny(s, "Ee") && strings.ContainsAny(s, "+.") && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r == '.' || r == 'E' || r == 'e' || r == '+')
	}) < 0
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return len(s) > 0
}

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}
