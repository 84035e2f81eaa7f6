package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"yipanqi"
	"yipanqi/sqlstore/storetest"
	"yipanqi/web"
	"yipanqi/web/print"
)

// personLink is the address of a person's page in a list: the opaque row id.
var personLink = regexp.MustCompile(`href="/44/people/([0-9]+)"`)

// peopleZone is China's time, in which dates are printed.
var peopleZone = yipanqi.Shanghai

// printedDate is a date as the printed documents write it: 2026年4月1日.
func printedDate(d yipanqi.Date) string {
	return strconv.Itoa(d.Year) + "年" + strconv.Itoa(int(d.Month)) + "月" + strconv.Itoa(d.Day) + "日"
}

func peopleScope(t *testing.T, unit string) yipanqi.Scope {
	t.Helper()
	s, err := yipanqi.NewScope(unit)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// withPeople imports two people into township A and one into township B and returns them.
func withPeople(t *testing.T, ta *testApp) (a1, a2, b1 *yipanqi.Person) {
	t.Helper()
	a1, a2, b1 = storetest.NewPerson(1, townshipA), storetest.NewPerson(2, townshipA), storetest.NewPerson(3, townshipB)
	a2.Phone = "13912345678"
	storetest.MustImport(t, ta.db, a1, a2, b1)
	return a1, a2, b1
}

// auditCount counts the audit entries about object with the action, by actor ("" for any).
func auditCount(t *testing.T, ta *testApp, object, action, actor string) int {
	t.Helper()
	log, err := ta.db.AuditLog(context.Background(), object, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range log {
		if e.Action == action && (actor == "" || e.Actor == actor) {
			n++
		}
	}
	return n
}

// openPerson searches for the person by ID number as the signed-in user and opens their page
// by the link of the list; it returns the page's path.
func openPerson(t *testing.T, b *browser, p *yipanqi.Person) string {
	t.Helper()
	b.get("/people")
	code, body := b.post("/people", url.Values{"csrf": {b.csrf()}, "id_number": {p.IDNumber}})
	m := personLink.FindStringSubmatch(body)
	if code != 200 || m == nil {
		t.Fatalf("search for a person: %d, no link\n%s", code, body)
	}
	path := "/people/" + m[1]
	if code, body := b.get(path); code != 200 || !strings.Contains(body, p.IDNumber) {
		t.Fatalf("person page: %d\n%s", code, body)
	}
	return path
}

func TestPeopleSearch(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		a1, a2, b1 := withPeople(t, ta)
		b := ta.browser(t)
		b.mustLogin("worker-a")
		code, body := b.get("/people")
		if code != 200 {
			t.Fatalf("GET /people: %d", code)
		}
		wantContains(t, body, "人员", `<label for="f-id_number">公民身份号码`, `method="post"`)

		// A search by name: the township's people, masked; not the other township's.
		code, body = b.post("/people", url.Values{"csrf": {b.csrf()}, "name": {"测试"}})
		if code != 200 {
			t.Fatalf("search: %d\n%s", code, body)
		}
		wantContains(t, body, a1.Name, a2.Name, web.MaskIDNumber(a1.IDNumber), web.MaskIDNumber(a2.IDNumber),
			print.MaskPhone(a2.Phone), "共 2 人")
		for _, full := range []string{a1.IDNumber, a2.IDNumber, a2.Phone, b1.IDNumber, web.MaskIDNumber(b1.IDNumber)} {
			if strings.Contains(body, full) {
				t.Fatalf("the list shows %q (unmasked, or out of scope)", full)
			}
		}
		if got := len(personLink.FindAllString(body, -1)); got != 2 {
			t.Fatalf("list links to %d people, want 2", got)
		}
		// The search is audited by the store, in the user's name; the ID number is never in a link.
		if n := auditCount(t, ta, "", "people.search", "worker-a"); n == 0 {
			t.Fatal("no people.search audit entry after a search")
		}
		if strings.Contains(body, "?id_number=") || strings.Contains(body, "name=%") {
			t.Fatal("a search filter appears in a link")
		}

		// Errors next to the field, the input kept, no list.
		code, body = b.post("/people", url.Values{"csrf": {b.csrf()}, "id_number": {"44010619900101123"}, "unit": {otherCity},
			"name": {"测试"}})
		if code != http.StatusUnprocessableEntity {
			t.Fatalf("bad filters: %d", code)
		}
		wantContains(t, body, `id="f-unit-err"`, "不在您的管辖范围内", `value="`+otherCity+`"`, `id="f-id_number-err"`,
			`value="44010619900101123"`, `value="测试"`)
		if strings.Contains(body, web.MaskIDNumber(a1.IDNumber)) {
			t.Fatal("a search with errors listed people")
		}
		// The county sees both townships; narrowed to township B, only B's person.
		c := ta.browser(t)
		c.mustLogin("county")
		c.get("/people")
		_, body = c.post("/people", url.Values{"csrf": {c.csrf()}, "unit": {townshipB}})
		wantContains(t, body, web.MaskIDNumber(b1.IDNumber), "共 1 人")
		if strings.Contains(body, web.MaskIDNumber(a1.IDNumber)) {
			t.Fatal("narrowing to township B listed township A's person")
		}
	})
}

func TestPersonPageScope(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		a1, _, b1 := withPeople(t, ta)
		wa := ta.browser(t)
		wa.mustLogin("worker-a")
		views := auditCount(t, ta, a1.IDNumber, "person.view", "worker-a")
		path := openPerson(t, wa, a1)
		wantContains(t, wa.last, a1.Name, a1.IDNumber, a1.Phone, "流动记录", "婚育证明", "本人单独同意", "与此人有关的交换事项")
		if auditCount(t, ta, a1.IDNumber, "person.view", "worker-a") <= views {
			t.Fatal("opening the person page wrote no person.view entry")
		}
		// Township B guesses the id (and the ids around it): 404, and nothing logged as seen.
		wb := ta.browser(t)
		wb.mustLogin("worker-b")
		id := strings.TrimPrefix(path, "/people/")
		for _, p := range []string{path, "/people/" + id + "0", "/people/abc", "/print/copy/" + id, "/print/notice/" + id} {
			if code, body := wb.get(p); code != http.StatusNotFound || strings.Contains(body, a1.IDNumber) {
				t.Fatalf("worker-b GET %s: %d", p, code)
			}
		}
		if n := auditCount(t, ta, a1.IDNumber, "person.view", "worker-b"); n != 0 {
			t.Fatalf("worker-b's guesses wrote %d person.view entries", n)
		}
		// And B sees B's own person.
		openPerson(t, wb, b1)
	})
}

func TestPersonForms(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		a1, _, _ := withPeople(t, ta)
		b := ta.browser(t)
		b.mustLogin("worker-a")
		path := openPerson(t, b, a1)

		// A move with errors: each next to its field, the input kept, nothing saved.
		code, body := b.post(path+"/flow", url.Values{"csrf": {b.csrf()}, "f.kind": {"moved_on"}, "f.on": {"2030-01-01"},
			"f.note": {"去深圳"}})
		if code != http.StatusUnprocessableEntity {
			t.Fatalf("bad move: %d", code)
		}
		wantContains(t, body, `id="f-f-on-err"`, "不能晚于今天", `value="2030-01-01"`, `id="f-f-to_code-err"`, `value="去深圳"`)
		if n := auditCount(t, ta, a1.IDNumber, "person.flow", ""); n != 0 {
			t.Fatalf("a refused move was recorded (%d person.flow entries)", n)
		}
		// A departure: recorded, shown, audited.
		today := ta.clock.Now().In(peopleZone).Format("2006-01-02")
		code, body = b.post(path+"/flow", url.Values{"csrf": {b.csrf()}, "f.kind": {"left"}, "f.on": {today}, "f.note": {"回乡探亲"}})
		if code != 200 {
			t.Fatalf("departure: %d\n%s", code, body)
		}
		wantContains(t, body, "离开", "回乡探亲")
		if auditCount(t, ta, a1.IDNumber, "person.flow", "worker-a") != 1 {
			t.Fatal("no person.flow audit entry")
		}

		// A consent: the recipient wrong first, then right; then revoked, with a reason.
		code, body = b.post(path+"/consents", url.Values{"csrf": {b.csrf()}, "c.case_type": {"service.result"},
			"c.recipient": {"abc"}, "c.given_at": {"2026-03-02T10:00"}, "c.purpose": {"免于返乡查验"}})
		if code != http.StatusUnprocessableEntity {
			t.Fatalf("bad consent: %d", code)
		}
		wantContains(t, body, `id="f-c-recipient-err"`, `value="abc"`, `value="免于返乡查验"`)
		code, body = b.post(path+"/consents", url.Values{"csrf": {b.csrf()}, "c.case_type": {"service.result"},
			"c.recipient": {a1.HukouCode}, "c.given_at": {"2026-03-02T10:00"}, "c.purpose": {"免于返乡查验"}})
		if code != 200 {
			t.Fatalf("consent: %d\n%s", code, body)
		}
		wantContains(t, body, "免于返乡查验", "有效")
		consents, err := ta.db.Consents(context.Background(), peopleScope(t, townshipA), a1.IDNumber)
		if err != nil || len(consents) != 1 {
			t.Fatalf("consents stored: %d (%v)", len(consents), err)
		}
		rev := path + "/consents/" + strconv.FormatInt(consents[0].ID, 10) + "/revoke"
		field := "r" + strconv.FormatInt(consents[0].ID, 10) + ".reason"
		code, body = b.post(rev, url.Values{"csrf": {b.csrf()}, field: {"  "}})
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, "撤回同意须说明原因") {
			t.Fatalf("revoke without a reason: %d", code)
		}
		code, body = b.post(rev, url.Values{"csrf": {b.csrf()}, field: {"本人申请撤回"}})
		if code != 200 {
			t.Fatalf("revoke: %d\n%s", code, body)
		}
		wantContains(t, body, "撤回（worker-a：本人申请撤回）")
	})
}

func TestPrintNoticeAndCopy(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		a1, _, _ := withPeople(t, ta)
		b := ta.browser(t)
		b.mustLogin("worker-a")
		path := openPerson(t, b, a1)
		id := strings.TrimPrefix(path, "/people/")

		today := yipanqi.DateOf(ta.clock.Now().In(peopleZone))
		for _, days := range []int{30, 45} {
			before := auditCount(t, ta, a1.IDNumber, "print.notice", "worker-a")
			q := ""
			if days != 30 {
				q = "?days=" + strconv.Itoa(days)
			}
			code, body := b.get("/print/notice/" + id + q)
			if code != 200 {
				t.Fatalf("notice (%d days): %d\n%s", days, code, body)
			}
			due := today.AddDays(days)
			wantContains(t, body, "限期补办通知书", printedDate(due), a1.Name)
			if strings.Contains(body, a1.IDNumber) {
				t.Fatal("the notice prints the full ID number")
			}
			if auditCount(t, ta, a1.IDNumber, "print.notice", "worker-a") != before+1 {
				t.Fatalf("printing the notice (%d days) wrote no print.notice entry", days)
			}
		}
		// A bad number of days: the person page, the error next to the field, the input kept.
		code, body := b.get("/print/notice/" + id + "?days=0")
		if code != http.StatusUnprocessableEntity {
			t.Fatalf("notice with 0 days: %d", code)
		}
		wantContains(t, body, `id="f-days-err"`, "1 至 180", `value="0"`)

		code, body = b.get("/print/copy/" + id)
		if code != 200 {
			t.Fatalf("copy: %d\n%s", code, body)
		}
		wantContains(t, body, a1.Name, a1.IDNumber)
		if auditCount(t, ta, a1.IDNumber, "print.copy", "worker-a") != 1 {
			t.Fatal("printing the person's copy wrote no print.copy entry")
		}
	})
}

func TestCertificates(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		a1, _, _ := withPeople(t, ta)
		b := ta.browser(t)
		b.mustLogin("worker-a")
		b.get("/certs/new")
		// Look the holder up, then issue without a marital status: the error by its field.
		code, body := b.post("/certs/new", url.Values{"csrf": {b.csrf()}, "action": {"lookup"}, "id_number": {a1.IDNumber}})
		if code != 200 {
			t.Fatalf("lookup: %d\n%s", code, body)
		}
		wantContains(t, body, `value="`+a1.Name+`"`)
		today := yipanqi.DateOf(ta.clock.Now().In(peopleZone))
		form := url.Values{"csrf": {b.csrf()}, "action": {"issue"}, "kind": {"issued"}, "id_number": {a1.IDNumber},
			"holder_name": {a1.Name}, "hukou_address": {a1.HukouAddress}, "issued_on": {today.String()},
			"valid_until": {today.AddDays(3 * 365).String()}}
		code, body = b.post("/certs/new", form)
		if code != http.StatusUnprocessableEntity {
			t.Fatalf("issue without marital status: %d", code)
		}
		wantContains(t, body, `id="f-marital_status-err"`, `value="`+a1.HukouAddress+`"`)
		form.Set("marital_status", "first_married")
		code, body = b.post("/certs/new", form)
		prefix := yipanqi.CertificateNumber(townshipA, today.Year, 1, "")
		number := regexp.MustCompile(regexp.QuoteMeta(prefix) + `-[0-9A-Z]{6}`).FindString(body)
		if code != 200 || number == "" {
			t.Fatalf("issue: %d, want the page of %s-<check code>\n%s", code, prefix, body)
		}
		wantContains(t, body, "有效", "打印婚育证明")

		// Check a number: status and masked name.
		b.get("/certs")
		_, body = b.post("/certs/check", url.Values{"csrf": {b.csrf()}, "number": {number}})
		wantContains(t, body, print.MaskName(a1.Name), "有效")
		code, body = b.post("/certs/check", url.Values{"csrf": {b.csrf()}, "number": {number + "9"}})
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, "查无此证") || !strings.Contains(body, `id="f-number-err"`) {
			t.Fatalf("check of an unknown number: %d", code)
		}
		// The list for a person, by a POSTed ID number.
		_, body = b.post("/certs/list", url.Values{"csrf": {b.csrf()}, "id_number": {a1.IDNumber}})
		wantContains(t, body, number)

		// Print it: the QR code's page, the print audited by number.
		code, body = b.get("/print/cert/" + number)
		if code != 200 {
			t.Fatalf("print certificate: %d\n%s", code, body)
		}
		wantContains(t, body, number, "<svg", print.VerifyPath+number)
		if auditCount(t, ta, number, "print.certificate", "worker-a") != 1 {
			t.Fatal("no print.certificate entry")
		}
		// Posting: a bad tracking number first, then the slip.
		b.get("/certs/" + number)
		code, body = b.post("/certs/"+number+"/posting", url.Values{"csrf": {b.csrf()}, "posted_to": {townshipB},
			"tracking_number": {"EMS 123"}, "posted_on": {today.String()}})
		if code != http.StatusUnprocessableEntity {
			t.Fatalf("bad tracking number: %d", code)
		}
		wantContains(t, body, `id="f-tracking_number-err"`, `value="EMS 123"`)
		if code, _ := b.get("/print/slip/" + number); code != http.StatusBadRequest {
			t.Fatalf("slip before posting: %d", code)
		}
		code, body = b.post("/certs/"+number+"/posting", url.Values{"csrf": {b.csrf()}, "posted_to": {townshipB},
			"tracking_number": {"EMS123"}, "posted_on": {today.String()}})
		if code != 200 || !strings.Contains(body, "EMS123") {
			t.Fatalf("posting: %d\n%s", code, body)
		}
		code, body = b.get("/print/slip/" + number)
		if code != 200 || !strings.Contains(body, "EMS123") || strings.Contains(body, a1.Name) {
			t.Fatalf("slip: %d (names the holder: %v)", code, strings.Contains(body, a1.Name))
		}
		if auditCount(t, ta, number, "print.slip", "worker-a") != 1 {
			t.Fatal("no print.slip entry")
		}

		// Hand-over to the holder: a day in the future refused next to its field, then recorded.
		b.get("/certs/" + number)
		code, body = b.post("/certs/"+number+"/handover", url.Values{"csrf": {b.csrf()}, "handed_on": {today.AddDays(2).String()}})
		if code != http.StatusUnprocessableEntity {
			t.Fatalf("hand-over in the future: %d", code)
		}
		wantContains(t, body, `id="f-handed_on-err"`, `value="`+today.AddDays(2).String()+`"`)
		code, body = b.post("/certs/"+number+"/handover", url.Values{"csrf": {b.csrf()}, "handed_on": {today.String()}})
		if code != 200 || !strings.Contains(body, today.String()+" 由广州市天河区甲街道交付") {
			t.Fatalf("hand-over: %d\n%s", code, body)
		}
		// Revoking: not for a township worker; the county, with a reason.
		b.get("/certs/" + number)
		if code, _ := b.post("/certs/"+number+"/revoke", url.Values{"csrf": {b.csrf()}, "reason": {"错发"}}); code != http.StatusForbidden {
			t.Fatalf("a township worker revoking: %d", code)
		}
		c := ta.browser(t)
		c.mustLogin("county")
		c.get("/certs/" + number)
		code, body = c.post("/certs/"+number+"/revoke", url.Values{"csrf": {c.csrf()}, "reason": {""}})
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="f-reason-err"`) {
			t.Fatalf("revoke without a reason: %d", code)
		}
		code, body = c.post("/certs/"+number+"/revoke", url.Values{"csrf": {c.csrf()}, "reason": {"信息有误，重新签发"}})
		if code != 200 || !strings.Contains(body, "已注销") {
			t.Fatalf("revoke: %d\n%s", code, body)
		}
		// Another township cannot open it (the holder lives in A, A holds it).
		wb := ta.browser(t)
		wb.mustLogin("worker-b")
		if code, _ := wb.get("/certs/" + number); code != http.StatusNotFound {
			t.Fatalf("worker-b opening the certificate: %d", code)
		}
		if code, _ := wb.get("/print/cert/" + number); code != http.StatusNotFound {
			t.Fatalf("worker-b printing the certificate: %d", code)
		}
	})
}

func TestVerifyPagePublic(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		a1, _, _ := withPeople(t, ta)
		today := yipanqi.DateOf(ta.clock.Now().In(peopleZone))
		cert := &yipanqi.Certificate{Kind: yipanqi.CertIssued, IDNumber: a1.IDNumber, HolderName: a1.Name, IssuerCode: townshipA,
			IssuedOn: today, ValidUntil: today.AddDays(365), MaritalStatus: yipanqi.FirstMarried}
		if err := ta.db.IssueCertificate(context.Background(), cert); err != nil {
			t.Fatal(err)
		}
		anon := ta.browser(t) // never signed in
		code, body := anon.get(print.VerifyPath + cert.Number)
		if code != 200 {
			t.Fatalf("verify: %d\n%s", code, body)
		}
		wantContains(t, body, cert.Number, print.MaskName(a1.Name), yipanqi.CertValid.Label())
		if strings.Contains(body, a1.Name) || strings.Contains(body, a1.IDNumber) {
			t.Fatal("the public page shows the full name or the ID number")
		}
		if n := auditCount(t, ta, cert.Number, "certificate.view", ""); n != 0 {
			t.Fatalf("the anonymous lookup wrote %d audit rows; want none (hits are counted)", n)
		}
		if code, _ := anon.get(print.VerifyPath + cert.Number + "9"); code != http.StatusNotFound {
			t.Fatalf("unknown number: %d", code)
		}
		if err := ta.db.RevokeCertificate(context.Background(), cert.Number, "测试注销"); err != nil {
			t.Fatal(err)
		}
		_, body = anon.get(print.VerifyPath + cert.Number)
		wantContains(t, body, yipanqi.CertRevoked.Label())
	})
}

func TestPrintServiceReport(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		a1, _, _ := withPeople(t, ta)
		// A service.result received by township A (as a hometown would hold it).
		c := &yipanqi.Case{Type: "service.result", Direction: yipanqi.Incoming, OrgUnit: townshipA, PeerNode: "43",
			PeerUnit: "430524101", PersonIDNumber: a1.IDNumber, State: yipanqi.CaseDelivered, ReceivedAt: ta.clock.Now(),
			Data: []byte(`{"id_number":"` + a1.IDNumber + `","name":"` + a1.Name + `","service_kind":"health_checkup",` +
				`"service_date":"2026-02-10","provider":"某社区卫生服务中心","checkup_done":true}`)}
		if err := ta.db.CreateCase(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		b := ta.browser(t)
		b.mustLogin("worker-a")
		path := openPerson(t, b, a1)
		wantContains(t, b.last, "已收到——无需返乡", "某社区卫生服务中心", "/44/print/report/"+c.ID)
		_ = path
		code, body := b.get("/print/report/" + c.ID)
		if code != 200 {
			t.Fatalf("report: %d\n%s", code, body)
		}
		wantContains(t, body, "流动人口避孕节育情况报告单", "某社区卫生服务中心", "2026年2月10日")
		if auditCount(t, ta, c.ID, "print.report", "worker-a") != 1 {
			t.Fatal("no print.report entry")
		}
		wb := ta.browser(t)
		wb.mustLogin("worker-b")
		if code, _ := wb.get("/print/report/" + c.ID); code != http.StatusNotFound {
			t.Fatalf("worker-b printing the report: %d", code)
		}
	})
}
