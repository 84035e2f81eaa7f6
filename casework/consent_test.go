package casework_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/sqlstore"
	"yipanqi/sqlstore/storetest"
)

// serviceResult is a service.result request about the person with the ID number.
func serviceResult(idNumber string) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"id_number": idNumber, "service_kind": "health_checkup",
		"service_date": "2026-10-12", "provider": "天河区妇幼保健院", "checkup_done": true})
	return b
}

// TestServiceResultConsent: service.result leaves the node only with the person's live
// separate consent; the hometown acknowledges it on receipt and shows "已收到——无需返乡";
// after the consent is revoked the next send is refused and nothing is stored.
func TestServiceResultConsent(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		w := newWorld(t)
		a := w.start(t, "44", newDSN(), both)
		b := w.start(t, "43", newDSN(), both)
		ctx := context.Background()
		staff := yipanqi.NewContextWithUser(ctx, &yipanqi.User{Username: "chen", OrgUnit: unit44a})

		p := storetest.NewPerson(1, unit44a+"001")
		p.IDNumber, p.HukouCode = storetest.IDNumber(unit43, p.BirthDate, 1), unit43
		storetest.MustImport(t, a.db, p)
		send := func() (*yipanqi.Case, error) {
			c := &yipanqi.Case{Type: "service.result", OrgUnit: unit44a, PeerNode: "43", PeerUnit: unit43}
			return c, a.node.Send(staff, c, serviceResult(p.IDNumber))
		}

		before := a.kept(t)
		_, err := send()
		wantError(t, err, yipanqi.EINVALID, "consent")
		if after := a.kept(t); after != before {
			t.Fatalf("a send without consent stored something: %+v → %+v", before, after)
		}
		// A consent for another recipient does not cover it.
		elsewhere := &yipanqi.Consent{IDNumber: p.IDNumber, CaseType: "service.result", Recipient: "430103", GivenAt: time.Now().Add(-time.Minute)}
		if err := a.db.RecordConsent(staff, a.scope(t), elsewhere); err != nil {
			t.Fatal(err)
		}
		_, err = send()
		wantError(t, err, yipanqi.EINVALID, "consent")

		consent := &yipanqi.Consent{IDNumber: p.IDNumber, CaseType: "service.result", Recipient: unit43, GivenAt: time.Now().Add(-time.Minute)}
		if err := a.db.RecordConsent(staff, a.scope(t), consent); err != nil {
			t.Fatal(err)
		}
		c, err := send()
		if err != nil {
			t.Fatal(err)
		}
		checkFor(t, 15*time.Second, "service result acknowledged", func() bool {
			got, err := a.db.FindCase(ctx, a.scope(t), c.ID)
			return err == nil && got.State == yipanqi.CaseClosed
		})
		in, err := b.db.FindCase(ctx, b.scope(t), c.ID)
		if err != nil || in.State != yipanqi.CaseClosed {
			t.Fatalf("hometown case = %+v, %v", in, err)
		}
		waitTimeline(t, b, c.ID, yipanqi.CaseEventReceived, yipanqi.CaseEventAcknowledged)
		results, err := b.db.ServiceResults(ctx, b.scope(t), p.IDNumber)
		if err != nil || len(results) != 1 {
			t.Fatalf("service results at the hometown = %+v, %v", results, err)
		}
		if r := results[0]; r.CaseID != c.ID || r.ServiceKind != "health_checkup" || r.ServiceDate.String() != "2026-10-12" ||
			!r.CheckupDone || r.From != unit44a || r.ReceivedAt.IsZero() {
			t.Fatalf("service result = %+v", r)
		}
		if sqlstore.NoTripHomeLabel != "已收到——无需返乡" {
			t.Fatalf("label %q", sqlstore.NoTripHomeLabel)
		}
		// Nothing in the hometown workflow asks for a reply to it.
		if err := b.node.Reply(ctx, c.ID, "confirmed", nil); err == nil {
			t.Fatal("a reply to an acknowledged service result was accepted")
		}

		if err := a.db.RevokeConsent(staff, a.scope(t), consent.ID, "本人申请撤回"); err != nil {
			t.Fatal(err)
		}
		before = a.kept(t)
		_, err = send()
		wantError(t, err, yipanqi.EINVALID, "consent")
		if after := a.kept(t); after != before {
			t.Fatalf("a send after revocation stored something: %+v → %+v", before, after)
		}
	})
}
