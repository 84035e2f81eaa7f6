package web

import (
	"context"
	"net/http"
	"strings"
	"time"

	"yipanqi"
	"yipanqi/sqlstore"
)

// loginPage is what templates/app/login.html renders.
type loginPage struct {
	Username, Next string
	CSRF           string // the pre-session token, also in a cookie
	Notice         string // e.g. the session expired
	Errors         FormErrors
}

// dummyHash is checked against when the username is unknown (its password is random).
var dummyHash = func() string {
	h, err := HashPassword(newToken())
	if err != nil {
		panic("web: " + err.Error())
	}
	return h
}()

// maxUsernameLen bounds a username, in characters.
const maxUsernameLen = 64

// loginForm shows the sign-in form, with a fresh pre-session token for its CSRF field.
func (a *App) loginForm(w http.ResponseWriter, r *http.Request) {
	if currentUser(r) != nil {
		http.Redirect(w, r, a.url("/"), http.StatusSeeOther)
		return
	}
	p := loginPage{Next: safeNext(r.URL.Query().Get("next"))}
	if r.URL.Query().Get("expired") != "" {
		p.Notice = "会话已过期或已退出，请重新登录。"
	}
	a.renderLogin(w, r, http.StatusOK, p)
}

// renderLogin shows the sign-in form with a pre-session token (double-submit: the cookie
// and the hidden field must match).
func (a *App) renderLogin(w http.ResponseWriter, r *http.Request, status int, p loginPage) {
	tok := newToken()
	a.setCookie(w, a.preCookie(), tok, 0)
	p.CSRF = tok
	if p.Errors == nil {
		p.Errors = FormErrors{}
	}
	a.renderStatus(w, r, status, "login", p)
}

// safeNext keeps a "next" address only when it is a path of this application.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return ""
	}
	return next
}

// login checks the username and password. Failures are slowed down and counted; enough of
// them lock the user out for a while (audited in the store).
func (a *App) login(w http.ResponseWriter, r *http.Request) {
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
	ctx := r.Context()
	now := a.cfg.Now()
	wrong := "用户名或密码错误"
	u, err := a.cfg.Store.UserByName(ctx, p.Username)
	if yipanqi.ErrorCode(err) == yipanqi.ENOTFOUND {
		// The same work as a wrong password, so that the time taken does not tell which
		// usernames exist.
		CheckPassword(dummyHash, pw)
		a.slowDown(ctx, 1)
		p.Errors.Set("password", wrong)
		a.renderLogin(w, r, http.StatusUnprocessableEntity, p)
		return
	} else if err != nil {
		a.fail(w, r, err)
		return
	}
	ls, err := a.cfg.Store.LoginState(ctx, u.ID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if ls.Locked(now) {
		a.slowDown(ctx, 1)
		p.Errors.Set("password", lockedMessage(ls.LockedUntil))
		a.renderLogin(w, r, http.StatusUnprocessableEntity, p)
		return
	}
	if u.Disabled || !CheckPassword(u.PasswordHash, pw) {
		ls, err := a.cfg.Store.RecordLoginFailure(ctx, u.ID, now, a.cfg.Login)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		a.slowDown(ctx, ls.Failures)
		msg := wrong
		if ls.Locked(now) {
			msg = lockedMessage(ls.LockedUntil)
		} else if left := a.cfg.Login.MaxFailures - ls.Failures; left > 0 && left <= 2 {
			msg += "。再失败 " + itoa(left) + " 次，账户将被锁定 " + itoa(int(a.cfg.Login.LockFor/time.Minute)) + " 分钟"
		}
		p.Errors.Set("password", msg)
		a.renderLogin(w, r, http.StatusUnprocessableEntity, p)
		return
	}
	token := newToken()
	s := &sqlstore.Session{TokenHash: tokenHash(token), CSRF: newToken(), User: u}
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

func lockedMessage(until time.Time) string {
	return "连续登录失败次数过多，账户已被锁定，请于 " + until.In(shanghai).Format("15:04") + " 后再试，或联系管理员"
}

// slowDown waits FailDelay for each of the consecutive failures (at most five).
func (a *App) slowDown(ctx context.Context, failures int) {
	d := a.cfg.FailDelay * time.Duration(min(max(failures, 1), 5))
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
