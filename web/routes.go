package web

import (
	"net/http"
	"slices"

	"yipanqi"
)

// route is one entry of the route table: a pattern, who may use it, the navigation entry it
// gives, and its handler. Every route goes through App.wrap (session, CSRF, access).
type route struct {
	pattern string // method and path as for http.ServeMux, e.g. "GET /todo"
	nav     string // the navigation entry it gives (GET routes only; one of navOrder), "" for none
	public  bool   // served without sign-in (sign-in page, assets, health)
	// allow says which signed-in users may use it; nil: every signed-in user.
	allow  roleCheck
	handle http.HandlerFunc
	// direct routes are served as they are, without wrap (no session, no CSRF): the JSON
	// API, which authenticates each request by its bearer token itself (api.go).
	direct bool
}

// roleCheck says whether a user may use a route.
type roleCheck func(u *yipanqi.User) bool

// requireUser is the access check of a route: signed in, and allowed by check (nil: any
// signed-in user). Use it as a route's allow field, e.g. allow: roles(yipanqi.RoleProvinceAdmin).
func roles(rs ...yipanqi.Role) roleCheck {
	return func(u *yipanqi.User) bool { return slices.Contains(rs, u.Role) }
}

// requireUser wraps a handler outside the route table (a sub-application's) in the same
// checks a route gets: signed in, allowed by check (nil: any signed-in user), CSRF on POST.
func (a *App) requireUser(check roleCheck, h http.HandlerFunc) http.Handler {
	return a.wrap(route{allow: check, handle: h})
}

// canSend: the staff who handle cases themselves.
var canSend = roles(yipanqi.RoleTownshipWorker, yipanqi.RoleCountySupervisor, yipanqi.RoleCitySupervisor,
	yipanqi.RoleProvinceSupervisor, yipanqi.RoleProvinceAdmin)

// routes is the route table: every page of the application. Add a page by adding a line here
// and a handler in its own file (docs/web.md, "How to add a page").
func (a *App) routes() []route {
	rs := []route{
		{pattern: "GET /static/", public: true, handle: a.serveStatic},
		{pattern: "GET /login", public: true, handle: a.loginForm},
		{pattern: "POST /login", public: true, handle: a.login},
		{pattern: "POST /logout", handle: a.logout},
		{pattern: "GET /password", handle: a.passwordForm},
		{pattern: "POST /password", handle: a.changePassword},

		{pattern: "GET /{$}", nav: "工作台", handle: a.home},
		{pattern: "GET /todo", nav: "待办", handle: a.todo},
		{pattern: "GET /new", nav: "发起", allow: canSend, handle: a.newCaseTypes},
		{pattern: "GET /new/{type}", allow: canSend, handle: a.newCaseForm},
		{pattern: "POST /new/{type}", allow: canSend, handle: a.newCase},
		{pattern: "GET /cases", nav: "案件", handle: a.caseList},
		{pattern: "GET /cases/{id}", handle: a.casePage},
		{pattern: "POST /cases/{id}/reply", allow: canSend, handle: a.replyCase},
		{pattern: "POST /cases/{id}/{action}", allow: canSend, handle: a.caseAction},
		{pattern: "GET /cases/{id}/messages/{mid}", handle: a.caseMessage},
	}
	rs = append(rs, a.oversightRoutes()...)
	rs = append(rs, a.adminRoutes()...)
	rs = append(rs, a.peopleRoutes()...)
	rs = append(rs, a.meetingRoutes()...)
	if a.cfg.Status != nil {
		rs = append(rs, a.statusRoutes()...)
	}
	return rs
}

// navOrder is the order of the navigation; an entry shows once a route gives it.
var navOrder = []string{"工作台", "待办", "发起", "案件", "人员", "婚育证明", "督办", "考核", "统计", "名录", "联席会议", "系统管理", "审计"}

// navLink is one entry of the navigation.
type navLink struct {
	Label, Path string
	allow       roleCheck
}

func sortNav(nav []navLink) {
	slices.SortStableFunc(nav, func(x, y navLink) int {
		return slices.Index(navOrder, x.Label) - slices.Index(navOrder, y.Label)
	})
}
