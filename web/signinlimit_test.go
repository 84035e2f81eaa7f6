package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"yipanqi/web"
)

// TestSignInRateLimit: GET and POST /login share a token bucket per client (the TCP peer's
// IP); past it the answer is 429 in Chinese with Retry-After, no new sign-in token is issued,
// and a refused post keeps its form and token, good once the wait is over. Another client is
// not held up.
func TestSignInRateLimit(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		ta.remount(t, web.Config{SignInBurst: 3, SignInEvery: time.Minute})
		b := ta.browser(t)
		for i := 0; i < 3; i++ {
			if code, _ := b.get("/login"); code != http.StatusOK {
				t.Fatalf("form %d within the burst: %d", i+1, code)
			}
		}
		tok := b.csrf()

		// A fourth form: refused, and no token issued (no form, no pre-session cookie).
		req, _ := http.NewRequest("GET", ta.srv.URL+"/44/login", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "60" {
			t.Fatalf("form past the burst: %d, Retry-After %q; want 429, 60", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		for _, c := range resp.Cookies() {
			if c.Name == "ypq_pre_44" {
				t.Fatal("a refused form set a pre-session token")
			}
		}
		code, body := b.get("/login")
		if code != http.StatusTooManyRequests || strings.Contains(body, `name="csrf"`) {
			t.Fatalf("form past the burst: %d\n%s", code, body)
		}
		wantContains(t, body, "登录请求过于频繁，请 60 秒后再试")

		// Another client has its own bucket.
		rec := httptest.NewRecorder()
		other := httptest.NewRequest("GET", "/login", nil)
		other.RemoteAddr = "192.0.2.7:40000"
		ta.app.ServeHTTP(rec, other)
		if rec.Code != http.StatusOK {
			t.Fatalf("another client's form: %d", rec.Code)
		}

		// A post past the burst: the same form back, token unspent.
		code, body = b.post("/login", url.Values{"csrf": {tok}, "username": {"worker-a"}, "password": {password}})
		if code != http.StatusTooManyRequests {
			t.Fatalf("post past the burst: %d", code)
		}
		wantContains(t, body, "登录请求过于频繁", `name="csrf" value="`+tok+`"`, `value="worker-a"`)
		ta.clock.Add(time.Minute)
		code, body = b.post("/login", url.Values{"csrf": {b.csrf()}, "username": {"worker-a"}, "password": {password}})
		if code != http.StatusOK || !strings.Contains(body, "工作台") {
			t.Fatalf("the refused form sent again after the wait: %d\n%s", code, body)
		}
	})
}

// TestSignInTokenCap: at most MaxLoginTokens sign-in tokens are kept; issuing more removes
// the oldest, whose forms are then refused (403), while the newest still sign in.
func TestSignInTokenCap(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		ta.remount(t, web.Config{MaxLoginTokens: 3})
		var bs []*browser
		for i := 0; i < 5; i++ {
			b := ta.browser(t)
			if code, _ := b.get("/login"); code != http.StatusOK {
				t.Fatalf("form %d: %d", i+1, code)
			}
			bs = append(bs, b)
			ta.clock.Add(time.Second)
		}
		for i, b := range bs {
			code, body := b.post("/login", url.Values{"csrf": {b.csrf()}, "username": {"worker-a"}, "password": {password}})
			switch {
			case i < 2 && code != http.StatusForbidden:
				t.Fatalf("form %d of 5 with a cap of 3: %d; want 403 (its token removed)", i+1, code)
			case i >= 2 && (code != http.StatusOK || !strings.Contains(body, "工作台")):
				t.Fatalf("form %d of 5 with a cap of 3: %d; want signed in\n%s", i+1, code, body)
			}
		}
	})
}
