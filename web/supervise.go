package web

import (
	"net/http"
	"net/url"
	"slices"

	"yipanqi"
	"yipanqi/sla"
	"yipanqi/sqlstore"
)

// supervisors are the roles that supervise (督办) and assess (考核) the units below them. A
// township worker is refused: the cases owed by their own township are their 待办, and there
// is no level below them to supervise. A regional observer belongs to no unit's chain of
// command and sees the region's statistics and directory only.
var supervisors = roles(yipanqi.RoleCountySupervisor, yipanqi.RoleCitySupervisor, yipanqi.RoleProvinceSupervisor,
	yipanqi.RoleProvinceAdmin)

// oversightRoutes are the pages of supervision (督办), assessment (考核), statistics (统计) and
// the public directory (名录).
func (a *App) oversightRoutes() []route {
	return slices.Concat(a.superviseRoutes(), a.assessRoutes(), a.statsRoutes(), a.directoryRoutes())
}

// superviseRoutes are 督办: the board of the user's subtree and the cases behind each figure.
func (a *App) superviseRoutes() []route {
	return []route{
		{pattern: "GET /supervise", nav: "督办", allow: supervisors, handle: a.supervise},
		{pattern: "GET /supervise/cases", allow: supervisors, handle: a.superviseCases},
	}
}

// boardLine is one row of a board table: its label and its figures, each with the address of
// the cases behind it.
type boardLine struct {
	Key, Label                   string
	Open, DueSoon, Overdue       int64
	OpenURL, DueSoonURL, OverURL string
}

// boardTable is a table of the board: a row per unit or type, and the total.
type boardTable struct {
	Head  string
	Rows  []boardLine
	Total boardLine
}

// supervisePage is what templates/app/supervise.html renders.
type supervisePage struct {
	Unit     string
	Board    *sla.Board
	ByType   boardTable
	ByUnit   boardTable
	Queue    []supervisedLine
	QueueN   int
	QueueURL string
	List     *superviseListPage // the drill-down instead of the board
}

// supervisedLine is one case of a supervision list.
type supervisedLine struct {
	URL, TypeLabel, UnitName, Person string
	State                            yipanqi.CaseState
	Status                           string // 临近期限, 已超期, 办理中
	Badge                            Badge
	Level                            int
	QueueName                        string
}

// queuePreview is how many escalated cases the board lists itself.
const queuePreview = 10

// supervise is the board: my subtree's open, due-soon and overdue cases in all, by type and
// by the units one level down, every figure a link to its cases; and the cases escalated to
// my level. The board holds counts only; the queue list is a read of cases and audited.
func (a *App) supervise(w http.ResponseWriter, r *http.Request) {
	ctx, scope := r.Context(), scopeOf(r)
	b, err := a.cfg.Store.Supervision(ctx, scope, a.cfg.Now())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	link := func(status, typ, unit string) string {
		q := url.Values{}
		if status != "" {
			q.Set("status", status)
		}
		if typ != "" {
			q.Set("type", typ)
		}
		if unit != "" {
			q.Set("unit", unit)
		}
		if len(q) == 0 {
			return a.url("/supervise/cases")
		}
		return a.url("/supervise/cases") + "?" + q.Encode()
	}
	line := func(label, typ, unit string, c sla.Counts) boardLine {
		return boardLine{Label: label, Open: c.Open, DueSoon: c.DueSoon, Overdue: c.Overdue,
			OpenURL: link("", typ, unit), DueSoonURL: link(sla.StatusDueSoon, typ, unit), OverURL: link(sla.StatusOverdue, typ, unit)}
	}
	total := line("合计", "", "", b.Total)
	p := supervisePage{Unit: a.unitName(ctx, b.Unit), Board: b, QueueURL: link("queue", "", ""),
		ByUnit: boardTable{Head: "单位", Total: total}, ByType: boardTable{Head: "案件类型", Total: total}}
	for _, row := range b.ByType {
		l := line(a.typeLabel(row.Key), row.Key, "", row.Counts)
		l.Key = row.Key
		p.ByType.Rows = append(p.ByType.Rows, l)
	}
	for _, row := range b.ByUnit {
		label := a.unitName(ctx, row.Key)
		if row.Key == b.Unit {
			label += "（本级）"
		}
		l := line(label, "", row.Key, row.Counts)
		l.Key = row.Key
		p.ByUnit.Rows = append(p.ByUnit.Rows, l)
	}
	if b.Queue > 0 {
		cases, total, err := a.cfg.Store.SupervisionCases(ctx, scope, sla.Filter{Status: "queue", Limit: queuePreview})
		if err != nil {
			a.fail(w, r, err)
			return
		}
		p.Queue, p.QueueN = a.supervisedRows(r, cases), total
	}
	a.render(w, r, "supervise", p)
}

// superviseStatuses are the drill-down's statuses with their headings.
var superviseStatuses = map[string]string{
	"":                "未办结案件",
	sla.StatusDueSoon: "临近期限的案件",
	sla.StatusOverdue: "已超期的案件",
	"queue":           "上报至本级督办的超期案件",
}

// superviseListPage is the drill-down, which templates/app/supervise.html renders when
// supervisePage.List is set.
type superviseListPage struct {
	Heading   string
	Filters   []string // what the list is limited to, in words
	Rows      []supervisedLine
	Pager     Pager
	BoardURL  string
	StatusKey string
}

// superviseCases is the drill-down: the open cases behind a figure of the board, soonest
// deadline first, paged. The store checks the unit is in my subtree and audits the read.
func (a *App) superviseCases(w http.ResponseWriter, r *http.Request) {
	ctx, q := r.Context(), r.URL.Query()
	page, offset := pageOf(r)
	f := sla.Filter{Status: q.Get("status"), Type: q.Get("type"), Unit: q.Get("unit"), Offset: offset, Limit: PageSize}
	heading, ok := superviseStatuses[f.Status]
	if !ok {
		a.failStatus(w, r, http.StatusBadRequest, "督办状态“"+f.Status+"”无效。")
		return
	}
	if f.Type != "" {
		if _, err := a.cfg.Catalog.Type(f.Type); err != nil {
			a.failStatus(w, r, http.StatusBadRequest, "案件类型“"+f.Type+"”无效。")
			return
		}
	}
	cases, total, err := a.cfg.Store.SupervisionCases(ctx, scopeOf(r), f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	p := superviseListPage{Heading: heading, Rows: a.supervisedRows(r, cases), BoardURL: a.url("/supervise"), StatusKey: f.Status}
	keep := url.Values{}
	for _, k := range []string{"status", "type", "unit"} {
		if v := q.Get(k); v != "" {
			keep.Set(k, v)
		}
	}
	if f.Unit != "" {
		p.Filters = append(p.Filters, "单位："+a.unitName(ctx, f.Unit))
	}
	if f.Type != "" {
		p.Filters = append(p.Filters, "类型："+a.typeLabel(f.Type))
	}
	p.Pager = a.pager("/supervise/cases", keep, page, total)
	a.render(w, r, "supervise", supervisePage{List: &p})
}

// supervisedRows turns supervision cases (their ID numbers already masked by the store) into
// lines.
func (a *App) supervisedRows(r *http.Request, cases []*sqlstore.SupervisedCase) []supervisedLine {
	ctx, now := r.Context(), a.cfg.Now()
	out := make([]supervisedLine, len(cases))
	for i, c := range cases {
		l := supervisedLine{URL: a.url("/cases/" + c.ID), TypeLabel: a.typeLabel(c.Type), UnitName: a.unitName(ctx, c.OrgUnit),
			Person: c.PersonIDNumber, State: c.State, Badge: a.badge(&c.Case, now), Level: c.Level}
		switch c.Status {
		case sla.StatusOverdue:
			l.Status = "已超期"
		case sla.StatusDueSoon:
			l.Status = "临近期限"
		default:
			l.Status = "办理中"
		}
		if c.Queue != "" {
			l.QueueName = a.unitName(ctx, c.Queue)
		}
		out[i] = l
	}
	return out
}
