package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"yipanqi"
	"yipanqi/sqlstore/storetest"
)

// sendCase starts a verify.identity case about the region's person as worker-a and returns
// its id once the hometown holds it.
func sendCase(t *testing.T, rg *region, a *browser) string {
	t.Helper()
	a.get("/new/verify.identity")
	code, body := a.post("/new/verify.identity", url.Values{"csrf": {a.csrf()}, "action": {"send"},
		"f.id_number": {rg.person.IDNumber}, "peer_unit": {hometown}})
	m := caseURL.FindStringSubmatch(body)
	if code != 200 || m == nil {
		t.Fatalf("send: %d\n%s", code, body)
	}
	waitFor(t, "the hometown to receive the case", func() bool {
		return caseState(t, rg.apps["43"].db, "43", m[1]) == yipanqi.CaseDelivered
	})
	return m[1]
}

// TestWithdrawAndTransfer: the residence withdraws a case (a reason is required); the
// hometown transfers another to its other township, which then holds it.
func TestWithdrawAndTransfer(t *testing.T) {
	rg := startRegion(t, map[string]string{"44": storetest.SQLiteDSN(t), "43": storetest.SQLiteDSN(t)})
	res, home := rg.apps["44"], rg.apps["43"]
	a := res.browser(t)
	a.mustLogin("worker-a")

	id := sendCase(t, rg, a)
	a.get("/cases/" + id)
	wantContains(t, a.last, "撤回案件")
	code, body := a.post("/cases/"+id+"/withdraw", url.Values{"csrf": {a.csrf()}, "reason": {""}})
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="f-reason-err"`) {
		t.Fatalf("withdraw without a reason: %d\n%s", code, body)
	}
	if st := caseState(t, res.db, "44", id); st == yipanqi.CaseWithdrawn {
		t.Fatal("withdrawn without a reason")
	}
	code, body = a.post("/cases/"+id+"/withdraw", url.Values{"csrf": {a.csrf()}, "reason": {"人员已离开本地，无需核实"}})
	if code != 200 || !strings.Contains(body, "已撤回") {
		t.Fatalf("withdraw: %d\n%s", code, body)
	}
	waitFor(t, "the hometown's copy withdrawn", func() bool {
		return caseState(t, home.db, "43", id) == yipanqi.CaseWithdrawn
	})

	id = sendCase(t, rg, a)
	h := home.browser(t)
	h.mustLogin("home-worker")
	h.get("/cases/" + id)
	code, body = h.post("/cases/"+id+"/transfer", url.Values{"csrf": {h.csrf()}, "to_unit": {"440106001"}, "reason": {"转错"}})
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="f-to_unit-err"`) {
		t.Fatalf("transfer out of the node: %d\n%s", code, body)
	}
	code, body = h.post("/cases/"+id+"/transfer", url.Values{"csrf": {h.csrf()}, "to_unit": {hometown2}, "reason": {"户籍在桃花坪街道"}})
	if code != 200 || !strings.Contains(body, "本辖区收到") || strings.Contains(body, id) {
		t.Fatalf("after the transfer: %d, want the to-do list without the case\n%s", code, body)
	}
	o := home.browser(t)
	o.mustLogin("home-other")
	if code, body := o.get("/cases/" + id); code != 200 || !strings.Contains(body, "户籍在桃花坪街道") {
		t.Fatalf("the township the case went to: %d\n%s", code, body)
	}
	if code, _ := h.get("/cases/" + id); code != http.StatusNotFound {
		t.Fatalf("the township that transferred it still sees it: %d", code)
	}
}

// TestConsentRequired: a sensitive type (service.result) is refused without the person's
// recorded consent, the error next to the consent, what was typed kept, nothing stored.
func TestConsentRequired(t *testing.T) {
	rg := startRegion(t, map[string]string{"44": storetest.SQLiteDSN(t), "43": storetest.SQLiteDSN(t)})
	a := rg.apps["44"].browser(t)
	a.mustLogin("worker-a")
	_, body := a.get("/new/service.result")
	wantContains(t, body, "本人同意", "发送前须已登记本人的单独同意", `<select id="f-f-checkup_done"`)
	code, body := a.post("/new/service.result", url.Values{"csrf": {a.csrf()}, "action": {"send"},
		"f.id_number": {rg.person.IDNumber}, "f.service_kind": {"health_checkup"}, "f.service_date": {"2026-11-02"},
		"f.provider": {"天河区妇幼保健院"}, "f.checkup_done": {"true"}, "peer_unit": {hometown}})
	if code != http.StatusUnprocessableEntity {
		t.Fatalf("service.result without consent: %d\n%s", code, body)
	}
	wantContains(t, body, `id="f-consent-err"`, "天河区妇幼保健院")
	if n := countCases(t, rg.apps["44"], "44"); n != 0 {
		t.Fatalf("refused send stored %d cases", n)
	}
}

// TestCorrectedReply: 更正 needs at least one corrected field (the error lands at the first
// correction input); with one, the residence reads the correction.
func TestCorrectedReply(t *testing.T) {
	rg := startRegion(t, map[string]string{"44": storetest.SQLiteDSN(t), "43": storetest.SQLiteDSN(t)})
	a := rg.apps["44"].browser(t)
	a.mustLogin("worker-a")
	id := sendCase(t, rg, a)
	h := rg.apps["43"].browser(t)
	h.mustLogin("home-worker")
	h.get("/cases/" + id)
	code, body := h.post("/cases/"+id+"/reply", url.Values{"csrf": {h.csrf()}, "reply": {"corrected"}, "r.note": {"门牌有误"}})
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="f-corrected-r-corrected-id_number-err"`) {
		t.Fatalf("corrected without corrections: %d\n%s", code, body)
	}
	wantContains(t, body, "门牌有误")
	code, _ = h.post("/cases/"+id+"/reply", url.Values{"csrf": {h.csrf()}, "reply": {"corrected"},
		"r.corrected.hukou_address": {"湖南省邵阳市隆回县小沙江镇某村 4 号"}, "r.note": {"门牌有误"}})
	if code != 200 {
		t.Fatalf("corrected: %d", code)
	}
	waitFor(t, "the reply at the residence", func() bool {
		return caseState(t, rg.apps["44"].db, "44", id) == yipanqi.CaseReplied
	})
	_, body = a.get("/cases/" + id)
	wantContains(t, body, "答复：更正", "户籍地址：湖南省邵阳市隆回县小沙江镇某村 4 号", "门牌有误")
}
