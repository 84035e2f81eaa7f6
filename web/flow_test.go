package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"yipanqi"
	"yipanqi/sqlstore/storetest"
)

var caseURL = regexp.MustCompile(`/cases/([0-9a-f-]{36})`)

// countCases is how many cases a node holds.
func countCases(t *testing.T, ta *testApp, node string) int {
	t.Helper()
	scope, _ := yipanqi.NewScope(node)
	_, n, err := ta.db.ListCases(context.Background(), scope, yipanqi.CaseFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCaseFlow plays both sides of a verify.identity case through the pages: start it at the
// residence (looking the person up, with a form error first), answer "not found" at the
// hometown (without a reason first), and read the answer at the residence; and checks that
// nobody outside the units' subtrees can see it.
func TestCaseFlow(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		dsns := map[string]string{"44": dsn}
		if strings.HasPrefix(dsn, "sqlite:") {
			dsns["43"] = storetest.SQLiteDSN(t)
		} else {
			dsns["43"] = storetest.PostgresDSN(t)
		}
		rg := startRegion(t, dsns)
		res, home := rg.apps["44"], rg.apps["43"]
		id := rg.person.IDNumber

		a := res.browser(t)
		a.mustLogin("worker-a")
		_, body := a.get("/new")
		wantContains(t, body, "身份住址核实", `href="/44/new/verify.identity"`)
		_, body = a.get("/new/verify.identity")
		wantContains(t, body, `<label for="f-f-id_number">公民身份号码`, `name="csrf"`)

		// Look the person up: the name, hukou and addressee are filled in.
		code, body := a.post("/new/verify.identity", url.Values{"csrf": {a.csrf()}, "action": {"lookup"}, "f.id_number": {id}})
		if code != 200 {
			t.Fatalf("lookup: %d\n%s", code, body)
		}
		wantContains(t, body, `value="测试乙"`, `value="430524101"`, "小沙江镇某村")

		// Too long a reason: refused next to the field, what was typed kept, nothing sent.
		long := strings.Repeat("核", 201)
		code, body = a.post("/new/verify.identity", url.Values{"csrf": {a.csrf()}, "action": {"send"}, "f.id_number": {id},
			"f.name": {"测试乙"}, "f.reason": {long}, "peer_unit": {hometown}})
		if code != http.StatusUnprocessableEntity {
			t.Fatalf("over-long reason: %d", code)
		}
		wantContains(t, body, "不得超过 200 个字", long, `value="`+id+`"`, `<a href="#f-f-reason">核实事由：`)
		if n := countCases(t, res, "44"); n != 0 {
			t.Fatalf("a refused form stored %d cases", n)
		}
		// Without the CSRF token: 403, nothing sent.
		code, _ = a.post("/new/verify.identity", url.Values{"action": {"send"}, "f.id_number": {id}, "peer_unit": {hometown}})
		if code != http.StatusForbidden || countCases(t, res, "44") != 0 {
			t.Fatalf("post without CSRF token: %d, %d cases", code, countCases(t, res, "44"))
		}

		a.get("/new/verify.identity")
		code, body = a.post("/new/verify.identity", url.Values{"csrf": {a.csrf()}, "action": {"send"}, "f.id_number": {id},
			"f.name": {"测试乙"}, "f.reason": {"办理居住证核实户籍"}})
		if code != 200 {
			t.Fatalf("send: %d\n%s", code, body)
		}
		m := caseURL.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no case on the page after sending:\n%s", body)
		}
		caseID := m[1]
		wantContains(t, body, "身份住址核实", "办理居住证核实户籍", "邵阳市隆回县小沙江镇")
		waitFor(t, "the hometown to receive the case", func() bool { return caseState(t, home.db, "43", caseID) == yipanqi.CaseDelivered })
		waitFor(t, "the residence to get the receipt", func() bool {
			_, body := a.get("/cases/" + caseID)
			return strings.Contains(body, "签收回执")
		})

		// Jurisdiction: another township, another county, the other hometown township: 404.
		for _, who := range []struct {
			app  *testApp
			user string
		}{{res, "worker-b"}, {res, "worker-c"}, {home, "home-other"}} {
			b := who.app.browser(t)
			b.mustLogin(who.user)
			if code, _ := b.get("/cases/" + caseID); code != http.StatusNotFound {
				t.Fatalf("%s opened the case: %d", who.user, code)
			}
			if _, body := b.get("/todo"); strings.Contains(body, caseID) {
				t.Fatalf("%s sees the case in the to-do list", who.user)
			}
		}
		// worker-b cannot find a person of worker-a's township by ID number either.
		b := res.browser(t)
		b.mustLogin("worker-b")
		b.get("/new/verify.identity")
		_, body = b.post("/new/verify.identity", url.Values{"csrf": {b.csrf()}, "action": {"lookup"}, "f.id_number": {id}})
		wantContains(t, body, "本辖区登记的流动人口中没有这个公民身份号码")
		if strings.Contains(body, "测试乙") {
			t.Fatal("another township's person shown")
		}
		// The county supervisor sees it.
		c := res.browser(t)
		c.mustLogin("county")
		if code, _ := c.get("/cases/" + caseID); code != 200 {
			t.Fatalf("county supervisor: %d", code)
		}

		// The hometown: the case is in the to-do list with its badge.
		h := home.browser(t)
		h.mustLogin("home-worker")
		_, body = h.get("/todo")
		wantContains(t, body, "/43/cases/"+caseID, "剩余")
		_, body = h.get("/cases/" + caseID)
		wantContains(t, body, "答复：查无此人", "无此户籍", "已迁出", "身份证号码有误")
		// Not found without a reason: the error next to the reason field, the note kept.
		code, body = h.post("/cases/"+caseID+"/reply", url.Values{"csrf": {h.csrf()}, "reply": {"not_found"}, "r.note": {"已查户籍底册"}})
		if code != http.StatusUnprocessableEntity {
			t.Fatalf("not_found without reason: %d", code)
		}
		wantContains(t, body, `id="f-not_found-r-reason-err"`, "“查无此人”答复必须说明原因", "已查户籍底册")
		if st := caseState(t, home.db, "43", caseID); st != yipanqi.CaseDelivered {
			t.Fatalf("refused reply changed the case to %s", st)
		}
		// 其他 without the explanation.
		_, body = h.post("/cases/"+caseID+"/reply", url.Values{"csrf": {h.csrf()}, "reply": {"not_found"}, "r.reason": {"other"}})
		wantContains(t, body, `id="f-not_found-r-reason_text-err"`, "具体原因")
		code, body = h.post("/cases/"+caseID+"/reply", url.Values{"csrf": {h.csrf()}, "reply": {"not_found"},
			"r.reason": {"no_record"}, "r.note": {"已查户籍底册"}})
		if code != 200 {
			t.Fatalf("reply: %d\n%s", code, body)
		}
		wantContains(t, body, "答复：查无此人", "无此户籍", "已答复")

		// The residence reads the answer.
		waitFor(t, "the reply at the residence", func() bool { return caseState(t, res.db, "44", caseID) == yipanqi.CaseReplied })
		_, body = a.get("/cases/" + caseID)
		wantContains(t, body, "答复：查无此人", "无此户籍", "已查户籍底册", "收到答复", "按期答复")
		// The raw envelope, on demand.
		mm := regexp.MustCompile(`/44/cases/` + caseID + `/messages/([0-9a-f-]{36})`).FindStringSubmatch(body)
		if mm == nil {
			t.Fatalf("no message link:\n%s", body)
		}
		_, body = a.get("/cases/" + caseID + "/messages/" + mm[1])
		wantContains(t, body, "ypqsig", "cn.ypq.", "ypq:node:")
	})
}
