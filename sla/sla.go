// Package sla is the deadline clock (ARCHITECTURE §2, §4): reminders before a case's
// deadline, the overdue flag when it passes, and supervision (督办) by the level above — and
// one more level up if the case stays overdue. Due times themselves are computed at receipt
// (the exchange engine stores due_at); the clock reads them and the catalog's reminder and
// escalation rules, counted in working days on the calendar.
//
// The clock is pure: Advance moves one case's clock state to a given time and says what
// happened and when to look again. The store keeps that state on the case row with an index
// on the next time to look (sqlstore.DB.SweepSLA), and Run drives sweeps from an injected
// clock, so tests move time without waiting.
package sla

import (
	"context"
	"fmt"
	"sort"
	"time"

	"yipanqi"
	"yipanqi/calendar"
)

// Status of an open case on the supervision board.
const (
	StatusOpen    = "open"     // open, deadline not near
	StatusDueSoon = "due_soon" // the first reminder has fired
	StatusOverdue = "overdue"  // the deadline has passed
)

// Kinds of clock event.
const (
	EventRemind   = "remind"
	EventOverdue  = "overdue"
	EventEscalate = "escalate"
)

// Config is how the clock runs. Zero fields take the defaults named.
type Config struct {
	Calendar *calendar.Calendar   // nil: calendar.New()
	Catalog  *yipanqi.CaseCatalog // nil: yipanqi.Catalog()
	// Reminders, when not nil, replace the catalog's reminders of every type whose deadline
	// counts in days (a type counted in hours keeps its own).
	Reminders []yipanqi.Reminder
	// Escalation, when not nil, replaces every type's escalation steps.
	Escalation []yipanqi.Escalation
	Interval   time.Duration    // between sweeps; 0: 30 s
	Batch      int              // cases per sweep transaction; 0: 500
	Now        func() time.Time // nil: time.Now
}

// Clock applies the catalog's reminder and escalation rules on the calendar. It is immutable
// and safe for concurrent use.
type Clock struct {
	cal   *calendar.Calendar
	rules map[string]rules
	cfg   Config
}

type rules struct {
	reminders  []yipanqi.Reminder // latest-firing last: sorted by lead time, longest first
	escalation []yipanqi.Escalation
}

// New returns the clock of cfg. EINVALID when a configured reminder or escalation step is
// malformed.
func New(cfg Config) (*Clock, error) {
	if cfg.Calendar == nil {
		cfg.Calendar = calendar.New()
	}
	if cfg.Catalog == nil {
		cfg.Catalog = yipanqi.Catalog()
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 30 * time.Second
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 500
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	for _, r := range cfg.Reminders {
		if (r.WorkingDays > 0) == (r.Hours > 0) || r.WorkingDays < 0 || r.Hours < 0 {
			return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "reminders", "提醒须且只能规定正的工作日数或小时数之一")
		}
	}
	for i, e := range cfg.Escalation {
		if e.LevelsUp < 1 || e.AfterWorkingDays < 0 ||
			(i > 0 && (e.LevelsUp <= cfg.Escalation[i-1].LevelsUp || e.AfterWorkingDays <= cfg.Escalation[i-1].AfterWorkingDays)) {
			return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "escalation", "督办第 %d 步无效：须至少上升一级，后一步须更高一级且更晚", i+1)
		}
	}
	k := &Clock{cal: cfg.Calendar, rules: map[string]rules{}, cfg: cfg}
	for _, t := range cfg.Catalog.Types() {
		if len(t.Deadlines) == 0 {
			continue
		}
		r := rules{reminders: t.Reminders, escalation: t.Escalation}
		if cfg.Reminders != nil && t.Deadlines[0].Hours == 0 {
			r.reminders = cfg.Reminders
		}
		if cfg.Escalation != nil {
			r.escalation = cfg.Escalation
		}
		r.reminders = append([]yipanqi.Reminder(nil), r.reminders...)
		sort.SliceStable(r.reminders, func(i, j int) bool { return lead(r.reminders[i]) > lead(r.reminders[j]) })
		k.rules[t.Name] = r
	}
	return k, nil
}

// lead orders reminders: working days count as 24 h each, which is enough to sort a type's
// reminders (they are all in days or all in hours).
func lead(r yipanqi.Reminder) int { return r.WorkingDays*24 + r.Hours }

// Calendar returns the calendar the clock counts on.
func (k *Clock) Calendar() *calendar.Calendar { return k.cal }

// Batch is how many cases a sweep takes per transaction.
func (k *Clock) Batch() int { return k.cfg.Batch }

// Case is what the clock reads and keeps of a case.
type Case struct {
	ID        string
	Type      string
	OrgUnit   string
	Direction yipanqi.Direction
	State     yipanqi.CaseState
	DueAt     time.Time // zero: no deadline, nothing to do
	// The clock's state, moved by Advance.
	Overdue  bool
	Reminded int    // reminders already fired (or skipped because the deadline had passed)
	Level    int    // escalation steps taken
	Queue    string // the highest unit on whose supervision queue the case is; "" for none
}

// Event is one thing the clock did to a case.
type Event struct {
	CaseID  string
	OrgUnit string // the holder
	Unit    string // who is told: the holder, or for an escalation the supervising unit
	Kind    string // EventRemind, EventOverdue, EventEscalate
	Step    int    // 1-based: which reminder, which escalation step; 1 for overdue
	At      time.Time
}

// Open reports whether a case in state s is still owed an answer: the clock runs only then.
func Open(s yipanqi.CaseState) bool {
	return s.IsOpen()
}

// Status is where an open case stands on the board.
func Status(c *Case) string {
	switch {
	case c.Overdue:
		return StatusOverdue
	case c.Reminded > 0:
		return StatusDueSoon
	}
	return StatusOpen
}

// Advance applies to c every transition due at now, in time order, and returns the events
// and when the clock must look at c next (zero: never, until the case changes). A reminder
// whose time came only after the deadline had passed is skipped without an event. A case no
// longer open leaves every supervision queue; its overdue flag stays, as history. Reminders
// and escalation apply to cases this node must answer (incoming); an outgoing case only
// turns overdue. The sweep's times must not go backwards (a later now never undoes state).
func (k *Clock) Advance(c *Case, now time.Time) (events []Event, next time.Time) {
	if !Open(c.State) || c.DueAt.IsZero() {
		c.Queue = ""
		return nil, time.Time{}
	}
	r := k.rules[c.Type]
	overdueAt := c.DueAt.Add(time.Second) // the deadline is the last second that counts
	in := c.Direction == yipanqi.Incoming
	ev := func(kind, unit string, step int, at time.Time) {
		events = append(events, Event{CaseID: c.ID, OrgUnit: c.OrgUnit, Unit: unit, Kind: kind, Step: step, At: at})
	}
	// The state never runs ahead of the deadline: when the deadline moved later (a
	// petition's outcome deadline replaces its first), what has not yet come at now for the
	// new one starts again — reminders fire again, the case is no longer overdue.
	due := 0
	for due < len(r.reminders) && !k.remindAt(c.DueAt, r.reminders[due]).After(now) {
		due++
	}
	c.Reminded = min(c.Reminded, due)
	if c.Overdue && now.Before(overdueAt) {
		c.Overdue, c.Level, c.Queue = false, 0, ""
	}
	if in {
		due = 0
		for due < len(r.escalation) && !k.escalateAt(c.DueAt, r.escalation[due]).After(now) {
			due++
		}
		if c.Level > due {
			c.Level, c.Queue = due, ""
			for i := due - 1; i >= 0 && c.Queue == ""; i-- {
				c.Queue = Ancestor(c.OrgUnit, r.escalation[i].LevelsUp)
			}
		}
	}
	for c.Reminded < len(r.reminders) {
		at := k.remindAt(c.DueAt, r.reminders[c.Reminded])
		if at.After(now) {
			break
		}
		c.Reminded++
		if now.Before(overdueAt) && in {
			ev(EventRemind, c.OrgUnit, c.Reminded, at)
		}
	}
	if !c.Overdue && !now.Before(overdueAt) {
		c.Overdue = true
		c.Reminded = len(r.reminders)
		ev(EventOverdue, c.OrgUnit, 1, overdueAt)
	}
	if in && c.Overdue {
		for c.Level < len(r.escalation) {
			e := r.escalation[c.Level]
			at := k.escalateAt(c.DueAt, e)
			if at.After(now) {
				break
			}
			c.Level++
			if up := Ancestor(c.OrgUnit, e.LevelsUp); up != "" {
				c.Queue = up
				ev(EventEscalate, up, c.Level, at)
			}
		}
	}
	// The next time anything can happen.
	consider := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	if c.Reminded < len(r.reminders) {
		consider(k.remindAt(c.DueAt, r.reminders[c.Reminded]))
	}
	if !c.Overdue {
		consider(overdueAt)
	}
	if in && c.Level < len(r.escalation) {
		consider(k.escalateAt(c.DueAt, r.escalation[c.Level]))
	}
	return events, next
}

// remindAt is when reminder r fires for a deadline: r.Hours clock hours before it, or at
// 00:00 Asia/Shanghai of the working day from which r.WorkingDays working days remain up to
// and including the deadline's day (1 working day before a Friday deadline: Thursday 00:00).
func (k *Clock) remindAt(due time.Time, r yipanqi.Reminder) time.Time {
	if r.Hours > 0 {
		return due.Add(-time.Duration(r.Hours) * time.Hour)
	}
	loc := yipanqi.Shanghai
	d := yipanqi.DateOf(due.In(loc))
	for n := 0; n < r.WorkingDays; {
		d = d.AddDays(-1)
		if w, _ := k.cal.IsWorkday(d); w {
			n++
		}
	}
	return d.In(loc)
}

// escalateAt is when escalation step e applies: the second after the deadline, or after
// the end of the e.AfterWorkingDays-th working day after the deadline's day.
func (k *Clock) escalateAt(due time.Time, e yipanqi.Escalation) time.Time {
	if e.AfterWorkingDays == 0 {
		return due.Add(time.Second)
	}
	d, err := k.cal.Due(due, calendar.Rule{WorkingDays: e.AfterWorkingDays})
	if err != nil { // cannot happen: New checked the step
		return due.Add(time.Second)
	}
	return d.At.Add(time.Second)
}

// codeLengths are the lengths of division codes, province down.
var codeLengths = []int{2, 4, 6, 9, 12}

// Ancestor returns the code of the unit `up` levels above code ("" above the province).
func Ancestor(code string, up int) string {
	for i, n := range codeLengths {
		if n == len(code) {
			if i-up < 0 {
				return ""
			}
			return code[:codeLengths[i-up]]
		}
	}
	return ""
}

// Sweeper is the store side of the clock: it advances, in transactions of up to limit cases,
// the cases whose next check has come at now, writes their state, events and aggregates, and
// reports what it did. sqlstore.DB implements it.
type Sweeper interface {
	SweepSLA(ctx context.Context, k *Clock, now time.Time) (SweepResult, error)
}

// SweepResult is what one sweep did.
type SweepResult struct {
	Cases       int // cases looked at (each changed or re-folded)
	Reminders   int
	Overdue     int
	Escalations int
}

// Add adds o to r.
func (r *SweepResult) Add(o SweepResult) {
	r.Cases += o.Cases
	r.Reminders += o.Reminders
	r.Overdue += o.Overdue
	r.Escalations += o.Escalations
}

// Run sweeps s every cfg.Interval (and once at once) at cfg.Now(), until ctx ends. A failed
// sweep is reported to onError (may be nil) and retried at the next tick; nothing is lost,
// since the cases wait in the index. It returns ctx.Err().
func Run(ctx context.Context, s Sweeper, k *Clock, onError func(error)) error {
	t := time.NewTicker(k.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := s.SweepSLA(ctx, k, k.cfg.Now()); err != nil && ctx.Err() == nil && onError != nil {
			onError(fmt.Errorf("sla sweep: %w", err))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
