package web

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"yipanqi"
)

// route is one entry of the route table: a pattern, who may use it, the navigation entry it
// gives, and its handler. Every route goes through App.wrap (session, CSRF, access).
type route struct {
	pattern string // method and path as for http.ServeMux, e.g. "GET /todo"
	nav     string // the navigation entry it gives (GET routes only; one of navOrder), "" for none
	public  bool   // served without sign-in (sign-in page, assets, health, the public directory)
	// allow says which signed-in users may use it. There is no default: a route that is not
	// public must name its roles (roles(...), signedIn for every role), or the route table
	// panics when the application is built (checkRoutes). The matrix is in docs/web.md.
	allow  roleCheck
	handle http.HandlerFunc
	// direct routes are served as they are, without wrap (no session, no CSRF): the JSON
	// API, which authenticates each request by its bearer token itself and checks allow
	// against the token's user (api.go).
	direct bool
}

// roleCheck says whether a user may use a route.
type roleCheck func(u *yipanqi.User) bool

// roles is the access check of a route: the user's role is one of rs. Use it as a route's
// allow field, e.g. allow: roles(yipanqi.RoleProvinceAdmin).
func roles(rs ...yipanqi.Role) roleCheck {
	return func(u *yipanqi.User) bool { return u != nil && slices.Contains(rs, u.Role) }
}

// signedIn: every role. Only for pages without personal data or case data (sign-out, one's
// own password, 工作台 — which shows a regional observer no cases —, 统计).
var signedIn = roles(Roles...)

// caseStaff: the staff who handle cases and people themselves, and read them in their
// subtree — every role but the regional observer, who sees statistics and the directory
// only (docs/oversight-pages.md, "Who sees what").
var caseStaff = roles(yipanqi.RoleTownshipWorker, yipanqi.RoleCountySupervisor, yipanqi.RoleCitySupervisor,
	yipanqi.RoleProvinceSupervisor, yipanqi.RoleProvinceAdmin)

// canSend: who may start, answer and act on cases and record people — the case staff.
var canSend = caseStaff

// checkRoutes panics when a route of the table does not say who may use it: every route is
// either public or has an allow list (docs/web.md, "Who may use which page").
func checkRoutes(rs []route) {
	for _, rt := range rs {
		switch {
		case rt.public && rt.allow != nil:
			panic(fmt.Sprintf("web: route %q is public and has roles", rt.pattern))
		case !rt.public && rt.allow == nil:
			panic(fmt.Sprintf("web: route %q names no roles: give it allow: roles(...) or signedIn", rt.pattern))
		}
	}
}

// Routes lists the patterns of the route table ("GET /cases/{id}", the API's among them),
// for tests and docs.
func (a *App) Routes() []string {
	var out []string
	for _, rt := range a.routes() {
		out = append(out, rt.pattern)
	}
	return out
}

// routes is the route table: every page of the application. Add a page by adding a line here
// and a handler in its own file (docs/web.md, "How to add a page").
func (a *App) routes() []route {
	rs := []route{
		{pattern: "GET /static/", public: true, handle: a.serveStatic},
		{pattern: "GET /login", public: true, handle: a.loginForm},
		{pattern: "POST /login", public: true, handle: a.login},
		{pattern: "POST /logout", allow: signedIn, handle: a.logout},
		{pattern: "GET /password", allow: signedIn, handle: a.passwordForm},
		{pattern: "POST /password", allow: signedIn, handle: a.changePassword},

		{pattern: "GET /{$}", nav: "工作台", allow: signedIn, handle: a.home},
		{pattern: "GET /todo", nav: "待办", allow: caseStaff, handle: a.todo},
		{pattern: "GET /new", nav: "发起", allow: canSend, handle: a.newCaseTypes},
		{pattern: "GET /new/{type}", allow: canSend, handle: a.newCaseForm},
		{pattern: "POST /new/{type}", allow: canSend, handle: a.newCase},
		{pattern: "GET /cases", nav: "案件", allow: caseStaff, handle: a.caseList},
		{pattern: "GET /cases/{id}", allow: caseStaff, handle: a.casePage},
		{pattern: "POST /cases/{id}/reply", allow: canSend, handle: a.replyCase},
		{pattern: "POST /cases/{id}/{action}", allow: canSend, handle: a.caseAction},
		{pattern: "GET /cases/{id}/messages/{mid}", allow: caseStaff, handle: a.caseMessage},
	}
	rs = append(rs, a.oversightRoutes()...)
	rs = append(rs, a.adminRoutes()...)
	rs = append(rs, a.peopleRoutes()...)
	rs = append(rs, a.meetingRoutes()...)
	if a.cfg.Status != nil {
		rs = append(rs, a.statusRoutes()...)
	}
	checkRoutes(rs)
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

// Security headers.

// appCSP is the content security policy of the application's pages: everything from the
// node itself, no inline script or style, no framing.
const appCSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'"

// overviewCSP is the policy of the self-contained overview pages of handler.go — a node's
// status page (templates/status.html) and the region's overview (index.html): their one
// inlined stylesheet, allowed by its hash, and nothing else — no script, no form, no frame.
var overviewCSP = func() string {
	var hashes []string
	for _, name := range []string{"templates/index.html", "templates/status.html"} {
		b, err := templateFS.ReadFile(name)
		if err != nil {
			panic("web: " + err.Error())
		}
		_, rest, ok := strings.Cut(string(b), "<style>")
		css, _, ok2 := strings.Cut(rest, "</style>")
		if !ok || !ok2 {
			panic("web: no stylesheet in " + name)
		}
		sum := sha256.Sum256([]byte(css))
		hashes = append(hashes, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
	}
	return "default-src 'none'; style-src " + strings.Join(hashes, " ") +
		"; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
}()

// setSecurityHeaders sets the headers every page carries: no MIME sniffing, no framing, the
// referrer only to the same origin, and the content security policy csp.
func setSecurityHeaders(h http.Header, csp string) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", csp)
}

// SecureHeaders serves h with the security headers of the application's pages and the
// overview pages' content security policy: for a page of this package mounted outside an
// App, such as the region's overview (Index) in the demo.
func SecureHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w.Header(), overviewCSP)
		h.ServeHTTP(w, r)
	})
}
