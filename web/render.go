package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"yipanqi"
)

// view is what the layout renders: the page's own data in Data, and what every page shows
// (the node, the user, the navigation, the CSRF token of the forms).
type view struct {
	NodeName, NodeCode string
	Base               string
	User               *yipanqi.User
	UnitName           string
	RoleLabel          string
	CSRF               string
	Nav                []navItem
	Data               any
}

type navItem struct {
	Label, URL string
	Current    bool
}

// parseTemplates parses each page of templates/app with the layout and the partials.
func (a *App) parseTemplates() error {
	funcs := template.FuncMap{
		"url":        a.url,
		"clock":      clock,
		"date":       func(t time.Time) string { return dateText(t) },
		"stateLabel": stateLabel,
		"typeLabel":  a.typeLabel,
		"mask":       MaskIDNumber,
		"roleLabel":  RoleLabel,
		"add":        func(a, b int) int { return a + b },
		"fieldOf": func(name, label, input, value, err, auto string) Field {
			return Field{Name: name, Label: label, Input: input, Value: value, Error: err, Auto: auto}
		},
	}
	names, err := fs.Glob(appTemplateFS, "templates/app/*.html")
	if err != nil {
		return err
	}
	a.pages = map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/app/"), ".html")
		if base == "layout" || base == "partials" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(appTemplateFS, "templates/app/layout.html", "templates/app/partials.html", n)
		if err != nil {
			return fmt.Errorf("web: template %s: %w", n, err)
		}
		a.pages[base] = t
	}
	return nil
}

// render writes page name (templates/app/<name>.html) in the layout with data, status 200.
func (a *App) render(w http.ResponseWriter, r *http.Request, name string, data any) {
	a.renderStatus(w, r, http.StatusOK, name, data)
}

// renderStatus is render with a status code (422 for a form shown again with its errors).
func (a *App) renderStatus(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	t, ok := a.pages[name]
	if !ok {
		panic("web: no page template " + name)
	}
	v := view{NodeName: a.cfg.Name, NodeCode: a.cfg.Code, Base: a.cfg.BasePath, Data: data}
	if s := state(r).sess; s != nil {
		v.User, v.CSRF = s.User, s.CSRF
		v.UnitName = a.unitName(r.Context(), s.User.OrgUnit)
		v.RoleLabel = RoleLabel(s.User.Role)
		v.Nav = a.navFor(s.User, r.URL.Path)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		a.cfg.Logger.Error("web: render", "page", name, "err", err)
		http.Error(w, "页面生成出错。", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// navFor is the navigation the user may use, with the entry of the current page marked.
func (a *App) navFor(u *yipanqi.User, path string) []navItem {
	var out []navItem
	best, bestLen := -1, 0
	for _, n := range a.nav {
		if n.allow != nil && !n.allow(u) { // nil: a public page (checkRoutes)
			continue
		}
		p := strings.TrimSuffix(n.Path, "{$}")
		out = append(out, navItem{Label: n.Label, URL: a.url(p)})
		if (p == "/" && path == "/") || (p != "/" && strings.HasPrefix(path, p)) {
			if len(p) > bestLen {
				best, bestLen = len(out)-1, len(p)
			}
		}
	}
	if best >= 0 {
		out[best].Current = true
	}
	return out
}

func (a *App) serveStatic(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=3600")
	a.static.ServeHTTP(w, r)
}

func (a *App) statusRoutes() []route {
	h := Handler(a.cfg.Status)
	page := http.StripPrefix("/status", h)
	return []route{
		{pattern: "GET /healthz", public: true, handle: h.ServeHTTP},
		{pattern: "GET /metrics", public: true, handle: h.ServeHTTP},
		{pattern: "GET /status/", public: true, handle: SecureHeaders(page).ServeHTTP}, // its inlined stylesheet
	}
}

// typeLabel is the Chinese name of a case type from the catalog, or the name itself.
func (a *App) typeLabel(name string) string {
	if t, err := a.cfg.Catalog.Type(name); err == nil {
		return t.Label
	}
	return name
}

func dateText(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(yipanqi.Shanghai).Format("2006-01-02")
}

// MaskIDNumber masks an ID number for lists (SCOPE.md): the first 6 and last 4 characters
// stay, e.g. 440103********1234.
func MaskIDNumber(s string) string {
	if len(s) < 11 {
		return strings.Repeat("*", len(s))
	}
	return s[:6] + strings.Repeat("*", len(s)-10) + s[len(s)-4:]
}

// RoleLabel returns the Chinese name of a role.
func RoleLabel(r yipanqi.Role) string {
	switch r {
	case yipanqi.RoleTownshipWorker:
		return "乡镇（街道）工作人员"
	case yipanqi.RoleCountySupervisor:
		return "县级督办"
	case yipanqi.RoleCitySupervisor:
		return "市级督办"
	case yipanqi.RoleProvinceSupervisor:
		return "省级督办"
	case yipanqi.RoleProvinceAdmin:
		return "省级管理员"
	case yipanqi.RoleRegionalObserver:
		return "区域观察员"
	}
	return string(r)
}

// Roles lists every role, for flags and forms.
var Roles = []yipanqi.Role{yipanqi.RoleTownshipWorker, yipanqi.RoleCountySupervisor, yipanqi.RoleCitySupervisor,
	yipanqi.RoleProvinceSupervisor, yipanqi.RoleProvinceAdmin, yipanqi.RoleRegionalObserver}
