package exchange_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"yipanqi"
)

// timelineKinds returns the kinds on a case's timeline at p, in order.
func (p *peer) timelineKinds(tb testing.TB, caseID string) []string {
	tb.Helper()
	evs, err := p.db.CaseTimeline(context.Background(), p.scope(tb), caseID)
	if err != nil {
		tb.Fatalf("timeline of %s at %s: %v", caseID, p.code, err)
	}
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Kind
	}
	return out
}

// waitTimeline waits until the timeline of the case at p is exactly want.
func waitTimeline(tb testing.TB, p *peer, caseID string, want ...string) {
	tb.Helper()
	var got []string
	checkFor(tb, 15*time.Second, "timeline "+strings.Join(want, ",")+" at "+p.code, func() bool {
		got = p.timelineKinds(tb, caseID)
		return strings.Join(got, ",") == strings.Join(want, ",")
	})
}

// TestTimeline: every step of a case between two nodes is on both sides' timelines, with its
// node, actor and unit, written with the step.
func TestTimeline(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		w := newWorld(t)
		a := w.start(t, "44", newDSN(), both)
		b := w.start(t, "43", newDSN(), both)
		ctx := context.Background()

		user := &yipanqi.User{Username: "zhang", OrgUnit: unit44a}
		c := &yipanqi.Case{Type: "verify.identity", OrgUnit: unit44a, PeerNode: "43", PeerUnit: unit43}
		if err := a.node.Send(yipanqi.NewContextWithUser(ctx, user), c, fieldsFor(1)); err != nil {
			t.Fatal(err)
		}
		waitTimeline(t, a, c.ID, yipanqi.CaseEventSent, yipanqi.CaseEventReceipted)
		waitTimeline(t, b, c.ID, yipanqi.CaseEventReceived)
		replier := yipanqi.NewContextWithUser(ctx, &yipanqi.User{Username: "li", OrgUnit: unit43})
		if err := b.node.Reply(replier, c.ID, "confirmed", json.RawMessage(`{}`)); err != nil {
			t.Fatal(err)
		}
		waitTimeline(t, a, c.ID, yipanqi.CaseEventSent, yipanqi.CaseEventReceipted, yipanqi.CaseEventReplyReceived)
		waitTimeline(t, b, c.ID, yipanqi.CaseEventReceived, yipanqi.CaseEventReplied, yipanqi.CaseEventReceipted)

		evs, err := a.db.CaseTimeline(ctx, a.scope(t), c.ID)
		if err != nil {
			t.Fatal(err)
		}
		sent, receipted, replied := evs[0], evs[1], evs[2]
		if sent.Actor != "zhang" || sent.Node != "44" || sent.OrgUnit != unit44a || sent.Label() != "已发出" {
			t.Fatalf("sent event = %+v", sent)
		}
		out, _ := a.db.FindCase(ctx, a.scope(t), c.ID)
		if receipted.Node != "43" || receipted.Actor != "node:43" || !receipted.At.Equal(out.ReceivedAt) {
			t.Fatalf("receipt event = %+v, case received at %v", receipted, out.ReceivedAt)
		}
		if replied.Node != "43" || replied.OrgUnit != unit43 || replied.Note != "答复：属实" {
			t.Fatalf("reply event = %+v", replied)
		}
		evs, _ = b.db.CaseTimeline(ctx, b.scope(t), c.ID)
		if evs[1].Actor != "li" || evs[1].Node != "43" || evs[0].Actor != "system:exchange" {
			t.Fatalf("receiver's events = %+v %+v", evs[0], evs[1])
		}
		// A refused reply adds nothing.
		if err := b.node.Reply(replier, c.ID, "confirmed", nil); yipanqi.ErrorCode(err) != yipanqi.ECONFLICT {
			t.Fatalf("second reply: %v", err)
		}
		if got := b.timelineKinds(t, c.ID); len(got) != 3 {
			t.Fatalf("timeline after a refused reply = %v", got)
		}
		// Another unit's scope does not see the timeline.
		if _, err := a.db.CaseTimeline(ctx, mustScope(t, unit44b), c.ID); yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
			t.Fatalf("timeline out of scope: %v", err)
		}
	})
}
