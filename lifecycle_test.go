package yipanqi_test

import (
	"errors"
	"slices"
	"testing"

	"yipanqi"
)

var allStates = []yipanqi.CaseState{yipanqi.CaseDrafted, yipanqi.CaseSent, yipanqi.CaseDelivered, yipanqi.CaseInProgress,
	yipanqi.CaseReplied, yipanqi.CaseClosed, yipanqi.CaseTransferred, yipanqi.CaseWithdrawn, yipanqi.CaseRejected}

// TestLifecycleTable: each action is allowed from exactly the states the engine moves cases
// from, and leaves the case in its state.
func TestLifecycleTable(t *testing.T) {
	d, p, r, s := yipanqi.CaseDelivered, yipanqi.CaseInProgress, yipanqi.CaseReplied, yipanqi.CaseSent
	for _, tc := range []struct {
		a    yipanqi.CaseAction
		from []yipanqi.CaseState
		to   yipanqi.CaseState
	}{
		{yipanqi.ActReply, []yipanqi.CaseState{d, p}, r},
		{yipanqi.ActAccept, []yipanqi.CaseState{d}, p},
		{yipanqi.ActTransfer, []yipanqi.CaseState{d, p}, ""},
		{yipanqi.ActWithdrawNoticed, []yipanqi.CaseState{d, p}, yipanqi.CaseWithdrawn},
		{yipanqi.ActWithdraw, []yipanqi.CaseState{s, d}, yipanqi.CaseWithdrawn},
		{yipanqi.ActRejected, []yipanqi.CaseState{s, d}, yipanqi.CaseRejected},
		{yipanqi.ActAcceptReceived, []yipanqi.CaseState{s, d}, p},
		{yipanqi.ActReplyReceived, []yipanqi.CaseState{s, d, p}, r},
		{yipanqi.ActAcknowledged, []yipanqi.CaseState{d}, yipanqi.CaseClosed},
		{yipanqi.ActHandOver, []yipanqi.CaseState{r}, yipanqi.CaseClosed},
	} {
		if got := tc.a.From(); !slices.Equal(got, tc.from) {
			t.Errorf("%s.From() = %v, want %v", tc.a, got, tc.from)
		}
		if got := tc.a.To(); got != tc.to {
			t.Errorf("%s.To() = %q, want %q", tc.a, got, tc.to)
		}
		for _, st := range allStates {
			if got, want := tc.a.Allows(st), slices.Contains(tc.from, st); got != want {
				t.Errorf("%s.Allows(%s) = %v, want %v", tc.a, st, got, want)
			}
			if tc.a.Allows(st) && !st.IsOpen() && tc.a != yipanqi.ActHandOver {
				t.Errorf("%s starts from %s, which is not open", tc.a, st)
			}
		}
	}
	// From returns a copy: changing it does not change the table.
	f := yipanqi.ActReply.From()
	f[0] = yipanqi.CaseClosed
	if yipanqi.ActReply.Allows(yipanqi.CaseClosed) {
		t.Error("ActReply.From() shares the table")
	}
}

// TestIsOpen: sent, delivered and in progress are open; every other state is finished.
func TestIsOpen(t *testing.T) {
	open := map[yipanqi.CaseState]bool{yipanqi.CaseSent: true, yipanqi.CaseDelivered: true, yipanqi.CaseInProgress: true}
	for _, s := range allStates {
		if got := s.IsOpen(); got != open[s] {
			t.Errorf("%s.IsOpen() = %v, want %v", s, got, open[s])
		}
	}
	if got := yipanqi.OpenStates(); !slices.Equal(got, []yipanqi.CaseState{yipanqi.CaseSent, yipanqi.CaseDelivered, yipanqi.CaseInProgress}) {
		t.Errorf("OpenStates() = %v", got)
	}
}

// TestStateConflict: the conflict names the case and its state by its label, as the copy's
// side says it, and what cannot be done.
func TestStateConflict(t *testing.T) {
	for _, tc := range []struct {
		a    yipanqi.CaseAction
		s    yipanqi.CaseState
		want string
	}{
		{yipanqi.ActReply, yipanqi.CaseReplied, "案件“c1”已答复，不能再次答复"},
		{yipanqi.ActReply, yipanqi.CaseClosed, "案件“c1”已办结，不能答复"},
		{yipanqi.ActReply, yipanqi.CaseTransferred, "案件“c1”已转办，不能答复"},
		{yipanqi.ActReply, yipanqi.CaseWithdrawn, "案件“c1”已被来文方撤回，不能答复"},
		{yipanqi.ActReply, yipanqi.CaseRejected, "案件“c1”已被退回，不能答复"},
		{yipanqi.ActReply, "bogus", "案件“c1”当前状态不能答复"},
		{yipanqi.ActWithdraw, yipanqi.CaseReplied, "案件“c1”已收到答复，不能撤回"},
		{yipanqi.ActWithdraw, yipanqi.CaseClosed, "案件“c1”已办结，不能撤回"},
		{yipanqi.ActWithdraw, yipanqi.CaseWithdrawn, "案件“c1”已撤回，不能再次撤回"},
		{yipanqi.ActWithdraw, yipanqi.CaseRejected, "案件“c1”已被退回，不能撤回"},
		{yipanqi.ActTransfer, yipanqi.CaseClosed, "案件“c1”已办结，不能转办"},
	} {
		err := yipanqi.StateConflict("c1", tc.a, tc.s)
		var e *yipanqi.Error
		if !errors.As(err, &e) || e.Code != yipanqi.ECONFLICT || e.Field != "state" || e.Message != tc.want {
			t.Errorf("StateConflict(%s, %s) = %v, want ECONFLICT state %q", tc.a, tc.s, err, tc.want)
		}
	}
	// Every state has a label on both sides.
	for _, s := range allStates {
		for _, d := range []yipanqi.Direction{yipanqi.Incoming, yipanqi.Outgoing} {
			if s.ConflictLabel(d) == "" {
				t.Errorf("%s has no label (%s)", s, d)
			}
		}
	}
}

// TestUnknownAction: an action outside the table is a programming error.
func TestUnknownAction(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for an unknown action")
		}
	}()
	yipanqi.CaseAction("fly").Allows(yipanqi.CaseSent)
}
