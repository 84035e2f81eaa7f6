package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"yipanqi"
	"yipanqi/casework"
	"yipanqi/sqlstore"
)

// 审计 (docs/admin.md): the audit log of my subtree, filtered and paged, with ID numbers
// masked; reading it is itself audited ("audit.view"). The filters travel in a POSTed form,
// never in the address, because an object may be an ID number.

// auditPageSize is the entries of one page of the audit log.
const auditPageSize = 50

// auditRow is one entry as the list shows it.
type auditRow struct {
	ID                                  int64
	At                                  time.Time
	Actor, Unit, Action, Object, Reason string
	Sealed                              bool
}

// auditPage is what templates/app/audit.html renders.
type auditPage struct {
	Fields      []Field
	Errors      FormErrors
	Rows        []auditRow
	Page        int
	Prev, Next  int // 0 when there is none
	Verify      string
	VerifyOK    bool
	VerifyNotes []string // more lines of a passed check: the signed heads, what they leave uncovered
	CanVerify   bool
}

// actionLabels names the actions of the audit log in Chinese.
var actionLabels = map[string]string{
	"person.view": "查看人员", "people.search": "查询人员", "people.export": "导出人员", "people.import": "导入人员",
	"case.view": "查看案件", "message.view": "查看消息原文", "user.login": "登录", "user.login_failed": "登录失败",
	"user.locked": "账户锁定", "user.password": "修改密码", "user.add": "新增用户", "user.role": "更改角色",
	"user.disable": "停用用户", "user.enable": "启用用户", "user.unlock": "解除锁定", "orgunit.activate": "机构在岗",
	"orgunit.deactivate": "机构未在岗", "token.add": "新增 API 令牌", "token.revoke": "吊销 API 令牌",
	"audit.view": "查看审计日志", "audit.verify": "校验审计链", "deadletter.view": "查看死信原文",
}

func actionLabel(a string) string {
	if l, ok := actionLabels[a]; ok {
		return l + "（" + a + "）"
	}
	return a
}

// auditForm reads the filters of a posted form (none for a GET), with errors next to the
// fields.
func (a *App) auditForm(r *http.Request) (sqlstore.AuditFilter, map[string]string, int, FormErrors) {
	fe := formErrors(r)
	form := map[string]string{}
	for _, k := range []string{"actor", "action", "object", "from", "to"} {
		form[k] = strings.TrimSpace(r.PostForm.Get(k))
	}
	f := sqlstore.AuditFilter{Actor: form["actor"], Action: form["action"], Object: form["object"], Limit: auditPageSize}
	for k, max := range map[string]int{"actor": 64, "action": 64, "object": 200} {
		if msg := tooLong(map[string]string{"actor": "操作人", "action": "操作类型", "object": "对象"}[k], form[k], max); msg != "" {
			fe.Set(k, msg)
		}
	}
	day := func(name string) time.Time {
		v := form[name]
		if v == "" {
			return time.Time{}
		}
		t, err := time.ParseInLocation("2006-01-02", v, yipanqi.Shanghai)
		if err != nil {
			fe.Set(name, "日期格式应为 YYYY-MM-DD，如 2026-03-02")
			return time.Time{}
		}
		return t
	}
	f.From = day("from")
	if to := day("to"); !to.IsZero() {
		f.To = to.AddDate(0, 0, 1) // the whole last day
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		fe.Set("to", "结束日期不能早于开始日期")
	}
	page, err := strconv.Atoi(r.PostForm.Get("page"))
	if err != nil || page < 1 || page > 100000 {
		page = 1
	}
	f.Offset = (page - 1) * auditPageSize
	return f, form, page, fe
}

func (a *App) auditFields(form map[string]string, fe FormErrors) []Field {
	return []Field{
		{Name: "actor", Label: "操作人（用户名）", Input: "text", Value: form["actor"], Error: fe["actor"], Auto: "off"},
		{Name: "action", Label: "操作类型", Input: "text", Value: form["action"], Error: fe["action"],
			Hint: "如 person.view；以“.”结尾表示一类，如 user.", Auto: "off"},
		{Name: "object", Label: "对象", Input: "text", Value: form["object"], Error: fe["object"],
			Hint: "完整的案件编号、用户名或公民身份号码", Auto: "off"},
		{Name: "from", Label: "开始日期", Input: "date", Value: form["from"], Error: fe["from"]},
		{Name: "to", Label: "结束日期（含当天）", Input: "date", Value: form["to"], Error: fe["to"]},
	}
}

// auditLog is 审计: GET shows the newest entries, POST the ones the form's filters select.
func (a *App) auditLog(w http.ResponseWriter, r *http.Request) {
	f, form, page, fe := a.auditForm(r)
	p := &auditPage{Fields: a.auditFields(form, fe), Errors: fe, Page: page, CanVerify: canVerify(currentUser(r))}
	if fe.Any() {
		a.renderStatus(w, r, http.StatusUnprocessableEntity, "audit", p)
		return
	}
	if err := a.fillAudit(r, p, f, form, page); err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, r, "audit", p)
}

// fillAudit reads the entries of the filter, masks them, and records that the user saw them.
func (a *App) fillAudit(r *http.Request, p *auditPage, f sqlstore.AuditFilter, form map[string]string, page int) error {
	ctx := r.Context()
	entries, more, err := a.cfg.Store.SearchAudit(ctx, scopeOf(r), f)
	if err != nil {
		return err
	}
	for _, e := range entries {
		p.Rows = append(p.Rows, auditRow{ID: e.ID, At: e.At, Actor: e.Actor, Unit: a.unitName(ctx, e.OrgUnit),
			Action: actionLabel(e.Action), Object: maskPersonal(e.Object), Reason: maskPersonal(e.Reason), Sealed: e.Hash != ""})
	}
	if page > 1 {
		p.Prev = page - 1
	}
	if more {
		p.Next = page + 1
	}
	var b strings.Builder
	fmt.Fprintf(&b, "scope=%s", scopeOf(r).Unit())
	for _, k := range []string{"actor", "action", "object", "from", "to"} {
		if form[k] != "" {
			fmt.Fprintf(&b, " %s=%s", k, form[k])
		}
	}
	fmt.Fprintf(&b, " page=%d shown=%d", page, len(entries))
	return a.auditView(r, "audit.view", b.String())
}

// auditVerify checks the audit chain and its signed heads (DB.VerifyAuditSigned, with the
// trust list's check of each signature when the node runs with one, as `yipanqi audit verify
// --trust` does) and shows the result above the newest entries: how many entries were checked
// and how many of them signed heads cover, or the first broken entry or head.
func (a *App) auditVerify(w http.ResponseWriter, r *http.Request) {
	p := &auditPage{Fields: a.auditFields(map[string]string{}, FormErrors{}), Errors: FormErrors{}, Page: 1, CanVerify: true}
	var opts sqlstore.AuditVerifyOptions
	if a.cfg.Trust != nil {
		opts.CheckSig = casework.AuditChecker(a.cfg.Trust)
	}
	rep, err := a.cfg.Store.VerifyAuditSigned(r.Context(), opts)
	result := ""
	if err != nil {
		// A broken chain or a failed signature is a *yipanqi.Error naming the entry or the
		// head; anything else (the database is down) is a failure of the page.
		var broken *yipanqi.Error
		if !errors.As(err, &broken) {
			a.fail(w, r, err)
			return
		}
		p.Verify = "校验未通过：" + yipanqi.ErrorMessage(err) + "（此前 " + strconv.Itoa(rep.Checked) + " 条完好）。请立即报告安全负责人。"
		result = "broken"
	} else {
		covered := int64(rep.Checked) - rep.Unsigned
		p.Verify, p.VerifyOK = fmt.Sprintf("校验通过：审计链完整，共校验 %d 条记录，其中 %d 条由已签名的链头覆盖。", rep.Checked, covered), true
		how := "签名已按信任列表核验"
		if opts.CheckSig == nil {
			how = "未核验签名：本节点未载入信任列表"
		}
		p.VerifyNotes = append(p.VerifyNotes, fmt.Sprintf("链头 %d 个，其中已签名 %d 个（%s）。", rep.Seals, rep.Signed, how))
		if rep.Unsigned > 0 {
			p.VerifyNotes = append(p.VerifyNotes, fmt.Sprintf("注意：最后 %d 条记录尚无已签名的链头覆盖（由无密钥的进程封存，或节点尚未签名），签名不能证明它们未被改写。", rep.Unsigned))
		}
		result = fmt.Sprintf("ok %d signed-heads %d covered %d", rep.Checked, rep.Signed, covered)
		if opts.CheckSig == nil {
			result += " sig-unchecked"
		}
	}
	u := currentUser(r)
	if err := a.cfg.Store.Audit(r.Context(), &yipanqi.AuditEntry{Actor: u.Username, OrgUnit: u.OrgUnit, Action: "audit.verify",
		Reason: result}); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.fillAudit(r, p, sqlstore.AuditFilter{Limit: auditPageSize}, map[string]string{}, 1); err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, r, "audit", p)
}
