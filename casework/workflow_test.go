package casework_test

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
		if _, err := p.db.FindCase(context.Background(), p.scope(tb), caseID); yipanqi.ErrorCode(err) == yipanqi.ENOTFOUND {
			return false // not there yet
		}
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

// TestWithdraw: the sender withdraws a case before its reply; both copies become withdrawn,
// a reply to it is refused, and withdrawing after a reply is refused. Refusals change nothing.
func TestWithdraw(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		w := newWorld(t)
		a := w.start(t, "44", newDSN(), both)
		b := w.start(t, "43", newDSN(), both)
		ctx := context.Background()

		c := a.send(t, 1, "verify.identity", unit43)
		waitReceipts(t, a, 1, 15*time.Second)
		before := a.kept(t)
		if err := a.node.Withdraw(ctx, c.ID, "  "); yipanqi.ErrorCode(err) != yipanqi.EINVALID || yipanqi.ErrorField(err) != "reason" {
			t.Fatalf("withdraw without a reason: %v", err)
		}
		if err := a.node.Withdraw(ctx, "no-such-case", "误发"); yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
			t.Fatalf("withdraw of an unknown case: %v", err)
		}
		if after := a.kept(t); after != before {
			t.Fatalf("refused withdrawals stored something: %+v → %+v", before, after)
		}
		if err := a.node.Withdraw(ctx, c.ID, "当事人已自行返乡办理"); err != nil {
			t.Fatal(err)
		}
		checkFor(t, 15*time.Second, "case withdrawn at 43", func() bool {
			got, err := b.db.FindCase(ctx, b.scope(t), c.ID)
			return err == nil && got.State == yipanqi.CaseWithdrawn
		})
		if got, _ := a.db.FindCase(ctx, a.scope(t), c.ID); got.State != yipanqi.CaseWithdrawn {
			t.Fatalf("sender's case = %s", got.State)
		}
		err := b.node.Reply(ctx, c.ID, "confirmed", nil)
		if want := "案件“" + c.ID + "”已被来文方撤回，不能答复"; yipanqi.ErrorCode(err) != yipanqi.ECONFLICT || yipanqi.ErrorMessage(err) != want {
			t.Fatalf("reply to a withdrawn case: %v, want %s", err, want)
		}
		err = a.node.Withdraw(ctx, c.ID, "再次撤回")
		if want := "案件“" + c.ID + "”已撤回，不能再次撤回"; yipanqi.ErrorCode(err) != yipanqi.ECONFLICT || yipanqi.ErrorMessage(err) != want {
			t.Fatalf("second withdrawal: %v, want %s", err, want)
		}
		waitTimeline(t, a, c.ID, yipanqi.CaseEventSent, yipanqi.CaseEventReceipted, yipanqi.CaseEventWithdrawn)
		waitTimeline(t, b, c.ID, yipanqi.CaseEventReceived, yipanqi.CaseEventWithdrawn)
		if m := b.messagesByKind(t, c.ID); m["in:withdrawn"] != 1 {
			t.Fatalf("receiver's log = %v", m)
		}
		if n := a.auditCount(t, c.ID, "case.withdrawn"); n != 1 {
			t.Fatalf("sender audited the withdrawal %d times", n)
		}

		// After a reply the sender cannot withdraw.
		r := a.send(t, 2, "verify.identity", unit43)
		waitReceipts(t, a, 1, 15*time.Second)
		if err := b.node.Reply(ctx, r.ID, "confirmed", nil); err != nil {
			t.Fatal(err)
		}
		checkFor(t, 15*time.Second, "reply at 44", func() bool {
			got, err := a.db.FindCase(ctx, a.scope(t), r.ID)
			return err == nil && got.State == yipanqi.CaseReplied
		})
		before = a.kept(t)
		err = a.node.Withdraw(ctx, r.ID, "误发")
		if yipanqi.ErrorCode(err) != yipanqi.ECONFLICT || !strings.Contains(yipanqi.ErrorMessage(err), "已收到答复") {
			t.Fatalf("withdrawal after the reply: %v", err)
		}
		if after := a.kept(t); after != before {
			t.Fatalf("refused withdrawal stored something: %+v → %+v", before, after)
		}
		for _, p := range []*peer{a, b} {
			if dl, _ := p.db.DeadLetters(ctx, 10); len(dl) != 0 {
				t.Fatalf("dead letters at %s: %+v", p.code, dl[0])
			}
		}
	})
}

// TestTransfer: the receiver moves a case to another of its units; the sender's case names
// the new unit, and the reply comes from it. A bad transfer changes nothing.
func TestTransfer(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		w := newWorld(t)
		a := w.start(t, "44", newDSN(), both)
		b := w.start(t, "43", newDSN(), both)
		ctx := context.Background()
		const other43 = "430103"
		if err := b.db.UpsertOrgUnits(ctx, []yipanqi.OrgUnit{{Code: other43, Name: "天心区", Active: true},
			{Code: "430104", Name: "岳麓区", Active: false}}); err != nil {
			t.Fatal(err)
		}
		c := a.send(t, 1, "verify.identity", unit43)
		waitReceipts(t, a, 1, 15*time.Second)
		before := b.kept(t)
		for _, bad := range []struct{ unit, reason, code string }{
			{other43, "", yipanqi.EINVALID},
			{"430104", "户籍在岳麓区", yipanqi.EINVALID}, // no staff
			{"440106", "户籍在广州", yipanqi.EINVALID},  // another node
			{unit43, "原地", yipanqi.EINVALID},
		} {
			if err := b.node.Transfer(ctx, c.ID, bad.unit, bad.reason); yipanqi.ErrorCode(err) != bad.code {
				t.Errorf("transfer to %s (%q): %v, want %s", bad.unit, bad.reason, err, bad.code)
			}
		}
		if after := b.kept(t); after != before {
			t.Fatalf("refused transfers stored something: %+v → %+v", before, after)
		}
		user := yipanqi.NewContextWithUser(ctx, &yipanqi.User{Username: "zhao", OrgUnit: unit43})
		if err := b.node.Transfer(user, c.ID, other43, "户籍在天心区"); err != nil {
			t.Fatal(err)
		}
		if _, err := b.db.FindCase(ctx, mustScope(t, unit43), c.ID); yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
			t.Fatalf("the first unit still holds the case: %v", err)
		}
		checkFor(t, 15*time.Second, "sender told of the new unit", func() bool {
			got, err := a.db.FindCase(ctx, a.scope(t), c.ID)
			return err == nil && got.PeerUnit == other43
		})
		if n := b.auditCount(t, c.ID, "case.transferred"); n != 1 {
			t.Fatalf("transfer audited %d times", n)
		}
		if err := b.node.Reply(ctx, c.ID, "confirmed", nil); err != nil {
			t.Fatal(err)
		}
		waitTimeline(t, a, c.ID, yipanqi.CaseEventSent, yipanqi.CaseEventReceipted, yipanqi.CaseEventTransferred,
			yipanqi.CaseEventReplyReceived)
		evs, _ := a.db.CaseTimeline(ctx, a.scope(t), c.ID)
		if evs[3].OrgUnit != other43 {
			t.Fatalf("reply from %s, want %s", evs[3].OrgUnit, other43)
		}
		evs, _ = b.db.CaseTimeline(ctx, b.scope(t), c.ID)
		if evs[1].Kind != yipanqi.CaseEventTransferred || evs[1].Actor != "zhao" || evs[1].OrgUnit != unit43 {
			t.Fatalf("receiver's transfer event = %+v", evs[1])
		}
	})
}

// TestRouting: the receiving node gives a case to the deepest unit with staff on the path of
// the addressed code and tells the sender; an addressee it does not know is returned with
// the reason, and nothing is opened for it.
func TestRouting(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		w := newWorld(t)
		a := w.start(t, "44", newDSN(), both)
		b := w.start(t, "43", newDSN(), both)
		ctx := context.Background()
		const township = "430102001" // held, no staff: its county takes the case
		if err := b.db.UpsertOrgUnits(ctx, []yipanqi.OrgUnit{{Code: township, Name: "五里牌街道", Active: false}}); err != nil {
			t.Fatal(err)
		}
		node, unit, err := a.node.RouteFor(ctx, township+"002")
		if err != nil || node != "43" || unit != township {
			t.Fatalf("RouteFor(village) = %s, %s, %v", node, unit, err)
		}
		if _, _, err := a.node.RouteFor(ctx, "43"); yipanqi.ErrorField(err) != "hukou_code" {
			t.Fatalf("RouteFor(province) = %v", err)
		}
		for _, addressed := range []string{township, township + "002"} {
			c := &yipanqi.Case{Type: "verify.identity", OrgUnit: unit44a, PeerNode: "43", PeerUnit: addressed}
			if err := a.node.Send(ctx, c, fieldsFor(1)); err != nil {
				t.Fatal(err)
			}
			checkFor(t, 15*time.Second, "routed case receipted", func() bool {
				got, err := a.db.FindCase(ctx, a.scope(t), c.ID)
				return err == nil && got.State == yipanqi.CaseDelivered && got.PeerUnit == unit43
			})
			in, err := b.db.FindCase(ctx, b.scope(t), c.ID)
			if err != nil || in.OrgUnit != unit43 {
				t.Fatalf("routed to %+v, %v; want %s", in, err, unit43)
			}
		}
		// A township the node does not hold, and its villages, are returned.
		before := b.countCases(t, yipanqi.Incoming, "")
		for _, addressed := range []string{"430102009", "430102009001", unknown3} {
			c := &yipanqi.Case{Type: "verify.identity", OrgUnit: unit44a, PeerNode: "43", PeerUnit: addressed}
			if err := a.node.Send(ctx, c, fieldsFor(2)); err != nil {
				t.Fatal(err)
			}
			checkFor(t, 15*time.Second, "case to "+addressed+" rejected", func() bool {
				got, err := a.db.FindCase(ctx, a.scope(t), c.ID)
				return err == nil && got.State == yipanqi.CaseRejected
			})
			evs, err := a.db.CaseTimeline(ctx, a.scope(t), c.ID)
			if err != nil || len(evs) != 2 || evs[1].Kind != yipanqi.CaseEventRejected || !strings.Contains(evs[1].Note, addressed) {
				t.Fatalf("timeline of the returned case: %+v, %v", evs, err)
			}
		}
		if after := b.countCases(t, yipanqi.Incoming, ""); after != before {
			t.Fatalf("unknown addressees opened %d cases", after-before)
		}
	})
}

// TestWithdrawBeforeDelivery: a case withdrawn before its request was even published arrives
// withdrawn: the request and the withdrawal come in one batch, in order.
func TestWithdrawBeforeDelivery(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		w := newWorld(t)
		a := w.start(t, "44", newDSN(), noRelay)
		b := w.start(t, "43", newDSN(), both)
		ctx := context.Background()
		c := a.send(t, 1, "verify.identity", unit43)
		if err := a.node.Withdraw(ctx, c.ID, "发错对象"); err != nil {
			t.Fatal(err)
		}
		stop := runRelay(t, a)
		defer stop()
		checkFor(t, 15*time.Second, "case withdrawn at 43", func() bool {
			got, err := b.db.FindCase(ctx, b.scope(t), c.ID)
			return err == nil && got.State == yipanqi.CaseWithdrawn
		})
		waitTimeline(t, b, c.ID, yipanqi.CaseEventReceived, yipanqi.CaseEventWithdrawn)
		if dl, _ := b.db.DeadLetters(ctx, 10); len(dl) != 0 {
			t.Fatalf("dead letter at 43: %s", dl[0].Reason)
		}
	})
}

// kept is what a node stores that a refused call must not change and that does not move by
// itself: cases and dead letters (the outbox drains while the relay runs).
func (p *peer) kept(tb testing.TB) counts {
	tb.Helper()
	c := p.counts(tb)
	c.outbox = 0
	return c
}

// TestLocalWorkflow: withdrawal and transfer of a case between two units of the same node,
// whose two copies have different ids.
func TestLocalWorkflow(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		w := newWorld(t)
		a := w.start(t, "44", newDSN(), both)
		ctx := context.Background()
		const other = unit44b + "001"
		if err := a.db.UpsertOrgUnits(ctx, []yipanqi.OrgUnit{{Code: other, Name: "南头街道", Active: true}}); err != nil {
			t.Fatal(err)
		}
		copyOf := func(c *yipanqi.Case) *yipanqi.Case {
			var found *yipanqi.Case
			checkFor(t, 15*time.Second, "local copy", func() bool {
				list, _, err := a.db.ListCases(ctx, mustScope(t, unit44b), yipanqi.CaseFilter{Direction: yipanqi.Incoming})
				if err != nil {
					t.Fatal(err)
				}
				for _, x := range list {
					if x.PeerUnit == unit44a && x.ID != c.ID && x.CreatedAt.After(c.CreatedAt.Add(-time.Second)) && x.Type == c.Type {
						found = x
					}
				}
				return found != nil && found.State == yipanqi.CaseDelivered
			})
			return found
		}
		c := a.send(t, 1, "verify.identity", unit44b)
		in := copyOf(c)
		if err := a.node.Transfer(ctx, in.ID, other, "户籍在南头街道"); err != nil {
			t.Fatal(err)
		}
		checkFor(t, 15*time.Second, "sender's copy names the new unit", func() bool {
			got, err := a.db.FindCase(ctx, mustScope(t, unit44a), c.ID)
			return err == nil && got.PeerUnit == other
		})
		if err := a.node.Withdraw(ctx, c.ID, "已当面核实"); err != nil {
			t.Fatal(err)
		}
		checkFor(t, 15*time.Second, "receiver's copy withdrawn", func() bool {
			got, err := a.db.FindCase(ctx, mustScope(t, other), in.ID)
			return err == nil && got.State == yipanqi.CaseWithdrawn
		})
		wantError(t, a.node.Reply(ctx, in.ID, "confirmed", nil), yipanqi.ECONFLICT, "state")
		if dl, _ := a.db.DeadLetters(ctx, 10); len(dl) != 0 {
			t.Fatalf("dead letter: %s", dl[0].Reason)
		}
	})
}
