package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/calendar"
	"yipanqi/casework"
	"yipanqi/demo"
	"yipanqi/sqlstore"
	"yipanqi/sqlstore/storetest"
	"yipanqi/web"
)

// addAdmin gives the fixture a province administrator, "admin", of 广东省.
func addAdmin(t *testing.T, ta *testApp) *yipanqi.User {
	t.Helper()
	hash, err := web.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	u := &yipanqi.User{Username: "admin", OrgUnit: "44", Role: yipanqi.RoleProvinceAdmin, PasswordHash: hash}
	if err := ta.db.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	ta.users["admin"] = u
	return u
}

func auditEntries(t *testing.T, db *sqlstore.DB, action string) []*yipanqi.AuditEntry {
	t.Helper()
	log, err := db.AuditLog(context.Background(), "", 10000)
	if err != nil {
		t.Fatal(err)
	}
	var out []*yipanqi.AuditEntry
	for _, e := range log {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

var adminPages = []string{"/admin", "/admin/units", "/admin/calendar", "/admin/trust", "/admin/deadletters"}

func TestAdminPagesRefuseOthers(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		addAdmin(t, ta)
		for _, name := range []string{"worker-a", "county"} {
			b := ta.browser(t)
			b.mustLogin(name)
			if strings.Contains(b.last, "系统管理") {
				t.Errorf("%s sees 系统管理 in the navigation", name)
			}
			token := b.csrf()
			for _, p := range adminPages {
				if code, body := b.get(p); code != http.StatusForbidden || !strings.Contains(body, "无权") {
					t.Errorf("%s GET %s: %d, want 403", name, p, code)
				}
			}
			before := len(auditEntries(t, ta.db, "user.role"))
			id := itoa(ta.users["worker-b"].ID)
			if code, _ := b.post("/admin/users/"+id, url.Values{"csrf": {token}, "action": {"role"}, "role": {"province_admin"}}); code != http.StatusForbidden {
				t.Errorf("%s POST a role change: %d, want 403", name, code)
			}
			if u, _ := ta.db.UserByName(context.Background(), "worker-b"); u.Role != yipanqi.RoleTownshipWorker || len(auditEntries(t, ta.db, "user.role")) != before {
				t.Fatalf("a refused role change changed something: %s", u.Role)
			}
		}
		b := ta.browser(t)
		b.mustLogin("admin")
		wantContains(t, b.last, "系统管理")
		for _, p := range adminPages {
			if code, body := b.get(p); code != http.StatusOK {
				t.Errorf("admin GET %s: %d\n%s", p, code, body)
			}
		}
	})
}

func TestAdminUsers(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		addAdmin(t, ta)
		ctx := context.Background()
		b := ta.browser(t)
		b.mustLogin("admin")
		b.get("/admin")
		wantContains(t, b.last, "worker-a", "广州市天河区甲街道", "新增用户")

		// A unit that does not exist: the error next to the field, the input kept, nothing saved.
		form := url.Values{"csrf": {b.csrf()}, "username": {"clerk.new"}, "display_name": {"新同事"}, "org_unit": {"440106999"},
			"role": {"township_worker"}, "password": {password}, "confirm": {password}}
		code, body := b.post("/admin/users", form)
		if code != http.StatusUnprocessableEntity {
			t.Fatalf("bad unit: %d\n%s", code, body)
		}
		wantContains(t, body, `id="f-org_unit-err"`, "440106999", `value="clerk.new"`, `value="新同事"`, `aria-describedby="f-org_unit-err"`)
		if strings.Contains(body, password) {
			t.Fatal("the page shows the password back")
		}
		if _, err := ta.db.UserByName(ctx, "clerk.new"); yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
			t.Fatalf("a refused user was saved: %v", err)
		}
		if n := len(auditEntries(t, ta.db, "user.add")); n != 0 {
			t.Fatalf("user.add entries after a refused add: %d", n)
		}
		// Other mistakes, each next to its field.
		bad := url.Values{"csrf": {b.csrf()}, "username": {"Bad Name"}, "org_unit": {"350102001"}, "role": {"king"},
			"password": {"short"}, "confirm": {"other"}}
		_, body = b.post("/admin/users", bad)
		for _, f := range []string{"username", "org_unit", "role", "password", "confirm"} {
			wantContains(t, body, `id="f-`+f+`-err"`)
		}
		wantContains(t, body, "不在您的管辖范围内")

		// A good one is saved and audited, and can sign in.
		form.Set("csrf", b.csrf())
		form.Set("org_unit", townshipB)
		if code, body := b.post("/admin/users", form); code != http.StatusOK || !strings.Contains(body, "已新增用户") {
			t.Fatalf("add: %d\n%s", code, body)
		}
		nu, err := ta.db.UserByName(ctx, "clerk.new")
		if err != nil || nu.OrgUnit != townshipB || nu.Role != yipanqi.RoleTownshipWorker {
			t.Fatalf("added user = %+v, %v", nu, err)
		}
		if e := auditEntries(t, ta.db, "user.add"); len(e) != 1 || e[0].Actor != "admin" || e[0].Object != "clerk.new" {
			t.Fatalf("user.add entries = %+v", e)
		}
		ta.browser(t).mustLogin("clerk.new")

		// Role, disable (ends the session), enable, unlock: each audited.
		id := itoa(nu.ID)
		post := func(v url.Values) {
			t.Helper()
			v.Set("csrf", b.csrf())
			if code, body := b.post("/admin/users/"+id, v); code != http.StatusOK {
				t.Fatalf("%v: %d\n%s", v, code, body)
			}
		}
		post(url.Values{"action": {"role"}, "role": {"county_supervisor"}})
		other := ta.browser(t)
		other.mustLogin("clerk.new")
		post(url.Values{"action": {"disable"}})
		if _, body := other.get("/todo"); !strings.Contains(body, "会话已过期") {
			t.Fatal("the disabled user's session lives on")
		}
		if code, _ := ta.browser(t).login("clerk.new", password); code != http.StatusUnprocessableEntity {
			t.Fatalf("a disabled user signed in: %d", code)
		}
		post(url.Values{"action": {"enable"}})
		for i := 0; i < 5; i++ {
			ta.browser(t).login("clerk.new", "wrong")
		}
		b.get("/admin")
		wantContains(t, b.last, "已锁定")
		post(url.Values{"action": {"unlock"}})
		ta.browser(t).mustLogin("clerk.new")
		for _, action := range []string{"user.role", "user.disable", "user.enable", "user.unlock"} {
			if e := auditEntries(t, ta.db, action); len(e) != 1 || e[0].Object != "clerk.new" || e[0].Actor != "admin" {
				t.Errorf("%s entries = %+v", action, e)
			}
		}
		// The administrator cannot disable themselves.
		code, body = b.post("/admin/users/"+itoa(ta.users["admin"].ID), url.Values{"csrf": {b.csrf()}, "action": {"disable"}})
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, "不能更改自己") {
			t.Fatalf("self-disable: %d", code)
		}
	})
}

func TestAdminUnitsAndDeadLetters(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		addAdmin(t, ta)
		ctx := context.Background()
		const idNumber = "11010519491231002X"
		if _, err := ta.db.DeadLetter(ctx, &yipanqi.DeadLetter{MessageID: "m-1", Source: "35", Subject: "ypq.44.35.verify.identity",
			Reason: "受理单位“449999”不是本节点 44 的机构", Body: []byte(`{"id_number":"` + idNumber + `"}`), ReceivedAt: ta.clock.Now()}); err != nil {
			t.Fatal(err)
		}
		b := ta.browser(t)
		b.mustLogin("admin")
		_, body := b.get("/admin/deadletters")
		wantContains(t, body, "ypq.44.35.verify.identity", "449999")
		if strings.Contains(body, idNumber) {
			t.Fatal("the dead letters' list shows an ID number")
		}
		if n := len(auditEntries(t, ta.db, "deadletter.view")); n != 0 {
			t.Fatalf("the list wrote %d deadletter.view entries", n)
		}
		link := strings.Index(body, `/44/admin/deadletters/`)
		if link < 0 {
			t.Fatal("no link to the raw message")
		}
		path := body[link+3 : link+3+strings.IndexByte(body[link+3:], '"')]
		_, body = b.get(path)
		wantContains(t, body, idNumber, "已记入审计日志")
		if n := len(auditEntries(t, ta.db, "deadletter.view")); n != 1 {
			t.Fatalf("deadletter.view entries = %d, want 1", n)
		}

		// Units: deactivate one, audited.
		_, body = b.get("/admin/units")
		wantContains(t, body, townshipA, "广州市天河区甲街道", "在岗")
		if code, _ := b.post("/admin/units/"+townshipA, url.Values{"csrf": {b.csrf()}, "action": {"deactivate"}}); code != http.StatusOK {
			t.Fatalf("deactivate: %d", code)
		}
		if u, _ := ta.db.OrgUnit(ctx, townshipA); u.Active {
			t.Fatal("the unit is still active")
		}
		if e := auditEntries(t, ta.db, "orgunit.deactivate"); len(e) != 1 || e[0].Object != townshipA {
			t.Fatalf("orgunit.deactivate entries = %+v", e)
		}
		// Calendar: 2026's National Day holidays and make-up days come from the built-in data.
		_, body = b.get("/admin/calendar?year=2026")
		wantContains(t, body, "2026 年的节假日安排已载入", "2026-10-01", "未使用覆盖文件")
		_, body = b.get("/admin/trust")
		wantContains(t, body, "未配置信任列表")
	})
}

func TestAuditViewer(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		addAdmin(t, ta)
		ctx := context.Background()
		const idA, idElsewhere = "44010619900101123X", "440104199001011236"
		for _, e := range []*yipanqi.AuditEntry{
			{Actor: "worker-a", OrgUnit: townshipA, Action: "person.view", Object: idA},
			{Actor: "worker-c", OrgUnit: otherCity, Action: "person.view", Object: idElsewhere},
			{Actor: "worker-a", OrgUnit: townshipA, Action: "people.search", Object: "scope=440106001 name=张三丰 id_number=" + idA + " offset=0 shown=1"},
		} {
			if err := ta.db.Audit(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		if code, _ := func() (int, string) { b := ta.browser(t); b.mustLogin("worker-a"); return b.get("/audit") }(); code != http.StatusForbidden {
			t.Fatalf("a township worker opened the audit log: %d", code)
		}

		b := ta.browser(t)
		b.mustLogin("county")
		_, body := b.get("/audit")
		wantContains(t, body, web.MaskIDNumber(idA), "查看人员", "worker-a", "name=张**")
		for _, secret := range []string{idA, "张三丰", idElsewhere, "worker-c"} {
			if strings.Contains(body, secret) {
				t.Fatalf("the audit page shows %q (unmasked or out of scope)", secret)
			}
		}
		views := auditEntries(t, ta.db, "audit.view")
		if len(views) != 1 || views[0].Actor != "county" || !strings.Contains(views[0].Object, "scope="+county) {
			t.Fatalf("audit.view entries = %+v", views)
		}

		// Filters travel in the body; a bad date is shown next to its field.
		code, body := b.post("/audit", url.Values{"csrf": {b.csrf()}, "object": {idA}, "from": {"2026-13-01"}})
		if code != http.StatusUnprocessableEntity {
			t.Fatalf("bad date: %d", code)
		}
		wantContains(t, body, `id="f-from-err"`, "YYYY-MM-DD")
		_, body = b.post("/audit", url.Values{"csrf": {b.csrf()}, "object": {idA}, "action": {"person."}})
		wantContains(t, body, web.MaskIDNumber(idA))
		if strings.Count(body, "查看人员（person.view）") != 1 || strings.Contains(body, "查询人员") {
			t.Fatalf("filtered page:\n%s", body)
		}

		// Paging: 60 more entries make three pages of 50; the buttons re-post the filters.
		for i := 0; i < 60; i++ {
			if err := ta.db.Audit(ctx, &yipanqi.AuditEntry{Actor: "worker-b", OrgUnit: townshipB, Action: "case.view", Object: "c-" + itoa(int64(i))}); err != nil {
				t.Fatal(err)
			}
		}
		_, body = b.post("/audit", url.Values{"csrf": {b.csrf()}, "actor": {"worker-b"}})
		wantContains(t, body, `name="page" value="2"`, "c-59", `value="worker-b"`)
		if strings.Contains(body, ">c-9<") || strings.Contains(body, "上一页") {
			t.Fatalf("first page shows the 51st entry or a previous page")
		}
		_, body = b.post("/audit", url.Values{"csrf": {b.csrf()}, "actor": {"worker-b"}, "page": {"2"}})
		wantContains(t, body, "上一页", "第 2 页", ">c-9<", ">c-0<")
		if strings.Contains(body, "下一页") || strings.Contains(body, ">c-10<") {
			t.Fatalf("second page:\n%s", body)
		}

		// Verify (the whole node's chain: province level only): intact, then tampered with.
		if strings.Contains(body, "校验审计链") {
			t.Fatal("a county supervisor is offered the chain check")
		}
		if code, _ := b.post("/audit/verify", url.Values{"csrf": {b.csrf()}}); code != http.StatusForbidden {
			t.Fatalf("county supervisor verifying: %d", code)
		}
		b = ta.browser(t)
		b.mustLogin("admin")
		_, body = b.get("/audit")
		wantContains(t, body, "校验审计链")
		_, body = b.post("/audit", url.Values{"csrf": {b.csrf()}, "actor": {"worker-c"}})
		wantContains(t, body, web.MaskIDNumber(idElsewhere)) // the province sees every unit
		_, body = b.post("/audit/verify", url.Values{"csrf": {b.csrf()}})
		wantContains(t, body, "校验通过")
		first := auditEntries(t, ta.db, "person.view")[1] // the oldest
		if err := ta.db.ExecRaw(ctx, "UPDATE audit_log SET actor = 'someone' WHERE id = ?", first.ID); err != nil {
			t.Fatal(err)
		}
		_, body = b.post("/audit/verify", url.Values{"csrf": {b.csrf()}})
		wantContains(t, body, "校验未通过", "第 "+itoa(first.ID)+" 条")
	})
}

// TestAuditVerifySignedHeads: 校验审计链 checks the seals' signatures against the trust list
// (as yipanqi audit verify --trust does): it counts the entries signed heads cover, notes the
// ones none covers, and reports a chain rewritten without the node's key, which the hash chain
// alone passes.
func TestAuditVerifySignedHeads(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		addAdmin(t, ta)
		keys, err := demo.MakeKeys(t.TempDir(), []string{"43", "44"}, map[string]string{"43": "湖南", "44": "广东"}, ta.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		key := keys.Nodes["44"]
		ta.remount(t, web.Config{Trust: keys.Trust, KeyID: key.ID, Key: key})
		b := ta.browser(t)
		b.mustLogin("admin")
		b.get("/audit")

		// No signer on the store (a process without the key sealed): intact, nothing covered.
		_, body := b.post("/audit/verify", url.Values{"csrf": {b.csrf()}})
		wantContains(t, body, "校验通过", "其中 0 条由已签名的链头覆盖", "已签名 0 个（签名已按信任列表核验）", "尚无已签名的链头覆盖")

		// The node signs the heads it seals: every entry is covered.
		ta.db.SetAuditSigner(key.AuditSigner())
		_, body = b.post("/audit/verify", url.Values{"csrf": {b.csrf()}})
		wantContains(t, body, "校验通过", "签名已按信任列表核验")
		if strings.Contains(body, "尚无已签名的链头覆盖") || strings.Contains(body, "其中 0 条") {
			t.Fatalf("signed chain reported as uncovered:\n%s", body)
		}
		rep, err := ta.db.VerifyAuditSigned(context.Background(), sqlstore.AuditVerifyOptions{CheckSig: casework.AuditChecker(keys.Trust)})
		if err != nil || rep.Unsigned != 0 || rep.Signed == 0 {
			t.Fatalf("signed chain: %+v, %v", rep, err)
		}

		// Someone who can write the database but lacks the key removes the sign-in and
		// recomputes the hashes and the seal rows; the node then restarts (its sealer no longer
		// remembers the head it signed). The hashes pass; the old signatures do not.
		login := auditEntries(t, ta.db, "user.login")[0]
		ta.db.SetAuditSigner(nil)
		if err := storetest.RewriteAuditChain(ta.db, login.ID, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := ta.db.VerifyAudit(context.Background()); err != nil {
			t.Fatalf("hash-only verify of the rewrite: %v; want it to pass (what the signatures add)", err)
		}
		ta.db.SetAuditSigner(key.AuditSigner())
		_, body = b.post("/audit/verify", url.Values{"csrf": {b.csrf()}})
		wantContains(t, body, "校验未通过", "签名未通过核验", "请立即报告安全负责人")
		if strings.Contains(body, "校验通过") {
			t.Fatalf("rewritten chain passes:\n%s", body)
		}
		if e := auditEntries(t, ta.db, "audit.verify"); len(e) != 3 || e[0].Reason != "broken" {
			t.Fatalf("audit.verify entries = %d, newest %+v; want 3, the newest broken", len(e), e[0])
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// remount serves a new application on ta's store with cfg's administration fields.
func (ta *testApp) remount(t *testing.T, cfg web.Config) {
	t.Helper()
	cfg.Code, cfg.Name, cfg.BasePath, cfg.Store, cfg.Now, cfg.FailDelay = "44", "广东", ta.base, ta.db, ta.clock.Now, time.Nanosecond
	if cfg.PublicURL == "" {
		cfg.PublicURL = testPublicURL
	}
	app, err := web.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/44/", http.StripPrefix("/44", app))
	ta.srv = httptest.NewServer(mux)
	t.Cleanup(ta.srv.Close)
}

// TestAdminTrustAndCalendar: the trust list's keys and their validity, warnings as the list
// nears its next update and when the node's key is not on it; the calendar of an override
// file.
func TestAdminTrustAndCalendar(t *testing.T) {
	ta := startApp(t, storetest.SQLiteDSN(t), false)
	addAdmin(t, ta)
	keys, err := demo.MakeKeys(t.TempDir(), []string{"43", "44"}, map[string]string{"43": "湖南", "44": "广东"}, ta.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	mine := keys.Nodes["44"].ID
	holidays := filepath.Join(t.TempDir(), "holidays.txt")
	if err := os.WriteFile(holidays, []byte("year 2031\n2031-01-02 holiday 测试假日\n2031-01-04 workday 测试调休\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cal, err := calendar.Load(holidays)
	if err != nil {
		t.Fatal(err)
	}
	ta.remount(t, web.Config{Trust: keys.Trust, KeyID: mine, Calendar: cal, HolidaysFile: holidays})
	b := ta.browser(t)
	b.mustLogin("admin")
	_, body := b.get("/admin/trust")
	wantContains(t, body, "湖南（43）", "广东（44）", keys.Nodes["43"].ID, mine+"（本节点）", "有效")
	if strings.Contains(body, `role="alert"`) {
		t.Fatalf("warnings on a fresh trust list:\n%s", body)
	}
	ta.clock.Add(25 * 24 * time.Hour) // the list must be renewed within 30 days of issue
	b.mustLogin("admin")
	_, body = b.get("/admin/trust")
	wantContains(t, body, "即将到期", "请向区域获取新版信任列表")
	ta.clock.Add(10 * 24 * time.Hour)
	b.mustLogin("admin")
	_, body = b.get("/admin/trust")
	wantContains(t, body, "已过期")

	ta.remount(t, web.Config{Trust: keys.Trust, KeyID: "44-deadbeef"})
	b = ta.browser(t)
	b.mustLogin("admin")
	_, body = b.get("/admin/trust")
	wantContains(t, body, "44-deadbeef 不在信任列表中")

	ta.remount(t, web.Config{Calendar: cal, HolidaysFile: holidays})
	b = ta.browser(t)
	b.mustLogin("admin")
	_, body = b.get("/admin/calendar?year=2031")
	wantContains(t, body, "2031 年的节假日安排已载入", "2031-01-02 星期四", "2031-01-04 星期六", holidays, "测试假日")
	_, body = b.get("/admin/calendar?year=2099")
	wantContains(t, body, "2099 年的节假日安排尚未载入")
}

var newTokenOnPage = regexp.MustCompile(`id="new-token">(ypq_[A-Za-z0-9_-]+)<`)

// TestAdminUserPage: a new password set by the administrator ends the user's sessions; a token
// added on the page is shown once, works on the API and stops when revoked; a user of another
// province is not there.
func TestAdminUserPage(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		admin := addAdmin(t, ta)
		ctx := context.Background()
		// An administrator of 广州市 only: 湖南's users, and 广东's outside 广州, are not theirs.
		hash, _ := web.HashPassword(password)
		cityAdmin := &yipanqi.User{Username: "yuexiu-admin", OrgUnit: "440104", Role: yipanqi.RoleProvinceAdmin, PasswordHash: hash}
		if err := ta.db.CreateUser(ctx, cityAdmin); err != nil {
			t.Fatal(err)
		}
		wa := ta.users["worker-a"]
		page := "/admin/users/" + itoa(wa.ID)

		other := ta.browser(t)
		other.mustLogin("yuexiu-admin")
		if code, _ := other.get(page); code != http.StatusNotFound {
			t.Fatalf("an administrator of another subtree opened the user: %d", code)
		}
		other.get("/admin")
		if code, _ := other.post(page+"/password", url.Values{"csrf": {other.csrf()}, "password": {"another-pass-9"}, "confirm": {"another-pass-9"}}); code != http.StatusNotFound {
			t.Fatalf("password of a user of another subtree: %d", code)
		}

		b := ta.browser(t)
		b.mustLogin("admin")
		_, body := b.get(page)
		wantContains(t, body, "worker-a", "广州市天河区甲街道", "没有令牌")
		victim := ta.browser(t)
		victim.mustLogin("worker-a")

		code, body := b.post(page+"/password", url.Values{"csrf": {b.csrf()}, "password": {"short"}, "confirm": {"x"}})
		if code != http.StatusUnprocessableEntity {
			t.Fatalf("short password: %d", code)
		}
		wantContains(t, body, `id="f-password-err"`, `id="f-confirm-err"`)
		if _, body := b.post(page+"/password", url.Values{"csrf": {b.csrf()}, "password": {"another-pass-9"}, "confirm": {"another-pass-9"}}); !strings.Contains(body, "已设定新密码") {
			t.Fatalf("set password:\n%s", body)
		}
		if _, body := victim.get("/todo"); !strings.Contains(body, "会话已过期") {
			t.Fatal("the user's session lives on after the password was reset")
		}
		if code, _ := ta.browser(t).login("worker-a", "another-pass-9"); code != http.StatusOK {
			t.Fatalf("sign-in with the new password: %d", code)
		}
		if e := auditEntries(t, ta.db, "user.password"); len(e) != 1 || e[0].Actor != admin.Username || e[0].Object != "worker-a" {
			t.Fatalf("user.password entries = %+v", e)
		}

		// A token: a label is required; then shown once.
		if code, body := b.post(page+"/tokens", url.Values{"csrf": {b.csrf()}}); code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="f-label-err"`) {
			t.Fatalf("token without a label: %d", code)
		}
		_, body = b.post(page+"/tokens", url.Values{"csrf": {b.csrf()}, "label": {"天河区系统对接"}})
		m := newTokenOnPage.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no token on the page:\n%s", body)
		}
		token := m[1]
		if code, _ := ta.call(t, token, "GET", "/api/v1/todo", ""); code != http.StatusOK {
			t.Fatalf("the new token: %d", code)
		}
		if _, body := b.get(page); strings.Contains(body, token) || !strings.Contains(body, "天河区系统对接") {
			t.Fatal("the token is shown again, or its label is not")
		}
		toks, err := ta.db.APITokens(ctx, wa.ID)
		if err != nil || len(toks) != 1 {
			t.Fatalf("tokens: %v %v", toks, err)
		}
		// Revoking another user's token through this user's page: not found.
		if code, _ := b.post("/admin/users/"+itoa(ta.users["worker-b"].ID)+"/tokens/"+itoa(toks[0].ID)+"/revoke", url.Values{"csrf": {b.csrf()}}); code != http.StatusNotFound {
			t.Fatalf("revoke through another user: %d", code)
		}
		if _, body := b.post(page+"/tokens/"+itoa(toks[0].ID)+"/revoke", url.Values{"csrf": {b.csrf()}}); !strings.Contains(body, "已吊销令牌") {
			t.Fatalf("revoke:\n%s", body)
		}
		if code, _ := ta.call(t, token, "GET", "/api/v1/todo", ""); code != http.StatusUnauthorized {
			t.Fatalf("the revoked token: %d", code)
		}
		for _, action := range []string{"token.add", "token.revoke"} {
			if e := auditEntries(t, ta.db, action); len(e) != 1 || e[0].Actor != "admin" || e[0].Object != "worker-a" {
				t.Errorf("%s entries = %+v", action, e)
			}
		}
	})
}
