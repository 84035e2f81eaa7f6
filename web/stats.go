package web

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"yipanqi"
	"yipanqi/stats"
	"yipanqi/web/chart"
)

// statsRoutes are 统计: the monthly floating-population report of a unit of my subtree and
// the flow matrix. Both show counts only; who read which unit's figures is audited as the
// command line does (stats.report, stats.matrix). Every signed-in user may read the figures
// of their own subtree: a township's worker reports on their township.
func (a *App) statsRoutes() []route {
	return []route{
		{pattern: "GET /stats", nav: "统计", allow: signedIn, handle: a.statsReport},
		{pattern: "GET /stats/export", allow: signedIn, handle: a.statsExport},
		{pattern: "GET /stats/matrix", allow: signedIn, handle: a.statsMatrix},
	}
}

// statsPage is what templates/app/stats.html renders.
type statsPage struct {
	Month, Unit  Field
	Report       *stats.Report
	Source       string
	Heads        statsHeads
	Rows         []stats.Row // the rows, then the total
	Charts       []template.HTML
	Exchange     []stats.ExchangeRow // the exchange table's rows, then its total
	ExchangeHead []string
	MatrixURL    string
	ExportURL    string
}

// statsHeads are the column headings of the report's tables.
type statsHeads struct {
	Age, Marital []string
}

func monthField(v, err string) Field {
	return Field{Name: "month", Label: "统计月份", Input: "text", Value: v, Error: err, MaxLen: 7, Hint: "格式 YYYY-MM，如 2026-10"}
}

// parseMonth reads a month from the form: EINVALID messages without the command line's flag
// name, next to the field.
func (a *App) parseMonth(s string) (stats.Month, string) {
	m, err := stats.ParseMonth(s)
	if err != nil {
		return m, "统计月份“" + s + "”无效：应为 YYYY-MM，例如 2026-10"
	}
	if err := stats.CheckReportable(m, a.cfg.Now()); err != nil {
		return m, "统计月份 " + s + " 尚未到来，无法统计"
	}
	return m, ""
}

// statsArgs reads the month and unit of a report from the query: the page with the fields
// filled in, and ok false when either is wrong (the page then carries the messages).
func (a *App) statsArgs(r *http.Request) (p *statsPage, scope yipanqi.Scope, month stats.Month, ok bool) {
	ctx, q, u := r.Context(), r.URL.Query(), currentUser(r)
	ms := strings.TrimSpace(q.Get("month"))
	if ms == "" {
		ms = stats.MonthOf(a.cfg.Now()).String()
	}
	unit := strings.TrimSpace(q.Get("unit"))
	if unit == "" {
		unit = u.OrgUnit
	}
	p = &statsPage{Month: monthField(ms, ""),
		Unit: Field{Name: "unit", Label: "统计单位（行政区划代码）", Input: "text", Value: unit, MaxLen: 12,
			Hint: "本单位或下级单位的 2、4、6、9 或 12 位代码"}}
	month, msg := a.parseMonth(ms)
	p.Month.Error = msg
	scope, err := yipanqi.NewScope(unit)
	switch {
	case err != nil:
		p.Unit.Error = "统计单位代码“" + unit + "”无效：应为 2、4、6、9 或 12 位数字"
	case !scopeOf(r).Contains(unit):
		p.Unit.Error = "单位“" + unit + "”不在您的辖区（" + a.unitName(ctx, u.OrgUnit) + "）之内"
	}
	return p, scope, month, p.Month.Error == "" && p.Unit.Error == ""
}

// monthlyReport reads the report of the page's unit and month, audited as stats.report
// before anything is shown.
func (a *App) monthlyReport(r *http.Request, scope yipanqi.Scope, month stats.Month) (*stats.Report, error) {
	ctx := r.Context()
	name := func(code string) string { return a.unitName(ctx, code) }
	return a.cfg.Store.MonthlyReport(ctx, currentUser(r).Username, scope, month, a.unitName(ctx, scope.Unit()), name)
}

// statsReport shows the monthly report of a unit of my subtree for a month.
func (a *App) statsReport(w http.ResponseWriter, r *http.Request) {
	p, scope, month, ok := a.statsArgs(r)
	if !ok {
		a.renderStatus(w, r, http.StatusUnprocessableEntity, "stats", p)
		return
	}
	rep, err := a.monthlyReport(r, scope, month)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	p.Report, p.Source = rep, stats.SourceLabel(rep.Snapshot)
	p.Rows = append(append([]stats.Row{}, rep.Rows...), rep.Total)
	for _, b := range stats.AgeBands {
		p.Heads.Age = append(p.Heads.Age, b.Label)
	}
	for i, k := range stats.MaritalKeys {
		label := k.Label()
		if i == stats.NumMarital-1 {
			label = "未详"
		}
		p.Heads.Marital = append(p.Heads.Marital, label)
	}
	p.Charts = statsCharts(rep, p.Heads)
	if x := rep.Exchange; x != nil {
		p.Exchange = append(append([]stats.ExchangeRow{}, x.Rows...), x.Total)
		p.ExchangeHead = stats.ExchangeHeaders
		p.Charts = append(p.Charts, exchangeCharts(x)...)
	}
	p.MatrixURL = a.url("/stats/matrix?month=" + month.String())
	p.ExportURL = a.url("/stats/export?month=" + month.String() + "&unit=" + scope.Unit())
	a.render(w, r, "stats", p)
}

// statsExport is the monthly report as an .xlsx workbook, as "yipanqi stats --format xlsx"
// writes it (stats.Report.Write): read and audited as the page is (stats.report), rendered
// into a buffer, then sent as an attachment with an ASCII file name. A bad month or unit gets
// the page with its messages, and no workbook.
func (a *App) statsExport(w http.ResponseWriter, r *http.Request) {
	p, scope, month, ok := a.statsArgs(r)
	if !ok {
		a.renderStatus(w, r, http.StatusUnprocessableEntity, "stats", p)
		return
	}
	rep, err := a.monthlyReport(r, scope, month)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var buf bytes.Buffer
	if err := rep.Write(&buf, stats.FormatXLSX); err != nil {
		a.fail(w, r, fmt.Errorf("stats export: %w", err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	h.Set("Content-Disposition", `attachment; filename="stats-`+scope.Unit()+"-"+month.String()+`.xlsx"`)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	_, _ = w.Write(buf.Bytes())
}

// exchangeCharts are the exchange table's bar charts: the month's figures in total, and the
// cases received by type when there is more than one type.
func exchangeCharts(x *stats.Exchange) []template.HTML {
	t := x.Total
	out := []template.HTML{chart.Bars("本月交换量与办理时效", stats.ExchangeHeaders[:5],
		[]float64{float64(t.Sent), float64(t.Received), float64(t.OnTime), float64(t.Late), float64(t.Overdue)}, chart.Unit("件"))}
	if len(x.Rows) > 1 {
		labels := make([]string, len(x.Rows))
		sent, recv := make([]float64, len(x.Rows)), make([]float64, len(x.Rows))
		for i, r := range x.Rows {
			labels[i], sent[i], recv[i] = r.Label, float64(r.Sent), float64(r.Received)
		}
		out = append(out, chart.Bars("各类案件本月发出", labels, sent, chart.Unit("件")),
			chart.Bars("各类案件本月收到", labels, recv, chart.Unit("件")))
	}
	return out
}

// statsCharts are the report's bar charts: the unit's people by sex, age band and marital
// status, and by row with the month's inflow and outflow.
func statsCharts(rep *stats.Report, h statsHeads) []template.HTML {
	t := rep.Total
	people := chart.Unit("人")
	out := []template.HTML{
		chart.Bars("性别（月末在住人数）", []string{"男", "女"}, []float64{float64(t.Male), float64(t.Female)}, people),
		chart.Bars("年龄段（月末在住人数）", h.Age, floats(t.Age[:]), people),
		chart.Bars("婚姻状况（月末在住人数）", h.Marital, floats(t.Marital[:]), people),
	}
	if len(rep.Rows) > 0 {
		labels := make([]string, len(rep.Rows))
		n, in, outf := make([]float64, len(rep.Rows)), make([]float64, len(rep.Rows)), make([]float64, len(rep.Rows))
		for i, r := range rep.Rows {
			labels[i] = r.Name
			n[i], in[i], outf[i] = float64(r.People), float64(r.Inflow), float64(r.Outflow)
		}
		out = append(out,
			chart.Bars("各单位月末在住人数", labels, n, people),
			chart.Bars("各单位本月流入", labels, in, chart.Unit("人次")),
			chart.Bars("各单位本月流出", labels, outf, chart.Unit("人次")))
	}
	return out
}

func floats(xs []int) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(x)
	}
	return out
}

// matrixPage is what templates/app/stats_matrix.html renders.
type matrixPage struct {
	Month      Field
	Label      string
	Source     string
	People     int
	Provinces  template.HTML
	Cities     template.HTML
	Cells      []stats.Cell
	ReportURL  string
	HasMatrix  bool
	ScopeLabel string
}

// statsMatrix is the flow matrix of the month: where the people living in my subtree come
// from, province × province (this node holds its own province's residents, so only its
// column has figures; the other provinces' columns show 无数据), and city × city for those
// whose hukou is in the same province.
func (a *App) statsMatrix(w http.ResponseWriter, r *http.Request) {
	ctx, u, scope := r.Context(), currentUser(r), scopeOf(r)
	ms := strings.TrimSpace(r.URL.Query().Get("month"))
	if ms == "" {
		ms = stats.MonthOf(a.cfg.Now()).String()
	}
	p := &matrixPage{Month: monthField(ms, ""), ScopeLabel: a.unitName(ctx, scope.Unit()), ReportURL: a.url("/stats?month=" + ms)}
	month, msg := a.parseMonth(ms)
	if msg != "" {
		p.Month.Error = msg
		a.renderStatus(w, r, http.StatusUnprocessableEntity, "stats_matrix", p)
		return
	}
	groups, snap, err := a.cfg.Store.StatsOrigins(ctx, scope, month)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.cfg.Store.StatsAudit(ctx, u.Username, scope, month, "stats.matrix"); err != nil {
		a.fail(w, r, err)
		return
	}
	name := func(code string) string {
		if n := yipanqi.ProvinceName(code); n != "" {
			return n
		}
		return a.unitName(ctx, code)
	}
	m := stats.NewMatrix(month, nil, groups, name)
	p.Label, p.Source, p.People, p.HasMatrix = month.Label(), stats.SourceLabel(snap), m.People, true

	// Province × province: rows are the hukou provinces, columns where they live.
	held := map[string]bool{}
	for _, c := range m.Provinces {
		held[c.Dest] = true
	}
	names := make([]string, len(regionProvinces))
	index := map[string]int{}
	values := make([][]float64, len(regionProvinces))
	for i, pr := range regionProvinces {
		names[i], index[pr.Code] = pr.Name, i
		values[i] = make([]float64, len(regionProvinces))
		for j, col := range regionProvinces {
			if held[col.Code] || col.Code == a.cfg.Code {
				values[i][j] = 0
			} else {
				values[i][j] = math.NaN() // another node's residents: not held here
			}
		}
	}
	rows := append([]string{}, names...)
	var outside float64
	for _, c := range m.Provinces {
		i, ok := index[c.Origin]
		j, ok2 := index[c.Dest]
		if !ok2 {
			continue
		}
		if !ok {
			outside += float64(c.People) // hukou outside the region
			continue
		}
		values[i][j] += float64(c.People)
	}
	if outside > 0 {
		rows = append(rows, "区域外")
		row := make([]float64, len(regionProvinces))
		for j, col := range regionProvinces {
			if !held[col.Code] && col.Code != a.cfg.Code {
				row[j] = math.NaN()
			}
		}
		if j, ok := index[a.cfg.Code]; ok {
			row[j] = outside
		}
		values = append(values, row)
	}
	p.Provinces = chart.HeatMap("户籍地（省）× 现居住地（省）月末在住人数", rows, names, values, chart.Unit("人"),
		chart.Desc("本节点只保存本省的流入人口；其他省份的列由各自的节点统计，此处显示为无数据。"))

	// City × city within the province.
	if len(m.Cities) > 0 {
		var origins, dests []string
		seenO, seenD := map[string]int{}, map[string]int{}
		sort.Slice(m.Cities, func(i, j int) bool { return m.Cities[i].Origin < m.Cities[j].Origin })
		for _, c := range m.Cities {
			if _, ok := seenO[c.Origin]; !ok {
				seenO[c.Origin] = len(origins)
				origins = append(origins, c.Origin)
			}
		}
		sort.Slice(m.Cities, func(i, j int) bool { return m.Cities[i].Dest < m.Cities[j].Dest })
		for _, c := range m.Cities {
			if _, ok := seenD[c.Dest]; !ok {
				seenD[c.Dest] = len(dests)
				dests = append(dests, c.Dest)
			}
		}
		cv := make([][]float64, len(origins))
		for i := range cv {
			cv[i] = make([]float64, len(dests))
		}
		for _, c := range m.Cities {
			cv[seenO[c.Origin]][seenD[c.Dest]] += float64(c.People)
		}
		label := func(codes []string) []string {
			out := make([]string, len(codes))
			for i, c := range codes {
				out[i] = a.unitName(ctx, c)
			}
			return out
		}
		p.Cities = chart.HeatMap("省内户籍地（市）× 现居住地（市）月末在住人数", label(origins), label(dests), cv, chart.Unit("人"))
	}
	p.Cells = m.Provinces
	a.render(w, r, "stats_matrix", p)
}
