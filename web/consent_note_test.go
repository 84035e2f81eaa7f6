package web_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"yipanqi/sqlstore/storetest"
)

// TestNewCaseConsentNote: on 发起 service.result, the person's lookup says whether a live
// consent for the type and the addressee is on record, linking the person's page when not;
// once recorded there, the note gives way to the consent found, and after a revocation it is
// back. A type without consent has no such block.
func TestNewCaseConsentNote(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		a1, _, _ := withPeople(t, ta)
		b := ta.browser(t)
		b.mustLogin("worker-a")
		person := openPerson(t, b, a1)
		lookup := func() string {
			t.Helper()
			b.get("/new/service.result")
			code, body := b.post("/new/service.result", url.Values{"csrf": {b.csrf()}, "action": {"lookup"},
				"f.id_number": {a1.IDNumber}, "f.provider": {"天河区妇幼保健院"}})
			wantStatus(t, code, 200, "lookup")
			wantContains(t, body, "天河区妇幼保健院", a1.Name)
			return body
		}
		before := auditCount(t, ta, a1.IDNumber, "person.consents", "worker-a")
		body := lookup()
		wantContains(t, body, `id="consent-missing"`, "尚未登记本人同意", `<a href="/44`+person+`">打开本人的人员页面登记同意</a>`)
		if n := auditCount(t, ta, a1.IDNumber, "person.consents", "worker-a"); n != before+1 {
			t.Errorf("reading the consents for the note: person.consents %d → %d, want one more", before, n)
		}

		// Recorded on the person's page: the lookup finds it.
		b.get(person)
		code, _ := b.post(person+"/consents", url.Values{"csrf": {b.csrf()}, "c.case_type": {"service.result"},
			"c.recipient": {a1.HukouCode}, "c.given_at": {"2026-03-02T10:00"}, "c.purpose": {"免于返乡查验"}})
		wantStatus(t, code, 200, "record the consent")
		consents, err := ta.db.Consents(t.Context(), peopleScope(t, townshipA), a1.IDNumber)
		if err != nil || len(consents) != 1 {
			t.Fatalf("consents: %d, %v", len(consents), err)
		}
		body = lookup()
		if strings.Contains(body, `id="consent-missing"`) {
			t.Fatalf("the note is shown with a consent on record:\n%s", body)
		}
		wantContains(t, body, "已登记本人的单独同意（同意书 "+strconv.FormatInt(consents[0].ID, 10))

		// Revoked: the note is back.
		b.get(person)
		id := strconv.FormatInt(consents[0].ID, 10)
		code, _ = b.post(person+"/consents/"+id+"/revoke", url.Values{"csrf": {b.csrf()}, "r" + id + ".reason": {"本人申请撤回"}})
		wantStatus(t, code, 200, "revoke")
		wantContains(t, lookup(), `id="consent-missing"`)

		// A type that needs no consent has no consent block.
		b.get("/new/verify.identity")
		_, body = b.post("/new/verify.identity", url.Values{"csrf": {b.csrf()}, "action": {"lookup"}, "f.id_number": {a1.IDNumber}})
		if strings.Contains(body, "本人同意") {
			t.Error("verify.identity shows a consent block")
		}
	})
}

// TestNewCaseConsentSend: through the engine, a send without consent is refused with the
// error and the note at the consent block; after the consent is recorded it goes.
func TestNewCaseConsentSend(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		dsns := map[string]string{"44": dsn}
		if strings.HasPrefix(dsn, "sqlite:") {
			dsns["43"] = storetest.SQLiteDSN(t)
		} else {
			dsns["43"] = storetest.PostgresDSN(t)
		}
		rg := startRegion(t, dsns)
		res := rg.apps["44"]
		b := res.browser(t)
		b.mustLogin("worker-a")
		form := func() url.Values {
			return url.Values{"csrf": {b.csrf()}, "action": {"send"}, "f.id_number": {rg.person.IDNumber},
				"f.service_kind": {"health_checkup"}, "f.service_date": {"2026-01-05"}, "f.provider": {"天河区妇幼保健院"},
				"f.checkup_done": {"true"}, "peer_unit": {hometown}}
		}
		b.get("/new/service.result")
		code, body := b.post("/new/service.result", form())
		wantStatus(t, code, http.StatusUnprocessableEntity, "send without consent")
		wantContains(t, body, `id="f-consent-err"`, `id="consent-missing"`, "天河区妇幼保健院")
		if n := countCases(t, res, "44"); n != 0 {
			t.Fatalf("a refused send stored %d cases", n)
		}
		person := openPerson(t, b, rg.person)
		given := rg.clock.Now().Add(-time.Hour).In(peopleZone).Format("2006-01-02T15:04")
		code, _ = b.post(person+"/consents", url.Values{"csrf": {b.csrf()}, "c.case_type": {"service.result"},
			"c.recipient": {hometown}, "c.given_at": {given}, "c.purpose": {"免于返乡查验"}})
		wantStatus(t, code, 200, "record the consent")
		b.get("/new/service.result")
		code, body = b.post("/new/service.result", form())
		if code != 200 || caseURL.FindStringSubmatch(body) == nil {
			t.Fatalf("send with consent: %d\n%s", code, body)
		}
		if n := countCases(t, res, "44"); n != 1 {
			t.Fatalf("44 holds %d cases after the send", n)
		}
	})
}
