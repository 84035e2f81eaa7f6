package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"yipanqi"
	"yipanqi/sqlstore/storetest"
	"yipanqi/web"
)

// mustCase stores an incoming case held by unit.
func mustCase(t *testing.T, ta *testApp, unit string) string {
	t.Helper()
	c := &yipanqi.Case{Type: "verify.identity", Direction: yipanqi.Incoming, OrgUnit: unit, PeerNode: "43", PeerUnit: "430524101",
		State: yipanqi.CaseDelivered, DueAt: ta.clock.Now().AddDate(0, 0, 20),
		Data: []byte(`{"id_number":"430524197708080078","name":"测试"}`)}
	if err := ta.db.CreateCase(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c.ID
}

// TestJurisdiction: a township worker who guesses another township's case URL gets 404; a
// county supervisor sees the cases of the county and no others.
func TestJurisdiction(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		inA, inB, yuexiu := mustCase(t, ta, townshipA), mustCase(t, ta, townshipB), mustCase(t, ta, otherCity)

		a := ta.browser(t)
		a.mustLogin("worker-a")
		if code, body := a.get("/cases/" + inA); code != 200 || !strings.Contains(body, "身份住址核实") {
			t.Fatalf("own case: %d", code)
		}
		for _, id := range []string{inB, yuexiu, "01a22000-0000-7000-8000-000000000000"} {
			code, body := a.get("/cases/" + id)
			if code != http.StatusNotFound || !strings.Contains(body, "未找到") || strings.Contains(body, "测试") {
				t.Fatalf("worker-a opening case %s: %d\n%s", id, code, body)
			}
			if code, _ := a.get("/cases/" + id + "/messages/" + id); code != http.StatusNotFound {
				t.Fatalf("worker-a opening a message of case %s: %d", id, code)
			}
		}
		_, list := a.get("/cases")
		if !strings.Contains(list, inA) || strings.Contains(list, inB) || strings.Contains(list, yuexiu) {
			t.Fatalf("worker-a's case list:\n%s", list)
		}
		// A reply to a case out of scope is refused as not found; nothing changes.
		a.get("/cases/" + inA)
		if code, _ := a.post("/cases/"+inB+"/reply", url.Values{"csrf": {a.csrf()}, "reply": {"confirmed"}}); code != http.StatusNotFound {
			t.Fatalf("reply to another township's case: %d", code)
		}

		c := ta.browser(t)
		c.mustLogin("county")
		_, list = c.get("/cases")
		if !strings.Contains(list, inA) || !strings.Contains(list, inB) || strings.Contains(list, yuexiu) {
			t.Fatalf("county supervisor's case list:\n%s", list)
		}
		_, todo := c.get("/todo")
		if !strings.Contains(todo, inA) || !strings.Contains(todo, inB) || strings.Contains(todo, yuexiu) {
			t.Fatalf("county supervisor's to-do:\n%s", todo)
		}
		if code, _ := c.get("/cases/" + yuexiu); code != http.StatusNotFound {
			t.Fatalf("county supervisor opening a case of another county: %d", code)
		}
		// Viewing a case is audited in the viewer's name.
		log, err := ta.db.AuditLog(context.Background(), inA, 100)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, e := range log {
			if e.Action == "case.view" {
				seen[e.Actor] = true
			}
		}
		if !seen["worker-a"] {
			t.Fatalf("case.view by worker-a not audited: %+v", log)
		}
	})
}

// TestBadInput: a value that is not UTF-8, an over-long field, an oversized body: refused in
// Chinese, next to the field where there is one, and nothing changes.
func TestBadInput(t *testing.T) {
	ta := startApp(t, storetest.SQLiteDSN(t), false)
	b := ta.browser(t)
	b.mustLogin("worker-a")
	b.get("/password")
	token := b.csrf()
	raw := "csrf=" + url.QueryEscape(token) + "&current=%FF%FEabc&new=another-pass-1&confirm=another-pass-1"
	req, _ := http.NewRequest("POST", ta.srv.URL+"/44/password", strings.NewReader(raw))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	code, body := b.do(req)
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "含有无效的字符编码") || !strings.Contains(body, `id="f-current-err"`) {
		t.Fatalf("non-UTF-8 value: %d\n%s", code, body)
	}
	if u, _ := ta.db.UserByName(context.Background(), "worker-a"); !web.CheckPassword(u.PasswordHash, password) {
		t.Fatal("a refused form changed the password")
	}
	// An over-long new password.
	_, body = b.post("/password", url.Values{"csrf": {token}, "current": {password}, "new": {strings.Repeat("密", 129)},
		"confirm": {strings.Repeat("密", 129)}})
	wantContains(t, body, "密码不得超过 128 个字符")
	// An oversized body: 413, read no further.
	req, _ = http.NewRequest("POST", ta.srv.URL+"/44/password",
		strings.NewReader("csrf="+url.QueryEscape(token)+"&current="+strings.Repeat("x", web.MaxFormBytes)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if code, body := b.do(req); code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "提交的内容过大") {
		t.Fatalf("oversized form: %d\n%s", code, body)
	}
	// An over-long username at sign-in.
	s := ta.browser(t)
	code, body = s.login(strings.Repeat("a", 65), password)
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "“用户名”不得超过 64 个字") {
		t.Fatalf("over-long username: %d\n%s", code, body)
	}
	// A "next" address off the site is dropped.
	s.get("/login?next=//evil.example/")
	if strings.Contains(s.last, "evil.example") {
		t.Fatal("an off-site next address was kept")
	}
}
