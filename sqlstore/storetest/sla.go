package storetest

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/assess"
	"yipanqi/calendar"
	"yipanqi/sla"
	"yipanqi/sqlstore"
)

func shAt(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04:05", s, yipanqi.Shanghai)
	if err != nil {
		panic(err)
	}
	return t
}

// fakeClock is the time the store and the clock see; tests move it.
type fakeClock struct{ now time.Time }

func (f *fakeClock) Now() time.Time { return f.now }

// MustClock returns the deadline clock with the catalog's rules, or fails the test.
func MustClock(tb testing.TB, cfg sla.Config) *sla.Clock {
	tb.Helper()
	k, err := sla.New(cfg)
	if err != nil {
		tb.Fatalf("sla.New: %v", err)
	}
	return k
}

// receiveCase stores an incoming case of type typ held by unit, received at `at`, due by the
// catalog's first deadline, as the exchange engine does on receipt.
func receiveCase(t testing.TB, db *sqlstore.DB, typ, unit, person string, at time.Time) *yipanqi.Case {
	t.Helper()
	ct, err := yipanqi.Catalog().Type(typ)
	if err != nil {
		t.Fatal(err)
	}
	c := &yipanqi.Case{Type: typ, Direction: yipanqi.Incoming, OrgUnit: unit, PeerNode: "36", PeerUnit: hometown,
		PersonIDNumber: person, State: yipanqi.CaseDelivered, ReceivedAt: at}
	if len(ct.Deadlines) > 0 {
		d := ct.Deadlines[0]
		r := calendar.Rule{WorkingDays: d.WorkingDays, Hours: d.Hours + 24*d.CalendarDays}
		due, err := calendar.New().Due(at, r)
		if err != nil {
			t.Fatal(err)
		}
		c.DueAt, c.DueProvisional = due.At, due.Provisional
	}
	if err := db.CreateCase(ctx(), c); err != nil {
		t.Fatalf("create case: %v", err)
	}
	return c
}

func setState(t testing.TB, db *sqlstore.DB, id string, to yipanqi.CaseState) {
	t.Helper()
	if err := db.InTx(ctx(), func(tx *sqlstore.Tx) error {
		_, err := tx.SetCaseState(ctx(), id, yipanqi.Incoming, to)
		return err
	}); err != nil {
		t.Fatalf("set state %s: %v", to, err)
	}
}

func sweep(t testing.TB, db *sqlstore.DB, k *sla.Clock, now time.Time) sla.SweepResult {
	t.Helper()
	r, err := db.SweepSLA(ctx(), k, now)
	if err != nil {
		t.Fatalf("sweep at %v: %v", now, err)
	}
	return r
}

// testSLAClock follows two cases of a township through reminders, the deadline and both
// escalation steps, on the board, the queues and the drill-down lists, with a fake clock.
func testSLAClock(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	clock := &fakeClock{now: shAt("2026-03-02 10:00:00")}
	db.Now = clock.Now
	k := MustClock(t, sla.Config{Now: clock.Now})
	person := NewPerson(1, townshipA).IDNumber
	a := receiveCase(t, db, "verify.identity", townshipA, person, clock.now) // due 2026-03-23 23:59:59
	b := receiveCase(t, db, "cert.reissue", townshipB, "", clock.now)        // due end of 2026-03-11
	receiveCase(t, db, "service.result", townshipB, "", clock.now)           // no deadline: not on the board
	scope := MustScope(t, county)

	if r := sweep(t, db, k, clock.now); r.Cases != 3 || r.Reminders+r.Overdue+r.Escalations != 0 {
		t.Fatalf("first sweep = %+v, want 3 new cases folded and no events", r)
	}
	if r := sweep(t, db, k, clock.now); r.Cases != 0 {
		t.Fatalf("a second sweep at the same time looked at %d cases, want 0", r.Cases)
	}
	board := func() *sla.Board {
		t.Helper()
		bd, err := db.Supervision(ctx(), scope, clock.now)
		if err != nil {
			t.Fatalf("supervision: %v", err)
		}
		re, err := db.RecomputeSupervision(ctx(), scope, clock.now)
		if err != nil {
			t.Fatalf("recompute supervision: %v", err)
		}
		if !reflect.DeepEqual(bd, re) {
			t.Fatalf("kept board %+v differs from recomputed %+v", bd, re)
		}
		return bd
	}
	if bd := board(); bd.Total != (sla.Counts{Open: 2}) || len(bd.ByUnit) != 2 || len(bd.ByType) != 2 {
		t.Fatalf("board at receipt = %+v", bd)
	}

	// cert.reissue (7 working days, due Wednesday 11th): reminders on the 6th and the 10th.
	clock.now = shAt("2026-03-06 00:00:00")
	if r := sweep(t, db, k, clock.now); r.Reminders != 1 || r.Cases != 1 {
		t.Fatalf("sweep on the 6th = %+v, want the first reminder of one case", r)
	}
	if bd := board(); bd.Total != (sla.Counts{Open: 2, DueSoon: 1}) {
		t.Fatalf("board on the 6th = %+v", bd.Total)
	}
	clock.now = shAt("2026-03-10 07:00:00")
	if r := sweep(t, db, k, clock.now); r.Reminders != 1 || r.Cases != 1 {
		t.Fatalf("sweep on the 10th = %+v, want the second reminder", r)
	}
	clock.now = shAt("2026-03-12 08:00:00")
	if r := sweep(t, db, k, clock.now); r.Reminders != 0 || r.Overdue != 1 || r.Escalations != 1 {
		t.Fatalf("sweep on the 12th = %+v, want overdue and escalation to the county", r)
	}
	bd := board()
	if bd.Total != (sla.Counts{Open: 2, Overdue: 1}) || bd.Queue != 1 {
		t.Fatalf("board on the 12th = %+v queue %d", bd.Total, bd.Queue)
	}
	got, err := db.FindCase(ctx(), scope, b.ID)
	if err != nil || !got.Overdue {
		t.Fatalf("cert case after its deadline: overdue %v, %v", got != nil && got.Overdue, err)
	}
	// The township's board has no queue: the case is on the county's.
	if tb, err := db.Supervision(ctx(), MustScope(t, townshipB), clock.now); err != nil || tb.Queue != 0 || tb.Total.Overdue != 1 {
		t.Fatalf("township board = %+v, %v", tb, err)
	}
	list, total, err := db.SupervisionCases(ctx(), scope, sla.Filter{Status: "queue"})
	if err != nil || total != 1 || list[0].ID != b.ID || list[0].Queue != county || list[0].Level != 1 {
		t.Fatalf("county queue = %d %+v, %v", total, list, err)
	}
	// The city sees it only after 5 more working days (end of the 18th).
	city := MustScope(t, "4401")
	if cb, _ := db.Supervision(ctx(), city, clock.now); cb.Queue != 0 {
		t.Fatalf("city queue on the 12th = %d, want 0", cb.Queue)
	}
	clock.now = shAt("2026-03-19 00:00:00")
	if r := sweep(t, db, k, clock.now); r.Escalations != 1 || r.Reminders != 1 {
		t.Fatalf("sweep on the 19th = %+v, want the city escalation and the identity case's first reminder", r)
	}
	if cb, _ := db.Supervision(ctx(), city, clock.now); cb.Queue != 1 {
		t.Fatalf("city queue on the 19th = %d, want 1", cb.Queue)
	}

	// Drill-down: the due-soon list is the identity case, its ID number masked, and the read
	// is audited.
	list, total, err = db.SupervisionCases(ctx(), scope, sla.Filter{Status: sla.StatusDueSoon})
	if err != nil || total != 1 || list[0].ID != a.ID || list[0].Status != sla.StatusDueSoon {
		t.Fatalf("due-soon list = %d %+v, %v", total, list, err)
	}
	if strings.Contains(list[0].PersonIDNumber, person[6:14]) || list[0].PersonIDNumber[:6] != person[:6] {
		t.Errorf("ID number on the list = %q, want it masked", list[0].PersonIDNumber)
	}
	log, err := db.AuditLog(ctx(), "", 1)
	if err != nil || len(log) == 0 || log[0].Action != "case.supervise" {
		t.Errorf("newest audit entry = %+v, %v; want case.supervise", first(log), err)
	}
	if _, _, err := db.SupervisionCases(ctx(), scope, sla.Filter{Status: "late"}); yipanqi.ErrorCode(err) != yipanqi.EINVALID {
		t.Errorf("unknown status: %v, want EINVALID", err)
	}
	if _, _, err := db.SupervisionCases(ctx(), scope, sla.Filter{Unit: elsewhere}); yipanqi.ErrorCode(err) != yipanqi.EINVALID {
		t.Errorf("unit outside scope: %v, want EINVALID", err)
	}

	// Replied late: off the board and every queue at the next sweep.
	setState(t, db, b.ID, yipanqi.CaseReplied)
	if r := sweep(t, db, k, clock.now); r.Cases != 1 {
		t.Fatalf("sweep after the reply looked at %d cases, want 1", r.Cases)
	}
	if bd := board(); bd.Total != (sla.Counts{Open: 1, DueSoon: 1}) || bd.Queue != 0 {
		t.Fatalf("board after the reply = %+v queue %d", bd.Total, bd.Queue)
	}
	evs, err := db.SLAEvents(ctx(), MustScope(t, "44"), 0)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for i := len(evs) - 1; i >= 0; i-- {
		kinds = append(kinds, evs[i].Kind+"→"+evs[i].Unit)
	}
	want := "remind→440106002 remind→440106002 overdue→440106002 escalate→440106 remind→440106001 escalate→4401"
	if strings.Join(kinds, " ") != want {
		t.Errorf("events = %s\nwant %s", strings.Join(kinds, " "), want)
	}
}

// testSLAConsistency runs a random workload — cases received over four months, replies on
// time and late, closings and withdrawals, the clock swept at random moments — and then
// compares the kept board and assessment counts with a full recomputation from the cases,
// and the clock state with what the deadlines say.
func testSLAConsistency(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	clock := &fakeClock{now: shAt("2026-01-05 09:00:00")}
	db.Now = clock.Now
	k := MustClock(t, sla.Config{Now: clock.Now, Batch: 7}) // small batches: many transactions
	rng := rand.New(rand.NewPCG(5, 11))
	units := []string{townshipA, townshipB, "440106003", "440305001", county}
	types := []string{"verify.identity", "cert.reissue", "petition.forward", "care.request", "service.result", "verify.urgent"}
	var pending []*yipanqi.Case
	var stats sla.SweepResult
	replies, late := 0, 0
	for step := 0; step < 400; step++ {
		clock.now = clock.now.Add(time.Duration(rng.IntN(20)+1) * time.Hour)
		switch x := rng.IntN(10); {
		case x < 4:
			c := receiveCase(t, db, types[rng.IntN(len(types))], units[rng.IntN(len(units))], "", clock.now)
			if !c.DueAt.IsZero() {
				pending = append(pending, c)
			}
		case x < 7 && len(pending) > 0:
			i := rng.IntN(len(pending))
			c := pending[i]
			to := []yipanqi.CaseState{yipanqi.CaseReplied, yipanqi.CaseReplied, yipanqi.CaseInProgress, yipanqi.CaseWithdrawn}[rng.IntN(4)]
			setState(t, db, c.ID, to)
			if to == yipanqi.CaseReplied {
				replies++
				if clock.now.After(c.DueAt) {
					late++
				}
			}
			if to != yipanqi.CaseInProgress {
				pending = append(pending[:i], pending[i+1:]...)
				if rng.IntN(3) == 0 && to == yipanqi.CaseReplied {
					setState(t, db, c.ID, yipanqi.CaseClosed)
				}
			}
		case x < 9:
			stats.Add(sweep(t, db, k, clock.now))
		}
	}
	stats.Add(sweep(t, db, k, clock.now))
	if stats.Overdue == 0 || stats.Escalations == 0 || stats.Reminders == 0 || late == 0 || replies == late {
		t.Fatalf("workload too tame: %+v, %d replies of which %d late", stats, replies, late)
	}

	for _, unit := range []string{"44", county, townshipA, elsewhere} {
		scope := MustScope(t, unit)
		kept, err := db.Supervision(ctx(), scope, clock.now)
		if err != nil {
			t.Fatal(err)
		}
		re, err := db.RecomputeSupervision(ctx(), scope, clock.now)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(kept, re) {
			t.Errorf("%s: kept board %+v\nrecomputed %+v", unit, kept, re)
		}
		for _, ps := range []string{"2026-01", "2026-02", "2026-Q1", "2026-Q2", "2026"} {
			p, err := assess.ParsePeriod(ps, clock.now)
			if err != nil {
				t.Fatal(err)
			}
			kc, err := db.AssessmentCounts(ctx(), scope, p)
			if err != nil {
				t.Fatal(err)
			}
			rc, err := db.RecomputeAssessmentCounts(ctx(), scope, p, calendar.New())
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(kc) != fmt.Sprint(rc) {
				t.Errorf("%s %s: kept counts\n%v\nrecomputed\n%v", unit, ps, kc, rc)
			}
		}
	}
	// The clock state itself: an open case is overdue exactly when its deadline has passed.
	cases, _, err := db.ListCases(ctx(), MustScope(t, "44"), yipanqi.CaseFilter{Direction: yipanqi.Incoming, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if c.DueAt.IsZero() || !sla.Open(c.State) {
			continue
		}
		if want := clock.now.After(c.DueAt); c.Overdue != want {
			t.Errorf("case %s due %v: overdue %v at %v", c.ID, c.DueAt, c.Overdue, clock.now)
		}
	}
	// The year's report counts every reply, late ones as late.
	p, _ := assess.ParsePeriod("2026", clock.now)
	rep, err := db.Assessment(ctx(), MustScope(t, "44"), p, assess.DefaultRules(), clock.now)
	if err != nil {
		t.Fatal(err)
	}
	f := rep.Rows[0].Figures
	if f.OnTime+f.Late != int64(replies) || f.Late != int64(late) {
		t.Errorf("report: %d on time + %d late, want %d replies of which %d late", f.OnTime, f.Late, replies, late)
	}
}

// testSLAConcurrent runs two sweepers beside a writer that replies to and closes cases, all
// at once, then checks that one last sweep leaves the kept counts equal to a recomputation:
// no change is lost between a sweep and a state change, and two sweeps neither double-count
// a case nor deadlock (on PostgreSQL they skip each other's locked rows).
func testSLAConcurrent(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	start := shAt("2026-02-02 09:00:00")
	db.Now = func() time.Time { return start }
	k := MustClock(t, sla.Config{Batch: 5})
	var cases []*yipanqi.Case
	for i := 0; i < 120; i++ {
		unit := []string{townshipA, townshipB, elsewhere + "001"}[i%3]
		cases = append(cases, receiveCase(t, db, []string{"verify.identity", "cert.reissue"}[i%2], unit, "", start.Add(time.Duration(i)*time.Hour)))
	}
	sweepAt := shAt("2026-03-20 12:00:00") // some cases overdue, some due soon
	done := make(chan error, 3)
	for w := 0; w < 2; w++ {
		go func() {
			for i := 0; i < 15; i++ {
				if _, err := db.SweepSLA(ctx(), k, sweepAt); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	go func() {
		for i, c := range cases {
			if i%4 == 3 {
				continue
			}
			to := []yipanqi.CaseState{yipanqi.CaseReplied, yipanqi.CaseInProgress, yipanqi.CaseClosed}[i%3]
			if err := db.InTx(ctx(), func(tx *sqlstore.Tx) error {
				_, err := tx.SetCaseState(ctx(), c.ID, yipanqi.Incoming, to)
				return err
			}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for i := 0; i < 3; i++ {
		if err := <-done; err != nil {
			t.Fatalf("concurrent sweep or write: %v", err)
		}
	}
	sweep(t, db, k, sweepAt)
	scope := MustScope(t, "44")
	kept, err := db.Supervision(ctx(), scope, sweepAt)
	if err != nil {
		t.Fatal(err)
	}
	re, err := db.RecomputeSupervision(ctx(), scope, sweepAt)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(kept, re) || kept.Total.Overdue == 0 {
		t.Errorf("kept board %+v\nrecomputed %+v", kept, re)
	}
	p, _ := assess.ParsePeriod("2026", sweepAt)
	kc, err := db.AssessmentCounts(ctx(), scope, p)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := db.RecomputeAssessmentCounts(ctx(), scope, p, calendar.New())
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(kc) != fmt.Sprint(rc) || len(kc) == 0 {
		t.Errorf("kept counts\n%v\nrecomputed\n%v", kc, rc)
	}
}
