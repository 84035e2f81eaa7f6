package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"yipanqi"
)

// caseLine is one line of a case list.
type caseLine struct {
	URL       string
	TypeLabel string
	DirLabel  string
	PeerName  string
	Person    string // the ID number, shown masked
	State     yipanqi.CaseState
	Badge     Badge
	CreatedAt time.Time
}

func (a *App) caseRows(ctx context.Context, cases []*yipanqi.Case, now time.Time) []caseLine {
	out := make([]caseLine, len(cases))
	for i, c := range cases {
		out[i] = caseLine{URL: a.url("/cases/" + c.ID), TypeLabel: a.typeLabel(c.Type), DirLabel: dirLabel(c.Direction),
			PeerName: a.unitName(ctx, c.PeerUnit), Person: c.PersonIDNumber, State: c.State, Badge: a.badge(c, now),
			CreatedAt: c.CreatedAt}
	}
	return out
}

// Pager is the paging of a list: PageSize rows a page, ?page=N from 1.
type Pager struct {
	Page, Pages, Total int
	Prev, Next         string
}

// PageSize is the rows of a list page.
const PageSize = 20

// pageOf reads ?page= (1 when missing or bad) and returns the offset.
func pageOf(r *http.Request) (page, offset int) {
	page, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || page < 1 || page > 100000 {
		page = 1
	}
	return page, (page - 1) * PageSize
}

// pager builds the links of a list whose address is path with query q (page replaced).
func (a *App) pager(path string, q url.Values, page, total int) Pager {
	p := Pager{Page: page, Total: total, Pages: (total + PageSize - 1) / PageSize}
	link := func(n int) string {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Set("page", strconv.Itoa(n))
		return a.url(path) + "?" + v.Encode()
	}
	if page > 1 {
		p.Prev = link(page - 1)
	}
	if page < p.Pages {
		p.Next = link(page + 1)
	}
	return p
}

// homePage is what templates/app/home.html renders.
type homePage struct {
	Todo, DueSoon, Overdue, Recent []caseLine
	TodoTotal                      int
	// Observer: a regional observer, who sees statistics and the directory only — no case.
	Observer bool
}

// homeLimit is how many cases each block of the 工作台 shows.
const homeLimit = 10

// home is the 工作台: my to-do (incoming open cases, soonest deadline first), those due soon,
// those overdue, and the latest cases of my subtree.
func (a *App) home(w http.ResponseWriter, r *http.Request) {
	if !caseStaff(currentUser(r)) {
		a.render(w, r, "home", homePage{Observer: true})
		return
	}
	ctx, scope, now := r.Context(), scopeOf(r), a.cfg.Now()
	open, total, err := a.cfg.Store.ListCasesByDue(ctx, scope, yipanqi.CaseFilter{Direction: yipanqi.Incoming, Limit: 200}, yipanqi.OpenStates()...)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	recent, _, err := a.cfg.Store.ListCases(ctx, scope, yipanqi.CaseFilter{Limit: homeLimit})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var soon, overdue []*yipanqi.Case
	for _, c := range open {
		switch b := a.badge(c, now); b.Class {
		case "overdue":
			overdue = append(overdue, c)
		case "soon":
			soon = append(soon, c)
		}
	}
	p := homePage{TodoTotal: total,
		Todo:    a.caseRows(ctx, open[:min(len(open), homeLimit)], now),
		DueSoon: a.caseRows(ctx, soon[:min(len(soon), homeLimit)], now),
		Overdue: a.caseRows(ctx, overdue[:min(len(overdue), homeLimit)], now),
		Recent:  a.caseRows(ctx, recent, now)}
	a.render(w, r, "home", p)
}

// listPage is what the case lists render.
type listPage struct {
	Rows  []caseLine
	Pager Pager
	// Filters of the case list.
	Direction, State string
	States           []yipanqi.CaseState
}

// todo is 待办: the incoming cases of my subtree still to be answered, soonest deadline first.
func (a *App) todo(w http.ResponseWriter, r *http.Request) {
	page, offset := pageOf(r)
	cases, total, err := a.cfg.Store.ListCasesByDue(r.Context(), scopeOf(r),
		yipanqi.CaseFilter{Direction: yipanqi.Incoming, Offset: offset, Limit: PageSize}, yipanqi.OpenStates()...)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, r, "todo", listPage{Rows: a.caseRows(r.Context(), cases, a.cfg.Now()), Pager: a.pager("/todo", nil, page, total)})
}
