package storetest

import (
	"testing"
	"time"

	"yipanqi"
	"yipanqi/sqlstore"
)

// testConsents: a consent is recorded for a person in scope, covers its type and recipient
// while it stands, and stops covering once revoked; bad input is refused and stores nothing;
// reads are scoped and audited.
func testConsents(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	p, far := NewPerson(1, townshipA), NewPerson(2, elsewhere+"001")
	MustImport(t, db, p, far)
	scope := MustScope(t, county)
	staff := yipanqi.NewContextWithUser(ctx(), &yipanqi.User{Username: "wang", OrgUnit: county})
	given := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	good := func() *yipanqi.Consent {
		return &yipanqi.Consent{IDNumber: p.IDNumber, CaseType: "service.result", Recipient: hometown, GivenAt: given}
	}
	bad := []struct {
		name, field, code string
		mutate            func(c *yipanqi.Consent)
	}{
		{"type needs none", "case_type", yipanqi.EINVALID, func(c *yipanqi.Consent) { c.CaseType = "verify.identity" }},
		{"unknown type", "case_type", yipanqi.EINVALID, func(c *yipanqi.Consent) { c.CaseType = "nope" }},
		{"bad recipient", "recipient", yipanqi.EINVALID, func(c *yipanqi.Consent) { c.Recipient = "36x" }},
		{"no time", "given_at", yipanqi.EINVALID, func(c *yipanqi.Consent) { c.GivenAt = time.Time{} }},
		{"future", "given_at", yipanqi.EINVALID, func(c *yipanqi.Consent) { c.GivenAt = time.Now().Add(time.Hour) }},
		{"unit out of scope", "org_unit", yipanqi.EINVALID, func(c *yipanqi.Consent) { c.OrgUnit = elsewhere }},
		{"person out of scope", "", yipanqi.ENOTFOUND, func(c *yipanqi.Consent) { c.IDNumber = far.IDNumber }},
	}
	for _, tt := range bad {
		c := good()
		tt.mutate(c)
		err := db.RecordConsent(staff, scope, c)
		wantCode(t, err, tt.code)
		if tt.field != "" && yipanqi.ErrorField(err) != tt.field {
			t.Errorf("%s: field %q, want %q (%v)", tt.name, yipanqi.ErrorField(err), tt.field, err)
		}
	}
	if list, err := db.Consents(ctx(), MustScope(t, "44"), p.IDNumber); err != nil || len(list) != 0 {
		t.Fatalf("refused consents stored: %v, %v", list, err)
	}

	c := good()
	if err := db.RecordConsent(staff, scope, c); err != nil {
		t.Fatal(err)
	}
	if c.ID == 0 || c.OrgUnit != county || c.RecordedBy != "wang" || c.Purpose == "" {
		t.Fatalf("recorded consent = %+v", c)
	}
	live := func() (*yipanqi.Consent, error) {
		var got *yipanqi.Consent
		err := db.InTx(ctx(), func(tx *sqlstore.Tx) error {
			var err error
			got, err = tx.LiveConsent(ctx(), p.IDNumber, "service.result", hometown+"100", time.Now())
			return err
		})
		return got, err
	}
	if got, err := live(); err != nil || got.ID != c.ID || !got.GivenAt.Equal(given) {
		t.Fatalf("live consent = %+v, %v", got, err)
	}
	var other error
	_ = db.InTx(ctx(), func(tx *sqlstore.Tx) error {
		_, other = tx.LiveConsent(ctx(), p.IDNumber, "service.result", "440106", time.Now()) // another recipient
		return nil
	})
	wantCode(t, other, yipanqi.ENOTFOUND)

	wantCode(t, db.RevokeConsent(staff, scope, c.ID, " "), yipanqi.EINVALID)
	wantCode(t, db.RevokeConsent(staff, MustScope(t, elsewhere), c.ID, "本人申请"), yipanqi.ENOTFOUND)
	if err := db.RevokeConsent(staff, scope, c.ID, "本人申请撤回"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.RevokeConsent(staff, scope, c.ID, "再次"), yipanqi.ECONFLICT)
	_, err := live()
	wantCode(t, err, yipanqi.ENOTFOUND)

	list, err := db.Consents(staff, scope, p.IDNumber)
	if err != nil || len(list) != 1 || list[0].RevokedAt.IsZero() || list[0].RevokedBy != "wang" || list[0].RevokeReason != "本人申请撤回" {
		t.Fatalf("consents = %+v, %v", list, err)
	}
	if list, err := db.Consents(ctx(), MustScope(t, townshipB), p.IDNumber); err != nil || len(list) != 0 {
		t.Fatalf("another unit sees %d consents (%v)", len(list), err)
	}
	log, err := db.AuditLog(ctx(), p.IDNumber, 100)
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]int{}
	for _, e := range log {
		actions[e.Action]++
	}
	if actions["consent.recorded"] != 1 || actions["consent.revoked"] != 1 || actions["person.consents"] < 2 {
		t.Fatalf("audit actions = %v", actions)
	}
}
