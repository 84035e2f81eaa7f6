package web_test

import (
	"net/http"
	"strings"
	"testing"

	"yipanqi"
)

// supervisionFixture: cases of 天河区's two townships and of 越秀区, received on Monday
// 2026-03-02 and looked at on Friday 13th, when the certificate requests (7 working days,
// due the 11th) are overdue and escalated to the county, and the identity checks (15 working
// days) are still open.
func supervisionFixture(t *testing.T, ta *testApp) (idA string) {
	t.Helper()
	idA = person("440106", 1)
	ta.receive(t, "verify.identity", townshipA, idA)
	ta.receive(t, "cert.reissue", townshipA, person("440106", 3))
	ta.receive(t, "cert.reissue", townshipB, "")
	ta.receive(t, "cert.reissue", otherCity, person("440104", 5))
	ta.receive(t, "verify.identity", otherCity, "")
	ta.sweep(t)
	ta.setClock(t, "2026-03-13 10:00")
	ta.sweep(t)
	return idA
}

func TestSupervision(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		ta.addUser(t, "city", "4401", yipanqi.RoleCitySupervisor)
		idA := supervisionFixture(t, ta)

		// A township worker has no 督办: their own cases are their 待办.
		w := ta.browser(t)
		w.mustLogin("worker-a")
		if strings.Contains(w.last, `href="/44/supervise"`) {
			t.Error("a township worker's navigation offers 督办")
		}
		code, _ := w.get("/supervise")
		wantStatus(t, code, http.StatusForbidden, "worker /supervise")

		b := ta.browser(t)
		b.mustLogin("county")
		code, body := b.get("/supervise")
		wantStatus(t, code, 200, "county /supervise")
		wantContains(t, body, "督办 · 广州市天河区", "广州市天河区甲街道", "广州市天河区乙街道", "婚育证明补办", "身份住址核实")
		if strings.Contains(body, "越秀区") {
			t.Fatalf("the county's board shows another county:\n%s", body)
		}
		if _, n := linkCount(t, body, "合计 未办结"); n != 3 {
			t.Errorf("county open total = %d, want 3", n)
		}
		overdueA, n := linkCount(t, body, "广州市天河区甲街道 已超期")
		if n != 1 {
			t.Errorf("township A overdue = %d, want 1", n)
		}
		// The escalated cases reached the county: both overdue certificate requests.
		wantContains(t, body, "已上报到本级督办的案件共", "<strong>2</strong> 件")

		// Every figure leads to exactly that many cases.
		for _, label := range []string{"合计 未办结", "合计 已超期", "广州市天河区甲街道 未办结", "广州市天河区乙街道 已超期", "婚育证明补办 未办结"} {
			href, n := linkCount(t, body, label)
			code, list := b.get(href)
			wantStatus(t, code, 200, href)
			if got := casesListed(list); got != n {
				t.Errorf("%s: figure %d, drill-down lists %d cases", label, n, got)
			}
			if strings.Contains(list, "越秀区") {
				t.Errorf("%s lists a case of another county", label)
			}
		}
		_, list := b.get(overdueA)
		wantContains(t, list, "已超期的案件", "单位：广州市天河区甲街道", "婚育证明补办", "440106********")
		_, list = b.get("/supervise/cases?unit=" + townshipA)
		if strings.Contains(list, idA) || !strings.Contains(list, idA[:6]+"********"+idA[14:]) {
			t.Errorf("the drill-down does not mask the ID number:\n%s", list)
		}
		// Another county's unit, asked for by hand, is refused.
		code, _ = b.get("/supervise/cases?unit=440104")
		if code != http.StatusBadRequest && code != http.StatusNotFound {
			t.Errorf("another county's cases: status %d", code)
		}
		code, _ = b.get("/supervise/cases?status=nonsense")
		wantStatus(t, code, http.StatusBadRequest, "bad status")
		// The drill-down is a read of cases: audited.
		log, err := ta.db.AuditLog(t.Context(), "", 50)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range log {
			found = found || e.Action == "case.supervise" && e.Actor == "county"
		}
		if !found {
			t.Error("no case.supervise audit entry after the drill-down")
		}

		// The city sees both counties.
		c := ta.browser(t)
		c.mustLogin("city")
		_, body = c.get("/supervise")
		wantContains(t, body, "广州市天河区", "广州市越秀区")
		if _, n := linkCount(t, body, "合计 未办结"); n != 5 {
			t.Errorf("city open total = %d, want 5", n)
		}
	})
}
