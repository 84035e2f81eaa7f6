package storetest

import (
	"context"
	"testing"

	"yipanqi"
	"yipanqi/sqlstore"
)

// testWebPeople checks the reads behind the web's person and certificate pages: a person by
// row id and the certificate by number only within scope (a guessed id or number outside
// is ENOTFOUND and logs nothing), the cases about a person, and an audit entry for each read.
func testWebPeople(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	certClock(db)
	a, b := NewPerson(1, townshipA), NewPerson(2, townshipB)
	MustImport(t, db, a, b)
	clerk := &yipanqi.User{Username: "clerk-a", OrgUnit: townshipA}
	uctx := yipanqi.NewContextWithUser(context.Background(), clerk)
	scopeA := MustScope(t, townshipA)

	rowID := func(p *yipanqi.Person) int64 {
		t.Helper()
		list, _, err := db.ListPeople(ctx(), MustScope(t, p.ResidenceCode), yipanqi.PersonFilter{IDNumber: p.IDNumber})
		if err != nil || len(list) != 1 {
			t.Fatalf("list %s: %v (%d)", p.ResidenceCode, err, len(list))
		}
		return list[0].ID
	}
	idA, idB := rowID(a), rowID(b)
	countAction := func(object, action string) int {
		n := 0
		for _, e := range auditActions(t, db, object) {
			if e.Action == action {
				n++
			}
		}
		return n
	}

	// By row id, in scope: the record, and a person.view entry by the clerk.
	before := countAction(a.IDNumber, "person.view")
	got, err := db.PersonByID(uctx, scopeA, idA)
	if err != nil {
		t.Fatalf("person by id: %v", err)
	}
	if got.IDNumber != a.IDNumber || got.Name != a.Name {
		t.Fatalf("person by id = %s %s, want %s %s", got.IDNumber, got.Name, a.IDNumber, a.Name)
	}
	if n := countAction(a.IDNumber, "person.view"); n != before+1 {
		t.Fatalf("person.view entries = %d, want %d", n, before+1)
	}
	if log := auditActions(t, db, a.IDNumber); log[0].Actor != clerk.Username {
		t.Fatalf("newest entry by %q, want %q", log[0].Actor, clerk.Username)
	}
	// Out of scope, or no such row: ENOTFOUND, nothing logged as seen.
	beforeB := countAction(b.IDNumber, "person.view")
	_, err = db.PersonByID(uctx, scopeA, idB)
	wantCode(t, err, yipanqi.ENOTFOUND)
	_, err = db.PersonByID(uctx, scopeA, idA+idB+1000)
	wantCode(t, err, yipanqi.ENOTFOUND)
	if n := countAction(b.IDNumber, "person.view"); n != beforeB {
		t.Fatalf("an out-of-scope lookup wrote %d person.view entries", n-beforeB)
	}
	_, err = db.PersonByID(uctx, yipanqi.Scope{}, idA)
	wantCode(t, err, yipanqi.EFORBIDDEN)

	// Cases about a person: only those held in scope and about that person.
	mk := func(unit, person string) *yipanqi.Case {
		c := &yipanqi.Case{Type: "verify.identity", Direction: yipanqi.Outgoing, OrgUnit: unit, PeerNode: "36",
			PeerUnit: hometown, PersonIDNumber: person, State: yipanqi.CaseSent}
		if err := db.CreateCase(ctx(), c); err != nil {
			t.Fatalf("create case: %v", err)
		}
		return c
	}
	c1 := mk(townshipA, a.IDNumber)
	c2 := mk(townshipA, a.IDNumber)
	mk(townshipB, a.IDNumber) // another township's case about the same person
	mk(townshipA, b.IDNumber) // a case about someone else
	cases, total, err := db.PersonCases(uctx, scopeA, a.IDNumber, 0, 10)
	if err != nil {
		t.Fatalf("person cases: %v", err)
	}
	if total != 2 || len(cases) != 2 {
		t.Fatalf("person cases = %d of %d, want 2 of 2", len(cases), total)
	}
	for _, c := range cases {
		if c.ID != c1.ID && c.ID != c2.ID {
			t.Fatalf("person cases include %s (unit %s, person %s)", c.ID, c.OrgUnit, c.PersonIDNumber)
		}
	}
	if countAction(a.IDNumber, "person.cases") != 1 {
		t.Fatalf("no person.cases audit entry after listing the cases")
	}
	cases, total, err = db.PersonCases(uctx, scopeA, a.IDNumber, 1, 1)
	if err != nil || total != 2 || len(cases) != 1 {
		t.Fatalf("second page = %d of %d (%v), want 1 of 2", len(cases), total, err)
	}
	_, _, err = db.PersonCases(uctx, scopeA, "", 0, 10)
	wantCode(t, err, yipanqi.EINVALID)

	// A certificate by number: seen by its holder's residence and by the issuer's tree.
	cert := mustIssue(t, db, newCert(a))
	views := countAction(cert.Number, "certificate.view")
	if got, err := db.CertificateInScope(uctx, scopeA, cert.Number); err != nil || got.IDNumber != a.IDNumber {
		t.Fatalf("certificate in the holder's residence scope: %v", err)
	}
	if got, err := db.CertificateInScope(uctx, MustScope(t, hometown), cert.Number); err != nil || got.Number != cert.Number {
		t.Fatalf("certificate in the issuer's scope: %v", err)
	}
	if n := countAction(cert.Number, "certificate.view"); n != views+2 {
		t.Fatalf("certificate.view entries = %d, want %d", n, views+2)
	}
	_, err = db.CertificateInScope(uctx, MustScope(t, townshipB), cert.Number)
	wantCode(t, err, yipanqi.ENOTFOUND)
	_, err = db.CertificateInScope(uctx, scopeA, "no such number!")
	wantCode(t, err, yipanqi.ENOTFOUND)
	_, err = db.CertificateInScope(uctx, scopeA, cert.Number+"9")
	wantCode(t, err, yipanqi.ENOTFOUND)
	if n := countAction(cert.Number, "certificate.view"); n != views+2 {
		t.Fatalf("out-of-scope lookups wrote %d certificate.view entries", n-views-2)
	}

	// Hand-over: only where the certificate is visible, on a day between issue and today.
	_, err = db.CertificateHandoverOf(ctx(), cert.Number)
	wantCode(t, err, yipanqi.ENOTFOUND)
	wantCode(t, db.RecordCertificateHandover(uctx, MustScope(t, townshipB), cert.Number, certToday), yipanqi.ENOTFOUND)
	wantCode(t, db.RecordCertificateHandover(uctx, scopeA, cert.Number, certToday.AddDays(1)), yipanqi.EINVALID)
	wantCode(t, db.RecordCertificateHandover(uctx, scopeA, cert.Number, cert.IssuedOn.AddDays(-1)), yipanqi.EINVALID)
	wantCode(t, db.RecordCertificateHandover(uctx, scopeA, cert.Number, yipanqi.Date{}), yipanqi.EINVALID)
	if _, err := db.CertificateHandoverOf(ctx(), cert.Number); yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
		t.Fatalf("a refused hand-over was stored: %v", err)
	}
	for _, day := range []yipanqi.Date{certToday.AddDays(-1), certToday} { // the second replaces the first
		if err := db.RecordCertificateHandover(uctx, scopeA, cert.Number, day); err != nil {
			t.Fatalf("record hand-over: %v", err)
		}
	}
	h, err := db.CertificateHandoverOf(ctx(), cert.Number)
	if err != nil || h.HandedOn != certToday || h.OrgUnit != townshipA || h.RecordedBy != clerk.Username {
		t.Fatalf("hand-over = %+v (%v), want %s by %s of %s", h, err, certToday, clerk.Username, townshipA)
	}
	if countAction(cert.Number, "certificate.handover") != 2 {
		t.Fatal("hand-overs were not audited")
	}
	if err := db.RevokeCertificate(uctx, cert.Number, "测试"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.RecordCertificateHandover(uctx, scopeA, cert.Number, certToday), yipanqi.ECONFLICT)
}
