package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"yipanqi/sqlstore/storetest"
	"yipanqi/web"
)

// loginToken fetches the sign-in form with a client of its own and returns its token (also
// its pre-session cookie's value).
func (ta *testApp) loginToken(t *testing.T) string {
	t.Helper()
	b := ta.browser(t)
	b.get("/login")
	return b.csrf()
}

// rawLogin posts the sign-in form with the pre-session token tok as cookie and field, without
// following a redirect; it may run in any goroutine.
func (ta *testApp) rawLogin(tok string, form url.Values) (*http.Response, string, error) {
	form.Set("csrf", tok)
	req, _ := http.NewRequest("POST", ta.srv.URL+"/44/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: "ypq_pre_44", Value: tok})
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, string(body), err
}

// countChecks counts the password checks of ta's application and the most that ran at once.
type countChecks struct {
	total, inFlight, peak atomic.Int32
}

func (c *countChecks) install(ta *testApp) {
	web.AroundPasswordCheck(ta.app, func(check func() bool) bool {
		c.total.Add(1)
		n := c.inFlight.Add(1)
		defer c.inFlight.Add(-1)
		for {
			p := c.peak.Load()
			if n <= p || c.peak.CompareAndSwap(p, n) {
				break
			}
		}
		return check()
	})
}

// parallelLogins posts the forms at once, each with a token of its own, and returns the
// statuses and pages.
func parallelLogins(t *testing.T, ta *testApp, forms []url.Values) ([]int, []string) {
	t.Helper()
	toks := make([]string, len(forms))
	for i := range forms {
		toks[i] = ta.loginToken(t)
	}
	codes, bodies := make([]int, len(forms)), make([]string, len(forms))
	errs := make([]error, len(forms))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range forms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, body, err := ta.rawLogin(toks[i], forms[i])
			if err != nil {
				errs[i] = err
				return
			}
			codes[i], bodies[i] = resp.StatusCode, body
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return codes, bodies
}

// TestSignInParallelLockOut: 50 wrong passwords posted at once check at most 5 (the lock-out
// is one decision per account), the account is locked, and the right password is refused
// until the lock ends.
func TestSignInParallelLockOut(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		var c countChecks
		c.install(ta)
		web.SetPasswordSlots(ta.app, runtime.NumCPU(), time.Minute) // no 429 on a busy machine
		web.SetSignInLimit(ta.app, 1000, time.Second)               // 50 clients, all from the test's address
		forms := make([]url.Values, 50)
		for i := range forms {
			forms[i] = url.Values{"username": {"worker-a"}, "password": {fmt.Sprintf("wrong-%d", i)}}
		}
		codes, bodies := parallelLogins(t, ta, forms)
		for i, code := range codes {
			if code != http.StatusUnprocessableEntity {
				t.Fatalf("attempt %d: status %d\n%s", i, code, bodies[i])
			}
		}
		if n := c.total.Load(); n > 5 {
			t.Fatalf("50 parallel attempts checked %d passwords, want at most 5", n)
		}
		b := ta.browser(t)
		code, body := b.login("worker-a", password)
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, "账户已被锁定") {
			t.Fatalf("right password after 50 parallel failures: %d\n%s", code, body)
		}
		ta.clock.Add(16 * time.Minute)
		b.mustLogin("worker-a")
	})
}

// TestSignInBoundedChecks: 100 sign-ins of unknown names at once run no more password checks
// at once than there are slots; each is audited by the name tried, never the password.
func TestSignInBoundedChecks(t *testing.T) {
	ta := startApp(t, storetest.SQLiteDSN(t), false)
	var c countChecks
	c.install(ta)
	web.SetPasswordSlots(ta.app, 2, time.Minute)
	web.SetSignInLimit(ta.app, 1000, time.Second) // 100 clients, all from the test's address
	forms := make([]url.Values, 100)
	for i := range forms {
		forms[i] = url.Values{"username": {fmt.Sprintf("nobody-%d", i)}, "password": {"secret-tried-1"}}
	}
	codes, bodies := parallelLogins(t, ta, forms)
	for i, code := range codes {
		if code != http.StatusUnprocessableEntity || !strings.Contains(bodies[i], "用户名或密码错误") {
			t.Fatalf("attempt %d: status %d\n%s", i, code, bodies[i])
		}
	}
	if c.total.Load() != 100 || c.peak.Load() > 2 {
		t.Fatalf("checks: %d in all, %d at once; want 100, at most 2", c.total.Load(), c.peak.Load())
	}
	log, err := ta.db.AuditLog(context.Background(), "nobody-7", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 1 || log[0].Action != "user.login_failed" || log[0].Actor != "nobody-7" || strings.Contains(log[0].Reason, "secret") {
		t.Fatalf("audit of an unknown name: %+v", log)
	}
}

// TestSignInBusy: when every password check is taken, a sign-in that waited its time is
// answered 429 in Chinese, with a form that works once a check is free.
func TestSignInBusy(t *testing.T) {
	ta := startApp(t, storetest.SQLiteDSN(t), false)
	web.SetPasswordSlots(ta.app, 1, 10*time.Millisecond)
	entered, hold := make(chan struct{}), make(chan struct{})
	var release sync.Once
	free := func() { release.Do(func() { close(hold) }) }
	t.Cleanup(free) // before the server closes, which waits for the held sign-in
	var first atomic.Bool
	web.AroundPasswordCheck(ta.app, func(check func() bool) bool {
		if first.CompareAndSwap(false, true) { // the first check holds its slot until told
			entered <- struct{}{}
			<-hold
		}
		return check()
	})
	tok := ta.loginToken(t)
	done := make(chan int)
	go func() {
		resp, _, err := ta.rawLogin(tok, url.Values{"username": {"worker-a"}, "password": {password}})
		if err != nil {
			done <- 0
			return
		}
		done <- resp.StatusCode
	}()
	<-entered // the one slot is taken
	b := ta.browser(t)
	code, body := b.login("worker-b", password)
	if code != http.StatusTooManyRequests || !strings.Contains(body, "系统繁忙") {
		t.Fatalf("sign-in with every check busy: %d\n%s", code, body)
	}
	free()
	if code := <-done; code != http.StatusSeeOther {
		t.Fatalf("the sign-in that held the slot: %d", code)
	}
	code, body = b.post("/login", url.Values{"csrf": {b.csrf()}, "username": {"worker-b"}, "password": {password}})
	if code != 200 || !strings.Contains(body, "工作台") {
		t.Fatalf("again from the 429 page: %d\n%s", code, body)
	}
}

// TestSignInTokenSingleUse: the sign-in form's token is good for one post; a pair of cookie
// and field the application did not issue is refused.
func TestSignInTokenSingleUse(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		tok := ta.loginToken(t)
		form := url.Values{"username": {"worker-a"}, "password": {"wrong-password"}}
		if resp, body, err := ta.rawLogin(tok, form); err != nil || resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("first post: %v %v\n%s", resp, err, body)
		}
		for name, tok := range map[string]string{"replayed": tok, "made up": "made-up-token"} {
			resp, body, err := ta.rawLogin(tok, url.Values{"username": {"worker-a"}, "password": {password}})
			if err != nil || resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "表单安全令牌缺失或不正确") {
				t.Fatalf("%s token: %v %v\n%s", name, resp, err, body)
			}
		}
	})
}

var passwordError = regexp.MustCompile(`<p class="error" id="f-password-err" role="alert">([^<]*)</p>`)

// TestSignInUnknownNameAnswersAlike: a name that is no user's gets, attempt by attempt, the
// same status, message (remaining attempts, lock-out) and slow-down as a user's wrong
// password.
func TestSignInUnknownNameAnswersAlike(t *testing.T) {
	ta := startApp(t, storetest.SQLiteDSN(t), false)
	var mu sync.Mutex
	var delays []time.Duration
	web.RecordSlowDowns(ta.app, func(d time.Duration) { mu.Lock(); delays = append(delays, d); mu.Unlock() })
	type answer struct {
		code  int
		msg   string
		delay time.Duration
	}
	recorded := func() []time.Duration { mu.Lock(); defer mu.Unlock(); return append([]time.Duration(nil), delays...) }
	attempts := func(name string) []answer {
		var out []answer
		b := ta.browser(t)
		for range 6 {
			n := len(recorded())
			code, body := b.login(name, "wrong-password")
			m, d := passwordError.FindStringSubmatch(body), recorded()
			if m == nil || len(d) != n+1 {
				t.Fatalf("%s: no password error or no slow-down (%d):\n%s", name, len(d)-n, body)
			}
			out = append(out, answer{code, m[1], d[n]})
		}
		return out
	}
	user, unknown := attempts("worker-a"), attempts("no-such-user")
	if fmt.Sprint(user) != fmt.Sprint(unknown) {
		t.Fatalf("answers differ:\nuser    %v\nunknown %v", user, unknown)
	}
	if !strings.Contains(user[3].msg, "再失败 1 次") || !strings.Contains(user[5].msg, "账户已被锁定") || user[4].delay <= user[0].delay {
		t.Fatalf("the answers lack the warning, the lock or the growing slow-down: %v", user)
	}
}

// TestDummyHash: the hash unknown names are checked against has the parameters of new hashes
// (the same work) and matches nothing.
func TestDummyHash(t *testing.T) {
	h, err := web.HashPassword("x")
	if err != nil {
		t.Fatal(err)
	}
	params := h[:strings.LastIndex(h[:strings.LastIndex(h, "$")], "$")]
	if !strings.HasPrefix(web.DummyHash, params+"$") || web.CheckPassword(web.DummyHash, "") {
		t.Fatalf("dummy hash %q does not have the parameters %q", web.DummyHash, params)
	}
}

// TestSignInNext: the address after sign-in is a path of this node (under /44/) or the
// 工作台; hostile "next" values never leave it.
func TestSignInNext(t *testing.T) {
	ta := startApp(t, storetest.SQLiteDSN(t), false)
	for _, tt := range []struct{ next, want string }{
		{"/todo", "/44/todo"},
		{"/cases/44-2026-000001?tab=log", "/44/cases/44-2026-000001?tab=log"},
		{"", "/44/"},
		{"/\t/evil.example/path", "/44/"},
		{"/%09/evil.example/path", "/44/"},
		{"//evil.example/path", "/44/"},
		{"/\\evil.example/path", "/44/"},
		{"/a\\b", "/44/"},
		{"\\\\evil.example", "/44/"},
		{"https://evil.example/", "/44/"},
		{"evil.example", "/44/"},
		{"/\r\nSet-Cookie: x=1", "/44/"},
		{"/ /evil.example", "/44/"},
		{"/\x7f/evil.example", "/44/"},
		{"/../45/todo", "/44/"},
		{"/todo/../../45/", "/44/"},
		{"/%2e%2e/45/todo", "/44/"},
		{"/./todo", "/44/"},
		{"/%2f%2fevil.example", "/44/"},
		{"/%5cevil.example", "/44/"},
		{"/通知", "/44/"},
		{"/" + strings.Repeat("a", 2000), "/44/"},
	} {
		name := fmt.Sprintf("%q", tt.next)
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			resp, body, err := ta.rawLogin(ta.loginToken(t), url.Values{"username": {"worker-a"}, "password": {password}, "next": {tt.next}})
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != tt.want {
				t.Fatalf("next %q: %d to %q, want %q\n%s", tt.next, resp.StatusCode, resp.Header.Get("Location"), tt.want, body)
			}
			if kept := web.SafeNext(tt.next) == tt.next && tt.next != ""; kept != (tt.want != "/44/") {
				t.Fatalf("SafeNext(%q) = %q", tt.next, web.SafeNext(tt.next))
			}
		})
	}
}
