package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/sqlstore"
)

// certToday is the fixed "now" of the certificate tests, a date in China.
var certToday = yipanqi.Date{Year: 2026, Month: 6, Day: 15}

// hometownTownship issues certificates in the tests; it lies in the hometown county.
const hometownTownship = hometown + "100"

// newCert returns a valid certificate issued by the hometown township to holder.
func newCert(holder *yipanqi.Person) *yipanqi.Certificate {
	return &yipanqi.Certificate{
		Kind:          yipanqi.CertIssued,
		IDNumber:      holder.IDNumber,
		HolderName:    holder.Name,
		HukouAddress:  holder.HukouAddress,
		IssuerCode:    hometownTownship,
		IssuedOn:      certToday.AddDays(-10),
		ValidUntil:    certToday.AddDays(-10 + 3*365),
		MaritalStatus: yipanqi.FirstMarried,
	}
}

func testCertificates(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	t.Run("IssueAndLookup", func(t *testing.T) { testCertIssueAndLookup(t, open(t)) })
	t.Run("Invalid", func(t *testing.T) { testCertInvalid(t, open(t)) })
	t.Run("Concurrent", func(t *testing.T) { testCertConcurrent(t, open(t)) })
	t.Run("Revoke", func(t *testing.T) { testCertRevoke(t, open(t)) })
	t.Run("Scope", func(t *testing.T) { testCertScope(t, open(t)) })
	t.Run("Posting", func(t *testing.T) { testCertPosting(t, open(t)) })
	t.Run("Unguessable", func(t *testing.T) { testCertUnguessable(t, open(t)) })
	t.Run("SeenNumbers", func(t *testing.T) { testCertSeenNumbers(t, open(t)) })
}

func certClock(db *sqlstore.DB) {
	db.Now = func() time.Time { return certToday.In(yipanqi.Shanghai).Add(10 * time.Hour) }
}

func mustIssue(t *testing.T, db *sqlstore.DB, c *yipanqi.Certificate) *yipanqi.Certificate {
	t.Helper()
	if err := db.IssueCertificate(ctx(), c); err != nil {
		t.Fatalf("issue certificate: %v", err)
	}
	return c
}

// wantNumber checks that number is the serial-th number of issuer in year, with a check
// code.
func wantNumber(t *testing.T, what, number, issuer string, year, serial int) {
	t.Helper()
	is, y, n, check, ok := yipanqi.ParseCertificateNumber(number)
	if !ok || is != issuer || y != year || n != serial || len(check) != yipanqi.CertCheckLen {
		t.Errorf("%s = %q; want %s with a check code", what, number, yipanqi.CertificateNumber(issuer, year, serial, "XXXXXX"))
	}
}

func auditActions(t *testing.T, db *sqlstore.DB, object string) []*yipanqi.AuditEntry {
	t.Helper()
	log, err := db.AuditLog(ctx(), object, 100)
	if err != nil {
		t.Fatalf("audit log: %v", err)
	}
	return log
}

func testCertIssueAndLookup(t *testing.T, db *sqlstore.DB) {
	certClock(db)
	clerk := &yipanqi.User{Username: "issuer-1", OrgUnit: hometownTownship}
	uctx := yipanqi.NewContextWithUser(context.Background(), clerk)
	p := NewPerson(1, townshipA)

	// Numbers are assigned per issuer and year, from 1.
	a := newCert(p)
	if err := db.IssueCertificate(uctx, a); err != nil {
		t.Fatalf("issue: %v", err)
	}
	year := a.IssuedOn.Year
	wantNumber(t, "first number", a.Number, hometownTownship, year, 1)
	if a.ID == 0 || a.CreatedAt.IsZero() || a.OrgUnit != hometownTownship {
		t.Errorf("after issue ID=%d CreatedAt=%v OrgUnit=%q; want set, set, the issuer", a.ID, a.CreatedAt, a.OrgUnit)
	}
	b := mustIssue(t, db, newCert(p))
	wantNumber(t, "second number", b.Number, hometownTownship, year, 2)
	other := newCert(p)
	other.IssuerCode = hometown + "101"
	mustIssue(t, db, other)
	wantNumber(t, "another issuer's first number", other.Number, hometown+"101", year, 1)
	lastYear := newCert(p)
	lastYear.IssuedOn = yipanqi.Date{Year: year - 1, Month: 12, Day: 30}
	mustIssue(t, db, lastYear)
	wantNumber(t, "last year's first number", lastYear.Number, hometownTownship, year-1, 1)

	// A paper certificate entered with its number moves the counter past it.
	paper := newCert(p)
	paper.Number = yipanqi.CertificateNumber(hometownTownship, year, 40, "")
	mustIssue(t, db, paper)
	next := mustIssue(t, db, newCert(p))
	wantNumber(t, "number after paper no. 40", next.Number, hometownTownship, year, 41)
	dup := newCert(p)
	dup.Number = paper.Number
	wantCode(t, db.IssueCertificate(uctx, dup), yipanqi.ECONFLICT)
	if dup.ID != 0 {
		t.Errorf("a refused issue set ID %d", dup.ID)
	}

	// The audit entry of the issue names the actor and the number.
	log := auditActions(t, db, a.Number)
	if len(log) != 1 || log[0].Action != "certificate.issue" || log[0].Actor != clerk.Username {
		t.Fatalf("audit of %s = %+v; want one certificate.issue by %s", a.Number, first(log), clerk.Username)
	}

	// Lookup by number, unscoped, audited with the caller's actor.
	public := yipanqi.NewContextWithUser(context.Background(), &yipanqi.User{Username: "public"})
	got, err := db.Certificate(public, a.Number)
	if err != nil {
		t.Fatalf("lookup %s: %v", a.Number, err)
	}
	want := *a
	if !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("CreatedAt = %v, want %v", got.CreatedAt, want.CreatedAt)
	}
	got.CreatedAt, want.CreatedAt = time.Time{}, time.Time{}
	if *got != want {
		t.Errorf("lookup = %+v\nwant     %+v", *got, want)
	}
	log = auditActions(t, db, a.Number)
	if len(log) != 2 || log[0].Action != "certificate.view" || log[0].Actor != "public" {
		t.Errorf("after lookup, newest audit of %s = %+v; want certificate.view by public", a.Number, first(log))
	}
	entries := len(auditActions(t, db, ""))
	for _, n := range []string{yipanqi.CertificateNumber(hometownTownship, year, 999, ""), "nonsense/../x", ""} {
		_, err := db.Certificate(public, n)
		wantCode(t, err, yipanqi.ENOTFOUND)
	}
	if got := len(auditActions(t, db, "")); got != entries {
		t.Errorf("misses wrote %d audit entries", got-entries)
	}

	// A certificate seen from elsewhere keeps its printed number; its holding unit comes
	// from the user who records it.
	residence := yipanqi.NewContextWithUser(context.Background(), &yipanqi.User{Username: "clerk-a", OrgUnit: townshipA})
	seen := newCert(p)
	seen.Kind, seen.Number, seen.IssuerCode = yipanqi.CertSeen, "GD2019-00077", "440305001"
	if err := db.IssueCertificate(residence, seen); err != nil {
		t.Fatalf("record seen certificate: %v", err)
	}
	if seen.Number != "GD2019-00077" || seen.OrgUnit != townshipA {
		t.Errorf("seen certificate number %q unit %q; want GD2019-00077, %s", seen.Number, seen.OrgUnit, townshipA)
	}

	// Status on a day.
	for _, tc := range []struct {
		day  yipanqi.Date
		want yipanqi.CertificateStatus
	}{
		{a.IssuedOn, yipanqi.CertValid},
		{a.ValidUntil, yipanqi.CertValid},
		{a.ValidUntil.AddDays(1), yipanqi.CertExpired},
	} {
		if s := got.StatusOn(tc.day); s != tc.want {
			t.Errorf("StatusOn(%s) = %s, want %s", tc.day, s, tc.want)
		}
	}
	if _, err := db.SealAudit(ctx()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.VerifyAudit(ctx()); err != nil {
		t.Errorf("audit chain: %v", err)
	}
}

func testCertInvalid(t *testing.T, db *sqlstore.DB) {
	certClock(db)
	p := NewPerson(2, townshipA)
	cases := []struct {
		field  string
		change func(c *yipanqi.Certificate)
	}{
		{"kind", func(c *yipanqi.Certificate) { c.Kind = "stolen" }},
		{"id_number", func(c *yipanqi.Certificate) { c.IDNumber = c.IDNumber[:17] + "?" }},
		{"id_number", func(c *yipanqi.Certificate) { c.IDNumber = "" }},
		{"holder_name", func(c *yipanqi.Certificate) { c.HolderName = "  " }},
		{"issuer_code", func(c *yipanqi.Certificate) { c.IssuerCode = "36012" }},
		{"issued_on", func(c *yipanqi.Certificate) { c.IssuedOn = yipanqi.Date{} }},
		{"issued_on", func(c *yipanqi.Certificate) { c.IssuedOn = certToday.AddDays(1); c.ValidUntil = certToday.AddDays(400) }},
		{"valid_until", func(c *yipanqi.Certificate) { c.ValidUntil = yipanqi.Date{} }},
		{"valid_until", func(c *yipanqi.Certificate) { c.ValidUntil = c.IssuedOn }},
		{"marital_status", func(c *yipanqi.Certificate) { c.MaritalStatus = "complicated" }},
		{"revoked", func(c *yipanqi.Certificate) { c.Revoked = true }},
		{"number", func(c *yipanqi.Certificate) { c.Number = "2026-1" }},
		{"number", func(c *yipanqi.Certificate) {
			c.Number = yipanqi.CertificateNumber(hometown+"101", c.IssuedOn.Year, 5, "") // another issuer's
		}},
		{"number", func(c *yipanqi.Certificate) { c.Kind = yipanqi.CertSeen; c.OrgUnit = townshipA }},
		{"number", func(c *yipanqi.Certificate) { c.Kind = yipanqi.CertSeen; c.OrgUnit = townshipA; c.Number = "A B" }},
		{"org_unit", func(c *yipanqi.Certificate) { c.Kind = yipanqi.CertSeen; c.Number = "X1" }}, // no user, no unit
		{"org_unit", func(c *yipanqi.Certificate) { c.OrgUnit = townshipA }},                      // issued, held elsewhere
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%d_%s", i, tc.field), func(t *testing.T) {
			c := newCert(p)
			tc.change(c)
			before := *c
			err := db.IssueCertificate(ctx(), c)
			wantCode(t, err, yipanqi.EINVALID)
			if f := yipanqi.ErrorField(err); f != tc.field {
				t.Errorf("field = %q (%v), want %q", f, err, tc.field)
			}
			if yipanqi.ErrorMessage(err) == "" || yipanqi.ErrorMessage(err)[0] < 0x80 {
				t.Errorf("message %q should be Chinese", yipanqi.ErrorMessage(err))
			}
			if *c != before {
				t.Errorf("a refused issue changed the certificate: %+v", *c)
			}
		})
	}
	// Nothing was stored and no serial was used.
	first := mustIssue(t, db, newCert(p))
	wantNumber(t, "after refused issues the first number", first.Number, hometownTownship, first.IssuedOn.Year, 1)
	list, err := db.PersonCertificates(ctx(), MustScope(t, "36"), p.IDNumber)
	if err != nil || len(list) != 1 {
		t.Errorf("certificates held after refused issues: %d (%v), want 1", len(list), err)
	}
}

func testCertConcurrent(t *testing.T, db *sqlstore.DB) {
	certClock(db)
	p := NewPerson(3, townshipA)
	const n = 24
	var wg sync.WaitGroup
	numbers := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newCert(p)
			errs[i] = db.IssueCertificate(ctx(), c)
			numbers[i] = c.Number
		}()
	}
	wg.Wait()
	seen := map[int]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("concurrent issue %d: %v", i, errs[i])
		}
		_, _, serial, _, _ := yipanqi.ParseCertificateNumber(numbers[i])
		seen[serial] = true
	}
	for s := 1; s <= n; s++ {
		if !seen[s] {
			t.Errorf("serial %d missing after %d concurrent issues: got %v", s, n, numbers)
		}
	}
}

func testCertRevoke(t *testing.T, db *sqlstore.DB) {
	certClock(db)
	p := NewPerson(4, townshipA)
	c := mustIssue(t, db, newCert(p))
	wantCode(t, db.RevokeCertificate(ctx(), c.Number, " "), yipanqi.EINVALID)
	wantCode(t, db.RevokeCertificate(ctx(), yipanqi.CertificateNumber(hometownTownship, 2026, 77, ""), "遗失"), yipanqi.ENOTFOUND)
	if got, err := db.Certificate(ctx(), c.Number); err != nil || got.Revoked || got.StatusOn(certToday) != yipanqi.CertValid {
		t.Fatalf("after refused revokes: %+v, %v; want valid", got, err)
	}
	sup := yipanqi.NewContextWithUser(context.Background(), &yipanqi.User{Username: "sup", OrgUnit: hometown})
	if err := db.RevokeCertificate(sup, c.Number, "本人声明遗失，已补发新证"); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	got, err := db.Certificate(ctx(), c.Number)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Revoked || got.RevokedReason != "本人声明遗失，已补发新证" || got.RevokedAt.IsZero() {
		t.Errorf("after revoke: revoked=%v reason=%q at=%v", got.Revoked, got.RevokedReason, got.RevokedAt)
	}
	if s := got.StatusOn(certToday); s != yipanqi.CertRevoked || s.Label() != "已注销" {
		t.Errorf("status after revoke = %s %s, want revoked 已注销", s, s.Label())
	}
	wantCode(t, db.RevokeCertificate(sup, c.Number, "again"), yipanqi.ECONFLICT)
	var revokes int
	for _, e := range auditActions(t, db, c.Number) {
		if e.Action == "certificate.revoke" {
			revokes++
			if e.Actor != "sup" || e.Reason != "本人声明遗失，已补发新证" {
				t.Errorf("revoke audit = %+v", e)
			}
		}
	}
	if revokes != 1 {
		t.Errorf("%d certificate.revoke entries, want 1", revokes)
	}
}

func testCertScope(t *testing.T, db *sqlstore.DB) {
	certClock(db)
	resident, away := NewPerson(5, townshipA), NewPerson(6, townshipB)
	MustImport(t, db, resident, away)
	issuedResident := mustIssue(t, db, newCert(resident))
	mustIssue(t, db, newCert(away))
	uctx := yipanqi.NewContextWithUser(context.Background(), &yipanqi.User{Username: "clerk-a", OrgUnit: townshipA})
	seenAway := newCert(away)
	seenAway.Kind, seenAway.Number, seenAway.IssuerCode = yipanqi.CertSeen, "JX-778", "360122001"
	if err := db.IssueCertificate(uctx, seenAway); err != nil { // held by the clerk's township A
		t.Fatalf("record seen: %v", err)
	}

	numbers := func(list []*yipanqi.Certificate) []string {
		var out []string
		for _, c := range list {
			out = append(out, c.Number)
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		scope  string
		holder *yipanqi.Person
		want   int
	}{
		{"issuer sees what it issued", hometownTownship, resident, 1},
		{"issuer's county too", hometown, away, 1}, // the issued one; the seen one is held in 440106…
		{"residence sees its resident's certificates", townshipA, resident, 1},
		{"another township sees neither", townshipB, resident, 0},
		{"a township sees the one it recorded", townshipA, away, 1},
		{"the residence township sees all of its resident's", townshipB, away, 2},
		{"the residence county sees all of away's", county, away, 2},
		{"another province sees nothing", "45", resident, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list, err := db.PersonCertificates(uctx, MustScope(t, tc.scope), tc.holder.IDNumber)
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != tc.want {
				t.Errorf("scope %s sees %v, want %d certificates", tc.scope, numbers(list), tc.want)
			}
		})
	}
	list, err := db.PersonCertificates(uctx, MustScope(t, townshipA), resident.IDNumber)
	if err != nil || len(list) != 1 || list[0].Number != issuedResident.Number {
		t.Fatalf("residence township sees %v (%v), want [%s]", numbers(list), err, issuedResident.Number)
	}
	log := auditActions(t, db, resident.IDNumber)
	if len(log) == 0 || log[0].Action != "certificate.list" || log[0].Actor != "clerk-a" {
		t.Errorf("newest audit about the holder = %+v; want certificate.list by clerk-a", first(log))
	}
	_, err = db.PersonCertificates(uctx, yipanqi.Scope{}, resident.IDNumber)
	wantCode(t, err, yipanqi.EFORBIDDEN)
	_, err = db.PersonCertificates(uctx, MustScope(t, townshipA), "123")
	wantCode(t, err, yipanqi.EINVALID)
}

func testCertPosting(t *testing.T, db *sqlstore.DB) {
	certClock(db)
	c := mustIssue(t, db, newCert(NewPerson(7, townshipA)))
	for _, bad := range []struct {
		field, to, no string
		on            yipanqi.Date
	}{
		{"posted_to", "44x", "EMS1", certToday},
		{"tracking_number", townshipA, "", certToday},
		{"posted_on", townshipA, "EMS1", yipanqi.Date{}},
		{"posted_on", townshipA, "EMS1", certToday.AddDays(1)},
		{"posted_on", townshipA, "EMS1", c.IssuedOn.AddDays(-1)},
	} {
		err := db.RecordCertificatePosting(ctx(), c.Number, bad.to, bad.no, bad.on)
		if yipanqi.ErrorCode(err) != yipanqi.EINVALID || yipanqi.ErrorField(err) != bad.field {
			t.Errorf("posting %+v: %v; want EINVALID on %s", bad, err, bad.field)
		}
	}
	wantCode(t, db.RecordCertificatePosting(ctx(), "NOPE-1", townshipA, "EMS1", certToday), yipanqi.ENOTFOUND)
	if err := db.RecordCertificatePosting(ctx(), c.Number, townshipA, "EMS1234567890", certToday); err != nil {
		t.Fatalf("record posting: %v", err)
	}
	got, err := db.Certificate(ctx(), c.Number)
	if err != nil {
		t.Fatal(err)
	}
	if got.PostedTo != townshipA || got.TrackingNo != "EMS1234567890" || got.PostedOn != certToday {
		t.Errorf("posting read back as %q %q %s", got.PostedTo, got.TrackingNo, got.PostedOn)
	}
	if err := db.RevokeCertificate(ctx(), c.Number, "误发"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.RecordCertificatePosting(ctx(), c.Number, townshipA, "EMS2", certToday), yipanqi.ECONFLICT)
}

// testCertUnguessable: an issued number carries a random check code, so neither the serial
// alone nor a neighbour's check code finds a certificate; the public lookup writes nothing.
func testCertUnguessable(t *testing.T, db *sqlstore.DB) {
	certClock(db)
	p := NewPerson(8, townshipA)
	a, b := mustIssue(t, db, newCert(p)), mustIssue(t, db, newCert(p))
	_, year, _, checkA, _ := yipanqi.ParseCertificateNumber(a.Number)
	_, _, _, checkB, _ := yipanqi.ParseCertificateNumber(b.Number)
	if checkA == checkB {
		t.Fatalf("two numbers with the same check code %s: %s, %s", checkA, a.Number, b.Number)
	}
	public := yipanqi.NewContextWithUser(context.Background(), &yipanqi.User{Username: "public"})
	for _, guess := range []string{
		yipanqi.CertificateNumber(hometownTownship, year, 1, ""),
		yipanqi.CertificateNumber(hometownTownship, year, 2, ""),
		yipanqi.CertificateNumber(hometownTownship, year, 2, checkA), // a's check code on b's serial
		yipanqi.CertificateNumber(hometownTownship, year, 3, checkB),
	} {
		if _, err := db.PublicCertificate(public, guess); yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
			t.Errorf("guessed number %s: %v; want ENOTFOUND", guess, err)
		}
	}
	entries := len(auditActions(t, db, ""))
	for range 3 {
		got, err := db.PublicCertificate(public, b.Number)
		if err != nil || got.Number != b.Number {
			t.Fatalf("public lookup of %s: %v, %v", b.Number, got, err)
		}
	}
	if n := len(auditActions(t, db, "")); n != entries {
		t.Errorf("public lookups wrote %d audit entries, want none", n-entries)
	}
}

// testCertSeenNumbers: a seen record is local evidence only. It never answers the unscoped or
// public lookup, and it never takes a number from the issuer: the issuer can still register
// the same number, and revoking the seen record leaves the issued certificate alone.
func testCertSeenNumbers(t *testing.T, db *sqlstore.DB) {
	certClock(db)
	holder, other := NewPerson(9, townshipA), NewPerson(10, townshipB)
	MustImport(t, db, holder, other)
	year := certToday.Year
	clerkA := yipanqi.NewContextWithUser(context.Background(), &yipanqi.User{Username: "clerk-a", OrgUnit: townshipA})
	// Township A records, as seen, "certificates" in the hometown township's own series: the
	// next serial in the form without a check code, and a guess with one.
	claimed := yipanqi.CertificateNumber(hometownTownship, year, 1, "")
	guessed := yipanqi.CertificateNumber(hometownTownship, year, 2, "ABCDEF")
	for _, n := range []string{claimed, guessed} {
		c := newCert(other)
		c.Kind, c.Number = yipanqi.CertSeen, n
		if err := db.IssueCertificate(clerkA, c); err != nil {
			t.Fatalf("record seen %s: %v", n, err)
		}
	}
	public := yipanqi.NewContextWithUser(context.Background(), &yipanqi.User{Username: "public"})
	for _, n := range []string{claimed, guessed} {
		if _, err := db.PublicCertificate(public, n); yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
			t.Errorf("public lookup of the seen %s: %v; want ENOTFOUND", n, err)
		}
		if _, err := db.Certificate(ctx(), n); yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
			t.Errorf("unscoped lookup of the seen %s: %v; want ENOTFOUND", n, err)
		}
	}
	// The same seen number twice is still a conflict among seen records.
	dupSeen := newCert(other)
	dupSeen.Kind, dupSeen.Number = yipanqi.CertSeen, claimed
	wantCode(t, db.IssueCertificate(clerkA, dupSeen), yipanqi.ECONFLICT)

	// The issuer is not blocked: it registers the paper certificate with that very number and
	// goes on numbering.
	paper := newCert(holder)
	paper.Number = claimed
	if err := db.IssueCertificate(ctx(), paper); err != nil {
		t.Fatalf("the issuer registering its own number %s after a seen record of it: %v", claimed, err)
	}
	next := mustIssue(t, db, newCert(holder))
	wantNumber(t, "next number", next.Number, hometownTownship, year, 2)
	if next.Number == guessed {
		t.Fatalf("issued the guessed number %s", guessed)
	}
	got, err := db.PublicCertificate(public, claimed)
	if err != nil || got.Kind != yipanqi.CertIssued || got.IDNumber != holder.IDNumber || got.OrgUnit != hometownTownship {
		t.Fatalf("public lookup of %s after the issue: %+v, %v; want the issued one", claimed, got, err)
	}
	// Revoking township A's seen record leaves the issued certificate valid.
	if err := db.RevokeCertificateKind(clerkA, claimed, yipanqi.CertSeen, "外地证明核查为伪造"); err != nil {
		t.Fatalf("revoke the seen record: %v", err)
	}
	if got, err := db.Certificate(ctx(), claimed); err != nil || got.Revoked {
		t.Errorf("issued %s after revoking the seen record: %+v, %v; want not revoked", claimed, got, err)
	}
	wantCode(t, db.RevokeCertificateKind(clerkA, claimed, yipanqi.CertSeen, "again"), yipanqi.ECONFLICT)
	// A township that holds only the seen record of a number sees that record; posting is for
	// issued certificates only.
	seenGuess, err := db.CertificateInScope(clerkA, MustScope(t, townshipB), guessed)
	if err != nil || seenGuess.Kind != yipanqi.CertSeen {
		t.Errorf("scope %s opening %s: %+v, %v; want the seen record", townshipB, guessed, seenGuess, err)
	}
	wantCode(t, db.RecordCertificatePosting(ctx(), guessed, townshipA, "EMS1", certToday), yipanqi.ENOTFOUND)
	// In the issuer's scope the number is the issued certificate.
	if c, err := db.CertificateInScope(ctx(), MustScope(t, hometown), claimed); err != nil || c.Kind != yipanqi.CertIssued {
		t.Errorf("the issuer opening %s: %+v, %v; want the issued one", claimed, c, err)
	}
}
