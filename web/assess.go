package web

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"yipanqi"
	"yipanqi/assess"
	"yipanqi/sqlstore"
	"yipanqi/web/chart"
)

// assessRoutes are 考核: the report of a period for my subtree, the cases behind each figure,
// the manual entries of the level above, and the printable report.
func (a *App) assessRoutes() []route {
	return []route{
		{pattern: "GET /assess", nav: "考核", allow: supervisors, handle: a.assessReport},
		{pattern: "GET /assess/cases", allow: supervisors, handle: a.assessCases},
		{pattern: "GET /assess/print", allow: supervisors, handle: a.assessPrint},
		{pattern: "GET /assess/export", allow: supervisors, handle: a.assessExport},
		{pattern: "POST /assess/adjust", allow: supervisors, handle: a.assessAdjust},
	}
}

// rules are the scoring rules of the node.
func (a *App) rules() *assess.Rules {
	if a.cfg.AssessRules != nil {
		return a.cfg.AssessRules
	}
	return assess.DefaultRules()
}

// figCell is one figure of a report row and the address of the cases behind it ("" for a
// figure that is not a count of cases, such as the median).
type figCell struct {
	Text, URL, Label string
}

// assessLine is one unit of the report.
type assessLine struct {
	Unit, Name, Level string
	Rank, RankOf      int
	Figs              []figCell
	Manual, Total     string
	Adjustments       []assess.Adjustment
}

// assessLevel is the ranking of one level: its chart and its rows.
type assessLevel struct {
	Label string
	Heads []string
	Chart template.HTML
	Rows  []assessLine
}

// assessPage is what templates/app/assess.html renders: the page, or with Print the A4 report.
type assessPage struct {
	Period     Field
	Report     *assess.Report
	UnitName   string
	Rules      string
	Levels     []assessLevel
	Heads      []string
	Adjust     []Field // the manual entry form
	FormError  string
	Saved      bool
	PrintURL   string
	ExportURL  string
	ShowAdjust bool
	Print      bool
}

// figureHeads are the report's figure columns, in the order of assessLine.Figs.
var figureHeads = []string{"收件", "按时答复", "逾期答复", "仍超期未答复", "答复用时中位数（工作日）",
	"证明补办已答复", "其中7个工作日内", "信访转办收件", "信访结果已反馈", "服务结果签收"}

// periodField is the period input of the report form.
func periodField(value, err string) Field {
	return Field{Name: "period", Label: "考核期间", Input: "text", Value: value, Error: err, MaxLen: 7,
		Hint: "2026-07（月）、2026-Q3（季度）或 2026（年）"}
}

// defaultPeriod is the quarter now is in.
func (a *App) defaultPeriod() string {
	now := a.cfg.Now().In(yipanqi.Shanghai)
	return strconv.Itoa(now.Year()) + "-Q" + strconv.Itoa((int(now.Month())+2)/3)
}

// assessReport shows the form and, for a good period, the report of my subtree.
func (a *App) assessReport(w http.ResponseWriter, r *http.Request) {
	s := strings.TrimSpace(r.URL.Query().Get("period"))
	if s == "" {
		s = a.defaultPeriod()
	}
	p, err := assess.ParsePeriod(s, a.cfg.Now())
	if err != nil {
		page := &assessPage{Period: periodField(s, yipanqi.ErrorMessage(err)), Heads: figureHeads}
		a.renderStatus(w, r, http.StatusUnprocessableEntity, "assess", page)
		return
	}
	page, err := a.assessView(r, p, FormErrors{}, nil)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	page.Saved = r.URL.Query().Get("saved") == "1"
	a.render(w, r, "assess", page)
}

// assessPrint is the report as an A4 document.
func (a *App) assessPrint(w http.ResponseWriter, r *http.Request) {
	p, err := assess.ParsePeriod(strings.TrimSpace(r.URL.Query().Get("period")), a.cfg.Now())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	page, err := a.assessView(r, p, FormErrors{}, nil)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	page.Print = true
	a.render(w, r, "assess", page)
}

// assessExport is the report of my subtree as an .xlsx workbook (assess.Report.Write, as
// the CLI writes it): rendered into a buffer, audited as the page view is (assess.report),
// then sent as an attachment with an ASCII file name.
func (a *App) assessExport(w http.ResponseWriter, r *http.Request) {
	ctx, scope := r.Context(), scopeOf(r)
	p, err := assess.ParsePeriod(strings.TrimSpace(r.URL.Query().Get("period")), a.cfg.Now())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	rep, err := a.cfg.Store.Assessment(ctx, scope, p, a.rules(), a.cfg.Now())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var buf bytes.Buffer
	if err := rep.Write(&buf, assess.FormatXLSX, func(code string) string { return a.unitName(ctx, code) }); err != nil {
		a.fail(w, r, fmt.Errorf("assess export: %w", err))
		return
	}
	u := currentUser(r)
	if err := a.cfg.Store.Audit(ctx, &yipanqi.AuditEntry{Actor: u.Username, OrgUnit: u.OrgUnit, Action: "assess.report",
		Object: scope.Unit() + "/" + p.String(), Reason: "导出 xlsx"}); err != nil {
		a.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	h.Set("Content-Disposition", `attachment; filename="assess-`+scope.Unit()+"-"+p.String()+`.xlsx"`)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	_, _ = w.Write(buf.Bytes())
}

// assessView builds the report page of period p; posted are the values of a manual entry
// the user posted (nil: none), shown again with fe.
func (a *App) assessView(r *http.Request, p assess.Period, fe FormErrors, posted url.Values) (*assessPage, error) {
	ctx, scope := r.Context(), scopeOf(r)
	rep, err := a.cfg.Store.Assessment(ctx, scope, p, a.rules(), a.cfg.Now())
	if err != nil {
		return nil, err
	}
	u := currentUser(r)
	if err := a.cfg.Store.Audit(ctx, &yipanqi.AuditEntry{Actor: u.Username, OrgUnit: u.OrgUnit, Action: "assess.report",
		Object: scope.Unit() + "/" + p.String()}); err != nil {
		return nil, err
	}
	page := &assessPage{Period: periodField(p.String(), ""), Report: rep, UnitName: a.unitName(ctx, rep.Unit),
		Rules: rep.Rules, Heads: figureHeads, PrintURL: a.url("/assess/print?period=" + url.QueryEscape(p.String())),
		ExportURL: a.url("/assess/export?period=" + url.QueryEscape(p.String()))}
	byLevel := map[yipanqi.Level]*assessLevel{}
	var order []yipanqi.Level
	for _, row := range rep.Rows {
		lv := byLevel[row.Level]
		if lv == nil {
			lv = &assessLevel{Label: row.Level.Label(), Heads: figureHeads}
			byLevel[row.Level] = lv
			order = append(order, row.Level)
		}
		lv.Rows = append(lv.Rows, a.assessLine(r, p, row))
	}
	for _, l := range order {
		lv := byLevel[l]
		if len(lv.Rows) > 1 || l != yipanqi.LevelOf(rep.Unit) {
			labels := make([]string, len(lv.Rows))
			values := make([]float64, len(lv.Rows))
			for i, x := range lv.Rows {
				labels[i] = x.Name
				values[i], _ = strconv.ParseFloat(x.Total, 64)
			}
			lv.Chart = chart.Bars(lv.Label+"单位总分（"+p.Label()+"）", labels, values, chart.Unit("分"))
		}
		page.Levels = append(page.Levels, *lv)
	}
	// The manual entry form: for units below mine.
	if len(u.OrgUnit) < 12 {
		page.ShowAdjust = true
		units, err := a.cfg.Store.OrgUnits(ctx, scope)
		if err != nil {
			return nil, err
		}
		var opts []yipanqi.Option
		for _, ou := range units {
			if ou.Code != u.OrgUnit {
				opts = append(opts, yipanqi.Option{Value: ou.Code, Label: ou.Code + " " + ou.Name})
			}
		}
		unitField := Field{Name: "org_unit", Label: "被考核单位", Required: true, Input: "select", Options: opts}
		if len(opts) == 0 || len(opts) > maxUnitOptions {
			unitField = Field{Name: "org_unit", Label: "被考核单位（行政区划代码）", Required: true, Input: "text", MaxLen: 12,
				Hint: "本单位下级单位的 4、6、9 或 12 位代码"}
		}
		page.Adjust = []Field{
			unitField,
			{Name: "points", Label: "加减分", Required: true, Input: "text", MaxLen: 7, Hint: "加分填正数，扣分填负数，如 2 或 -1.5，至多两位小数"},
			{Name: "reason", Label: "理由", Required: true, Input: "textarea", MaxLen: 500},
		}
		for i := range page.Adjust {
			f := &page.Adjust[i]
			f.Value, f.Error = posted.Get(f.Name), fe[f.Name]
		}
		page.FormError = fe[""]
		if msg := fe["period"]; msg != "" {
			page.FormError = msg
		}
	}
	return page, nil
}

// maxUnitOptions is the most units the manual entry form lists in a select; above it, the
// code is typed.
const maxUnitOptions = 400

// assessLine is the row of one unit, every count a link to its cases.
func (a *App) assessLine(r *http.Request, p assess.Period, x *assess.Row) assessLine {
	name := a.unitName(r.Context(), x.Unit)
	link := func(n int64, metric, typ, label string) figCell {
		q := url.Values{"period": {p.String()}, "unit": {x.Unit}, "metric": {metric}}
		if typ != "" {
			q.Set("type", typ)
		}
		return figCell{Text: strconv.FormatInt(n, 10), URL: a.url("/assess/cases") + "?" + q.Encode(), Label: name + " " + label}
	}
	f := x.Figures
	median := figCell{Text: "—"}
	if f.MedianReplyDays >= 0 {
		median.Text = strconv.FormatFloat(f.MedianReplyDays, 'f', -1, 64)
	}
	return assessLine{Unit: x.Unit, Name: name, Level: x.Level.Label(), Rank: x.Rank, RankOf: x.RankOf,
		Figs: []figCell{
			link(f.Received, assess.MetricReceived, "", "收件"),
			link(f.OnTime, assess.MetricOnTime, "", "按时答复"),
			link(f.Late, assess.MetricLate, "", "逾期答复"),
			link(f.Overdue, assess.MetricOverdue, "", "仍超期未答复"),
			median,
			link(f.CertReplied, assess.MetricReplyDays, assess.TypeCert, "证明补办已答复"),
			link(f.CertWithin7, assess.MetricCert7, "", "证明补办7个工作日内"),
			link(f.Petitions, assess.MetricReceived, assess.TypePetition, "信访转办收件"),
			link(f.PetitionsDone, assess.MetricReplyDays, assess.TypePetition, "信访结果已反馈"),
			link(f.ServiceResults, assess.MetricReceived, assess.TypeService, "服务结果签收"),
		},
		Manual: strconv.FormatFloat(x.Score.Manual, 'f', -1, 64), Total: strconv.FormatFloat(x.Score.Total, 'f', -1, 64),
		Adjustments: x.Manual}
}

// metricLabels name the figures of the drill-down.
var metricLabels = map[string]string{
	assess.MetricReceived:  "收件",
	assess.MetricOnTime:    "按时答复",
	assess.MetricLate:      "逾期答复",
	assess.MetricOverdue:   "仍超期未答复",
	assess.MetricReplyDays: "已答复",
	assess.MetricCert7:     "婚育证明补办7个工作日内办结",
}

// assessCasesPage is what templates/app/assess_cases.html renders.
type assessCasesPage struct {
	Heading, Period, BackURL string
	Rows                     []caseLine
	Pager                    Pager
}

// assessCases lists the cases behind one figure of the report, paged; the store checks the
// unit is in my subtree, masks the ID numbers and audits the read.
func (a *App) assessCases(w http.ResponseWriter, r *http.Request) {
	ctx, q := r.Context(), r.URL.Query()
	p, err := assess.ParsePeriod(q.Get("period"), a.cfg.Now())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	page, offset := pageOf(r)
	f := sqlstore.AssessFilter{Unit: q.Get("unit"), Metric: q.Get("metric"), Type: q.Get("type"), Offset: offset, Limit: PageSize}
	if f.Type != "" {
		if _, err := a.cfg.Catalog.Type(f.Type); err != nil {
			a.failStatus(w, r, http.StatusBadRequest, "案件类型“"+f.Type+"”无效。")
			return
		}
	}
	cases, total, err := a.cfg.Store.AssessmentCases(ctx, scopeOf(r), p, f, a.cfg.Calendar)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	unit := f.Unit
	if unit == "" {
		unit = scopeOf(r).Unit()
	}
	heading := a.unitName(ctx, unit) + " · " + metricLabels[f.Metric]
	if f.Type != "" {
		heading += "（" + a.typeLabel(f.Type) + "）"
	}
	keep := url.Values{"period": {p.String()}, "metric": {f.Metric}}
	if f.Unit != "" {
		keep.Set("unit", f.Unit)
	}
	if f.Type != "" {
		keep.Set("type", f.Type)
	}
	a.render(w, r, "assess_cases", assessCasesPage{Heading: heading, Period: p.Label(),
		BackURL: a.url("/assess?period=" + url.QueryEscape(p.String())),
		Rows:    a.caseRows(ctx, cases, a.cfg.Now()), Pager: a.pager("/assess/cases", keep, page, total)})
}

// assessAdjust records a manual bonus or deduction for a unit below mine, with a reason;
// errors go next to their field and nothing is saved.
func (a *App) assessAdjust(w http.ResponseWriter, r *http.Request) {
	fe := formErrors(r)
	form := r.PostForm
	s := strings.TrimSpace(form.Get("period"))
	p, err := assess.ParsePeriod(s, a.cfg.Now())
	if err != nil {
		// The period is the report's, not typed in this form: show the form again with the
		// period field's error.
		page := &assessPage{Period: periodField(s, yipanqi.ErrorMessage(err)), Heads: figureHeads}
		a.renderStatus(w, r, http.StatusUnprocessableEntity, "assess", page)
		return
	}
	adj := &assess.Adjustment{OrgUnit: strings.TrimSpace(form.Get("org_unit")), Period: p.String(), Reason: form.Get("reason")}
	if msg := tooLong("理由", adj.Reason, 500); msg != "" {
		fe.Set("reason", msg)
	}
	if adj.OrgUnit == "" {
		fe.Set("org_unit", "请选择被考核单位")
	}
	if strings.TrimSpace(adj.Reason) == "" {
		fe.Set("reason", "加减分须说明理由")
	}
	switch v := strings.TrimSpace(form.Get("points")); {
	case v == "":
		fe.Set("points", "请填写加减分")
	default:
		n, err := yipanqi.ParseNumber(v)
		if err != nil {
			fe.Set("points", "加减分“"+v+"”不是数字：加分填正数，扣分填负数，如 2 或 -1.5")
		}
		adj.Points = n
	}
	if !fe.Any() {
		if err := a.cfg.Store.AddAdjustment(r.Context(), adj); err != nil {
			switch yipanqi.ErrorCode(err) {
			case yipanqi.EINVALID, yipanqi.EFORBIDDEN:
				fe.Add(err, "")
			default:
				a.fail(w, r, err)
				return
			}
		}
	}
	if fe.Any() {
		page, err := a.assessView(r, p, fe, form)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		a.renderStatus(w, r, http.StatusUnprocessableEntity, "assess", page)
		return
	}
	http.Redirect(w, r, a.url("/assess?period="+url.QueryEscape(p.String())+"&saved=1#manual"), http.StatusSeeOther)
}
