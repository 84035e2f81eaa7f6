package web

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"yipanqi"
	"yipanqi/sqlstore"
)

// 系统管理 › 用户 › one user: a new password set by the administrator, and the user's API
// tokens (docs/api.md) — added here or with `yipanqi token add`, shown once, revocable.

// userPage is what templates/app/admin_user.html renders.
type userPage struct {
	Tabs     []adminTab
	User     *yipanqi.User
	Unit     string
	Me       bool
	URL      string
	Password []Field
	Label    Field
	Tokens   []*sqlstore.APIToken
	NewToken string // a token just added: shown this once
	Done     string
	Errors   FormErrors
}

// scopedUser reads the user of the path when it is in my subtree; 404 otherwise.
func (a *App) scopedUser(w http.ResponseWriter, r *http.Request) *yipanqi.User {
	notFound := yipanqi.Errorf(yipanqi.ENOTFOUND, "未找到用户")
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		a.fail(w, r, notFound)
		return nil
	}
	u, err := a.cfg.Store.UserByID(r.Context(), id)
	if err == nil && !scopeOf(r).Contains(u.OrgUnit) {
		err = notFound
	}
	if err != nil {
		a.fail(w, r, err)
		return nil
	}
	return u
}

func (a *App) userView(r *http.Request, u *yipanqi.User, fe FormErrors, label string) (*userPage, error) {
	tokens, err := a.cfg.Store.APITokens(r.Context(), u.ID)
	if err != nil {
		return nil, err
	}
	id := strconv.FormatInt(u.ID, 10)
	return &userPage{Tabs: a.adminTabs("用户"), User: u, Unit: a.unitName(r.Context(), u.OrgUnit), Me: u.ID == currentUser(r).ID,
		URL: a.url("/admin/users/" + id), Tokens: tokens, Errors: fe,
		Password: []Field{
			{Name: "password", Label: "新密码（至少 8 个字符）", Input: "password", Required: true, Error: fe["password"], Auto: "new-password"},
			{Name: "confirm", Label: "再次输入新密码", Input: "password", Required: true, Error: fe["confirm"], Auto: "new-password"},
		},
		Label: Field{Name: "label", Label: "令牌用途", Input: "text", MaxLen: 100, Value: label, Error: fe["label"],
			Hint: "如“天河区案件系统对接”；不得含个人信息"},
	}, nil
}

// adminUser is one user's page.
func (a *App) adminUser(w http.ResponseWriter, r *http.Request) {
	u := a.scopedUser(w, r)
	if u == nil {
		return
	}
	p, err := a.userView(r, u, FormErrors{}, "")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	switch r.URL.Query().Get("done") {
	case "password":
		p.Done = "已设定新密码，该用户的全部登录会话已结束。"
	case "revoke":
		p.Done = "已吊销令牌。"
	}
	a.render(w, r, "admin_user", p)
}

// adminSetPassword sets a new password for a user of my subtree (a forgotten one); the user's
// sessions end. Audited "user.password" by the store.
func (a *App) adminSetPassword(w http.ResponseWriter, r *http.Request) {
	u := a.scopedUser(w, r)
	if u == nil {
		return
	}
	fe := formErrors(r)
	pw, again := r.PostForm.Get("password"), r.PostForm.Get("confirm")
	if err := CheckNewPassword(pw); err != nil {
		fe.Set("password", yipanqi.ErrorMessage(err))
	}
	if again != pw {
		fe.Set("confirm", "两次输入的密码不一致")
	}
	if !fe.Any() {
		hash, err := HashPassword(pw)
		if err == nil {
			keep := ""
			if s := state(r).sess; s != nil && u.ID == s.User.ID {
				keep = s.TokenHash // my own: this session stays
			}
			err = a.cfg.Store.SetPassword(r.Context(), u.ID, hash, keep)
		}
		if err != nil {
			a.fail(w, r, err)
			return
		}
		http.Redirect(w, r, a.url("/admin/users/"+strconv.FormatInt(u.ID, 10)+"?done=password"), http.StatusSeeOther)
		return
	}
	p, err := a.userView(r, u, fe, "")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.renderStatus(w, r, http.StatusUnprocessableEntity, "admin_user", p)
}

// adminAddToken adds an API token for a user of my subtree and shows it this once (in the
// answer to the POST, never in an address).
func (a *App) adminAddToken(w http.ResponseWriter, r *http.Request) {
	u := a.scopedUser(w, r)
	if u == nil {
		return
	}
	fe := formErrors(r)
	label := strings.TrimSpace(r.PostForm.Get("label"))
	if label == "" {
		fe.Set("label", "请写明令牌的用途，便于日后核对与吊销")
	} else if msg := tooLong("令牌用途", label, 100); msg != "" {
		fe.Set("label", msg)
	}
	if u.Disabled {
		fe.Set("", "该用户已停用，其令牌不能使用")
	}
	token := ""
	if !fe.Any() {
		var hash string
		token, hash = NewAPIToken()
		if err := a.cfg.Store.CreateAPIToken(r.Context(), &sqlstore.APIToken{TokenHash: hash, UserID: u.ID, Label: label}); err != nil {
			a.fail(w, r, err)
			return
		}
		label = ""
	}
	p, err := a.userView(r, u, fe, label)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if fe.Any() {
		a.renderStatus(w, r, http.StatusUnprocessableEntity, "admin_user", p)
		return
	}
	p.NewToken = token
	a.render(w, r, "admin_user", p)
}

// adminRevokeToken revokes one token of a user of my subtree.
func (a *App) adminRevokeToken(w http.ResponseWriter, r *http.Request) {
	u := a.scopedUser(w, r)
	if u == nil {
		return
	}
	tid, err := strconv.ParseInt(r.PathValue("tid"), 10, 64)
	if err != nil {
		tid = 0
	}
	tokens, err := a.cfg.Store.APITokens(r.Context(), u.ID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	// Only a token of this user: the store's revoke knows no scope.
	if !slices.ContainsFunc(tokens, func(t *sqlstore.APIToken) bool { return t.ID == tid }) {
		a.fail(w, r, yipanqi.Errorf(yipanqi.ENOTFOUND, "未找到令牌"))
		return
	}
	if err := a.cfg.Store.RevokeAPIToken(r.Context(), tid); err != nil && yipanqi.ErrorCode(err) != yipanqi.ECONFLICT {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, a.url("/admin/users/"+strconv.FormatInt(u.ID, 10)+"?done=revoke"), http.StatusSeeOther)
}
