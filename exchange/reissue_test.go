package exchange_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/exchange"
	"yipanqi/sqlstore/storetest"
)

// TestCertReissue: the whole reissue — the notice to the person, the request, the hometown's
// answer from its registry with the posting, the arrival and the hand-over — each step on the
// timeline, each out-of-turn step refused with nothing changed.
func TestCertReissue(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		w := newWorld(t)
		a := w.start(t, "44", newDSN(), both)
		b := w.start(t, "43", newDSN(), both)
		ctx := context.Background()
		today := yipanqi.DateOf(time.Now().In(time.FixedZone("CST", 8*3600)))
		birth := yipanqi.Date{Year: 1992, Month: 3, Day: 4}
		id, other := storetest.IDNumber(unit43, birth, 7), storetest.IDNumber(unit43, birth, 8)
		township := unit44a + "001"

		fields, _ := json.Marshal(map[string]any{"id_number": id, "name": "测试乙", "post_to": township})
		c := &yipanqi.Case{OrgUnit: unit44a, PeerNode: "43", PeerUnit: unit43}
		notice, err := a.node.StartReissue(ctx, c, fields)
		if err != nil {
			t.Fatal(err)
		}
		if notice.CaseID != c.ID || notice.Number == "" || notice.Date != today ||
			notice.Deadline != today.AddDays(exchange.DefaultReissueNoticeDays) || notice.Rights == "" {
			t.Fatalf("notice = %+v", notice)
		}
		checkFor(t, 15*time.Second, "reissue delivered", func() bool {
			got, err := b.db.FindCase(ctx, b.scope(t), c.ID)
			return err == nil && got.State == yipanqi.CaseDelivered
		})
		wantError(t, a.node.RecordCertArrival(ctx, c.ID, today), yipanqi.ECONFLICT, "state")

		issue := func(holder string) string {
			cert := &yipanqi.Certificate{Kind: yipanqi.CertIssued, IDNumber: holder, HolderName: "测试乙", IssuerCode: unit43,
				IssuedOn: today, ValidUntil: today.AddDays(3 * 365), MaritalStatus: yipanqi.FirstMarried}
			if err := b.db.IssueCertificate(ctx, cert); err != nil {
				t.Fatal(err)
			}
			return cert.Number
		}
		wrong, right := issue(other), issue(id)
		before := b.kept(t)
		wantError(t, b.node.AnswerReissue(ctx, c.ID, unit43+"-2020-000999"), yipanqi.EINVALID, "cert_number")
		wantError(t, b.node.AnswerReissue(ctx, c.ID, wrong), yipanqi.EINVALID, "cert_number")
		wantError(t, b.node.AnswerReissue(ctx, c.ID, right), yipanqi.EINVALID, "cert_number") // not posted yet
		if after := b.kept(t); after != before {
			t.Fatalf("refused answers stored something: %+v → %+v", before, after)
		}
		if err := b.db.RecordCertificatePosting(ctx, right, township, "EMS1234567890", today); err != nil {
			t.Fatal(err)
		}
		if err := b.node.AnswerReissue(ctx, c.ID, right); err != nil {
			t.Fatal(err)
		}
		checkFor(t, 15*time.Second, "issued at the residence", func() bool {
			got, err := a.db.FindCase(ctx, a.scope(t), c.ID)
			return err == nil && got.State == yipanqi.CaseReplied
		})
		wantError(t, a.node.RecordHandOver(ctx, c.ID, today), yipanqi.ECONFLICT, "state")
		wantError(t, a.node.RecordCertArrival(ctx, c.ID, today.AddDays(1)), yipanqi.EINVALID, "on")
		if err := a.node.RecordCertArrival(ctx, c.ID, today); err != nil {
			t.Fatal(err)
		}
		wantError(t, a.node.RecordCertArrival(ctx, c.ID, today), yipanqi.ECONFLICT, "state")
		if err := a.node.RecordHandOver(ctx, c.ID, today); err != nil {
			t.Fatal(err)
		}
		if got, _ := a.db.FindCase(ctx, a.scope(t), c.ID); got.State != yipanqi.CaseClosed {
			t.Fatalf("after the hand-over: %s", got.State)
		}
		waitTimeline(t, a, c.ID, yipanqi.CaseEventSent, yipanqi.CaseEventNoticeGiven, yipanqi.CaseEventReceipted,
			yipanqi.CaseEventReplyReceived, yipanqi.CaseEventCertArrived, yipanqi.CaseEventHandedOver)
		evs, _ := a.db.CaseTimeline(ctx, a.scope(t), c.ID)
		if evs[4].Label() != "婚育证明已寄达" || evs[5].Label() != "婚育证明已交本人" {
			t.Fatalf("labels %q %q", evs[4].Label(), evs[5].Label())
		}
		waitTimeline(t, b, c.ID, yipanqi.CaseEventReceived, yipanqi.CaseEventReplied, yipanqi.CaseEventReceipted)

		// The hometown may refuse, with a reason.
		d := &yipanqi.Case{OrgUnit: unit44a, PeerNode: "43", PeerUnit: unit43}
		if _, err := a.node.StartReissue(ctx, d, fields); err != nil {
			t.Fatal(err)
		}
		checkFor(t, 15*time.Second, "second reissue delivered", func() bool {
			got, err := b.db.FindCase(ctx, b.scope(t), d.ID)
			return err == nil && got.State == yipanqi.CaseDelivered
		})
		wantError(t, b.node.Reply(ctx, d.ID, "refused", nil), yipanqi.EINVALID, "reason")
		if err := b.node.Reply(ctx, d.ID, "refused", json.RawMessage(`{"reason":"户籍已迁出本省"}`)); err != nil {
			t.Fatal(err)
		}
		checkFor(t, 15*time.Second, "refusal at the residence", func() bool {
			got, err := a.db.FindCase(ctx, a.scope(t), d.ID)
			return err == nil && got.State == yipanqi.CaseReplied
		})
		wantError(t, a.node.RecordCertArrival(ctx, d.ID, today), yipanqi.ECONFLICT, "state")
	})
}
