package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"yipanqi"
	"yipanqi/sqlstore/storetest"
	"yipanqi/web"
)

// The role matrix: who may use which route (docs/web.md, "Who may use which page"). Each
// route's allowed roles are a string of six columns in the order of roleColumns, a letter for
// allowed and "-" for refused (403). Public routes are served to everyone, signed in or not.
// A route of the application missing here fails TestRoleMatrix, so a new route must be given
// its roles both in the route table and here.
var roleColumns = []struct {
	letter byte
	user   string
	role   yipanqi.Role
	unit   string
}{
	{'T', "worker-a", yipanqi.RoleTownshipWorker, townshipA},
	{'C', "county", yipanqi.RoleCountySupervisor, county},
	{'I', "city", yipanqi.RoleCitySupervisor, "4401"},
	{'P', "provsup", yipanqi.RoleProvinceSupervisor, "44"},
	{'A', "admin", yipanqi.RoleProvinceAdmin, "44"},
	{'O', "observer", yipanqi.RoleRegionalObserver, "44"},
}

const (
	everyone    = "TCIPAO" // every signed-in user
	caseStaff   = "TCIPA-" // everyone but the regional observer: cases, people, certificates, prints
	supervisors = "-CIPA-" // 督办, 考核, 审计, certificate revocation
	readers     = "-CIPAO" // 联席会议 read
	province    = "---PA-" // 联席会议 forms, the audit chain check
	admins      = "----A-" // 系统管理
	public      = "public" // no sign-in
)

var roleMatrix = map[string]string{
	"GET /static/":                       public,
	"GET /login":                         public,
	"POST /login":                        public,
	"POST /logout":                       everyone,
	"GET /password":                      everyone,
	"POST /password":                     everyone,
	"GET /{$}":                           everyone, // a regional observer's 工作台 shows no case (TestObserverSeesNoPersonalData)
	"GET /todo":                          caseStaff,
	"GET /new":                           caseStaff,
	"GET /new/{type}":                    caseStaff,
	"POST /new/{type}":                   caseStaff,
	"GET /cases":                         caseStaff,
	"GET /cases/{id}":                    caseStaff,
	"POST /cases/{id}/reply":             caseStaff,
	"POST /cases/{id}/{action}":          caseStaff,
	"GET /cases/{id}/messages/{mid}":     caseStaff,
	"GET /supervise":                     supervisors,
	"GET /supervise/cases":               supervisors,
	"GET /assess":                        supervisors,
	"GET /assess/cases":                  supervisors,
	"GET /assess/print":                  supervisors,
	"GET /assess/export":                 supervisors,
	"POST /assess/adjust":                supervisors,
	"GET /stats":                         everyone,
	"GET /stats/export":                  everyone,
	"GET /stats/matrix":                  everyone,
	"GET /directory":                     public,
	"GET /directory/handbook/{province}": public,

	"GET /admin":                                 admins,
	"POST /admin/users":                          admins,
	"POST /admin/users/{id}":                     admins,
	"GET /admin/users/{id}":                      admins,
	"POST /admin/users/{id}/password":            admins,
	"POST /admin/users/{id}/tokens":              admins,
	"POST /admin/users/{id}/tokens/{tid}/revoke": admins,
	"GET /admin/units":                           admins,
	"POST /admin/units/{code}":                   admins,
	"GET /admin/calendar":                        admins,
	"GET /admin/trust":                           admins,
	"GET /admin/deadletters":                     admins,
	"GET /admin/deadletters/{id}":                admins,
	"GET /audit":                                 supervisors,
	"POST /audit":                                supervisors,
	"POST /audit/verify":                         province,

	"GET /api/openapi.json":         public,
	"/api/":                         public,
	"GET /api/v1/todo":              caseStaff,
	"POST /api/v1/cases":            caseStaff,
	"GET /api/v1/cases/{id}":        caseStaff,
	"POST /api/v1/cases/{id}/reply": caseStaff,
	"POST /api/v1/people/search":    caseStaff,
	"GET /api/v1/people/{id}":       caseStaff,
	"GET /api/v1/catalog":           everyone,

	"GET /people":                             caseStaff,
	"POST /people":                            caseStaff,
	"GET /people/{id}":                        caseStaff,
	"POST /people/{id}/flow":                  caseStaff,
	"POST /people/{id}/consents":              caseStaff,
	"POST /people/{id}/consents/{cid}/revoke": caseStaff,
	"GET /certs":                              caseStaff,
	"POST /certs/check":                       caseStaff,
	"POST /certs/list":                        caseStaff,
	"GET /certs/new":                          caseStaff,
	"POST /certs/new":                         caseStaff,
	"GET /certs/{number}":                     caseStaff,
	"POST /certs/{number}/revoke":             supervisors,
	"POST /certs/{number}/posting":            caseStaff,
	"POST /certs/{number}/handover":           caseStaff,
	"GET /print/notice/{id}":                  caseStaff,
	"GET /print/reissue/{id}":                 caseStaff,
	"GET /print/copy/{id}":                    caseStaff,
	"GET /print/cert/{number}":                caseStaff,
	"GET /print/slip/{number}":                caseStaff,
	"GET /print/report/{id}":                  caseStaff,
	"GET /verify/cert/{number}":               public,

	"GET /meetings":                                readers,
	"POST /meetings":                               province,
	"GET /meetings/{id}":                           readers,
	"POST /meetings/{id}/minutes":                  province,
	"POST /meetings/{id}/resolutions":              province,
	"POST /meetings/{id}/resolutions/{rid}/follow": province,

	"GET /healthz": public,
	"GET /metrics": public,
	"GET /status/": public,
}

// roleFixture is what the matrix test reads: a case of township A with a logged message
// and a person of township A, all in every role's subtree.
type roleFixture struct {
	*testApp
	caseID, messageID, idNumber string
	personID                    int64
}

// startRoleApp serves the application with its status pages (so that every route is in the
// table), a user of every role whose subtree holds township A, and the fixture's data.
func startRoleApp(t *testing.T, dsn string) *roleFixture {
	t.Helper()
	ta := startApp(t, dsn, false)
	for _, c := range roleColumns {
		if ta.users[c.user] == nil {
			ta.addUser(t, c.user, c.unit, c.role)
		}
	}
	ta.remount(t, web.Config{Status: &web.Node{Code: "44", Name: "广东", Store: ta.db, Types: []string{"verify.identity"}}})
	ctx := yipanqi.NewContextWithUser(context.Background(), ta.users["county"])
	f := &roleFixture{testApp: ta}

	p := storetest.NewPerson(1, townshipA)
	storetest.MustImport(t, ta.db, p)
	found, err := ta.db.FindPerson(ctx, storetest.MustScope(t, townshipA), p.IDNumber)
	if err != nil {
		t.Fatal(err)
	}
	f.personID, f.idNumber = found.ID, p.IDNumber

	c := &yipanqi.Case{Type: "verify.identity", Direction: yipanqi.Outgoing, OrgUnit: townshipA, PeerNode: "35",
		PeerUnit: "350102", PersonIDNumber: p.IDNumber, State: yipanqi.CaseSent,
		Data: json.RawMessage(`{"id_number":"` + p.IDNumber + `"}`)}
	m := &yipanqi.Message{ID: "01a22000-0000-7000-8000-00000000abcd", Type: "verify.identity", Source: "44", Dest: "35",
		Body:       []byte(`{"ypqid":"01a22000-0000-7000-8000-00000000abcd","data":{"id_number":"` + p.IDNumber + `"}}`),
		RecordedAt: ta.clock.Now()}
	if err := ta.db.SendCase(ctx, c, m, "hash-of-the-envelope", "ypq.35.44.verify.identity", &yipanqi.AuditEntry{Actor: "worker-a", Action: "case.send"}); err != nil {
		t.Fatal(err)
	}
	f.caseID, f.messageID = c.ID, m.ID
	return f
}

// path fills a route pattern's wildcards: the fixture's case, message and person where a
// page shows them, ids that do not exist elsewhere (an allowed role gets 404 or an error
// page, never 403). It returns the method and the path.
func (f *roleFixture) path(pattern string) (string, string) {
	method, p, ok := strings.Cut(pattern, " ")
	if !ok {
		method, p = "GET", pattern
	}
	person := strconv.FormatInt(f.personID, 10)
	switch {
	case p == "/{$}":
		return method, "/"
	case p == "/static/":
		return method, "/static/app.css"
	case p == "/api/":
		return method, "/api/no-such-operation"
	case strings.HasPrefix(p, "/cases/{id}"), strings.HasPrefix(p, "/api/v1/cases/{id}"),
		strings.HasPrefix(p, "/print/reissue/"), strings.HasPrefix(p, "/print/report/"):
		p = strings.Replace(p, "{id}", f.caseID, 1)
	case strings.HasPrefix(p, "/people/{id}"), strings.HasPrefix(p, "/api/v1/people/{id}"),
		strings.HasPrefix(p, "/print/notice/"), strings.HasPrefix(p, "/print/copy/"):
		p = strings.Replace(p, "{id}", person, 1)
	}
	return method, strings.NewReplacer("{mid}", f.messageID, "{action}", "no-such-action", "{type}", "verify.identity",
		"{id}", "999999", "{tid}", "999999", "{rid}", "999999", "{cid}", "999999", "{number}", "NOSUCH0001",
		"{province}", "44", "{code}", "449999").Replace(p)
}

// outcome is what a request got: "allow" (served: 200, a redirect elsewhere, 404 for an id
// that does not exist, 422 for an empty form…), "deny" (403) or "signin" (sent to sign in,
// or 401 from the API).
func outcome(resp *http.Response) string {
	switch {
	case resp.StatusCode == http.StatusForbidden:
		return "deny"
	case resp.StatusCode == http.StatusUnauthorized:
		return "signin"
	case resp.StatusCode/100 == 3 && strings.Contains(resp.Header.Get("Location"), "/login?"):
		return "signin" // ?next= or ?expired=1; sign-out's own redirect is to /login
	}
	return "allow"
}

// roleClient is a client of one role: its session cookie (no redirect followed) and its API
// token.
type roleClient struct {
	c     *http.Client
	token string
	csrf  string
}

func (f *roleFixture) client(t *testing.T, user string) *roleClient {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	rc := &roleClient{c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
	b := &browser{t: t, app: f.testApp, c: rc.c}
	if user == "" {
		return rc
	}
	b.get("/login")
	if code, _ := b.post("/login", url.Values{"csrf": {b.csrf()}, "username": {user}, "password": {password}}); code != http.StatusSeeOther {
		t.Fatalf("sign-in as %s: %d", user, code)
	}
	b.get("/password")
	rc.csrf = b.csrf()
	rc.token, _ = apiToken(t, f.testApp, user)
	return rc
}

// request makes the route's request as rc: the API's with the token, a page's with the
// session and, for a POST, its CSRF token and nothing else.
func (f *roleFixture) request(t *testing.T, rc *roleClient, pattern string) (*http.Response, string) {
	t.Helper()
	method, p := f.path(pattern)
	if pattern == "POST /login" && rc.token == "" {
		// Signed out, the sign-in form's token is that of the last GET /login.
		b := &browser{t: t, app: f.testApp, c: rc.c}
		b.get("/login")
		rc.csrf = b.csrf()
	}
	var body io.Reader
	api := strings.HasPrefix(p, "/api/v1/")
	if method == "POST" {
		if api {
			body = strings.NewReader(`{}`)
		} else {
			body = strings.NewReader(url.Values{"csrf": {rc.csrf}}.Encode())
		}
	}
	req, _ := http.NewRequest(method, f.srv.URL+f.base+p, body)
	if method == "POST" && !api {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else if method == "POST" {
		req.Header.Set("Content-Type", "application/json")
	}
	if api && rc.token != "" {
		req.Header.Set("Authorization", "Bearer "+rc.token)
	}
	resp, err := rc.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestRoleMatrix walks every route of the application as a user of every role and as no one,
// and compares what each got with the matrix: a route without an entry, an entry without a
// route, a role refused where the matrix allows it or served where it refuses it all fail.
func TestRoleMatrix(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		f := startRoleApp(t, dsn)
		app, err := web.New(web.Config{Code: "44", Store: f.db, Status: &web.Node{Code: "44", Store: f.db}})
		if err != nil {
			t.Fatal(err)
		}
		routes := app.Routes()
		for _, r := range routes {
			if _, ok := roleMatrix[r]; !ok {
				t.Errorf("route %q has no line in the role matrix (roles_test.go, docs/web.md)", r)
			}
		}
		for r := range roleMatrix {
			if !slices.Contains(routes, r) {
				t.Errorf("the role matrix names %q, which is not a route", r)
			}
		}
		// Sign-out last: it ends the session.
		slices.SortStableFunc(routes, func(x, y string) int {
			return strings.Compare(strconv.FormatBool(x == "POST /logout"), strconv.FormatBool(y == "POST /logout"))
		})

		anon := f.client(t, "")
		for _, r := range routes {
			resp, body := f.request(t, anon, r)
			got, want := outcome(resp), "signin"
			if roleMatrix[r] == public {
				want = "allow"
			}
			if got != want {
				t.Errorf("%s signed out: %s (%d), want %s\n%.300s", r, got, resp.StatusCode, want, body)
			}
		}
		for _, col := range roleColumns {
			rc := f.client(t, col.user)
			for _, r := range routes {
				allowed := roleMatrix[r]
				want := "deny"
				if allowed == public || strings.IndexByte(allowed, col.letter) >= 0 {
					want = "allow"
				}
				resp, body := f.request(t, rc, r)
				if got := outcome(resp); got != want {
					t.Errorf("%s as %s: %s (%d), want %s\n%.300s", r, col.role, got, resp.StatusCode, want, body)
				}
				if want == "deny" && strings.Contains(body, f.idNumber) {
					t.Errorf("%s as %s: the refusal shows the ID number", r, col.role)
				}
			}
		}
	})
}

// TestObserverSeesNoPersonalData: the regional observer sees statistics and the directory
// only — not the case page, a message of its log, a person, nor the API's case, person
// search or person record, and a 工作台 without cases — while a county supervisor of the
// same subtree reads the full ID number on each (so the fixture is real).
func TestObserverSeesNoPersonalData(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		f := startRoleApp(t, dsn)
		pages := []string{"/cases/" + f.caseID, "/cases/" + f.caseID + "/messages/" + f.messageID,
			"/people/" + strconv.FormatInt(f.personID, 10)}
		county, obs := f.browser(t), f.browser(t)
		county.mustLogin("county")
		obs.mustLogin("observer")
		for _, p := range pages {
			if code, body := county.get(p); code != 200 || !strings.Contains(body, f.idNumber) {
				t.Fatalf("county supervisor %s: %d, ID number shown %v", p, code, strings.Contains(body, f.idNumber))
			}
			code, body := obs.get(p)
			if code != http.StatusForbidden || strings.Contains(body, f.idNumber) {
				t.Errorf("observer %s: %d, ID number shown %v", p, code, strings.Contains(body, f.idNumber))
			}
		}
		code, home := obs.get("/")
		wantStatus(t, code, 200, "observer's 工作台")
		if strings.Contains(home, "/cases/"+f.caseID) || strings.Contains(home, "最近案件") {
			t.Errorf("the observer's 工作台 lists cases:\n%s", home)
		}
		for _, nav := range []string{">待办<", ">案件<", ">人员<", ">婚育证明<", ">发起<"} {
			if strings.Contains(home, nav) {
				t.Errorf("the observer's navigation offers %s", nav)
			}
		}
		wantContains(t, home, "统计", "名录")
		if code, _ := obs.get("/stats"); code != 200 {
			t.Errorf("observer's 统计: %d", code)
		}

		ctoken, _ := apiToken(t, f.testApp, "county")
		otoken, _ := apiToken(t, f.testApp, "observer")
		search := `{"id_number":"` + f.idNumber + `"}`
		for _, c := range []struct{ method, path, body string }{
			{"GET", "/api/v1/cases/" + f.caseID, ""},
			{"POST", "/api/v1/people/search", search},
			{"GET", "/api/v1/people/" + strconv.FormatInt(f.personID, 10), ""},
			{"GET", "/api/v1/todo", ""},
		} {
			code, body := f.call(t, ctoken, c.method, c.path, c.body)
			raw, _ := json.Marshal(body)
			if code != 200 || (strings.HasPrefix(c.path, "/api/v1/people/search") && body["total"] != 1.0) ||
				(c.method == "GET" && c.path != "/api/v1/todo" && !strings.Contains(string(raw), f.idNumber)) {
				t.Fatalf("county supervisor %s %s: %d %s", c.method, c.path, code, raw)
			}
			code, body = f.call(t, otoken, c.method, c.path, c.body)
			raw, _ = json.Marshal(body)
			if ec, _, _ := errorOf(body); code != http.StatusForbidden || ec != "forbidden" || strings.Contains(string(raw), f.idNumber) {
				t.Errorf("observer %s %s: %d %s", c.method, c.path, code, raw)
			}
		}
	})
}

// TestPageSecurityHeaders: the application's pages and its public status page carry the same
// security headers; the status page's policy allows its own inlined stylesheet by its hash
// (the application's policy would block it) and nothing else.
func TestPageSecurityHeaders(t *testing.T) {
	f := startRoleApp(t, storetest.SQLiteDSN(t))
	rc := f.client(t, "")
	for _, r := range []string{"GET /login", "GET /directory", "GET /status/"} {
		resp, body := f.request(t, rc, r)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", r, resp.StatusCode)
		}
		h := resp.Header
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") != "same-origin" {
			t.Errorf("%s: headers %v", r, h)
		}
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: Content-Security-Policy %q", r, csp)
		}
		if r != "GET /status/" {
			continue
		}
		_, rest, _ := strings.Cut(body, "<style>")
		css, _, ok := strings.Cut(rest, "</style>")
		sum := sha256.Sum256([]byte(css))
		if hash := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !ok || !strings.Contains(csp, hash) ||
			!strings.Contains(csp, "default-src 'none'") {
			t.Errorf("%s: Content-Security-Policy %q does not allow the page's stylesheet %s", r, csp, hash)
		}
	}
}

// TestOpenAPIDocumentsRoleRefusals: every API operation that some role may not use
// documents its 403 in openapi.json.
func TestOpenAPIDocumentsRoleRefusals(t *testing.T) {
	ta := startApp(t, storetest.SQLiteDSN(t), false)
	resp, err := http.Get(ta.srv.URL + "/44/api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	app, err := web.New(web.Config{Code: "44", Store: ta.db})
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range app.APIRoutes() {
		allowed, ok := roleMatrix[op]
		if !ok || allowed == everyone {
			continue
		}
		method, path, _ := strings.Cut(op, " ")
		path = strings.TrimPrefix(path, "/api/v1") // the document's paths are relative to its server, …/api/v1
		if _, ok := doc.Paths[path][strings.ToLower(method)].Responses["403"]; !ok {
			t.Errorf("%s refuses some roles (%s) but openapi.json documents no 403", op, allowed)
		}
	}
}
