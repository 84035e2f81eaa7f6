package web

import (
	"context"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"time"

	"yipanqi"
	"yipanqi/sqlstore"
	"yipanqi/web/print"
)

// loginPage is what templates/app/login.html renders.
type loginPage struct {
	Username, Next string
	CSRF           string // the pre-session token, also in a cookie
	Notice         string // e.g. the session expired
	Errors         FormErrors
}

// dummyHash is what a sign-in whose name is no user's (or whose user has no password) is
// checked against, so that it costs the same argon2id work as a real one. A fixed hash with
// the parameters of HashPassword; its password was random and is not kept.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$tCIFFHSSMABDMh9Sy1RJQw$SUfaRTVQ76V0SHCyfUjxr9QKr0rxuodbu6v/IBY9HjI"

// maxUsernameLen bounds a username, in characters.
const maxUsernameLen = 64

// loginTokenTTL is how long the sign-in form's token is good for (once).
const loginTokenTTL = 2 * time.Hour

// passwordWait is how long a sign-in waits for a free password check before it is answered
// 429.
const passwordWait = 2 * time.Second

// Messages of the sign-in form. wrongMessage is the one answer to a wrong password, a name
// that is no user's, a disabled user and one without a password alike.
const (
	wrongMessage = "用户名或密码错误"
	busyMessage  = "当前登录的人较多，系统繁忙，请稍后再试。"
)

// signinLimited takes a token of the client's bucket for GET or POST /login. When there is
// none it sets Retry-After and returns the message to show, naming the seconds to wait.
func (a *App) signinLimited(w http.ResponseWriter, r *http.Request) (msg string, limited bool) {
	ok, wait := a.signinLimit.Allow(print.ClientAddr(r))
	if ok {
		return "", false
	}
	secs := int((wait + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", itoa(secs))
	return "登录请求过于频繁，请 " + itoa(secs) + " 秒后再试。", true
}

// signinGate bounds the sign-in's argon2id checks (19 MiB each): at most one per CPU run
// at once; a sign-in that finds none free within passwordWait is answered 429.
type signinGate struct {
	slots chan struct{}
	wait  time.Duration
	// check is CheckPassword; sleep waits out the slow-down. Tests change both
	// (export_test.go).
	check func(hash, pw string) bool
	sleep func(ctx context.Context, d time.Duration)
}

func newSigninGate() signinGate {
	return signinGate{slots: make(chan struct{}, runtime.NumCPU()), wait: passwordWait, check: CheckPassword, sleep: sleepCtx}
}

// acquire waits for a free password check, at most g.wait; ok false when none came.
func (g *signinGate) acquire(ctx context.Context) (release func(), ok bool) {
	release = func() { <-g.slots }
	select {
	case g.slots <- struct{}{}:
		return release, true
	default:
	}
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return release, true
	case <-t.C:
	case <-ctx.Done():
	}
	return nil, false
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// loginForm shows the sign-in form, with a fresh pre-session token for its CSRF field.
func (a *App) loginForm(w http.ResponseWriter, r *http.Request) {
	if currentUser(r) != nil {
		http.Redirect(w, r, a.url("/"), http.StatusSeeOther)
		return
	}
	if msg, limited := a.signinLimited(w, r); limited {
		// No form: a form would need a new token, which is what the limit bounds.
		a.failStatus(w, r, http.StatusTooManyRequests, msg)
		return
	}
	p := loginPage{Next: safeNext(r.URL.Query().Get("next"))}
	if r.URL.Query().Get("expired") != "" {
		p.Notice = "会话已过期或已退出，请重新登录。"
	}
	a.renderLogin(w, r, http.StatusOK, p)
}

// renderLogin shows the sign-in form with a new pre-session token: the cookie and the hidden
// field must match (checked by the middleware), and the store must know the token, which
// is then good for one post (checked by login).
func (a *App) renderLogin(w http.ResponseWriter, r *http.Request, status int, p loginPage) {
	tok := newToken()
	now := a.cfg.Now()
	if err := a.cfg.Store.IssueLoginToken(r.Context(), tokenHash(tok), now, now.Add(-loginTokenTTL), a.cfg.MaxLoginTokens); err != nil {
		a.fail(w, r, err)
		return
	}
	a.setCookie(w, a.preCookie(), tok, 0)
	p.CSRF = tok
	if p.Errors == nil {
		p.Errors = FormErrors{}
	}
	a.renderStatus(w, r, status, "login", p)
}

// maxNextLen bounds the "next" address of the sign-in form.
const maxNextLen = 1024

// safeNext keeps a "next" address only when it is a path of this application, which login
// puts after the base path: one "/" at the start, then printable ASCII without spaces or
// backslashes, no "." or ".." segment (raw or percent-encoded; http.Redirect would clean them
// away, out of the base path), and no scheme or host. Anything else gives "" (the 工作台).
func safeNext(next string) string {
	if next == "" || len(next) > maxNextLen || next[0] != '/' || strings.HasPrefix(next, "//") {
		return ""
	}
	for i := 0; i < len(next); i++ {
		if c := next[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return ""
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") ||
		strings.HasPrefix(u.Path, "//") || strings.ContainsAny(u.Path, "\\\x00\r\n\t") {
		return ""
	}
	for _, p := range []string{u.EscapedPath(), u.Path} {
		for _, seg := range strings.Split(p, "/") {
			if seg == "." || seg == ".." {
				return ""
			}
		}
	}
	return next
}

// login checks the username and password. Every attempt on a name — a user's or not — is
// first claimed in the store (ClaimLogin), which counts it as a failure before the password is
// checked and refuses it while the name is locked out: however many run at once, at most
// LoginPolicy.MaxFailures passwords are checked. The answers to a name that is no user's are
// the same as to a wrong password of a user: the same argon2id work (against dummyHash), the
// same counting, slow-down and message. The pre-session token is good for one post; password
// checks run at most one per CPU at once.
func (a *App) login(w http.ResponseWriter, r *http.Request) {
	if currentUser(r) != nil { // signed in already: the form is not offered (loginForm), nothing to check
		http.Redirect(w, r, a.url("/"), http.StatusSeeOther)
		return
	}
	if msg, limited := a.signinLimited(w, r); limited {
		// The token is not spent: the same form, with what was typed but the password, can
		// be sent again once the wait is over. No new token is issued.
		p := loginPage{Username: strings.TrimSpace(r.PostForm.Get("username")), Next: safeNext(r.PostForm.Get("next")),
			CSRF: r.PostForm.Get("csrf"), Errors: FormErrors{}}
		if len(p.Username) > 4*maxUsernameLen {
			p.Username = ""
		}
		p.Errors.Set("", msg)
		a.renderStatus(w, r, http.StatusTooManyRequests, "login", p)
		return
	}
	ctx := r.Context()
	now := a.cfg.Now()
	// The token is spent whatever comes next; each answer below carries a new one.
	if ok, err := a.cfg.Store.UseLoginToken(ctx, tokenHash(r.PostForm.Get("csrf")), now.Add(-loginTokenTTL)); err != nil {
		a.fail(w, r, err)
		return
	} else if !ok {
		a.failStatus(w, r, http.StatusForbidden, errCSRF)
		return
	}
	p := loginPage{Username: strings.TrimSpace(r.PostForm.Get("username")), Next: safeNext(r.PostForm.Get("next")),
		Errors: formErrors(r)}
	pw := r.PostForm.Get("password")
	if p.Username == "" {
		p.Errors.Set("username", "请填写用户名")
	} else if msg := tooLong("用户名", p.Username, maxUsernameLen); msg != "" {
		p.Errors.Set("username", msg)
	}
	if pw == "" {
		p.Errors.Set("password", "请填写密码")
	} else if len(pw) > 4*MaxPasswordLen {
		p.Errors.Set("password", "密码过长")
	}
	if p.Errors.Any() {
		a.renderLogin(w, r, http.StatusUnprocessableEntity, p)
		return
	}
	release, ok := a.signin.acquire(ctx)
	if !ok {
		w.Header().Set("Retry-After", "1")
		p.Errors.Set("", busyMessage)
		a.renderLogin(w, r, http.StatusTooManyRequests, p)
		return
	}
	at, err := a.cfg.Store.ClaimLogin(ctx, p.Username, now, a.cfg.Login)
	if err != nil {
		release()
		a.fail(w, r, err)
		return
	}
	if !at.Allowed {
		release()
		a.signin.sleep(ctx, a.failDelay(at.State.Failures))
		p.Errors.Set("password", lockedMessage(at.State.LockedUntil))
		a.renderLogin(w, r, http.StatusUnprocessableEntity, p)
		return
	}
	hash, known := dummyHash, at.User != nil && strings.HasPrefix(at.User.PasswordHash, "$argon2id$")
	if known {
		hash = at.User.PasswordHash
	}
	right := a.signin.check(hash, pw) && known && !at.User.Disabled
	release()
	if !right {
		if err := a.cfg.Store.LoginFailed(ctx, at); err != nil {
			a.fail(w, r, err)
			return
		}
		a.signin.sleep(ctx, a.failDelay(at.State.Failures))
		p.Errors.Set("password", a.failureMessage(at.State, now))
		a.renderLogin(w, r, http.StatusUnprocessableEntity, p)
		return
	}
	token := newToken()
	s := &sqlstore.Session{TokenHash: tokenHash(token), CSRF: newToken(), User: at.User, Attempt: at}
	if err := a.cfg.Store.CreateSession(ctx, s); err != nil {
		a.fail(w, r, err)
		return
	}
	// Sessions that expired unused are removed at sign-ins: no loop to run, and the table
	// stays the size of the sessions in use.
	if _, err := a.cfg.Store.DeleteExpiredSessions(ctx, now.Add(-a.cfg.IdleTimeout), now.Add(-a.cfg.MaxAge)); err != nil {
		a.cfg.Logger.Warn("web: removing expired sessions", "err", err)
	}
	a.setCookie(w, a.sessionCookie(), token, 0)
	a.setCookie(w, a.preCookie(), "", -1)
	next := a.url("/")
	if p.Next != "" {
		next = a.url(p.Next)
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// failureMessage is the answer to a failed sign-in whose claim left the name's state s: it
// depends on the count alone, which names that are no user's have too.
func (a *App) failureMessage(s sqlstore.LoginState, now time.Time) string {
	if s.Locked(now) {
		return lockedMessage(s.LockedUntil)
	}
	msg := wrongMessage
	if left := a.cfg.Login.MaxFailures - s.Failures; left > 0 && left <= 2 {
		msg += "。再失败 " + itoa(left) + " 次，账户将被锁定 " + itoa(int(a.cfg.Login.LockFor/time.Minute)) + " 分钟"
	}
	return msg
}

func lockedMessage(until time.Time) string {
	return "连续登录失败次数过多，账户已被锁定，请于 " + until.In(yipanqi.Shanghai).Format("15:04") + " 后再试，或联系管理员"
}

// failDelay is how long a failed sign-in waits before it is answered: FailDelay for each of
// the name's consecutive failures (at most five), the same for every name.
func (a *App) failDelay(failures int) time.Duration {
	return a.cfg.FailDelay * time.Duration(min(max(failures, 1), 5))
}

// logout ends the session.
func (a *App) logout(w http.ResponseWriter, r *http.Request) {
	if s := state(r).sess; s != nil {
		if err := a.cfg.Store.DeleteSession(r.Context(), s.TokenHash); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	a.setCookie(w, a.sessionCookie(), "", -1)
	http.Redirect(w, r, a.url("/login"), http.StatusSeeOther)
}

// passwordPage is what templates/app/password.html renders.
type passwordPage struct {
	Done   bool
	Errors FormErrors
}

func (a *App) passwordForm(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, "password", passwordPage{Errors: FormErrors{}})
}

// changePassword checks the current password and sets the new one; the user's other sessions
// end.
func (a *App) changePassword(w http.ResponseWriter, r *http.Request) {
	s := state(r).sess
	fe := formErrors(r)
	cur, pw, again := r.PostForm.Get("current"), r.PostForm.Get("new"), r.PostForm.Get("confirm")
	if cur == "" {
		fe.Set("current", "请填写当前密码")
	} else if !CheckPassword(s.User.PasswordHash, cur) {
		fe.Set("current", "当前密码不正确")
	}
	if err := CheckNewPassword(pw); err != nil {
		fe.Set("new", yipanqi.ErrorMessage(err))
	} else if pw == cur {
		fe.Set("new", "新密码不能与当前密码相同")
	}
	if again != pw {
		fe.Set("confirm", "两次输入的新密码不一致")
	}
	if fe.Any() {
		a.renderStatus(w, r, http.StatusUnprocessableEntity, "password", passwordPage{Errors: fe})
		return
	}
	hash, err := HashPassword(pw)
	if err == nil {
		err = a.cfg.Store.SetPassword(r.Context(), s.User.ID, hash, s.TokenHash)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, r, "password", passwordPage{Done: true, Errors: FormErrors{}})
}
