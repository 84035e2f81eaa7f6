package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"yipanqi"
	"yipanqi/assess"
	"yipanqi/calendar"
	"yipanqi/casework"
	"yipanqi/division"
	"yipanqi/exchange"
	"yipanqi/meeting"
	"yipanqi/sqlstore"
	"yipanqi/web/print"
)

//go:embed templates/app/*.html
var appTemplateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config wires the web application of one node.
type Config struct {
	Code string // the node's province code, e.g. "44". Required.
	Name string // e.g. "广东"
	// BasePath is the prefix the application is served under, "" or e.g. "/44" (the demo
	// mounts each node with http.StripPrefix). Every link, form action and the cookies' Path
	// are built from it.
	BasePath  string
	Store     *sqlstore.DB         // Required.
	Node      *casework.Node       // the exchange engine; nil: nothing can be sent or answered
	Catalog   *yipanqi.CaseCatalog // default yipanqi.Catalog()
	Calendar  *calendar.Calendar   // default calendar.New()
	Divisions *division.Tree       // names of units of other nodes; nil shows their codes
	Status    *Node                // the operator's status page (/status, /healthz, /metrics); nil for none
	Now       func() time.Time     // default time.Now
	Logger    *slog.Logger         // default slog.Default()
	// AssessRules are the scoring rules of 考核 (docs/assessment.md); nil: the sample rules,
	// assess.DefaultRules().
	AssessRules *assess.Rules
	// MeetingRotation is the rotation of the joint meeting's convening province (联席会议,
	// docs/meetings.md); nil: the plan's order, meeting.DefaultRotation().
	MeetingRotation *meeting.Rotation
	// Secure marks the cookies Secure (sent over HTTPS only): set it behind TLS.
	Secure bool
	// IdleTimeout ends a session after this long without a request; default 30 minutes.
	IdleTimeout time.Duration
	// MaxAge ends a session this long after sign-in, however busy; default 12 hours.
	MaxAge time.Duration
	// Login is when failed sign-ins lock a user out; default 5 failures within 15 minutes
	// lock for 15 minutes.
	Login sqlstore.LoginPolicy
	// SignInBurst and SignInEvery bound the requests for the sign-in form and its posts
	// (GET and POST /login together) per client, the IP of the TCP peer: SignInBurst at once
	// and one more every SignInEvery; default 60 and 1s. MaxLoginTokens caps the sign-in
	// forms' tokens kept (login_tokens); beyond it the oldest are removed; default 10000.
	SignInBurst    int
	SignInEvery    time.Duration
	MaxLoginTokens int
	// FailDelay slows a failed sign-in down: the answer waits FailDelay times the user's
	// consecutive failures (at most 5 times). Default 1s; tests set it small.
	FailDelay time.Duration
	// Trust is the region's trust list the node runs with and KeyID the id of the node's
	// signing key; 系统管理 shows them (nil, "": not shown).
	Trust *exchange.TrustList
	KeyID string
	// HolidaysFile is the calendar override file Calendar was loaded from ("" for none);
	// 系统管理 shows its path and text.
	HolidaysFile string
	// PublicURL is the address the public reaches this application at, base path included
	// (node.toml [http] public_url, e.g. https://ypq.gd.example.gov.cn): the printed
	// certificate's QR code is built from it, never from a request. "" refuses to print
	// certificates. Key signs the QR code's payload (nil: none); docs/certificates.md.
	PublicURL string
	Key       *exchange.PrivateKey
}

// App is the web application of one node: the Chinese pages staff use, behind sign-in.
// It is an http.Handler.
type App struct {
	cfg    Config
	mux    *http.ServeMux
	pages  map[string]*template.Template
	nav    []navLink
	static http.Handler
	signin signinGate // bounds the sign-in's password checks (auth.go)
	// signinLimit bounds GET and POST /login per client (auth.go)
	signinLimit *print.Limiter

	unitMu    sync.Mutex
	unitNames map[string]string

	verifier *print.Verifier // the public certificate page (printing.go)
}

// MaxFormBytes bounds a form post; a larger one is refused before it is read.
const MaxFormBytes = 256 << 10

// New checks cfg and returns the application.
func New(cfg Config) (*App, error) {
	if !yipanqi.ValidDivisionCode(cfg.Code) || len(cfg.Code) != 2 {
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "code", "节点代码“%s”无效，应为两位省级代码", cfg.Code)
	}
	if cfg.Store == nil {
		return nil, yipanqi.Errorf(yipanqi.EINVALID, "网页应用缺少数据库")
	}
	if cfg.BasePath != "" && (!strings.HasPrefix(cfg.BasePath, "/") || strings.HasSuffix(cfg.BasePath, "/")) {
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "base_path", "路径前缀“%s”无效：应以 / 开头、不以 / 结尾，如 /44", cfg.BasePath)
	}
	if cfg.Catalog == nil {
		cfg.Catalog = yipanqi.Catalog()
	}
	if cfg.Calendar == nil {
		cfg.Calendar = calendar.New()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Minute
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 12 * time.Hour
	}
	if cfg.Login == (sqlstore.LoginPolicy{}) {
		cfg.Login = sqlstore.LoginPolicy{MaxFailures: 5, Window: 15 * time.Minute, LockFor: 15 * time.Minute}
	}
	if cfg.SignInBurst <= 0 {
		cfg.SignInBurst = 60
	}
	if cfg.SignInEvery <= 0 {
		cfg.SignInEvery = time.Second
	}
	if cfg.MaxLoginTokens <= 0 {
		cfg.MaxLoginTokens = 10000
	}
	if cfg.FailDelay == 0 {
		cfg.FailDelay = time.Second
	}
	if err := CheckPublicURL(cfg.PublicURL); err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, mux: http.NewServeMux(), unitNames: map[string]string{}, signin: newSigninGate(),
		signinLimit: print.NewLimiter(cfg.SignInBurst, cfg.SignInEvery, cfg.Now)}
	a.verifier = a.newVerifier()
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	a.static = http.StripPrefix("/static/", http.FileServerFS(sub))
	if err := a.parseTemplates(); err != nil {
		return nil, err
	}
	for _, rt := range a.routes() {
		if rt.direct {
			a.mux.Handle(rt.pattern, rt.handle)
		} else {
			a.mux.Handle(rt.pattern, a.wrap(rt))
		}
		if rt.nav != "" {
			_, path, _ := strings.Cut(rt.pattern, " ")
			a.nav = append(a.nav, navLink{Label: rt.nav, Path: path, allow: rt.allow})
		}
	}
	sortNav(a.nav)
	return a, nil
}

// ServeHTTP serves the application.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header(), appCSP)
	a.mux.ServeHTTP(w, r)
}

// url is the address of an application path: the base path and p, which starts with "/".
func (a *App) url(p string) string { return a.cfg.BasePath + p }

// Request state.

type ctxKey int

const stateKey ctxKey = iota

// reqState is what the middleware learned of a request.
type reqState struct {
	sess *sqlstore.Session // nil when not signed in
	// badEncoding holds the form fields whose value was not valid UTF-8 (then emptied).
	badEncoding FormErrors
}

func state(r *http.Request) *reqState {
	if s, ok := r.Context().Value(stateKey).(*reqState); ok {
		return s
	}
	return &reqState{}
}

// currentUser returns the signed-in user of the request, nil when there is none.
func currentUser(r *http.Request) *yipanqi.User {
	if s := state(r).sess; s != nil {
		return s.User
	}
	return nil
}

// scopeOf returns the user's subtree, which every store read of people and cases takes.
func scopeOf(r *http.Request) yipanqi.Scope {
	u := currentUser(r)
	if u == nil {
		return yipanqi.Scope{}
	}
	s, _ := u.Scope() // the zero Scope (sees nothing) for a bad unit
	return s
}

// Cookies: named per node, since browsers do not tell ports apart.

func (a *App) sessionCookie() string { return "ypq_session_" + a.cfg.Code }
func (a *App) preCookie() string     { return "ypq_pre_" + a.cfg.Code }

func (a *App) cookiePath() string { return a.cfg.BasePath + "/" }

func (a *App) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: a.cookiePath(), MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: a.cfg.Secure})
}

// newToken returns 32 random bytes, URL-safe base64.
func newToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("web: no randomness: " + err.Error()) // crypto/rand does not fail on supported systems
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func sameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// errCSRF is the answer to a form post without the right anti-forgery token.
const errCSRF = "表单安全令牌缺失或不正确（页面可能已过期，或请求并非来自本系统），未保存任何内容。请返回，刷新页面后重新提交。"

// wrap is the middleware every route goes through: the session, its expiry, the user in the
// context, form parsing with size and encoding checks, the CSRF check on every POST, and the
// route's access check.
func (a *App) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &reqState{}
		ctx := context.WithValue(r.Context(), stateKey, st)
		if c, err := r.Cookie(a.sessionCookie()); err == nil && c.Value != "" {
			expired, err := a.loadSession(ctx, st, c.Value)
			if err != nil {
				a.fail(w, r.WithContext(ctx), err)
				return
			}
			if expired {
				a.setCookie(w, a.sessionCookie(), "", -1)
				if !rt.public {
					http.Redirect(w, r, a.url("/login?expired=1"), http.StatusSeeOther)
					return
				}
			}
		}
		if st.sess != nil {
			ctx = yipanqi.NewContextWithUser(ctx, st.sess.User)
		}
		r = r.WithContext(ctx)
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, MaxFormBytes)
			if err := r.ParseForm(); err != nil {
				var tooBig *http.MaxBytesError
				if errors.As(err, &tooBig) {
					a.failStatus(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("提交的内容过大（上限 %d KB），未保存任何内容。", MaxFormBytes>>10))
					return
				}
				a.failStatus(w, r, http.StatusBadRequest, "提交的表单无法读取，未保存任何内容。")
				return
			}
			st.badEncoding = checkEncoding(r)
			want, pre := "", ""
			if st.sess != nil {
				want = st.sess.CSRF
			}
			if c, err := r.Cookie(a.preCookie()); err == nil && rt.public {
				pre = c.Value // a public form (sign-in) carries the pre-session token, signed in or not
			}
			if got := r.PostForm.Get("csrf"); !sameToken(got, want) && !sameToken(got, pre) {
				if st.sess == nil && !rt.public {
					// Signed out meanwhile (expired): back to sign-in, nothing saved.
					http.Redirect(w, r, a.url("/login?expired=1"), http.StatusSeeOther)
					return
				}
				a.failStatus(w, r, http.StatusForbidden, errCSRF)
				return
			}
		}
		if !rt.public {
			u := currentUser(r)
			if u == nil {
				next := r.URL.Path
				if r.Method != http.MethodGet {
					next = "/"
				}
				http.Redirect(w, r, a.url("/login?next="+url.QueryEscape(next)), http.StatusSeeOther)
				return
			}
			if rt.allow == nil || !rt.allow(u) {
				a.failStatus(w, r, http.StatusForbidden, "您的角色无权使用此页面。")
				return
			}
		}
		rt.handle(w, r)
	})
}

// loadSession finds the session of the cookie's token; an expired one is ended.
func (a *App) loadSession(ctx context.Context, st *reqState, token string) (expired bool, err error) {
	h := tokenHash(token)
	s, err := a.cfg.Store.Session(ctx, h)
	if yipanqi.ErrorCode(err) == yipanqi.ENOTFOUND {
		return true, nil
	} else if err != nil {
		return false, err
	}
	now := a.cfg.Now()
	if s.User.Disabled || now.Sub(s.SeenAt) > a.cfg.IdleTimeout || now.Sub(s.CreatedAt) > a.cfg.MaxAge {
		return true, a.cfg.Store.DeleteSession(ctx, h)
	}
	if now.Sub(s.SeenAt) > time.Minute { // one write a minute at most, not one per request
		if err := a.cfg.Store.TouchSession(ctx, h, now); err != nil {
			return false, err
		}
	}
	st.sess = s
	return false, nil
}

// checkEncoding empties every form value that is not valid UTF-8 and returns an error for
// each such field.
func checkEncoding(r *http.Request) FormErrors {
	var fe FormErrors
	for name, vals := range r.PostForm {
		for i, v := range vals {
			if !utf8.ValidString(v) {
				if fe == nil {
					fe = FormErrors{}
				}
				fe[name] = "含有无效的字符编码（应为 UTF-8），请重新输入"
				vals[i] = ""
			}
		}
	}
	return fe
}

// fail answers with the page for an error: 404 for ENOTFOUND, 403 for EFORBIDDEN, 400 for
// EINVALID and ECONFLICT, 500 (logged, without personal data) for anything else.
func (a *App) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch yipanqi.ErrorCode(err) {
	case yipanqi.ENOTFOUND:
		a.failStatus(w, r, http.StatusNotFound, "未找到您要的内容，或它不在您的管辖范围内。")
	case yipanqi.EFORBIDDEN, yipanqi.EUNAUTHORIZED:
		a.failStatus(w, r, http.StatusForbidden, yipanqi.ErrorMessage(err))
	case yipanqi.EINVALID, yipanqi.ECONFLICT:
		a.failStatus(w, r, http.StatusBadRequest, yipanqi.ErrorMessage(err))
	default:
		a.cfg.Logger.Error("web: request failed", "method", r.Method, "route", r.Pattern, "err", err)
		a.failStatus(w, r, http.StatusInternalServerError, "系统内部错误，请稍后再试或联系管理员。")
	}
}

func (a *App) failStatus(w http.ResponseWriter, r *http.Request, status int, msg string) {
	a.renderStatus(w, r, status, "error", errorPage{Status: status, Message: msg})
}

type errorPage struct {
	Status  int
	Message string
}

// unitName returns the name of a unit: this node's org units from the store, others from
// the division data, else the code itself.
func (a *App) unitName(ctx context.Context, code string) string {
	if code == "" {
		return ""
	}
	a.unitMu.Lock()
	name, ok := a.unitNames[code]
	a.unitMu.Unlock()
	if ok {
		return name
	}
	name = code
	if a.cfg.Divisions != nil {
		if n, err := a.cfg.Divisions.FullName(code); err == nil {
			name = n
		}
	} else if u, err := a.cfg.Store.OrgUnit(ctx, code); err == nil {
		name = u.Name
	}
	a.unitMu.Lock()
	if len(a.unitNames) < 100000 {
		a.unitNames[code] = name
	}
	a.unitMu.Unlock()
	return name
}
