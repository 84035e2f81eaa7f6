package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/sqlstore"
	"yipanqi/sqlstore/storetest"
	"yipanqi/web"
)

// The fixture: two townships of 天河区 (广州), a township of 越秀区, and their users.
const (
	county    = "440106"
	townshipA = "440106001"
	townshipB = "440106002"
	otherCity = "440104001"
	password  = "yipanqi-test-1"
)

// clock is a settable time for the app and the store.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testApp is a running application on a real store.
type testApp struct {
	db    *sqlstore.DB
	app   *web.App
	srv   *httptest.Server
	clock *clock
	base  string // the base path
	users map[string]*yipanqi.User
}

// eachDB runs fn on SQLite and, when YIPANQI_TEST_POSTGRES is set, on PostgreSQL.
func eachDB(t *testing.T, fn func(t *testing.T, dsn string)) {
	for name, dsn := range storetest.DSNs(t) {
		t.Run(name, func(t *testing.T) { fn(t, dsn) })
	}
}

// startApp opens the store on dsn, gives it the fixture's units and users, and serves the
// application under the base path /44.
func startApp(t testing.TB, dsn string, node bool) *testApp {
	t.Helper()
	db := storetest.Open(t, dsn)
	clk := &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)} // a Monday, 17:00 in 北京
	db.Now = clk.Now
	units := []yipanqi.OrgUnit{
		{Code: "44", Name: "广东省", Active: true},
		{Code: "4401", Name: "广州市", ParentCode: "44", Active: true},
		{Code: county, Name: "广州市天河区", ParentCode: "4401", Active: true},
		{Code: townshipA, Name: "广州市天河区甲街道", ParentCode: county, Active: true},
		{Code: townshipB, Name: "广州市天河区乙街道", ParentCode: county, Active: true},
		{Code: "440104", Name: "广州市越秀区", ParentCode: "4401", Active: true},
		{Code: otherCity, Name: "广州市越秀区丙街道", ParentCode: "440104", Active: true},
	}
	if err := db.UpsertOrgUnits(context.Background(), units); err != nil {
		t.Fatal(err)
	}
	hash, err := web.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	ta := &testApp{db: db, clock: clk, base: "/44", users: map[string]*yipanqi.User{}}
	for _, u := range []*yipanqi.User{
		{Username: "worker-a", OrgUnit: townshipA, Role: yipanqi.RoleTownshipWorker},
		{Username: "worker-b", OrgUnit: townshipB, Role: yipanqi.RoleTownshipWorker},
		{Username: "worker-c", OrgUnit: otherCity, Role: yipanqi.RoleTownshipWorker},
		{Username: "county", OrgUnit: county, Role: yipanqi.RoleCountySupervisor},
	} {
		u.PasswordHash = hash
		if err := db.CreateUser(context.Background(), u); err != nil {
			t.Fatal(err)
		}
		ta.users[u.Username] = u
	}
	app, err := web.New(web.Config{Code: "44", Name: "广东", BasePath: ta.base, Store: db, Now: clk.Now, FailDelay: time.Nanosecond,
		PublicURL: testPublicURL})
	if err != nil {
		t.Fatal(err)
	}
	ta.app = app
	mux := http.NewServeMux()
	mux.Handle("/44/", http.StripPrefix("/44", app))
	ta.srv = httptest.NewServer(mux)
	t.Cleanup(ta.srv.Close)
	return ta
}

// browser is a client with its own cookies.
type browser struct {
	t    testing.TB
	app  *testApp
	c    *http.Client
	last string // the body of the last page
}

func (ta *testApp) browser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, app: ta, c: &http.Client{Jar: jar}}
}

func (b *browser) do(req *http.Request) (int, string) {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	b.last = string(body)
	return resp.StatusCode, b.last
}

// get fetches a path of the app (without the base path).
func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.app.srv.URL+b.app.base+path, nil)
	return b.do(req)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the token of the forms of the last page.
func (b *browser) csrf() string {
	m := csrfField.FindStringSubmatch(b.last)
	if m == nil {
		b.t.Fatalf("no CSRF field on the page:\n%s", b.last)
	}
	return m[1]
}

// post submits form to path (without the base path) as is: add "csrf" yourself.
func (b *browser) post(path string, form url.Values) (int, string) {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.app.srv.URL+b.app.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// login signs in from the sign-in page and returns the status and page after it.
func (b *browser) login(user, pw string) (int, string) {
	b.t.Helper()
	b.get("/login")
	return b.post("/login", url.Values{"csrf": {b.csrf()}, "username": {user}, "password": {pw}})
}

func (b *browser) mustLogin(user string) {
	b.t.Helper()
	if code, body := b.login(user, password); code != 200 || !strings.Contains(body, "工作台") {
		b.t.Fatalf("sign-in as %s: %d\n%s", user, code, body)
	}
}

func wantContains(t *testing.T, body string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(body, p) {
			t.Fatalf("page lacks %q:\n%s", p, body)
		}
	}
}

func TestSignIn(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		b := ta.browser(t)
		// Not signed in: the app sends you to the sign-in page.
		code, body := b.get("/todo")
		if code != 200 || !strings.Contains(body, `action="/44/login"`) {
			t.Fatalf("signed-out /todo: %d\n%s", code, body)
		}
		code, body = b.login("worker-a", "wrong-password")
		if code != http.StatusUnprocessableEntity {
			t.Fatalf("wrong password: status %d", code)
		}
		wantContains(t, body, "用户名或密码错误", `value="worker-a"`)
		b.mustLogin("worker-a")
		wantContains(t, b.last, "广州市天河区甲街道", "乡镇（街道）工作人员", "待办", "发起", `href="/44/static/app.css"`)
		b.get("/login") // signed in: back to the 工作台
		wantContains(t, b.last, "我的待办")
		// Sign out: the session ends.
		b.post("/logout", url.Values{"csrf": {b.csrf()}})
		code, body = b.get("/")
		if code != 200 || !strings.Contains(body, "登录") || strings.Contains(body, "我的待办") {
			t.Fatalf("after sign-out: %d\n%s", code, body)
		}
	})
}

func TestSessionCookieAttributes(t *testing.T) {
	ta := startApp(t, storetest.SQLiteDSN(t), false)
	b := ta.browser(t)
	b.get("/login")
	b.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	form := url.Values{"csrf": {b.csrf()}, "username": {"worker-a"}, "password": {password}}
	req, _ := http.NewRequest("POST", ta.srv.URL+"/44/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/44/" {
		t.Fatalf("sign-in answered %d to %q, want 303 to /44/", resp.StatusCode, resp.Header.Get("Location"))
	}
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "ypq_session_44" && c.Value != "" {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Path != "/44/" || session.Secure {
		t.Fatalf("session cookie = %+v", session)
	}
}

func TestLockOut(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		b := ta.browser(t)
		for i := 1; i <= 4; i++ {
			if code, _ := b.login("worker-a", "wrong"); code != http.StatusUnprocessableEntity {
				t.Fatalf("failure %d: status %d", i, code)
			}
		}
		_, body := b.login("worker-a", "wrong")
		wantContains(t, body, "账户已被锁定")
		// Locked: even the right password is refused.
		code, body := b.login("worker-a", password)
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, "账户已被锁定") {
			t.Fatalf("right password while locked: %d\n%s", code, body)
		}
		log, err := ta.db.AuditLog(context.Background(), "worker-a", 100)
		if err != nil {
			t.Fatal(err)
		}
		locked := 0
		for _, e := range log {
			if e.Action == "user.locked" {
				locked++
			}
		}
		if locked != 1 {
			t.Fatalf("user.locked audit entries = %d, want 1", locked)
		}
		// Another user is not affected; after 15 minutes the lock is over.
		ta.browser(t).mustLogin("worker-b")
		ta.clock.Add(16 * time.Minute)
		b.mustLogin("worker-a")
	})
}

func TestCSRF(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		b := ta.browser(t)
		b.mustLogin("worker-a")
		before, _ := ta.db.UserByName(context.Background(), "worker-a")
		for name, form := range map[string]url.Values{
			"missing": {"current": {password}, "new": {"another-pass-1"}, "confirm": {"another-pass-1"}},
			"wrong":   {"csrf": {"forged"}, "current": {password}, "new": {"another-pass-1"}, "confirm": {"another-pass-1"}},
		} {
			code, body := b.post("/password", form)
			if code != http.StatusForbidden || !strings.Contains(body, "表单安全令牌缺失或不正确") {
				t.Fatalf("%s token: %d\n%s", name, code, body)
			}
		}
		after, _ := ta.db.UserByName(context.Background(), "worker-a")
		if after.PasswordHash != before.PasswordHash {
			t.Fatal("a post without the CSRF token changed the password")
		}
		// The sign-in form has its own token.
		b2 := ta.browser(t)
		b2.get("/login")
		code, _ := b2.post("/login", url.Values{"username": {"worker-a"}, "password": {password}})
		if code != http.StatusForbidden {
			t.Fatalf("sign-in without its token: %d", code)
		}
	})
}

func TestSessionExpiry(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		b := ta.browser(t)
		b.mustLogin("worker-a")
		ta.clock.Add(20 * time.Minute)
		if _, body := b.get("/todo"); !strings.Contains(body, "本辖区收到") {
			t.Fatalf("after 20 idle minutes the session should live:\n%s", body)
		}
		ta.clock.Add(31 * time.Minute)
		_, body := b.get("/todo")
		wantContains(t, body, "会话已过期", `action="/44/login"`)
		// A form posted with an expired session saves nothing and goes to sign-in.
		b.mustLogin("worker-a")
		token := b.csrf()
		ta.clock.Add(13 * time.Hour) // past the absolute limit
		code, body := b.post("/password", url.Values{"csrf": {token}, "current": {password}, "new": {"another-pass-1"}, "confirm": {"another-pass-1"}})
		if code != 200 || !strings.Contains(body, "会话已过期") {
			t.Fatalf("post with an expired session: %d\n%s", code, body)
		}
		if u, _ := ta.db.UserByName(context.Background(), "worker-a"); !web.CheckPassword(u.PasswordHash, password) {
			t.Fatal("the expired session's post changed the password")
		}
	})
}

func TestPasswordChange(t *testing.T) {
	ta := startApp(t, storetest.SQLiteDSN(t), false)
	b := ta.browser(t)
	b.mustLogin("worker-a")
	other := ta.browser(t)
	other.mustLogin("worker-a")
	b.get("/password")
	code, body := b.post("/password", url.Values{"csrf": {b.csrf()}, "current": {"nope"}, "new": {"short"}, "confirm": {"x"}})
	if code != http.StatusUnprocessableEntity {
		t.Fatalf("bad change: %d", code)
	}
	wantContains(t, body, "当前密码不正确", "密码至少 8 个字符", "两次输入的新密码不一致")
	_, body = b.post("/password", url.Values{"csrf": {b.csrf()}, "current": {password}, "new": {"a-new-pass-2"}, "confirm": {"a-new-pass-2"}})
	wantContains(t, body, "密码已修改")
	if _, body := other.get("/todo"); !strings.Contains(body, "会话已过期") {
		t.Fatalf("the other session lives on after a password change:\n%s", body)
	}
	if code, _ := ta.browser(t).login("worker-a", "a-new-pass-2"); code != 200 {
		t.Fatalf("sign-in with the new password: %d", code)
	}
}

func TestPasswordHash(t *testing.T) {
	h, err := web.HashPassword("秘密-password")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not a PHC argon2id string", h)
	}
	h2, _ := web.HashPassword("秘密-password")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	for _, tt := range []struct {
		hash, pw string
		want     bool
	}{
		{h, "秘密-password", true},
		{h, "秘密-passwore", false},
		{h, "", false},
		{"", "", false},
		{"$argon2i$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", "x", false},
		{strings.Replace(h, "t=2", "t=3", 1), "秘密-password", false},
	} {
		if got := web.CheckPassword(tt.hash, tt.pw); got != tt.want {
			t.Errorf("CheckPassword(%q, %q) = %v, want %v", tt.hash, tt.pw, got, tt.want)
		}
	}
}
