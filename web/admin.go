package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"yipanqi"
)

// 系统管理 (docs/admin.md): users, org units, the holiday calendar, the trust list and keys,
// dead letters. Province administrators only; every change is audited by the store.

// isAdmin: the province administrators.
var isAdmin = roles(yipanqi.RoleProvinceAdmin)

// canAudit: who may read the audit log of their subtree.
var canAudit = roles(yipanqi.RoleProvinceAdmin, yipanqi.RoleProvinceSupervisor, yipanqi.RoleCitySupervisor,
	yipanqi.RoleCountySupervisor)

// canVerify: who may run the check of the whole audit chain, which is the node's, not a
// subtree's (and reads every entry).
var canVerify = roles(yipanqi.RoleProvinceAdmin, yipanqi.RoleProvinceSupervisor)

// adminRoutes are the routes of 系统管理, 审计 and the JSON API.
func (a *App) adminRoutes() []route {
	rs := []route{
		{pattern: "GET /admin", nav: "系统管理", allow: isAdmin, handle: a.adminUsers},
		{pattern: "POST /admin/users", allow: isAdmin, handle: a.adminAddUser},
		{pattern: "POST /admin/users/{id}", allow: isAdmin, handle: a.adminChangeUser},
		{pattern: "GET /admin/users/{id}", allow: isAdmin, handle: a.adminUser},
		{pattern: "POST /admin/users/{id}/password", allow: isAdmin, handle: a.adminSetPassword},
		{pattern: "POST /admin/users/{id}/tokens", allow: isAdmin, handle: a.adminAddToken},
		{pattern: "POST /admin/users/{id}/tokens/{tid}/revoke", allow: isAdmin, handle: a.adminRevokeToken},
		{pattern: "GET /admin/units", allow: isAdmin, handle: a.adminUnits},
		{pattern: "POST /admin/units/{code}", allow: isAdmin, handle: a.adminChangeUnit},
		{pattern: "GET /admin/calendar", allow: isAdmin, handle: a.adminCalendar},
		{pattern: "GET /admin/trust", allow: isAdmin, handle: a.adminTrust},
		{pattern: "GET /admin/deadletters", allow: isAdmin, handle: a.adminDeadLetters},
		{pattern: "GET /admin/deadletters/{id}", allow: isAdmin, handle: a.adminDeadLetter},

		{pattern: "GET /audit", nav: "审计", allow: canAudit, handle: a.auditLog},
		{pattern: "POST /audit", allow: canAudit, handle: a.auditLog},
		{pattern: "POST /audit/verify", allow: canVerify, handle: a.auditVerify},
	}
	return append(rs, a.apiRoutes()...)
}

// adminTab is one entry of the administration pages' own navigation.
type adminTab struct {
	Label, URL string
	Current    bool
}

func (a *App) adminTabs(current string) []adminTab {
	tabs := []adminTab{{Label: "用户", URL: "/admin"}, {Label: "机构", URL: "/admin/units"},
		{Label: "节假日", URL: "/admin/calendar"}, {Label: "信任列表与密钥", URL: "/admin/trust"},
		{Label: "死信", URL: "/admin/deadletters"}}
	for i := range tabs {
		tabs[i].Current = tabs[i].Label == current
		tabs[i].URL = a.url(tabs[i].URL)
	}
	return tabs
}

// userRow is one line of the users' list.
type userRow struct {
	ID                   int64
	Username, Name       string
	Unit, UnitCode       string
	Role                 yipanqi.Role
	Disabled, Locked, Me bool
	Failures             int
	LockedUntil          time.Time
	Action               string // the form's address
	URL                  string // the user's page
	RoleField            Field
}

// usersPage is what templates/app/admin_users.html renders.
type usersPage struct {
	Tabs   []adminTab
	Users  []userRow
	Add    []Field // the form to add a user
	Errors FormErrors
	Done   string // what the last change did
}

// validUsername: staff usernames are short ASCII names, never personal data (as the CLI's).
var validUsername = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{2,31}$`)

func roleOptions() []yipanqi.Option {
	out := make([]yipanqi.Option, len(Roles))
	for i, r := range Roles {
		out[i] = yipanqi.Option{Value: string(r), Label: RoleLabel(r)}
	}
	return out
}

// adminUsers is 系统管理 › 用户: the users of my subtree and the form to add one.
func (a *App) adminUsers(w http.ResponseWriter, r *http.Request) {
	p, err := a.usersView(r, map[string]string{}, FormErrors{})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	switch r.URL.Query().Get("done") {
	case "add":
		p.Done = "已新增用户。"
	case "change":
		p.Done = "已保存。"
	}
	a.render(w, r, "admin_users", p)
}

func (a *App) usersView(r *http.Request, form map[string]string, fe FormErrors) (*usersPage, error) {
	accounts, err := a.cfg.Store.UserAccounts(r.Context(), scopeOf(r))
	if err != nil {
		return nil, err
	}
	me := currentUser(r)
	now := a.cfg.Now()
	p := &usersPage{Tabs: a.adminTabs("用户"), Errors: fe}
	for _, u := range accounts {
		id := strconv.FormatInt(u.ID, 10)
		p.Users = append(p.Users, userRow{ID: u.ID, Username: u.Username, Name: u.DisplayName, UnitCode: u.OrgUnit,
			Unit: a.unitName(r.Context(), u.OrgUnit), Role: u.Role, Disabled: u.Disabled, Me: u.ID == me.ID,
			Locked: u.Login.Locked(now), LockedUntil: u.Login.LockedUntil, Failures: u.Login.Failures,
			Action: a.url("/admin/users/" + id), URL: a.url("/admin/users/" + id),
			RoleField: Field{Name: "role", Label: "角色", Input: "select", Options: roleOptions(), Value: string(u.Role), Form: "u" + id}})
	}
	p.Add = []Field{
		{Name: "username", Label: "用户名", Input: "text", Required: true, MaxLen: 32, Value: form["username"], Error: fe["username"],
			Hint: "小写字母、数字和 . _ -，3 到 32 个字符；不得含姓名、身份证号等个人信息", Auto: "off"},
		{Name: "display_name", Label: "显示名", Input: "text", MaxLen: 50, Value: form["display_name"], Error: fe["display_name"]},
		{Name: "org_unit", Label: "所属机构（行政区划代码）", Input: "text", Required: true, MaxLen: 12, Value: form["org_unit"],
			Error: fe["org_unit"], Hint: "本辖区内的机构，如 440106001"},
		{Name: "role", Label: "角色", Input: "select", Required: true, Options: roleOptions(), Value: form["role"], Error: fe["role"]},
		{Name: "password", Label: "初始密码（至少 8 个字符）", Input: "password", Required: true, Error: fe["password"], Auto: "new-password"},
		{Name: "confirm", Label: "再次输入初始密码", Input: "password", Required: true, Error: fe["confirm"], Auto: "new-password"},
	}
	return p, nil
}

// adminAddUser adds a user to a unit of my subtree, with the password the administrator set.
// Errors are shown next to their fields with what was typed (never the password); nothing is
// saved then.
func (a *App) adminAddUser(w http.ResponseWriter, r *http.Request) {
	fe := formErrors(r)
	form := map[string]string{}
	for _, k := range []string{"username", "display_name", "org_unit", "role"} {
		form[k] = strings.TrimSpace(r.PostForm.Get(k))
	}
	pw, again := r.PostForm.Get("password"), r.PostForm.Get("confirm")
	switch {
	case form["username"] == "":
		fe.Set("username", "请填写用户名")
	case !validUsername.MatchString(form["username"]):
		fe.Set("username", "用户名只用小写字母、数字和 . _ -，3 到 32 个字符，以字母或数字开头")
	}
	if msg := tooLong("显示名", form["display_name"], 50); msg != "" {
		fe.Set("display_name", msg)
	}
	scope := scopeOf(r)
	switch unit := form["org_unit"]; {
	case unit == "":
		fe.Set("org_unit", "请填写所属机构的行政区划代码")
	case !yipanqi.ValidDivisionCode(unit):
		fe.Set("org_unit", "“所属机构”须为 2、4、6、9 或 12 位数字的行政区划代码")
	case !scope.Contains(unit):
		fe.Set("org_unit", "机构“"+unit+"”不在您的管辖范围内")
	}
	if !slices.Contains(Roles, yipanqi.Role(form["role"])) {
		fe.Set("role", "请选择角色")
	}
	if err := CheckNewPassword(pw); err != nil {
		fe.Set("password", yipanqi.ErrorMessage(err))
	}
	if again != pw {
		fe.Set("confirm", "两次输入的密码不一致")
	}
	if !fe.Any() {
		hash, err := HashPassword(pw)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		u := &yipanqi.User{Username: form["username"], DisplayName: form["display_name"], OrgUnit: form["org_unit"],
			Role: yipanqi.Role(form["role"]), PasswordHash: hash}
		err = a.cfg.Store.AddUser(r.Context(), scope, u)
		switch yipanqi.ErrorCode(err) {
		case "":
			http.Redirect(w, r, a.url("/admin?done=add"), http.StatusSeeOther)
			return
		case yipanqi.EINVALID, yipanqi.ECONFLICT:
			fe.Add(err, "")
		default:
			a.fail(w, r, err)
			return
		}
	}
	p, err := a.usersView(r, form, fe)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.renderStatus(w, r, http.StatusUnprocessableEntity, "admin_users", p)
}

// adminChangeUser changes one user of my subtree: action role (with role), disable, enable
// or unlock. An administrator cannot change their own role or disable themselves.
func (a *App) adminChangeUser(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		a.fail(w, r, yipanqi.Errorf(yipanqi.ENOTFOUND, "没有这个用户"))
		return
	}
	ctx, scope := r.Context(), scopeOf(r)
	action := r.PostForm.Get("action")
	self := id == currentUser(r).ID
	switch {
	case self && (action == "role" || action == "disable"):
		err = yipanqi.Errorf(yipanqi.EINVALID, "不能更改自己的角色或停用自己的账户，请由另一位管理员操作")
	case action == "role":
		err = a.cfg.Store.SetUserRole(ctx, scope, id, yipanqi.Role(r.PostForm.Get("role")))
	case action == "disable" || action == "enable":
		err = a.cfg.Store.SetUserDisabled(ctx, scope, id, action == "disable")
	case action == "unlock":
		err = a.cfg.Store.UnlockUser(ctx, scope, id)
	default:
		err = yipanqi.Errorf(yipanqi.EINVALID, "没有这个操作")
	}
	switch yipanqi.ErrorCode(err) {
	case "":
		http.Redirect(w, r, a.url("/admin?done=change"), http.StatusSeeOther)
		return
	case yipanqi.EINVALID, yipanqi.ECONFLICT:
		p, verr := a.usersView(r, map[string]string{}, FormErrors{"": yipanqi.ErrorMessage(err)})
		if verr != nil {
			a.fail(w, r, verr)
			return
		}
		a.renderStatus(w, r, http.StatusUnprocessableEntity, "admin_users", p)
	default:
		a.fail(w, r, err)
	}
}

// unitRow is one line of the units' list.
type unitRow struct {
	*yipanqi.OrgUnit
	Depth  int
	Staff  int
	Action string
}

// unitsPage is what templates/app/admin_units.html renders.
type unitsPage struct {
	Tabs  []adminTab
	Units []unitRow
}

// adminUnits is 系统管理 › 机构: the org units of my subtree, whether each is active (has staff
// and takes cases), and its users.
func (a *App) adminUnits(w http.ResponseWriter, r *http.Request) {
	ctx, scope := r.Context(), scopeOf(r)
	units, err := a.cfg.Store.OrgUnits(ctx, scope)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	users, err := a.cfg.Store.ListUsers(ctx, scope)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	staff := map[string]int{}
	for _, u := range users {
		if !u.Disabled {
			staff[u.OrgUnit]++
		}
	}
	p := unitsPage{Tabs: a.adminTabs("机构")}
	for _, u := range units {
		p.Units = append(p.Units, unitRow{OrgUnit: u, Depth: int(u.Level) - int(yipanqi.LevelOf(scope.Unit())),
			Staff: staff[u.Code], Action: a.url("/admin/units/" + u.Code)})
	}
	a.render(w, r, "admin_units", p)
}

// adminChangeUnit marks a unit active or inactive.
func (a *App) adminChangeUnit(w http.ResponseWriter, r *http.Request) {
	action := r.PostForm.Get("action")
	if action != "activate" && action != "deactivate" {
		a.failStatus(w, r, http.StatusBadRequest, "没有这个操作。")
		return
	}
	if err := a.cfg.Store.SetOrgUnitActive(r.Context(), scopeOf(r), r.PathValue("code"), action == "activate"); err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, a.url("/admin/units"), http.StatusSeeOther)
}

// calendarDay is a day whose status differs from the weekend rule.
type calendarDay struct {
	Date    yipanqi.Date
	Weekday string
}

// calendarPage is what templates/app/admin_calendar.html renders.
type calendarPage struct {
	Tabs               []adminTab
	Year, Prev, Next   int
	Known              bool
	Holidays, Workdays []calendarDay
	File               string // the override file's path, "" for none
	FileText           string
	FileError          string
}

var weekdayNames = [...]string{"星期日", "星期一", "星期二", "星期三", "星期四", "星期五", "星期六"}

// adminCalendar is 系统管理 › 节假日: the rest days on weekdays and the working days on
// weekends of a year as the node counts deadlines, and the override file in use. The file is
// read-only here: it is changed on the server and read at start (docs/calendar.md).
func (a *App) adminCalendar(w http.ResponseWriter, r *http.Request) {
	year := a.cfg.Now().In(yipanqi.Shanghai).Year()
	if y, err := strconv.Atoi(r.URL.Query().Get("year")); err == nil && y >= 2000 && y <= 2100 {
		year = y
	}
	p := calendarPage{Tabs: a.adminTabs("节假日"), Year: year, Prev: year - 1, Next: year + 1,
		Known: a.cfg.Calendar.Known(year), File: a.cfg.HolidaysFile}
	for d := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() == year; d = d.AddDate(0, 0, 1) {
		day := yipanqi.Date{Year: d.Year(), Month: d.Month(), Day: d.Day()}
		work, _ := a.cfg.Calendar.IsWorkday(day)
		weekend := d.Weekday() == time.Saturday || d.Weekday() == time.Sunday
		cd := calendarDay{Date: day, Weekday: weekdayNames[d.Weekday()]}
		switch {
		case weekend && work:
			p.Workdays = append(p.Workdays, cd)
		case !weekend && !work:
			p.Holidays = append(p.Holidays, cd)
		}
	}
	if p.File != "" {
		text, err := readSmall(p.File, 64<<10)
		if err != nil {
			p.FileError = "无法读取：" + err.Error()
		}
		p.FileText = text
	}
	a.render(w, r, "admin_calendar", p)
}

// readSmall reads at most max bytes of a file.
func readSmall(path string, max int64) (string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", errors.New("文件不存在")
	} else if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max))
	return string(b), err
}

// keyRow is one key of the trust list.
type keyRow struct {
	Node, NodeName, ID  string
	NotBefore, NotAfter time.Time
	Status, Class       string
	Mine                bool
}

// trustPage is what templates/app/admin_trust.html renders.
type trustPage struct {
	Tabs                 []adminTab
	Configured           bool
	Version              int64
	IssuedAt, NextUpdate time.Time
	ListStatus, Class    string
	KeyID                string
	Keys                 []keyRow
	Warnings             []string
}

// ExpiryWarning is how long before a key or the trust list expires 系统管理 warns.
const ExpiryWarning = 30 * 24 * time.Hour

// validity names the state of something valid in [from, until) at now.
func validity(now, from, until time.Time) (status, class string) {
	switch {
	case now.Before(from):
		return "尚未生效", "soon"
	case !now.Before(until):
		return "已过期", "overdue"
	case until.Sub(now) < ExpiryWarning:
		return "即将到期（" + strconv.Itoa(int(until.Sub(now).Hours()/24)) + " 天内）", "soon"
	}
	return "有效", "ok"
}

// adminTrust is 系统管理 › 信任列表与密钥: the nodes of the trust list, their keys and how long
// each stays valid, this node's key, and warnings for what expires soon.
func (a *App) adminTrust(w http.ResponseWriter, r *http.Request) {
	p := trustPage{Tabs: a.adminTabs("信任列表与密钥"), KeyID: a.cfg.KeyID}
	tl := a.cfg.Trust
	if tl != nil {
		now := a.cfg.Now()
		p.Configured = true
		p.Version, p.IssuedAt, p.NextUpdate = tl.Version, tl.IssuedAt, tl.NextUpdate
		p.ListStatus, p.Class = validity(now, tl.IssuedAt, tl.NextUpdate)
		if p.Class != "ok" {
			p.Warnings = append(p.Warnings, "信任列表第 "+strconv.FormatInt(tl.Version, 10)+" 版"+p.ListStatus+
				"：请向区域获取新版信任列表（yipanqi keys trust）")
		}
		mineFound := false
		for _, n := range tl.Nodes {
			for _, k := range n.Keys {
				row := keyRow{Node: n.Code, NodeName: n.Name, ID: k.ID, NotBefore: k.NotBefore, NotAfter: k.NotAfter,
					Mine: k.ID == a.cfg.KeyID && a.cfg.KeyID != ""}
				row.Status, row.Class = validity(now, k.NotBefore, k.NotAfter)
				if row.Mine {
					mineFound = true
					if row.Class != "ok" {
						p.Warnings = append(p.Warnings, "本节点的签名密钥 "+k.ID+row.Status+"：请生成新密钥并列入信任列表")
					}
				}
				p.Keys = append(p.Keys, row)
			}
		}
		if a.cfg.KeyID != "" && !mineFound {
			p.Warnings = append(p.Warnings, "本节点的签名密钥 "+a.cfg.KeyID+" 不在信任列表中：其他节点将拒收本节点的消息")
		}
	}
	a.render(w, r, "admin_trust", p)
}

// deadRow is one line of the dead letters' list: no personal data.
type deadRow struct {
	ID                                 int64
	MessageID, Source, Subject, Reason string
	ReceivedAt                         time.Time
	Notice                             bool
	URL                                string
}

// deadPage is what templates/app/admin_deadletters.html renders.
type deadPage struct {
	Tabs []adminTab
	Rows []deadRow
	// One dead letter, with the bytes received.
	One  *deadRow
	Body string
}

// adminDeadLetters is 系统管理 › 死信: the messages that could not be processed, newest first,
// with the reason, source and time. The bytes received are shown one at a time, audited.
func (a *App) adminDeadLetters(w http.ResponseWriter, r *http.Request) {
	dls, err := a.cfg.Store.DeadLetters(r.Context(), 200)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	p := deadPage{Tabs: a.adminTabs("死信")}
	for _, d := range dls {
		p.Rows = append(p.Rows, a.deadRow(d))
	}
	a.render(w, r, "admin_deadletters", p)
}

func (a *App) deadRow(d *yipanqi.DeadLetter) deadRow {
	return deadRow{ID: d.ID, MessageID: maskPersonal(d.MessageID), Source: d.Source, Subject: maskPersonal(d.Subject), Reason: maskPersonal(d.Reason),
		ReceivedAt: d.ReceivedAt, Notice: d.NoticeID != "", URL: a.url("/admin/deadletters/" + strconv.FormatInt(d.ID, 10))}
}

// adminDeadLetter shows the bytes of one dead letter, which may hold personal data: seeing it
// is audited ("deadletter.view").
func (a *App) adminDeadLetter(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		a.fail(w, r, yipanqi.Errorf(yipanqi.ENOTFOUND, "没有这封死信"))
		return
	}
	d, err := a.cfg.Store.DeadLetterByID(r.Context(), id)
	if err == nil {
		err = a.auditView(r, "deadletter.view", strconv.FormatInt(id, 10))
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	row := a.deadRow(d)
	var buf bytes.Buffer
	if json.Indent(&buf, d.Body, "", "  ") != nil {
		buf.Reset()
		buf.WriteString(strings.ToValidUTF8(string(d.Body), "�"))
	}
	a.render(w, r, "admin_deadletters", deadPage{Tabs: a.adminTabs("死信"), One: &row, Body: buf.String()})
}

// idNumberLike finds what may be a resident ID number (18 characters, or the old 15 digits)
// in free text: any run of 15 or more digits, or 14 or more and an X, whatever is around it
// (a stored reason may glue it to other text).
var idNumberLike = regexp.MustCompile(`[0-9]{14,}[0-9Xx]`)

// searchedName finds the name a people search was for, as the store writes it ("name=…").
var searchedName = regexp.MustCompile(`name=\S+`)

// maskPersonal masks the ID numbers and searched names in a text for a list.
func maskPersonal(s string) string {
	s = idNumberLike.ReplaceAllStringFunc(s, MaskIDNumber)
	return searchedName.ReplaceAllStringFunc(s, func(m string) string {
		r := []rune(strings.TrimPrefix(m, "name="))
		if len(r) == 0 {
			return m
		}
		return "name=" + string(r[0]) + strings.Repeat("*", max(len(r)-1, 1))
	})
}
