package stats

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/width"

	"yipanqi"
)

// Format is an output format of a report or matrix.
type Format string

// Output formats.
const (
	FormatTable Format = "table"
	FormatJSON  Format = "json"
	FormatXLSX  Format = "xlsx"
)

// table is one titled table of a rendering: a sheet in xlsx, a block in text.
type table struct {
	title   string
	headers []string
	rows    [][]string
	numeric []bool // right-aligned columns (numbers) by index
}

// SourceLabel says where the figures come from, as the heading shows it.
func SourceLabel(s *Snapshot) string {
	if s == nil {
		return "实时计算"
	}
	return "月度快照 生成于 " + s.TakenAt.In(yipanqi.Shanghai).Format("2006-01-02 15:04:05")
}

func itoa(n int) string { return strconv.Itoa(n) }

func (r *Report) tables() []table {
	all := append(append([]Row{}, r.Rows...), r.Total)
	numeric := func(n int) []bool {
		b := make([]bool, n)
		for i := 2; i < n; i++ {
			b[i] = true
		}
		return b
	}
	age := table{title: "性别与年龄", headers: []string{"代码", "单位", "人数", "男", "女"}}
	for _, b := range AgeBands {
		age.headers = append(age.headers, b.Label)
	}
	mar := table{title: "婚姻状况", headers: []string{"代码", "单位", "人数"}}
	for i := 0; i < NumMarital; i++ {
		mar.headers = append(mar.headers, maritalLabel(i))
	}
	flow := table{title: "流入与流出", headers: []string{"代码", "单位", "人数", "本月流入（人次）", "本月流出（人次）"}}
	for _, row := range all {
		a := []string{row.Code, row.Name, itoa(row.People), itoa(row.Male), itoa(row.Female)}
		for _, n := range row.Age {
			a = append(a, itoa(n))
		}
		age.rows = append(age.rows, a)
		m := []string{row.Code, row.Name, itoa(row.People)}
		for _, n := range row.Marital {
			m = append(m, itoa(n))
		}
		mar.rows = append(mar.rows, m)
		flow.rows = append(flow.rows, []string{row.Code, row.Name, itoa(row.People), itoa(row.Inflow), itoa(row.Outflow)})
	}
	age.numeric, mar.numeric, flow.numeric = numeric(len(age.headers)), numeric(len(mar.headers)), numeric(len(flow.headers))
	out := []table{age, mar, flow}
	if r.Exchange != nil {
		out = append(out, r.Exchange.table())
	}
	return out
}

// ExchangeHeaders are the column headings of the exchange table after the type's.
var ExchangeHeaders = []string{"发出", "收到", "按时答复", "逾期答复", "仍超期未答复", "答复用时中位数（工作日）"}

func (x *Exchange) table() table {
	t := table{title: "交换量与办理时效", headers: append([]string{"案件类型", "名称"}, ExchangeHeaders...)}
	for _, r := range append(append([]ExchangeRow{}, x.Rows...), x.Total) {
		t.rows = append(t.rows, []string{r.Type, r.Label, i64(r.Sent), i64(r.Received), i64(r.OnTime), i64(r.Late),
			i64(r.Overdue), r.MedianLabel()})
	}
	t.numeric = make([]bool, len(t.headers))
	for i := 2; i < len(t.headers); i++ {
		t.numeric[i] = true
	}
	return t
}

func i64(n int64) string { return strconv.FormatInt(n, 10) }

// Title is the report's heading: the unit's full name, the report and the month.
func (r *Report) Title() string {
	return fmt.Sprintf("%s 流动人口月报 %s", r.UnitName, r.Month.Label())
}

// Write renders the report in the format.
func (r *Report) Write(w io.Writer, f Format) error {
	switch f {
	case FormatJSON:
		return writeJSON(w, r.jsonForm())
	case FormatXLSX:
		return writeXLSX(w, r.tables())
	}
	lines := []string{r.Title(), "数据来源：" + SourceLabel(r.Snapshot),
		"人数为月末在本地的流动人口；流入、流出为本月发生的人次，合计只计跨越本单位边界的流动（见 docs/stats.md）"}
	if r.Exchange != nil {
		lines = append(lines, ExchangeNote)
	}
	return writeText(w, lines, r.tables())
}

// writeText writes the heading lines and then each table, aligned by display width (a Chinese
// character takes two columns).
func writeText(w io.Writer, heading []string, tables []table) error {
	var b strings.Builder
	for _, l := range heading {
		b.WriteString(l + "\n")
	}
	for i, t := range tables {
		fmt.Fprintf(&b, "\n%s、%s\n", []string{"一", "二", "三", "四", "五", "六"}[i%6], t.title)
		widths := make([]int, len(t.headers))
		for c, h := range t.headers {
			widths[c] = displayWidth(h)
		}
		for _, row := range t.rows {
			for c, v := range row {
				widths[c] = max(widths[c], displayWidth(v))
			}
		}
		line := func(cells []string) {
			for c, v := range cells {
				pad := strings.Repeat(" ", widths[c]-displayWidth(v))
				if c > 0 {
					b.WriteString("  ")
				}
				if t.numeric[c] {
					b.WriteString(pad + v)
				} else if c < len(cells)-1 {
					b.WriteString(v + pad)
				} else {
					b.WriteString(v)
				}
			}
			b.WriteString("\n")
		}
		line(t.headers)
		for _, row := range t.rows {
			line(row)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// displayWidth is the number of terminal columns s takes: two for wide and full-width runes.
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		switch width.LookupRune(r).Kind() {
		case width.EastAsianWide, width.EastAsianFullwidth:
			n += 2
		default:
			n++
		}
	}
	return n
}

func writeXLSX(w io.Writer, tables []table) error {
	f := excelize.NewFile()
	defer f.Close()
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return err
	}
	for i, t := range tables {
		sheet := t.title
		if i == 0 {
			if err := f.SetSheetName("Sheet1", sheet); err != nil {
				return err
			}
		} else if _, err := f.NewSheet(sheet); err != nil {
			return err
		}
		put := func(rowNo int, cells []string, numeric []bool) error {
			for c, v := range cells {
				ref, err := excelize.CoordinatesToCellName(c+1, rowNo)
				if err != nil {
					return err
				}
				var val any = v
				if numeric != nil && numeric[c] {
					// A number, or a dash for a figure with nothing to count (a median of no replies).
					if n, err := strconv.Atoi(v); err == nil {
						val = n
					}
				}
				if err := f.SetCellValue(sheet, ref, val); err != nil {
					return err
				}
			}
			return nil
		}
		if err := put(1, t.headers, nil); err != nil {
			return err
		}
		last, _ := excelize.CoordinatesToCellName(len(t.headers), 1)
		if err := f.SetCellStyle(sheet, "A1", last, bold); err != nil {
			return err
		}
		for r, row := range t.rows {
			if err := put(r+2, row, t.numeric); err != nil {
				return err
			}
		}
		// The used range: excelize leaves the dimension at "A1", and readers that trust it
		// (openpyxl in read-only mode, which pandas uses) would see one cell.
		cols := len(t.headers)
		for _, row := range t.rows {
			cols = max(cols, len(row))
		}
		last, err := excelize.CoordinatesToCellName(max(cols, 1), len(t.rows)+1)
		if err != nil {
			return err
		}
		if err := f.SetSheetDimension(sheet, "A1:"+last); err != nil {
			return err
		}
	}
	return f.Write(w)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// The JSON forms: field names are part of the interface, keep them stable.
type (
	jsonReport struct {
		Unit     string        `json:"unit"`
		UnitName string        `json:"unit_name"`
		Month    string        `json:"month"`
		Source   jsonSource    `json:"source"`
		Rows     []jsonCounts  `json:"rows"`
		Total    jsonCounts    `json:"total"`
		Exchange *jsonExchange `json:"exchange,omitempty"`
	}
	jsonExchange struct {
		Rows  []jsonExchangeRow `json:"rows"`
		Total jsonExchangeRow   `json:"total"`
	}
	jsonExchangeRow struct {
		Type     string `json:"type,omitempty"`
		Label    string `json:"label"`
		Sent     int64  `json:"sent"`
		Received int64  `json:"received"`
		OnTime   int64  `json:"replied_on_time"`
		Late     int64  `json:"replied_late"`
		Overdue  int64  `json:"still_overdue"`
		// Median working days to reply; null when nothing was replied.
		MedianReplyDays *float64 `json:"median_reply_days"`
	}
	jsonSource struct {
		Kind    string     `json:"kind"` // "live" or "snapshot"
		TakenAt *time.Time `json:"taken_at,omitempty"`
	}
	jsonCounts struct {
		Code    string         `json:"code"`
		Name    string         `json:"name"`
		People  int            `json:"people"`
		Male    int            `json:"male"`
		Female  int            `json:"female"`
		Age     map[string]int `json:"age"`
		Marital map[string]int `json:"marital"`
		Inflow  int            `json:"inflow"`
		Outflow int            `json:"outflow"`
	}
)

func sourceJSON(s *Snapshot) jsonSource {
	if s == nil {
		return jsonSource{Kind: "live"}
	}
	t := s.TakenAt.UTC()
	return jsonSource{Kind: "snapshot", TakenAt: &t}
}

func countsJSON(r Row) jsonCounts {
	c := jsonCounts{Code: r.Code, Name: r.Name, People: r.People, Male: r.Male, Female: r.Female,
		Age: map[string]int{}, Marital: map[string]int{}, Inflow: r.Inflow, Outflow: r.Outflow}
	for i, b := range AgeBands {
		c.Age[b.Key] = r.Age[i]
	}
	for i := 0; i < NumMarital; i++ {
		c.Marital[maritalKey(i)] = r.Marital[i]
	}
	return c
}

func (r *Report) jsonForm() jsonReport {
	out := jsonReport{Unit: r.Unit, UnitName: r.UnitName, Month: r.Month.String(), Source: sourceJSON(r.Snapshot),
		Rows: []jsonCounts{}, Total: countsJSON(r.Total)}
	for _, row := range r.Rows {
		out.Rows = append(out.Rows, countsJSON(row))
	}
	if x := r.Exchange; x != nil {
		out.Exchange = &jsonExchange{Rows: []jsonExchangeRow{}, Total: exchangeJSON(x.Total)}
		for _, row := range x.Rows {
			out.Exchange.Rows = append(out.Exchange.Rows, exchangeJSON(row))
		}
	}
	return out
}

func exchangeJSON(r ExchangeRow) jsonExchangeRow {
	j := jsonExchangeRow{Type: r.Type, Label: r.Label, Sent: r.Sent, Received: r.Received, OnTime: r.OnTime, Late: r.Late,
		Overdue: r.Overdue}
	if r.MedianReplyDays >= 0 {
		m := r.MedianReplyDays
		j.MedianReplyDays = &m
	}
	return j
}

// Write renders the matrix in the format: two tables (province → province; city → city within
// a province), each as a list of origin, destination and people.
func (m *Matrix) Write(w io.Writer, f Format) error {
	switch f {
	case FormatJSON:
		type jsonSrc struct {
			Store  string     `json:"store"`
			Units  []string   `json:"units"`
			Source jsonSource `json:"source"`
		}
		v := struct {
			Month     string    `json:"month"`
			Sources   []jsonSrc `json:"sources"`
			People    int       `json:"people"`
			Provinces []Cell    `json:"provinces"`
			Cities    []Cell    `json:"cities"`
		}{Month: m.Month.String(), People: m.People, Provinces: m.Provinces, Cities: m.Cities, Sources: []jsonSrc{}}
		for _, s := range m.Sources {
			v.Sources = append(v.Sources, jsonSrc{Store: s.Store, Units: s.Units, Source: sourceJSON(s.Snapshot)})
		}
		return writeJSON(w, v)
	case FormatXLSX:
		return writeXLSX(w, m.tables())
	}
	lines := []string{fmt.Sprintf("泛珠三角区域流动人口流向矩阵 %s（月末在住人数，共 %d 人）", m.Month.Label(), m.People)}
	for _, s := range m.Sources {
		lines = append(lines, fmt.Sprintf("数据来源：%s（%s）：%s", s.Store, strings.Join(s.Units, "、"), SourceLabel(s.Snapshot)))
	}
	return writeText(w, lines, m.tables())
}

func (m *Matrix) tables() []table {
	mk := func(title string, cells []Cell) table {
		t := table{title: title, headers: []string{"户籍地代码", "户籍地", "现居住地代码", "现居住地", "人数"},
			numeric: []bool{false, false, false, false, true}}
		total := 0
		for _, c := range cells {
			t.rows = append(t.rows, []string{c.Origin, c.OriginName, c.Dest, c.DestName, itoa(c.People)})
			total += c.People
		}
		t.rows = append(t.rows, []string{"", "合计", "", "", itoa(total)})
		return t
	}
	return []table{mk("省际流向", m.Provinces), mk("省内市际流向", m.Cities)}
}
