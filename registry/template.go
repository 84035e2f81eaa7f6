package registry

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"yipanqi"
	"yipanqi/idcard"
)

// ExamplePerson is the example row of the template: a made-up person whose ID number is
// built by idcard.Make (valid, but nobody's) on real division codes.
func ExamplePerson() yipanqi.Person {
	birth := yipanqi.Date{Year: 1990, Month: time.March, Day: 15}
	return yipanqi.Person{
		Name:             "张三",
		IDNumber:         idcard.Make("430582", birth, 123),
		Sex:              yipanqi.Male,
		BirthDate:        birth,
		MaritalStatus:    yipanqi.FirstMarried,
		HukouCode:        "430582",
		HukouAddress:     "湖南省邵阳市邵东市××镇××村3组12号",
		ResidenceCode:    "440306017",
		ResidenceAddress: "广东省深圳市宝安区新安街道××路23号5栋302室",
		Phone:            "13800138000",
		ArrivedOn:        yipanqi.Date{Year: 2019, Month: time.May, Day: 1},
	}
}

// columnNotes explain each column on the template's instructions sheet.
var columnNotes = [numColumns]string{
	ColSeq:              "可不填，导入时不读取",
	ColName:             "1–30 个字，不能有数字；少数民族姓名可用“·”",
	ColIDNumber:         "18 位公民身份号码（15 位旧号码自动升位），末位 X 大小写均可；本列请设为文本格式，否则 Excel 会改写末几位",
	ColSex:              "男 或 女；可不填（由身份号码得出），填写时须与号码一致",
	ColBirthDate:        "如 1990-03-15（也可写 1990/3/15、19900315 或用 Excel 日期）；可不填，填写时须与号码一致",
	ColMaritalStatus:    "未婚、初婚、再婚、离婚、丧偶（“已婚”按初婚）；可不填",
	ColHukouCode:        "户籍地的统计用区划代码：6 位（县）、9 位（乡镇街道）或 12 位（村居）",
	ColHukouAddress:     "可不填",
	ColResidenceCode:    "现居住地的统计用区划代码：6、9 或 12 位",
	ColResidenceAddress: "可不填",
	ColPhone:            "11 位手机号或带区号的固定电话（如 020-12345678）；可不填",
	ColArrivedOn:        "来本地的日期，不能晚于今天，也不能早于出生日期",
}

// TemplateInstructions is the text of the template's instructions sheet, one line per entry.
func TemplateInstructions() [][]string {
	rows := [][]string{{"列名", "是否必填", "填写要求"}}
	for c := range numColumns {
		req := "选填"
		if c.Required() {
			req = "必填"
		}
		rows = append(rows, []string{c.Header(), req, columnNotes[c]})
	}
	rows = append(rows,
		[]string{"", "", ""},
		[]string{"说明", "", "示例行中的人员是虚构的，导入前请删除。列的顺序可以调整；“身份证号”“手机号”等常见列名也能识别。"},
		[]string{"", "", "有问题的行不会导入，原因写在与登记表同目录的“文件名.errors.csv”中，改正后重新导入整个文件即可：已导入的人员不会重复。"},
	)
	return rows
}

// WriteTemplateCSV writes the CSV template: the header and the example row.
func WriteTemplateCSV(w io.Writer) error {
	cw, err := NewCSVWriter(w)
	if err != nil {
		return err
	}
	p := ExamplePerson()
	if err := cw.Write(&p); err != nil {
		return err
	}
	return cw.Close()
}

// WriteTemplateXLSX writes the .xlsx template: the register sheet with the header, the example
// row, text-formatted code columns and drop-down lists for 性别 and 婚姻状况, and an
// instructions sheet.
func WriteTemplateXLSX(w io.Writer) error {
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", SheetName); err != nil {
		return err
	}
	const lastRow = 5000                                 // rows prepared with formats and drop-downs
	text, err := f.NewStyle(&excelize.Style{NumFmt: 49}) // "@": text
	if err != nil {
		return err
	}
	head, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}}})
	if err != nil {
		return err
	}
	for c := range numColumns {
		col, _ := excelize.ColumnNumberToName(int(c) + 1)
		if err := f.SetColWidth(SheetName, col, col, columnWidths[c]); err != nil {
			return err
		}
		if c != ColSeq {
			if err := f.SetColStyle(SheetName, col, text); err != nil {
				return err
			}
		}
	}
	cw := &xlsxRowSetter{f: f, sheet: SheetName}
	if err := cw.row(1, Headers(), head); err != nil {
		return err
	}
	p := ExamplePerson()
	cells := make([]string, numColumns)
	record(cells, 1, &p)
	if err := cw.row(2, cells, text); err != nil {
		return err
	}
	for _, dv := range []struct {
		col  Column
		opts []string
	}{
		{ColSex, []string{"男", "女"}},
		{ColMaritalStatus, []string{"未婚", "初婚", "再婚", "离婚", "丧偶"}},
	} {
		col, _ := excelize.ColumnNumberToName(int(dv.col) + 1)
		v := excelize.NewDataValidation(true)
		v.Sqref = fmt.Sprintf("%s2:%s%d", col, col, lastRow)
		if err := v.SetDropList(dv.opts); err != nil {
			return err
		}
		v.SetError(excelize.DataValidationErrorStyleStop, "输入有误", "请从下拉列表中选择："+strings.Join(dv.opts, "、"))
		if err := f.AddDataValidation(SheetName, v); err != nil {
			return err
		}
	}
	if err := f.SetPanes(SheetName, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	if err := setDimension(f, SheetName, int(numColumns), 2); err != nil {
		return err
	}

	const notes = "填写说明"
	if _, err := f.NewSheet(notes); err != nil {
		return err
	}
	for i, r := range TemplateInstructions() {
		style := 0
		if i == 0 {
			style = head
		}
		if err := (&xlsxRowSetter{f: f, sheet: notes}).row(i+1, r, style); err != nil {
			return err
		}
	}
	if err := setDimension(f, notes, 3, len(TemplateInstructions())); err != nil {
		return err
	}
	if err := f.SetColWidth(notes, "A", "A", 18); err != nil {
		return err
	}
	if err := f.SetColWidth(notes, "C", "C", 100); err != nil {
		return err
	}
	f.SetActiveSheet(0)
	// Fixed document properties keep the file the same from one generation to the next.
	fixed := "2025-01-01T00:00:00Z"
	if err := f.SetDocProps(&excelize.DocProperties{Title: "流动人口登记表", Creator: "yipanqi", Created: fixed, Modified: fixed}); err != nil {
		return err
	}
	_, err = f.WriteTo(w)
	return err
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

// xlsxRowSetter writes small sheets cell by cell (the template, not large exports).
type xlsxRowSetter struct {
	f     *excelize.File
	sheet string
}

func (s *xlsxRowSetter) row(n int, cells []string, style int) error {
	for i, v := range cells {
		cell, err := excelize.CoordinatesToCellName(i+1, n)
		if err != nil {
			return err
		}
		if err := s.f.SetCellStr(s.sheet, cell, v); err != nil {
			return err
		}
		if style != 0 {
			if err := s.f.SetCellStyle(s.sheet, cell, cell, style); err != nil {
				return err
			}
		}
	}
	return nil
}
