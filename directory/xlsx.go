package directory

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"yipanqi"
	"yipanqi/division"
)

// The workbook has one sheet per section of the directory, each with a header row of Chinese
// column names (in any order; a title row above it is allowed), and an instructions sheet.
// Every cell is written as text, so codes and phones keep their leading zeros.

// Sheet names.
const (
	SheetRegulations  = "政策法规"
	SheetInstitutions = "服务机构"
	SheetContacts     = "联系方式"
	SheetHelp         = "填写说明"
)

// column is one column of a sheet: its header, the DirectoryEntry field it fills (the Field
// of the errors Check returns), and how it is read and written.
type column struct {
	header   string
	field    string
	required bool
	note     string
	width    float64
	get      func(e *yipanqi.DirectoryEntry) string
	set      func(e *yipanqi.DirectoryEntry, v string) string // returns a problem, or ""
}

type sheet struct {
	name string
	kind yipanqi.EntryKind
	cols []column
}

func text(header, field string, required bool, width float64, note string, p func(e *yipanqi.DirectoryEntry) *string) column {
	return column{header: header, field: field, required: required, width: width, note: note,
		get: func(e *yipanqi.DirectoryEntry) string { return *p(e) },
		set: func(e *yipanqi.DirectoryEntry, v string) string { *p(e) = v; return "" }}
}

var (
	seqCol = column{header: "序号", width: 6, note: "可不填，导入时不读取；条目按行的顺序排列",
		get: func(e *yipanqi.DirectoryEntry) string { return strconv.Itoa(e.Seq) },
		set: func(*yipanqi.DirectoryEntry, string) string { return "" }}
	codeCol = func(required bool, note string) column {
		return text("区划代码", "DivisionCode", required, 12, note,
			func(e *yipanqi.DirectoryEntry) *string { return &e.DivisionCode })
	}
	divNameCol = text("区划名称", "DivisionName", false, 14, "可不填，导入时按区划代码填入",
		func(e *yipanqi.DirectoryEntry) *string { return &e.DivisionName })
	phoneCol = func(required bool) column {
		return text("电话", "Phone", required, 16, "办公电话：带区号的固定电话（如 020-12345678，分机写作 -123）或 12320 等服务号码；名录对外公开，不能填写个人手机号",
			func(e *yipanqi.DirectoryEntry) *string { return &e.Phone })
	}
	addressCol = func(required bool) column {
		return text("地址", "Address", required, 36, "办公地址", func(e *yipanqi.DirectoryEntry) *string { return &e.Address })
	}
	noteCol = text("备注", "Note", false, 20, "可不填", func(e *yipanqi.DirectoryEntry) *string { return &e.Note })
)

var sheets = []sheet{
	{SheetRegulations, yipanqi.EntryRegulation, []column{
		seqCol,
		codeCol(false, "发布机关所在的省、市、县或乡镇街道的区划代码；可不填（本省）"),
		divNameCol,
		text("标题", "Name", true, 40, "法规、规章或规范性文件的标题", func(e *yipanqi.DirectoryEntry) *string { return &e.Name }),
		text("文号", "DocNumber", false, 20, "如 粤卫〔2020〕12号；地方性法规可不填", func(e *yipanqi.DirectoryEntry) *string { return &e.DocNumber }),
		{header: "发布日期", field: "IssuedOn", required: true, width: 12, note: "如 2021-11-25（也可写 2021/11/25 或用 Excel 日期）",
			get: func(e *yipanqi.DirectoryEntry) string { return e.IssuedOn.String() },
			set: func(e *yipanqi.DirectoryEntry, v string) string {
				d, ok := parseDate(v)
				if !ok {
					return fmt.Sprintf("发布日期“%s”无效：应为 2021-11-25 这样的日期", v)
				}
				e.IssuedOn = d
				return ""
			}},
		{header: "状态", field: "Status", required: true, width: 10, note: "现行有效、已修订 或 已废止",
			get: func(e *yipanqi.DirectoryEntry) string { return e.Status.Label() },
			set: func(e *yipanqi.DirectoryEntry, v string) string {
				s, ok := yipanqi.ParseRegulationStatus(v)
				if !ok {
					return fmt.Sprintf("状态“%s”无效：应为 现行有效、已修订 或 已废止", v)
				}
				e.Status = s
				return ""
			}},
		text("链接", "URL", false, 30, "全文所在网页，以 http:// 或 https:// 开头；与“全文或摘要”至少填写一项", func(e *yipanqi.DirectoryEntry) *string { return &e.URL }),
		text("全文或摘要", "Text", false, 50, "与“链接”至少填写一项", func(e *yipanqi.DirectoryEntry) *string { return &e.Text }),
		noteCol,
	}},
	{SheetInstitutions, yipanqi.EntryInstitution, []column{
		seqCol,
		codeCol(true, "机构所在的市、县或乡镇街道的区划代码"),
		divNameCol,
		text("机构名称", "Name", true, 32, "具有服务资格的机构的名称", func(e *yipanqi.DirectoryEntry) *string { return &e.Name }),
		text("服务项目", "Services", true, 40, "可提供的服务，用“；”分隔", func(e *yipanqi.DirectoryEntry) *string { return &e.Services }),
		phoneCol(true),
		addressCol(true),
		noteCol,
	}},
	{SheetContacts, yipanqi.EntryContact, []column{
		seqCol,
		codeCol(true, "工作机构所在的省、市、县或乡镇街道的区划代码（2、4、6 或 9 位）"),
		divNameCol,
		text("工作机构", "Name", true, 32, "如 天河区流动人口服务管理办公室", func(e *yipanqi.DirectoryEntry) *string { return &e.Name }),
		{header: "职责", field: "Role", required: true, width: 14, note: "第一责任人、分管领导、机构负责人 或 专（兼）职人员（“办公室主任”“科长”按机构负责人，“工作人员”按专（兼）职人员）",
			get: func(e *yipanqi.DirectoryEntry) string { return e.Role.Label() },
			set: func(e *yipanqi.DirectoryEntry, v string) string {
				r, ok := yipanqi.ParseDutyRole(v)
				if !ok {
					return fmt.Sprintf("职责“%s”无效：应为 第一责任人、分管领导、机构负责人 或 专（兼）职人员", v)
				}
				e.Role = r
				return ""
			}},
		text("姓名", "PersonName", true, 10, "工作人员姓名", func(e *yipanqi.DirectoryEntry) *string { return &e.PersonName }),
		text("职务", "JobTitle", false, 14, "可不填", func(e *yipanqi.DirectoryEntry) *string { return &e.JobTitle }),
		phoneCol(true),
		addressCol(false),
		noteCol,
	}},
}

// Problem is something wrong with one cell, row or sheet of a directory workbook.
type Problem struct {
	Sheet   string
	Row     int    // 1-based row in the sheet; 0 for the sheet as a whole
	Column  string // the column's header, or ""
	Message string
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString("工作表“" + p.Sheet + "”")
	if p.Row > 0 {
		fmt.Fprintf(&b, "第 %d 行", p.Row)
	}
	if p.Column != "" {
		b.WriteString("“" + p.Column + "”列")
	}
	return b.String() + "：" + p.Message
}

// headerSearchRows is how many rows at the top of a sheet may hold the header.
const headerSearchRows = 10

// Limits of a directory workbook: a province's directory has a few thousand entries; past
// these, reading stops with a problem rather than holding an unbounded file in memory.
const (
	MaxEntries  = 50_000 // non-blank data rows, all sheets together
	MaxProblems = 1_000  // problems reported before reading stops
	maxCell     = 4 << 10
)

// Read reads a directory workbook of the province with the 2-digit code: the entries of its
// three sheets in order (regulations, institutions, contacts), and every problem found, each
// naming the sheet, the row and the column. The entries are only good to store when there is
// no problem. With a tree, every division code must exist and lie in the province, and a
// missing division name is filled in from it. err is EINVALID when r is not a workbook.
//
// Sheets are streamed row by row (excelize's Rows iterator), so memory follows the entries
// kept, not the sheet's size; a cell over 4 KiB, more than MaxEntries entries or MaxProblems
// problems end with a problem.
func Read(r io.Reader, name, province string, tree *division.Tree) ([]yipanqi.DirectoryEntry, []Problem, error) {
	f, err := excelize.OpenReader(r, excelize.Options{UnzipSizeLimit: 1 << 30})
	if err != nil {
		return nil, nil, yipanqi.Errorf(yipanqi.EINVALID, "文件“%s”不是有效的 .xlsx 工作簿：%v", name, err)
	}
	defer f.Close()
	rd := &reader{province: province, tree: tree}
	for _, sh := range sheets {
		if idx, err := f.GetSheetIndex(sh.name); err != nil || idx < 0 {
			rd.problem(Problem{Sheet: sh.name, Message: "工作簿缺少这张工作表：名录导入会替换本省的全部名录，三张工作表（政策法规、服务机构、联系方式）都要有，没有条目的可以只留表头"})
			continue
		}
		rows, err := f.Rows(sh.name)
		if err != nil {
			return nil, nil, yipanqi.Errorf(yipanqi.EINVALID, "无法读取文件“%s”的工作表“%s”：%v", name, sh.name, err)
		}
		err = rd.sheet(sh, rows)
		rows.Close()
		if err != nil {
			return nil, nil, yipanqi.Errorf(yipanqi.EINVALID, "无法读取文件“%s”的工作表“%s”：%v", name, sh.name, err)
		}
		if rd.full() {
			break
		}
	}
	return rd.entries, rd.probs, nil
}

// reader gathers the entries and problems of one workbook.
type reader struct {
	province string
	tree     *division.Tree
	entries  []yipanqi.DirectoryEntry
	probs    []Problem
	stopped  bool
}

func (rd *reader) problem(p Problem) {
	if rd.stopped {
		return
	}
	if len(rd.probs) == MaxProblems {
		rd.probs = append(rd.probs, Problem{Sheet: p.Sheet, Row: p.Row, Message: fmt.Sprintf("问题超过 %d 个，后面的行没有检查：请改正后重新导入", MaxProblems)})
		rd.stopped = true
		return
	}
	rd.probs = append(rd.probs, p)
}

func (rd *reader) full() bool { return rd.stopped }

// sheet reads one sheet from its row iterator.
func (rd *reader) sheet(sh sheet, rows *excelize.Rows) error {
	header, cols := -1, map[int]*column(nil)
	rowNo := 0
	var row []string
	next := func() (bool, error) {
		if !rows.Next() {
			return false, rows.Error()
		}
		rowNo++
		var err error
		row, err = rows.Columns(excelize.Options{RawCellValue: true})
		return true, err
	}
	for rowNo < headerSearchRows {
		ok, err := next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		m := map[int]*column{}
		for j, cell := range row {
			for k := range sh.cols {
				if strings.TrimSpace(cell) == sh.cols[k].header {
					m[j] = &sh.cols[k]
				}
			}
		}
		if len(m) >= 2 {
			header, cols = rowNo, m
			break
		}
	}
	if header < 0 {
		rd.problem(Problem{Sheet: sh.name, Message: "找不到表头：前 10 行中应有“" + sh.cols[3].header + "”等列名"})
		return nil
	}
	missing := false
	for k := range sh.cols {
		c := &sh.cols[k]
		found := false
		for _, m := range cols {
			found = found || m == c
		}
		if c.required && !found {
			rd.problem(Problem{Sheet: sh.name, Row: header, Column: c.header, Message: "缺少必填列“" + c.header + "”"})
			missing = true
		}
	}
	if missing {
		return nil
	}
	byField := map[string]string{}
	for _, c := range sh.cols {
		byField[c.field] = c.header
	}
	for !rd.stopped {
		ok, err := next()
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		if blank(row) {
			continue
		}
		if len(rd.entries) == MaxEntries {
			rd.problem(Problem{Sheet: sh.name, Row: rowNo, Message: fmt.Sprintf("条目超过 %d 条：名录不会这样多，请检查文件", MaxEntries)})
			rd.stopped = true
			return nil
		}
		rd.row(sh, cols, byField, rowNo, row)
	}
	return nil
}

// row reads one data row into an entry.
func (rd *reader) row(sh sheet, cols map[int]*column, byField map[string]string, rowNo int, row []string) {
	e := yipanqi.DirectoryEntry{Kind: sh.kind}
	bad := false
	for j, cell := range row {
		c, ok := cols[j]
		if !ok {
			continue
		}
		if len(cell) > maxCell {
			rd.problem(Problem{Sheet: sh.name, Row: rowNo, Column: c.header, Message: fmt.Sprintf("内容过长（%d 字节）：一个单元格最多 %d 字节", len(cell), maxCell)})
			bad = true
			continue
		}
		if !utf8.ValidString(cell) || strings.ContainsRune(cell, utf8.RuneError) {
			rd.problem(Problem{Sheet: sh.name, Row: rowNo, Column: c.header, Message: "含有无法识别的字符"})
			bad = true
			continue
		}
		v := strings.TrimSpace(cell)
		if v == "" {
			continue
		}
		if msg := c.set(&e, v); msg != "" {
			rd.problem(Problem{Sheet: sh.name, Row: rowNo, Column: c.header, Message: msg})
			bad = true
		}
	}
	if rd.tree != nil && yipanqi.ValidDivisionCode(e.DivisionCode) && strings.HasPrefix(e.DivisionCode, rd.province) {
		if d, err := rd.tree.Lookup(e.DivisionCode); err != nil {
			rd.problem(Problem{Sheet: sh.name, Row: rowNo, Column: "区划代码", Message: yipanqi.ErrorMessage(err)})
			bad = true
		} else if e.DivisionName == "" {
			e.DivisionName = d.Name
		}
	}
	for _, fe := range e.Check(rd.province) {
		if bad && (fe.Field == "IssuedOn" || fe.Field == "Status" || fe.Field == "Role") {
			continue // already reported as unreadable
		}
		rd.problem(Problem{Sheet: sh.name, Row: rowNo, Column: byField[fe.Field], Message: fe.Message})
	}
	rd.entries = append(rd.entries, e)
}

func blank(row []string) bool {
	for _, c := range row {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// parseDate reads 2021-11-25, 2021/11/25, 2021.11.25, 20211125 or an Excel date serial.
func parseDate(s string) (yipanqi.Date, bool) {
	if n, err := strconv.Atoi(strings.TrimSuffix(s, ".0")); err == nil && n > 60 && n < 200000 {
		return yipanqi.DateOf(time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n)), true
	}
	for _, layout := range []string{"2006-01-02", "2006-1-2", "2006/1/2", "2006.1.2", "20060102", "2006年1月2日"} {
		if t, err := time.Parse(layout, s); err == nil {
			return yipanqi.DateOf(t), true
		}
	}
	return yipanqi.Date{}, false
}

// Write writes entries (of one province, in their order) as a directory workbook that Read
// reads back to the same entries.
func Write(w io.Writer, entries []yipanqi.DirectoryEntry) error {
	return write(w, entries, nil)
}

func write(w io.Writer, entries []yipanqi.DirectoryEntry, help [][]string) error {
	f := excelize.NewFile()
	defer f.Close()
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true},
		Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}}})
	if err != nil {
		return err
	}
	textStyle, err := f.NewStyle(&excelize.Style{NumFmt: 49}) // "@": Excel keeps what is typed as text
	if err != nil {
		return err
	}
	for i, sh := range sheets {
		if i == 0 {
			if err := f.SetSheetName("Sheet1", sh.name); err != nil {
				return err
			}
		} else if _, err := f.NewSheet(sh.name); err != nil {
			return err
		}
		header := make([]any, len(sh.cols))
		for c, col := range sh.cols {
			header[c] = col.header
			colName, _ := excelize.ColumnNumberToName(c + 1)
			if err := f.SetColWidth(sh.name, colName, colName, col.width); err != nil {
				return err
			}
			if err := f.SetColStyle(sh.name, colName, textStyle); err != nil {
				return err
			}
		}
		if err := f.SetSheetRow(sh.name, "A1", &header); err != nil {
			return err
		}
		last, _ := excelize.CoordinatesToCellName(len(sh.cols), 1)
		if err := f.SetCellStyle(sh.name, "A1", last, bold); err != nil {
			return err
		}
		if err := f.SetPanes(sh.name, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
			return err
		}
		row, seq := 2, 0
		for k := range entries {
			e := &entries[k]
			if e.Kind != sh.kind {
				continue
			}
			seq++
			cells := make([]any, len(sh.cols))
			for c, col := range sh.cols {
				if col.header == "序号" {
					cells[c] = strconv.Itoa(seq)
				} else {
					cells[c] = col.get(e)
				}
			}
			cell, _ := excelize.CoordinatesToCellName(1, row)
			if err := f.SetSheetRow(sh.name, cell, &cells); err != nil {
				return err
			}
			row++
		}
		if err := setDimension(f, sh.name, len(sh.cols), row-1); err != nil {
			return err
		}
	}
	if help != nil {
		if _, err := f.NewSheet(SheetHelp); err != nil {
			return err
		}
		for i, r := range help {
			cells := make([]any, len(r))
			for j := range r {
				cells[j] = r[j]
			}
			cell, _ := excelize.CoordinatesToCellName(1, i+1)
			if err := f.SetSheetRow(SheetHelp, cell, &cells); err != nil {
				return err
			}
		}
		cols := 0
		for _, r := range help {
			cols = max(cols, len(r))
		}
		if err := setDimension(f, SheetHelp, cols, len(help)); err != nil {
			return err
		}
		if err := f.SetColWidth(SheetHelp, "A", "B", 14); err != nil {
			return err
		}
		if err := f.SetColWidth(SheetHelp, "C", "C", 90); err != nil {
			return err
		}
	}
	f.SetActiveSheet(0)
	if _, err := f.WriteTo(w); err != nil {
		return fmt.Errorf("write directory workbook: %w", err)
	}
	return nil
}

// setDimension declares the range a sheet's cells span, cols × rows from A1: excelize leaves
// it at "A1", and readers that trust it (openpyxl in read-only mode) would see one cell.
func setDimension(f *excelize.File, sheet string, cols, rows int) error {
	last, err := excelize.CoordinatesToCellName(max(cols, 1), max(rows, 1))
	if err != nil {
		return err
	}
	return f.SetSheetDimension(sheet, "A1:"+last)
}

// Instructions is the text of the template's instructions sheet, one line per entry.
func Instructions() [][]string {
	rows := [][]string{{"工作表 / 列名", "是否必填", "填写要求"}}
	for _, sh := range sheets {
		rows = append(rows, []string{"【" + sh.name + "】", "", sh.kind.Label()})
		for _, c := range sh.cols {
			req := "选填"
			if c.required {
				req = "必填"
			}
			rows = append(rows, []string{c.header, req, c.note})
		}
	}
	return append(rows,
		[]string{"", "", ""},
		[]string{"说明", "", "导入会以本工作簿替换本省的全部名录（生成新的版本号），并发送给区域内所有节点；三张工作表都要保留。"},
		[]string{"", "", "名录在公众网页上公开，不需登录即可查看：只填写工作机构的办公联系方式，不要填写个人手机号或住址。"},
		[]string{"", "", "有问题的行会逐条列出（工作表、行号、列名和原因），全部改正前不会导入任何内容。示例行是虚构的，导入前请删除。"},
	)
}

// Example returns the template's example rows: one of each kind, made up.
func Example() []yipanqi.DirectoryEntry {
	return []yipanqi.DirectoryEntry{
		{Kind: yipanqi.EntryRegulation, DivisionCode: "44", DivisionName: "广东省", Name: "广东省流动人口服务管理办法（示例）",
			DocNumber: "粤卫健发〔2022〕12号", IssuedOn: yipanqi.Date{Year: 2022, Month: time.June, Day: 15},
			Status: yipanqi.RegulationInForce, Text: "示例摘要", Note: "示例，导入前请删除"},
		{Kind: yipanqi.EntryInstitution, DivisionCode: "440106", DivisionName: "天河区", Name: "天河区妇幼保健计划生育服务中心（示例）",
			Services: "免费孕前优生健康检查；避孕药具免费发放", Phone: "020-01234567", Address: "广东省广州市天河区示例路 1 号",
			Note: "示例，导入前请删除"},
		{Kind: yipanqi.EntryContact, DivisionCode: "440106", DivisionName: "天河区", Name: "天河区流动人口服务管理办公室",
			Role: yipanqi.RoleOfficeHead, PersonName: "张某某", JobTitle: "主任", Phone: "020-01234568",
			Address: "广东省广州市天河区示例路 2 号", Note: "示例，导入前请删除"},
	}
}

// WriteTemplate writes the directory template: the three sheets with an example row each,
// and the instructions sheet.
func WriteTemplate(w io.Writer) error { return write(w, Example(), Instructions()) }
