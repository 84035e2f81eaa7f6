package sla_test

import (
	"testing"
	"time"

	"yipanqi"
	"yipanqi/calendar"
	"yipanqi/sla"
)

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04:05", s, yipanqi.Shanghai)
	if err != nil {
		panic(err)
	}
	return t
}

func mustClock(t *testing.T, cfg sla.Config) *sla.Clock {
	t.Helper()
	k, err := sla.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// A verify.identity case received Monday 2026-03-02 is due at the end of the 15th working day
// after it, Monday 2026-03-23 (no holiday in March 2026). Reminders: 3 working days before
// (Wednesday 18th, 00:00) and 1 (Friday 20th); overdue from Tuesday 24th 00:00, on the
// county's queue then and on the city's after 5 more working days (end of Monday 30th).
func TestAdvanceTimeline(t *testing.T) {
	k := mustClock(t, sla.Config{})
	due, err := calendar.New().Due(at("2026-03-02 10:00:00"), calendar.Rule{WorkingDays: 15})
	if err != nil {
		t.Fatal(err)
	}
	if !due.At.Equal(at("2026-03-23 23:59:59")) {
		t.Fatalf("due = %v, want 2026-03-23 23:59:59 (calendar data changed?)", due.At)
	}
	c := &sla.Case{ID: "c1", Type: "verify.identity", OrgUnit: "440106001", Direction: yipanqi.Incoming,
		State: yipanqi.CaseDelivered, DueAt: due.At}
	steps := []struct {
		now        string
		kinds      []string
		units      []string
		status     string
		next       string
		queue      string
		reminded   int
		escalation int
	}{
		{"2026-03-02 10:00:01", nil, nil, sla.StatusOpen, "2026-03-18 00:00:00", "", 0, 0},
		{"2026-03-17 23:59:59", nil, nil, sla.StatusOpen, "2026-03-18 00:00:00", "", 0, 0},
		{"2026-03-18 00:00:00", []string{"remind"}, []string{"440106001"}, sla.StatusDueSoon, "2026-03-20 00:00:00", "", 1, 0},
		{"2026-03-20 08:00:00", []string{"remind"}, []string{"440106001"}, sla.StatusDueSoon, "2026-03-24 00:00:00", "", 2, 0},
		{"2026-03-23 23:59:59", nil, nil, sla.StatusDueSoon, "2026-03-24 00:00:00", "", 2, 0},
		{"2026-03-24 00:00:00", []string{"overdue", "escalate"}, []string{"440106001", "440106"}, sla.StatusOverdue, "2026-03-31 00:00:00", "440106", 2, 1},
		{"2026-03-31 00:00:00", []string{"escalate"}, []string{"4401"}, sla.StatusOverdue, "", "4401", 2, 2},
	}
	for _, s := range steps {
		ev, next := k.Advance(c, at(s.now))
		var kinds, units []string
		for _, e := range ev {
			kinds, units = append(kinds, e.Kind), append(units, e.Unit)
		}
		if !equal(kinds, s.kinds) || !equal(units, s.units) {
			t.Errorf("at %s: events %v to %v, want %v to %v", s.now, kinds, units, s.kinds, s.units)
		}
		wantNext := time.Time{}
		if s.next != "" {
			wantNext = at(s.next)
		}
		if !next.Equal(wantNext) {
			t.Errorf("at %s: next = %v, want %v", s.now, next.In(yipanqi.Shanghai), wantNext)
		}
		if got := sla.Status(c); got != s.status || c.Queue != s.queue || c.Reminded != s.reminded || c.Level != s.escalation {
			t.Errorf("at %s: status %s queue %q reminded %d level %d, want %s %q %d %d", s.now, got, c.Queue, c.Reminded, c.Level,
				s.status, s.queue, s.reminded, s.escalation)
		}
	}
	// Replied: off every queue, nothing more to do; the overdue flag stays as history.
	c.State = yipanqi.CaseReplied
	if ev, next := k.Advance(c, at("2026-04-01 00:00:00")); len(ev) != 0 || !next.IsZero() || c.Queue != "" || !c.Overdue {
		t.Errorf("replied: events %v next %v queue %q overdue %v", ev, next, c.Queue, c.Overdue)
	}
}

// A sweep that comes late applies everything due at once, in order, and skips reminders
// that only came due after the deadline had passed.
func TestAdvanceCatchUp(t *testing.T) {
	k := mustClock(t, sla.Config{})
	c := &sla.Case{ID: "c2", Type: "verify.identity", OrgUnit: "440106001", Direction: yipanqi.Incoming,
		State: yipanqi.CaseInProgress, DueAt: at("2026-03-23 23:59:59")}
	ev, next := k.Advance(c, at("2026-04-10 12:00:00"))
	var kinds []string
	for _, e := range ev {
		kinds = append(kinds, e.Kind)
	}
	if !equal(kinds, []string{"overdue", "escalate", "escalate"}) || !next.IsZero() || c.Queue != "4401" {
		t.Errorf("catch-up: events %v next %v queue %q", kinds, next, c.Queue)
	}
	// An outgoing case only turns overdue.
	o := &sla.Case{ID: "c3", Type: "verify.identity", OrgUnit: "440106001", Direction: yipanqi.Outgoing,
		State: yipanqi.CaseDelivered, DueAt: at("2026-03-23 23:59:59")}
	ev, next = k.Advance(o, at("2026-04-10 12:00:00"))
	if len(ev) != 1 || ev[0].Kind != sla.EventOverdue || !next.IsZero() || o.Queue != "" {
		t.Errorf("outgoing: events %+v next %v queue %q", ev, next, o.Queue)
	}
}

// Configured reminders replace the catalog's for day-counted types only; escalation steps
// replace every type's; a malformed configuration is refused.
func TestConfig(t *testing.T) {
	k := mustClock(t, sla.Config{Reminders: []yipanqi.Reminder{{WorkingDays: 5}},
		Escalation: []yipanqi.Escalation{{LevelsUp: 1}, {LevelsUp: 2, AfterWorkingDays: 2}}})
	c := &sla.Case{ID: "c", Type: "verify.identity", OrgUnit: "440106001", Direction: yipanqi.Incoming,
		State: yipanqi.CaseDelivered, DueAt: at("2026-03-23 23:59:59")}
	if _, next := k.Advance(c, at("2026-03-02 11:00:00")); !next.Equal(at("2026-03-16 00:00:00")) {
		t.Errorf("5-day reminder at %v, want 2026-03-16 00:00", next)
	}
	k.Advance(c, at("2026-03-25 00:00:00"))
	if _, next := k.Advance(c, at("2026-03-25 00:00:00")); !next.Equal(at("2026-03-26 00:00:00")) {
		t.Errorf("second escalation at %v, want 2026-03-26 00:00 (2 working days after the deadline)", next)
	}
	u := &sla.Case{ID: "u", Type: "verify.urgent", OrgUnit: "440106001", Direction: yipanqi.Incoming,
		State: yipanqi.CaseDelivered, DueAt: at("2026-03-03 10:00:00")}
	if _, next := k.Advance(u, at("2026-03-02 10:00:00")); !next.Equal(at("2026-03-03 04:00:00")) {
		t.Errorf("urgent case keeps its 6-hour reminder: next %v", next)
	}
	for _, bad := range []sla.Config{
		{Reminders: []yipanqi.Reminder{{WorkingDays: 1, Hours: 2}}},
		{Escalation: []yipanqi.Escalation{{LevelsUp: 2}, {LevelsUp: 1, AfterWorkingDays: 3}}},
	} {
		if _, err := sla.New(bad); yipanqi.ErrorCode(err) != yipanqi.EINVALID {
			t.Errorf("New(%+v) = %v, want EINVALID", bad, err)
		}
	}
}

func TestAncestor(t *testing.T) {
	for _, tt := range []struct {
		code string
		up   int
		want string
	}{{"440106001", 1, "440106"}, {"440106001", 2, "4401"}, {"440106", 1, "4401"}, {"44", 1, ""}, {"4401", 2, ""}} {
		if got := sla.Ancestor(tt.code, tt.up); got != tt.want {
			t.Errorf("Ancestor(%s, %d) = %q, want %q", tt.code, tt.up, got, tt.want)
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A deadline moved later — a petition's outcome deadline replacing the first — restarts the
// clock: no longer overdue, off the queues, reminders fire again before the new deadline.
func TestAdvanceDeadlineMoved(t *testing.T) {
	k := mustClock(t, sla.Config{})
	c := &sla.Case{ID: "p", Type: "petition.forward", OrgUnit: "440106001", Direction: yipanqi.Incoming,
		State: yipanqi.CaseInProgress, DueAt: at("2026-03-16 10:00:00")}
	k.Advance(c, at("2026-03-30 00:00:00"))
	if !c.Overdue || c.Level != 2 || c.Queue != "4401" {
		t.Fatalf("before the move: %+v", c)
	}
	c.DueAt = at("2026-05-15 10:00:00")
	ev, next := k.Advance(c, at("2026-03-30 00:00:01"))
	if len(ev) != 0 || c.Overdue || c.Level != 0 || c.Queue != "" || c.Reminded != 0 || !next.Equal(at("2026-05-12 00:00:00")) {
		t.Fatalf("after the move: events %v, %+v, next %v", ev, c, next)
	}
	// Moved later but still past: the steps that have come stay, those that have not go.
	c.DueAt = at("2026-03-16 10:00:00")
	k.Advance(c, at("2026-03-30 00:00:01"))
	c.DueAt = at("2026-03-25 10:00:00") // second step at the end of 2026-04-01
	k.Advance(c, at("2026-03-30 00:00:02"))
	if !c.Overdue || c.Level != 1 || c.Queue != "440106" {
		t.Fatalf("moved back into the past: %+v", c)
	}
}
