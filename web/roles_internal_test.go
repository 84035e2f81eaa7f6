package web

import (
	"net/http"
	"strings"
	"testing"

	"yipanqi"
)

// TestCheckRoutesRefusesUndeclaredRoles: a route that is neither public nor given its roles
// stops the application from being built, as does a public route with roles.
func TestCheckRoutesRefusesUndeclaredRoles(t *testing.T) {
	h := func(http.ResponseWriter, *http.Request) {}
	mustPanic := func(what, want string, fn func()) {
		t.Helper()
		defer func() {
			t.Helper()
			r := recover()
			if s, _ := r.(string); !strings.Contains(s, want) {
				t.Errorf("%s: panic %v, want one naming %q", what, r, want)
			}
		}()
		fn()
	}
	mustPanic("a page without roles", "GET /new-page", func() {
		checkRoutes([]route{{pattern: "GET /ok", allow: signedIn, handle: h}, {pattern: "GET /new-page", handle: h}})
	})
	mustPanic("an API operation without roles", "GET /api/v1/new", func() {
		checkRoutes([]route{{pattern: "GET /api/v1/new", direct: true, handle: h}})
	})
	mustPanic("a public page with roles", "GET /open", func() {
		checkRoutes([]route{{pattern: "GET /open", public: true, allow: caseStaff, handle: h}})
	})
	// The application's own table passes, and a role outside Roles is refused everywhere.
	a := &App{cfg: Config{}}
	checkRoutes(a.routes())
	for _, check := range []roleCheck{signedIn, caseStaff, canSend} {
		if check(&yipanqi.User{Role: "superuser"}) || check(nil) {
			t.Error("a role check lets an unknown role or no user in")
		}
	}
}
