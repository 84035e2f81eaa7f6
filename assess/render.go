package assess

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/xuri/excelize/v2"

	"yipanqi"
)

// Output formats of a report.
const (
	FormatTable = "table"
	FormatJSON  = "json"
	FormatXLSX  = "xlsx"
)

// Headers are the columns of a report table, in Chinese.
var Headers = []string{"级别", "名次", "单位代码", "单位名称", "收件", "按时答复", "逾期答复", "仍超期", "答复用时中位数(工作日)",
	"证明补办7日内/已答复", "信访结果反馈/收件", "服务结果签收", "人工加减分", "总分"}

// Cells are the report's rows as text, with each unit's name from name.
func (r *Report) Cells(name func(code string) string) [][]string {
	out := make([][]string, 0, len(r.Rows))
	for _, x := range r.Rows {
		f := x.Figures
		median := "—"
		if f.MedianReplyDays >= 0 {
			median = strconv.FormatFloat(f.MedianReplyDays, 'f', -1, 64)
		}
		out = append(out, []string{
			x.Level.Label(), fmt.Sprintf("%d/%d", x.Rank, x.RankOf), x.Unit, name(x.Unit),
			itoa(f.Received), itoa(f.OnTime), itoa(f.Late), itoa(f.Overdue), median,
			itoa(f.CertWithin7) + "/" + itoa(f.CertReplied), itoa(f.PetitionsDone) + "/" + itoa(f.Petitions),
			itoa(f.ServiceResults), num(x.Score.Manual), num(x.Score.Total),
		})
	}
	return out
}

func itoa(n int64) string  { return strconv.FormatInt(n, 10) }
func num(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
func (r *Report) title() string {
	return fmt.Sprintf("区域协作考核 %s（%s） 评分规则：%s", r.Unit, r.Label, r.Rules)
}

// Write writes the report as a table, JSON or an .xlsx workbook, naming units with name.
func (r *Report) Write(w io.Writer, format string, name func(code string) string) error {
	switch format {
	case FormatJSON:
		type named struct {
			*Row
			Name string `json:"name"`
		}
		rows := make([]named, len(r.Rows))
		for i, x := range r.Rows {
			rows[i] = named{x, name(x.Unit)}
		}
		e := json.NewEncoder(w)
		e.SetIndent("", "  ")
		return e.Encode(struct {
			*Report
			Rows []named `json:"rows"`
		}{r, rows})
	case FormatXLSX:
		f := excelize.NewFile()
		defer f.Close()
		sheet := f.GetSheetName(0)
		if err := f.SetCellValue(sheet, "A1", r.title()); err != nil {
			return err
		}
		rows := append([][]string{Headers}, r.Cells(name)...)
		cols := 1
		for i, row := range rows {
			cols = max(cols, len(row))
			for j, v := range row {
				cell, _ := excelize.CoordinatesToCellName(j+1, i+2)
				var val any = v
				if n, err := strconv.ParseFloat(v, 64); err == nil && j >= 4 {
					val = n
				}
				if err := f.SetCellValue(sheet, cell, val); err != nil {
					return err
				}
			}
		}
		// The used range (title row, header, rows): excelize leaves the dimension at "A1",
		// and readers that trust it (openpyxl in read-only mode) would see one cell.
		last, _ := excelize.CoordinatesToCellName(cols, len(rows)+1)
		if err := f.SetSheetDimension(sheet, "A1:"+last); err != nil {
			return err
		}
		return f.Write(w)
	case FormatTable, "":
		fmt.Fprintln(w, r.title())
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(Headers, "\t"))
		for _, row := range r.Cells(name) {
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		}
		return tw.Flush()
	}
	return yipanqi.FieldErrorf(yipanqi.EINVALID, "format", "输出格式“%s”无效：应为 table、json 或 xlsx", format)
}
