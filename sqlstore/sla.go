package sqlstore

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"yipanqi"
	"yipanqi/assess"
	"yipanqi/idcard"
	"yipanqi/sla"
)

// The deadline clock's store side (docs/sla.md). Each case row carries its clock state
// (sla_reminded, sla_level, sla_queue, overdue) and sla_next, the time the clock must look at
// it again; the partial index on sla_next holds only cases with something ahead, so a sweep
// reads the cases whose turn has come and nothing else.
//
// The same sweep keeps the aggregates — the supervision board (sla_board) and the
// assessment counts (assess_counts) — by folding: sla_folded lists the keys a case is
// counted under, and a sweep that looks at a case replaces them with the keys it is counted
// under now, moving the counts in the same transaction. So at every commit the tables hold
// exactly the sum of the keys the rows list, and once a sweep has run after the last change,
// exactly what a full recomputation from the cases gives (the storetest SLAConsistency test).
// A change to a case that moves its figures (state, reply) sets sla_next to slaNow, the
// epoch, which makes the next sweep fold it; a new row gets the epoch as its default.

// slaNow is the sla_next of a case to look at in the next sweep, whatever its clock says.
var slaNow = time.Unix(0, 0).UTC()

// slaTouch is the SET clause that marks a case for the next sweep; its one argument is
// db.slaNowArg().
const slaTouch = "sla_next = ?"

func (db *DB) slaNowArg() any { return db.dialect.timeArg(slaNow) }

// openStates are the open states of the lifecycle (yipanqi.OpenStates, which sla.Open
// accepts), as an SQL list: ('sent', 'delivered', 'in_progress').
var openStates = sqlStateList(yipanqi.OpenStates())

// sqlStateList is states as an SQL list of literals; states are fixed identifiers, never
// user input.
func sqlStateList(states []yipanqi.CaseState) string {
	q := make([]string, len(states))
	for i, s := range states {
		q[i] = "'" + string(s) + "'"
	}
	return "(" + strings.Join(q, ", ") + ")"
}

var _ sla.Sweeper = (*DB)(nil)

// SweepSLA advances the clock of every case whose next check has come at now, in
// transactions of k.Batch() cases: the clock state, the events (sla_events), the overdue
// flag, the supervision queue and the aggregates of each case commit together. On
// PostgreSQL the cases are taken FOR UPDATE SKIP LOCKED, so sweeps of two replicas share
// the work. The work is in proportion to the cases whose turn has come.
func (db *DB) SweepSLA(ctx context.Context, k *sla.Clock, now time.Time) (sla.SweepResult, error) {
	var total sla.SweepResult
	for {
		r, err := db.sweepBatch(ctx, k, now)
		total.Add(r)
		if err != nil || r.Cases < k.Batch() {
			return total, err
		}
	}
}

// slaRow is a case as the sweep reads it.
type slaRow struct {
	c      sla.Case
	a      assess.Case
	folded string
}

func (db *DB) sweepBatch(ctx context.Context, k *sla.Clock, now time.Time) (sla.SweepResult, error) {
	var res sla.SweepResult
	t := db.dialect.timeArg
	err := db.inTx(ctx, func(qq q) error {
		res = sla.SweepResult{}
		rows, err := qq.query(ctx, `SELECT id, direction, type, org_unit, state, received_at, due_at, replied_at, overdue,
			sla_reminded, sla_level, sla_queue, sla_folded FROM cases
			WHERE sla_next IS NOT NULL AND sla_next <= ? ORDER BY sla_next LIMIT ?`+db.dialect.skipLocked(),
			t(now), k.Batch())
		if err != nil {
			return fmt.Errorf("sla sweep: %w", err)
		}
		var batch []*slaRow
		for rows.Next() {
			r := &slaRow{}
			var dir, state string
			if err := rows.Scan(&r.c.ID, &dir, &r.c.Type, &r.c.OrgUnit, &state, timeCol{&r.a.ReceivedAt}, timeCol{&r.c.DueAt},
				timeCol{&r.a.RepliedAt}, &r.c.Overdue, &r.c.Reminded, &r.c.Level, &r.c.Queue, &r.folded); err != nil {
				rows.Close()
				return fmt.Errorf("sla sweep: %w", err)
			}
			r.c.Direction, r.c.State = yipanqi.Direction(dir), yipanqi.CaseState(state)
			batch = append(batch, r)
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("sla sweep: %w", err)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sla sweep: %w", err)
		}
		delta := map[string]int64{}
		var events, updates [][]any
		for _, r := range batch {
			evs, next := k.Advance(&r.c, now)
			for _, e := range evs {
				events = append(events, []any{e.CaseID, e.OrgUnit, e.Unit, e.Kind, e.Step, t(e.At)})
				switch e.Kind {
				case sla.EventRemind:
					res.Reminders++
				case sla.EventOverdue:
					res.Overdue++
				case sla.EventEscalate:
					res.Escalations++
				}
			}
			keys := slaKeys(&r.c, &r.a, k)
			for _, old := range splitKeys(r.folded) {
				delta[old]--
			}
			for _, nk := range keys {
				delta[nk]++
			}
			updates = append(updates, []any{r.c.ID, string(r.c.Direction), r.c.Overdue, r.c.Reminded, r.c.Level, r.c.Queue,
				t(next), strings.Join(keys, ";")})
			res.Cases++
		}
		if err := db.updateClocks(ctx, qq, updates); err != nil {
			return err
		}
		if err := db.applyDeltas(ctx, qq, delta); err != nil {
			return err
		}
		if err := insertRows(ctx, db, qq, "INSERT INTO sla_events (case_id, org_unit, unit, kind, step, at) VALUES ", events); err != nil {
			return fmt.Errorf("sla sweep: events: %w", err)
		}
		return nil
	})
	if err != nil {
		return sla.SweepResult{}, err
	}
	return res, nil
}

// updateClocks writes the clock state of the swept cases (rows of id, direction, overdue,
// sla_reminded, sla_level, sla_queue, sla_next, sla_folded): UPDATE … FROM a VALUES list, a
// statement per few thousand cases instead of a round trip each.
func (db *DB) updateClocks(ctx context.Context, qq q, updates [][]any) error {
	tuple := "(?, ?, CAST(? AS BOOLEAN), CAST(? AS INTEGER), CAST(? AS INTEGER), ?, " + db.dialect.timeParam() + ", ?)"
	const width = 8
	for lo := 0; lo < len(updates); lo += maxVarsPerStatement / width {
		chunk := updates[lo:min(lo+maxVarsPerStatement/width, len(updates))]
		var b strings.Builder
		b.WriteString("WITH v (id, direction, overdue, reminded, level, queue, next, folded) AS (VALUES ")
		args := make([]any, 0, width*len(chunk))
		for i, u := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(tuple)
			args = append(args, u...)
		}
		b.WriteString(`) UPDATE cases SET overdue = v.overdue, sla_reminded = v.reminded, sla_level = v.level, sla_queue = v.queue,
			sla_next = v.next, sla_folded = v.folded FROM v WHERE cases.id = v.id AND cases.direction = v.direction`)
		if _, err := qq.exec(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("sla sweep: update %d cases: %w", len(chunk), err)
		}
	}
	return nil
}

// Aggregate keys, as sla_folded lists them (separated by ';'):
//
//	b|org_unit|direction|type|status          a row of sla_board
//	a|org_unit|period|type|metric|bucket      a row of assess_counts (month, quarter and year)
func slaKeys(c *sla.Case, a *assess.Case, k *sla.Clock) []string {
	var keys []string
	if sla.Open(c.State) && !c.DueAt.IsZero() {
		keys = append(keys, "b|"+c.OrgUnit+"|"+string(c.Direction)+"|"+c.Type+"|"+sla.Status(c))
	}
	a.Type, a.Direction, a.State, a.DueAt, a.Overdue = c.Type, c.Direction, c.State, c.DueAt, c.Overdue
	for _, x := range assess.Tally(a, k.Calendar()) {
		for _, p := range assess.PeriodsOfMonth(x.Month) {
			keys = append(keys, fmt.Sprintf("a|%s|%s|%s|%s|%d", c.OrgUnit, p, c.Type, x.Metric, x.Bucket))
		}
	}
	return keys
}

func splitKeys(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ";")
}

// applyDeltas adds the non-zero deltas to sla_board and assess_counts, in key order so that
// two sweeps at once take the rows' locks in the same order.
func (db *DB) applyDeltas(ctx context.Context, qq q, delta map[string]int64) error {
	keys := make([]string, 0, len(delta))
	for key, n := range delta {
		if n != 0 {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys)
	var board, counts [][]any
	for _, key := range keys {
		f := strings.Split(key, "|")
		n := delta[key]
		switch {
		case f[0] == "b" && len(f) == 5:
			board = append(board, []any{f[1], f[2], f[3], f[4], n})
		case f[0] == "a" && len(f) == 6:
			var bucket int
			if _, err := fmt.Sscan(f[5], &bucket); err != nil {
				return fmt.Errorf("sla sweep: malformed key %q", key)
			}
			counts = append(counts, []any{f[1], f[2], f[3], f[4], bucket, n})
		default:
			return fmt.Errorf("sla sweep: malformed key %q", key)
		}
	}
	// Each key appears once, so one multi-row upsert per table never touches a row twice.
	if err := upsertRows(ctx, qq, "INSERT INTO sla_board (org_unit, direction, type, status, n) VALUES ",
		" ON CONFLICT (org_unit, direction, type, status) DO UPDATE SET n = sla_board.n + excluded.n", board); err != nil {
		return fmt.Errorf("sla sweep: board: %w", err)
	}
	if err := upsertRows(ctx, qq, "INSERT INTO assess_counts (org_unit, period, type, metric, bucket, n) VALUES ",
		" ON CONFLICT (period, org_unit, type, metric, bucket) DO UPDATE SET n = assess_counts.n + excluded.n", counts); err != nil {
		return fmt.Errorf("sla sweep: assessment counts: %w", err)
	}
	return nil
}

// upsertRows is insertRows with a conflict clause after each statement.
func upsertRows(ctx context.Context, qq q, insert, conflict string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	width := len(rows[0])
	tuple := "(?" + strings.Repeat(", ?", width-1) + ")"
	per := maxVarsPerStatement / width
	for lo := 0; lo < len(rows); lo += per {
		chunk := rows[lo:min(lo+per, len(rows))]
		var b strings.Builder
		b.WriteString(insert)
		args := make([]any, 0, width*len(chunk))
		for i, r := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(tuple)
			args = append(args, r...)
		}
		b.WriteString(conflict)
		if _, err := qq.exec(ctx, b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// Supervision returns the supervision board of the unit at the top of scope (see sla.Board),
// from the counts the sweep keeps: its cost does not grow with the cases. It shows no
// personal data and writes no audit entry. EFORBIDDEN for the zero Scope.
func (db *DB) Supervision(ctx context.Context, scope yipanqi.Scope, now time.Time) (*sla.Board, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	unit := scope.Unit()
	lo, hi := scope.Range()
	rows, err := db.q().query(ctx, `SELECT org_unit, type, status, n FROM sla_board
		WHERE org_unit >= ? AND org_unit < ? AND direction = ? AND n <> 0`, lo, hi, string(yipanqi.Incoming))
	if err != nil {
		return nil, fmt.Errorf("supervision: %w", err)
	}
	defer rows.Close()
	b := &sla.Board{Unit: unit, At: now}
	byType, byUnit := map[string]*sla.Counts{}, map[string]*sla.Counts{}
	for rows.Next() {
		var holder, typ, status string
		var n int64
		if err := rows.Scan(&holder, &typ, &status, &n); err != nil {
			return nil, fmt.Errorf("supervision: %w", err)
		}
		b.Total.Add(status, n)
		add(byType, typ).Add(status, n)
		add(byUnit, sla.ChildUnit(unit, holder)).Add(status, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("supervision: %w", err)
	}
	b.ByType, b.ByUnit = boardRows(byType), boardRows(byUnit)
	if err := db.q().row(ctx, `SELECT COUNT(*) FROM cases WHERE sla_queue <> '' AND org_unit >= ? AND org_unit < ?
		AND org_unit <> ? AND length(sla_queue) <= ? AND direction = ? AND state IN `+openStates,
		lo, hi, unit, len(unit), string(yipanqi.Incoming)).Scan(&b.Queue); err != nil {
		return nil, fmt.Errorf("supervision queue: %w", err)
	}
	return b, nil
}

func add(m map[string]*sla.Counts, key string) *sla.Counts {
	if m[key] == nil {
		m[key] = &sla.Counts{}
	}
	return m[key]
}

func boardRows(m map[string]*sla.Counts) []sla.BoardRow {
	out := make([]sla.BoardRow, 0, len(m))
	for k, c := range m {
		out = append(out, sla.BoardRow{Key: k, Counts: *c})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// SupervisedCase is a case on a supervision list: the case with its person's ID number
// masked, and its clock.
type SupervisedCase struct {
	yipanqi.Case
	Status string // sla.StatusOpen, StatusDueSoon or StatusOverdue
	Level  int    // escalation steps taken
	Queue  string // the highest unit whose supervision queue it is on, "" for none
}

// SupervisionCases returns a page of the open incoming cases with a deadline held in scope
// that match f — the cases behind a figure of the board — soonest deadline first, and how
// many match in all. ID numbers are masked; the read is audited (action case.supervise).
// EFORBIDDEN for the zero Scope; EINVALID for an unknown status or a unit outside scope.
func (db *DB) SupervisionCases(ctx context.Context, scope yipanqi.Scope, f sla.Filter) ([]*SupervisedCase, int, error) {
	if err := checkScope(scope); err != nil {
		return nil, 0, err
	}
	unit := scope.Unit()
	lo, hi := scope.Range()
	if f.Unit != "" {
		sub, err := yipanqi.NewScope(f.Unit)
		if err != nil || !scope.Contains(f.Unit) {
			return nil, 0, yipanqi.FieldErrorf(yipanqi.EINVALID, "unit", "单位“%s”不在辖区 %s 之内", f.Unit, unit)
		}
		lo, hi = sub.Range()
	}
	where := "org_unit >= ? AND org_unit < ? AND direction = ? AND due_at IS NOT NULL AND state IN " + openStates
	args := []any{lo, hi, string(yipanqi.Incoming)}
	switch f.Status {
	case "", sla.StatusOpen:
	case sla.StatusDueSoon:
		where += " AND overdue = ? AND sla_reminded > 0"
		args = append(args, false)
	case sla.StatusOverdue:
		where += " AND overdue = ?"
		args = append(args, true)
	case "queue":
		where += " AND sla_queue <> '' AND length(sla_queue) <= ? AND org_unit <> ?"
		args = append(args, len(unit), unit)
	default:
		return nil, 0, yipanqi.FieldErrorf(yipanqi.EINVALID, "status", "状态“%s”无效：应为 due_soon、overdue 或 queue", f.Status)
	}
	if f.Type != "" {
		where += " AND type = ?"
		args = append(args, f.Type)
	}
	var total int
	if err := db.q().row(ctx, "SELECT COUNT(*) FROM cases WHERE "+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("supervision cases: %w", err)
	}
	rows, err := db.q().query(ctx, "SELECT "+caseColumns+", sla_level, sla_queue, sla_reminded FROM cases WHERE "+where+
		" ORDER BY due_at, id LIMIT ? OFFSET ?", append(args, pageLimit(f.Limit), max(f.Offset, 0))...)
	if err != nil {
		return nil, 0, fmt.Errorf("supervision cases: %w", err)
	}
	defer rows.Close()
	var out []*SupervisedCase
	for rows.Next() {
		s := &SupervisedCase{}
		var reminded int
		c, err := scanCase(scanExtra{rows, []any{&s.Level, &s.Queue, &reminded}})
		if err != nil {
			return nil, 0, fmt.Errorf("supervision cases: %w", err)
		}
		s.Case = *c
		s.PersonIDNumber = idcard.Mask(s.PersonIDNumber)
		s.Status = sla.Status(&sla.Case{Overdue: c.Overdue, Reminded: reminded})
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("supervision cases: %w", err)
	}
	if err := db.auditRead(ctx, "case.supervise", fmt.Sprintf("unit=%s status=%s type=%s shown=%d", unit, f.Status, f.Type, len(out))); err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// scanExtra scans a row of caseColumns followed by more columns.
type scanExtra struct {
	sc    interface{ Scan(...any) error }
	extra []any
}

func (s scanExtra) Scan(dest ...any) error { return s.sc.Scan(append(dest, s.extra...)...) }

// SLAEvents returns the newest clock events told to units in scope (reminders to holders,
// escalations to supervising units), newest first; limit 0 means 100. Events name cases by
// id only. EFORBIDDEN for the zero Scope.
func (db *DB) SLAEvents(ctx context.Context, scope yipanqi.Scope, limit int) ([]sla.Event, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	lo, hi := scope.Range()
	rows, err := db.q().query(ctx, `SELECT case_id, org_unit, unit, kind, step, at FROM sla_events
		WHERE unit >= ? AND unit < ? ORDER BY id DESC LIMIT ?`, lo, hi, pageLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("sla events: %w", err)
	}
	defer rows.Close()
	var out []sla.Event
	for rows.Next() {
		var e sla.Event
		if err := rows.Scan(&e.CaseID, &e.OrgUnit, &e.Unit, &e.Kind, &e.Step, timeCol{&e.At}); err != nil {
			return nil, fmt.Errorf("sla events: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// RecomputeSupervision is Supervision computed from the cases themselves (every open case in
// scope), for checking the kept counts and for comparison in benchmarks. The clock state it
// reads is the one the last sweep left.
func (db *DB) RecomputeSupervision(ctx context.Context, scope yipanqi.Scope, now time.Time) (*sla.Board, error) {
	b, err := db.Supervision(ctx, scope, now)
	if err != nil {
		return nil, err
	}
	lo, hi := scope.Range()
	rows, err := db.q().query(ctx, `SELECT org_unit, type, overdue, sla_reminded, COUNT(*) FROM cases
		WHERE org_unit >= ? AND org_unit < ? AND direction = ? AND due_at IS NOT NULL AND state IN `+openStates+`
		GROUP BY org_unit, type, overdue, sla_reminded`, lo, hi, string(yipanqi.Incoming))
	if err != nil {
		return nil, fmt.Errorf("recompute supervision: %w", err)
	}
	defer rows.Close()
	b.Total = sla.Counts{}
	byType, byUnit := map[string]*sla.Counts{}, map[string]*sla.Counts{}
	for rows.Next() {
		var holder, typ string
		var overdue bool
		var reminded int
		var n int64
		if err := rows.Scan(&holder, &typ, &overdue, &reminded, &n); err != nil {
			return nil, fmt.Errorf("recompute supervision: %w", err)
		}
		status := sla.Status(&sla.Case{Overdue: overdue, Reminded: reminded})
		b.Total.Add(status, n)
		add(byType, typ).Add(status, n)
		add(byUnit, sla.ChildUnit(scope.Unit(), holder)).Add(status, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("recompute supervision: %w", err)
	}
	b.ByType, b.ByUnit = boardRows(byType), boardRows(byUnit)
	return b, nil
}

// repliedStamp is the SET clause that records when a case was replied, for a state change to
// `to`: the first reply counts (one argument, the time), and other states add nothing.
func repliedStamp(to yipanqi.CaseState) string {
	if to != yipanqi.CaseReplied {
		return ""
	}
	return ", replied_at = COALESCE(replied_at, " + "?" + ")"
}
