package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"yipanqi"
	"yipanqi/casework"
	"yipanqi/sqlstore/storetest"
)

var (
	noticeLink = regexp.MustCompile(`href="/44/print/reissue/([0-9a-f-]{36})"`)
	certNumber = regexp.MustCompile(hometown + `-\d{4}-\d{6}-[0-9A-Z]{6}`)
)

// caseMessages is how many signed messages a node logged for a case.
func caseMessages(t *testing.T, ta *testApp, node, id string) int {
	t.Helper()
	scope, _ := yipanqi.NewScope(node)
	ms, err := ta.db.CaseMessages(context.Background(), scope, id)
	if err != nil {
		t.Fatal(err)
	}
	return len(ms)
}

// TestReissueThroughPages plays a 婚育证明补办 through the pages of both nodes: 发起 at the
// residence gives the 《限期补办通知书》 (on the timeline, printable with the engine's deadline);
// the hometown cannot answer with an unknown or unposted certificate (the error next to the
// number, nothing stored), issues one from the case, records its posting and answers with it;
// the residence cannot record the hand-over before the arrival, records both (the case
// closes), and its registry then shows the certificate as seen.
func TestReissueThroughPages(t *testing.T) {
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

		// The residence starts it: the person looked up from the registry, the notice given.
		a := res.browser(t)
		a.mustLogin("worker-a")
		_, body := a.get("/new/cert.reissue")
		wantContains(t, body, "《限期补办通知书》")
		code, body := a.post("/new/cert.reissue", url.Values{"csrf": {a.csrf()}, "action": {"send"}, "f.id_number": {id},
			"f.post_to": {townshipA}})
		if code != 200 {
			t.Fatalf("send: %d\n%s", code, body)
		}
		m := caseURL.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no case on the page after sending:\n%s", body)
		}
		caseID := m[1]
		wantContains(t, body, "婚育证明补办", "已发《限期补办通知书》", "本人期限至")
		scope44, _ := yipanqi.NewScope("44")
		c, err := res.db.FindCase(context.Background(), scope44, caseID)
		if err != nil {
			t.Fatal(err)
		}
		var req struct {
			Number string `json:"notice_number"`
			Date   string `json:"notice_date"`
		}
		if err := json.Unmarshal(c.Data, &req); err != nil || req.Number == "" {
			t.Fatalf("the request carries no notice: %s (%v)", c.Data, err)
		}
		noticeDate, err := yipanqi.ParseDate(req.Date)
		if err != nil {
			t.Fatal(err)
		}
		deadline := noticeDate.AddDays(casework.DefaultReissueNoticeDays) // the engine's, as the node is configured
		wantContains(t, body, req.Number, "本人期限至 "+deadline.String())
		// The print: the case's own notice — its number, its date, the engine's deadline.
		nl := noticeLink.FindStringSubmatch(body)
		if nl == nil || nl[1] != caseID {
			t.Fatalf("no print link of the case's notice:\n%s", body)
		}
		code, body = a.get("/print/reissue/" + caseID)
		if code != 200 {
			t.Fatalf("print notice: %d\n%s", code, body)
		}
		wantContains(t, body, "限期补办通知书", req.Number, printedDate(noticeDate), printedDate(deadline))
		if code, _ := a.get("/print/reissue/01a22000-0000-7000-8000-000000000000"); code != http.StatusNotFound {
			t.Fatalf("print of an unknown case's notice: %d, want 404", code)
		}
		_, found := a.post("/people", url.Values{"csrf": {a.csrf()}, "id_number": {id}})
		pm := regexp.MustCompile(`href="/44(/people/\d+)"`).FindStringSubmatch(found)
		if pm == nil {
			t.Fatalf("the person is not found in the residence's registry:\n%s", found)
		}
		personPath := pm[1]

		// The hometown receives it.
		waitFor(t, "the hometown to receive the case", func() bool { return caseState(t, home.db, "43", caseID) == yipanqi.CaseDelivered })
		h := home.browser(t)
		h.mustLogin("home-worker")
		_, body = h.get("/cases/" + caseID)
		wantContains(t, body, "以已签发并已寄出的婚育证明答复", "本单位尚未给当事人签发婚育证明", "为当事人签发婚育证明",
			"答复：不予补办") // the refusal stays on the generic form
		if strings.Contains(body, `name="r.tracking_number"`) {
			t.Fatal("the generic form of “已补办” is still offered: it would bypass the registry")
		}
		msgs := caseMessages(t, home, "43", caseID)
		answer := func(number string) (int, string) {
			return h.post("/cases/"+caseID+"/reply", url.Values{"csrf": {h.csrf()}, "reply": {"issued"}, "r.cert_number": {number}})
		}
		unknown := hometown + "-2026-999999"
		code, body = answer(unknown)
		if code != http.StatusUnprocessableEntity {
			t.Fatalf("an unknown certificate: %d", code)
		}
		wantContains(t, body, `id="f-issued-r-cert_number-err"`, "未登记", `value="`+unknown+`"`)
		code, _ = answer("")
		if code != http.StatusUnprocessableEntity {
			t.Fatalf("no number: %d", code)
		}
		if st := caseState(t, home.db, "43", caseID); st != yipanqi.CaseDelivered || caseMessages(t, home, "43", caseID) != msgs {
			t.Fatalf("a refused answer changed the case: %s, %d messages (had %d)", st, caseMessages(t, home, "43", caseID), msgs)
		}

		// Issue from the case: the form filled in from the request, the ID number posted.
		code, body = h.post("/cases/"+caseID+"/issue_cert", url.Values{"csrf": {h.csrf()}})
		if code != 200 {
			t.Fatalf("certificate form from the case: %d\n%s", code, body)
		}
		wantContains(t, body, `action="/43/certs/new"`, `value="`+id+`"`, `value="`+rg.person.Name+`"`)
		today := yipanqi.DateOf(rg.clock.Now().In(peopleZone))
		code, body = h.post("/certs/new", url.Values{"csrf": {h.csrf()}, "action": {"issue"}, "kind": {"issued"}, "id_number": {id},
			"holder_name": {rg.person.Name}, "hukou_address": {rg.person.HukouAddress}, "marital_status": {string(yipanqi.FirstMarried)},
			"issued_on": {today.String()}, "valid_until": {today.AddDays(3 * 365).String()}})
		number := certNumber.FindString(body)
		if code != 200 || number == "" {
			t.Fatalf("issue: %d\n%s", code, body)
		}
		// Issued, not posted: refused, the case page says so and links the certificate.
		code, body = answer(number)
		if code != http.StatusUnprocessableEntity {
			t.Fatalf("an unposted certificate: %d", code)
		}
		wantContains(t, body, `id="f-issued-r-cert_number-err"`, "尚未登记寄送", `href="/43/certs/`+number+`"`)
		if st := caseState(t, home.db, "43", caseID); st != yipanqi.CaseDelivered || caseMessages(t, home, "43", caseID) != msgs {
			t.Fatalf("answering with an unposted certificate changed the case: %s", st)
		}
		tracking := "EMS-1234567"
		code, body = h.post("/certs/"+number+"/posting", url.Values{"csrf": {h.csrf()}, "posted_to": {townshipA},
			"tracking_number": {tracking}, "posted_on": {today.String()}})
		if code != 200 {
			t.Fatalf("posting: %d\n%s", code, body)
		}
		_, body = h.get("/cases/" + caseID)
		wantContains(t, body, tracking, `value="`+number+`"`) // the posted certificate is offered
		code, body = answer(number)
		if code != 200 {
			t.Fatalf("answer: %d\n%s", code, body)
		}
		wantContains(t, body, "答复：已补办", number, tracking)

		// The residence: the answer, then arrival and hand-over.
		waitFor(t, "the answer at the residence", func() bool { return caseState(t, res.db, "44", caseID) == yipanqi.CaseReplied })
		_, body = a.get("/cases/" + caseID)
		wantContains(t, body, "答复：已补办", number, "记录寄达", "记录交付本人", `id="f-cert_arrived-arrived_on"`)
		code, body = a.post("/cases/"+caseID+"/handed_over", url.Values{"csrf": {a.csrf()}, "handed_on": {today.String()}})
		if code != http.StatusUnprocessableEntity {
			t.Fatalf("hand-over before arrival: %d", code)
		}
		wantContains(t, body, `id="f-handed_over-handed_on-err"`, "须先登记")
		if st := caseState(t, res.db, "44", caseID); st != yipanqi.CaseReplied || strings.Contains(body, "婚育证明已交本人") {
			t.Fatalf("a refused hand-over was recorded: %s", st)
		}
		tomorrow := today.AddDays(1)
		code, body = a.post("/cases/"+caseID+"/cert_arrived", url.Values{"csrf": {a.csrf()}, "arrived_on": {tomorrow.String()}})
		if code != http.StatusUnprocessableEntity {
			t.Fatalf("arrival tomorrow: %d", code)
		}
		wantContains(t, body, `id="f-cert_arrived-arrived_on-err"`, "不能晚于今天", `value="`+tomorrow.String()+`"`)
		code, body = a.post("/cases/"+caseID+"/cert_arrived", url.Values{"csrf": {a.csrf()}, "arrived_on": {today.String()}})
		if code != 200 {
			t.Fatalf("arrival: %d\n%s", code, body)
		}
		wantContains(t, body, "婚育证明已寄达", tracking, "已登记入本地证明库")
		if strings.Contains(body, `id="f-cert_arrived-arrived_on"`) {
			t.Fatal("the arrival form is still offered after the arrival")
		}
		code, body = a.post("/cases/"+caseID+"/handed_over", url.Values{"csrf": {a.csrf()}, "handed_on": {today.String()}})
		if code != 200 {
			t.Fatalf("hand-over: %d\n%s", code, body)
		}
		wantContains(t, body, "婚育证明已交本人")
		if st := caseState(t, res.db, "44", caseID); st != yipanqi.CaseClosed {
			t.Fatalf("after the hand-over the case is %s, want closed", st)
		}
		if strings.Contains(body, "记录交付本人</button>") || strings.Contains(body, "打印《限期补办通知书》") {
			t.Fatal("a closed case still offers a step or the notice")
		}

		// The residence's registry shows the certificate as seen: the person's page and the
		// look-up by the POSTed ID number.
		_, body = a.get(personPath)
		wantContains(t, body, number, yipanqi.CertSeen.Label())
		a.get("/certs")
		_, body = a.post("/certs/list", url.Values{"csrf": {a.csrf()}, "id_number": {id}})
		wantContains(t, body, number)
	})
}
