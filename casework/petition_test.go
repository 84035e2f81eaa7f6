package casework_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"yipanqi"
)

func petition(i int) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"petition_number": "粤信 2026-" + string(rune('0'+i)), "petition_date": "2026-11-02",
		"summary": "反映在户籍地办理独生子女父母奖励未兑现"})
	return b
}

// TestPetition: accept or decline, then (only after an acceptance) the outcome, which goes
// back to the sender on its own; the deadline that counts from the acceptance replaces the
// first on both sides. Replies out of turn are refused and change nothing.
func TestPetition(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		w := newWorld(t)
		a := w.start(t, "44", newDSN(), both)
		b := w.start(t, "43", newDSN(), both)
		ctx := context.Background()
		state := func(p *peer, id string) *yipanqi.Case {
			c, err := p.db.FindCase(ctx, p.scope(t), id)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}

		c := &yipanqi.Case{Type: "petition.forward", OrgUnit: unit44a, PeerNode: "43", PeerUnit: unit43}
		if err := a.node.Send(ctx, c, petition(1)); err != nil {
			t.Fatal(err)
		}
		waitReceipts(t, a, 1, 15*time.Second)
		first := state(b, c.ID)
		if want := first.ReceivedAt.Add(15 * 24 * time.Hour); !first.DueAt.Equal(want) {
			t.Fatalf("accept deadline %v, want %v", first.DueAt, want)
		}
		outcome := json.RawMessage(`{"outcome":"已督促户籍地兑现奖励","closed_on":"2026-12-01"}`)
		before := b.kept(t)
		wantError(t, b.node.Reply(ctx, c.ID, "outcome", outcome), yipanqi.ECONFLICT, "reply")
		if after := b.kept(t); after != before || state(b, c.ID).State != yipanqi.CaseDelivered {
			t.Fatalf("an outcome before acceptance changed something: %+v → %+v", before, after)
		}
		if err := b.node.Reply(ctx, c.ID, "accepted", json.RawMessage(`{"handled_by":"芙蓉区信访局"}`)); err != nil {
			t.Fatal(err)
		}
		accepted := state(b, c.ID)
		if accepted.State != yipanqi.CaseInProgress || !accepted.DueAt.After(first.DueAt) {
			t.Fatalf("after acceptance: state %s due %v (was %v)", accepted.State, accepted.DueAt, first.DueAt)
		}
		if accepted.DueAt.Sub(accepted.UpdatedAt) > 60*24*time.Hour+time.Minute || accepted.DueAt.Sub(accepted.UpdatedAt) < 59*24*time.Hour {
			t.Fatalf("outcome deadline %v is not 60 days after the acceptance (%v)", accepted.DueAt, accepted.UpdatedAt)
		}
		checkFor(t, 15*time.Second, "sender sees the acceptance", func() bool {
			got := state(a, c.ID)
			return got.State == yipanqi.CaseInProgress && got.DueAt.Equal(accepted.DueAt)
		})
		wantError(t, b.node.Reply(ctx, c.ID, "accepted", nil), yipanqi.ECONFLICT, "reply")
		wantError(t, b.node.Reply(ctx, c.ID, "declined", json.RawMessage(`{"reason":"不属本机关职权"}`)), yipanqi.ECONFLICT, "reply")
		wantError(t, a.node.Withdraw(ctx, c.ID, "误发"), yipanqi.ECONFLICT, "state")
		if err := b.node.Reply(ctx, c.ID, "outcome", outcome); err != nil {
			t.Fatal(err)
		}
		checkFor(t, 15*time.Second, "outcome back at the sender", func() bool { return state(a, c.ID).State == yipanqi.CaseReplied })
		if state(b, c.ID).State != yipanqi.CaseReplied {
			t.Fatal("receiver's case not answered after the outcome")
		}
		wantError(t, b.node.Reply(ctx, c.ID, "outcome", outcome), yipanqi.ECONFLICT, "state")
		waitTimeline(t, a, c.ID, yipanqi.CaseEventSent, yipanqi.CaseEventReceipted, yipanqi.CaseEventReplyReceived,
			yipanqi.CaseEventReplyReceived)

		// Declined: final at once; no outcome after it.
		d := &yipanqi.Case{Type: "petition.forward", OrgUnit: unit44a, PeerNode: "43", PeerUnit: unit43}
		if err := a.node.Send(ctx, d, petition(2)); err != nil {
			t.Fatal(err)
		}
		checkFor(t, 15*time.Second, "second petition delivered", func() bool {
			got, err := b.db.FindCase(ctx, b.scope(t), d.ID)
			return err == nil && got.State == yipanqi.CaseDelivered
		})
		wantError(t, b.node.Reply(ctx, d.ID, "declined", nil), yipanqi.EINVALID, "reason")
		if err := b.node.Reply(ctx, d.ID, "declined", json.RawMessage(`{"reason":"已由上级机关办结"}`)); err != nil {
			t.Fatal(err)
		}
		wantError(t, b.node.Reply(ctx, d.ID, "outcome", outcome), yipanqi.ECONFLICT, "state")
		checkFor(t, 15*time.Second, "decline at the sender", func() bool { return state(a, d.ID).State == yipanqi.CaseReplied })
	})
}
