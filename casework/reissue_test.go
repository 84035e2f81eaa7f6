package casework_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/casework"
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
		today := yipanqi.DateOf(time.Now().In(yipanqi.Shanghai))
		birth := yipanqi.Date{Year: 1992, Month: 3, Day: 4}
		id, other := storetest.IDNumber(unit43, birth, 7), storetest.IDNumber(unit43, birth, 8)
		township := unit44a + "001"
		register(t, a, unit43, id, other)

		fields, _ := json.Marshal(map[string]any{"id_number": id, "name": "测试乙", "post_to": township})
		c := &yipanqi.Case{OrgUnit: unit44a, PeerNode: "43", PeerUnit: unit43}
		notice, err := a.node.StartReissue(ctx, c, fields)
		if err != nil {
			t.Fatal(err)
		}
		if notice.CaseID != c.ID || notice.Number == "" || notice.Date != today ||
			notice.Deadline != today.AddDays(casework.DefaultReissueNoticeDays) || notice.Rights == "" {
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
		// The arrived certificate is in the residence's registry, as seen, with the number,
		// dates and status of the hometown's.
		issued, err := b.db.Certificate(yipanqi.NewContextWithUser(ctx, &yipanqi.User{Username: "t", OrgUnit: unit43}), right)
		if err != nil {
			t.Fatal(err)
		}
		clerk := yipanqi.NewContextWithUser(ctx, &yipanqi.User{Username: "t", OrgUnit: unit44a})
		seen, err := a.db.CertificateInScope(clerk, a.scope(t), right)
		if err != nil {
			t.Fatalf("the arrived certificate is not in the residence's registry: %v", err)
		}
		// A seen record is local evidence: the residence's unscoped (and public) lookup does not
		// answer for another node's certificate.
		if _, err := a.db.Certificate(clerk, right); yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
			t.Errorf("the residence's unscoped lookup of the seen %s: %v; want ENOTFOUND", right, err)
		}
		if seen.Kind != yipanqi.CertSeen || seen.IDNumber != id || seen.HolderName != "测试乙" || seen.OrgUnit != unit44a ||
			seen.IssuerCode != issued.IssuerCode || seen.IssuedOn != issued.IssuedOn || seen.ValidUntil != issued.ValidUntil ||
			seen.MaritalStatus != issued.MaritalStatus || seen.StatusOn(today) != yipanqi.CertValid {
			t.Errorf("seen certificate %+v, issued %+v", seen, issued)
		}
		held, err := a.db.PersonCertificates(clerk, a.scope(t), id)
		if err != nil || len(held) != 1 || held[0].Number != right {
			t.Errorf("the person's certificates at the residence: %+v, %v", held, err)
		}
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

		// An "issued" without validity and marital status (a node that does not send them yet):
		// the arrival is recorded, nothing is registered, and the timeline says so.
		e := &yipanqi.Case{OrgUnit: unit44a, PeerNode: "43", PeerUnit: unit43}
		if _, err := a.node.StartReissue(ctx, e, fields); err != nil {
			t.Fatal(err)
		}
		checkFor(t, 15*time.Second, "third reissue delivered", func() bool {
			got, err := b.db.FindCase(ctx, b.scope(t), e.ID)
			return err == nil && got.State == yipanqi.CaseDelivered
		})
		old := unit43 + "-2024-000042"
		reply, _ := json.Marshal(map[string]any{"cert_number": old, "issued_on": today.String(), "posted_to": township,
			"tracking_number": "EMS0000000001"})
		if err := b.node.Reply(ctx, e.ID, "issued", reply); err != nil {
			t.Fatal(err)
		}
		checkFor(t, 15*time.Second, "third issued at the residence", func() bool {
			got, err := a.db.FindCase(ctx, a.scope(t), e.ID)
			return err == nil && got.State == yipanqi.CaseReplied
		})
		if err := a.node.RecordCertArrival(ctx, e.ID, today); err != nil {
			t.Fatal(err)
		}
		if _, err := a.db.Certificate(clerk, old); yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
			t.Errorf("a reply without validity registered %s: %v", old, err)
		}
		tl, _ := a.db.CaseTimeline(ctx, a.scope(t), e.ID)
		if last := tl[len(tl)-1]; last.Kind != yipanqi.CaseEventCertArrived || !strings.Contains(last.Note, "未登记入本地证明库") {
			t.Errorf("timeline of an unregistered arrival ends %+v", last)
		}
	})
}
