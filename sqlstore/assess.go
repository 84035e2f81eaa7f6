package sqlstore

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"yipanqi"
	"yipanqi/assess"
	"yipanqi/calendar"
	"yipanqi/idcard"
)

// Assessment (docs/assessment.md): the figures come from assess_counts, which the deadline
// clock's sweep keeps (sla.go), by holding unit and period (month, quarter, year); a report
// reads its period's rows and rolls the units up the tree in Go (assess.Build). Manual entries live in
// assess_adjustments.

// AssessmentCounts returns the kept counts of period p for the units in scope (the period's
// own rows: a case counts in its month, quarter and year), by holding unit, type, metric and
// bucket. Counts only: no audit entry.
// EFORBIDDEN for the zero Scope.
func (db *DB) AssessmentCounts(ctx context.Context, scope yipanqi.Scope, p assess.Period) ([]assess.Count, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	lo, hi := scope.Range()
	rows, err := db.q().query(ctx, `SELECT org_unit, type, metric, bucket, n FROM assess_counts
		WHERE period = ? AND org_unit >= ? AND org_unit < ? AND n <> 0`, p.String(), lo, hi)
	if err != nil {
		return nil, fmt.Errorf("assessment counts: %w", err)
	}
	defer rows.Close()
	var out []assess.Count
	for rows.Next() {
		var c assess.Count
		if err := rows.Scan(&c.OrgUnit, &c.Type, &c.Metric, &c.Bucket, &c.N); err != nil {
			return nil, fmt.Errorf("assessment counts: %w", err)
		}
		if c.N != 0 {
			out = append(out, c)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("assessment counts: %w", err)
	}
	sortCounts(out)
	return out, nil
}

func sortCounts(cs []assess.Count) {
	sort.Slice(cs, func(i, j int) bool {
		a, b := cs[i], cs[j]
		if a.OrgUnit != b.OrgUnit {
			return a.OrgUnit < b.OrgUnit
		}
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		if a.Metric != b.Metric {
			return a.Metric < b.Metric
		}
		return a.Bucket < b.Bucket
	})
}

// periodCases selects the incoming cases in [lo, hi) of units that can count in a period
// from s to e: received, replied or due in it.
const periodCases = `org_unit >= ? AND org_unit < ? AND direction = ?
	AND ((received_at >= ? AND received_at < ?) OR (replied_at >= ? AND replied_at < ?) OR (overdue = ? AND due_at >= ? AND due_at < ?))`

func (db *DB) periodArgs(lo, hi string, p assess.Period) []any {
	t := db.dialect.timeArg
	s, e := t(p.Start()), t(p.End())
	return []any{lo, hi, string(yipanqi.Incoming), s, e, s, e, true, s, e}
}

// RecomputeAssessmentCounts is AssessmentCounts computed from the cases themselves, with the
// clock state the last sweep left on them: for checking the kept counts, and for comparison
// in benchmarks. It reads every case of scope that touches the period.
func (db *DB) RecomputeAssessmentCounts(ctx context.Context, scope yipanqi.Scope, p assess.Period, cal *calendar.Calendar) ([]assess.Count, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	lo, hi := scope.Range()
	rows, err := db.q().query(ctx, `SELECT org_unit, type, state, received_at, due_at, replied_at, overdue FROM cases WHERE `+periodCases,
		db.periodArgs(lo, hi, p)...)
	if err != nil {
		return nil, fmt.Errorf("recompute assessment: %w", err)
	}
	defer rows.Close()
	months := map[string]bool{}
	for _, m := range p.Months() {
		months[m] = true
	}
	type key struct {
		unit, typ, metric string
		bucket            int
	}
	sum := map[key]int64{}
	for rows.Next() {
		var unit, state string
		c := assess.Case{Direction: yipanqi.Incoming}
		if err := rows.Scan(&unit, &c.Type, &state, timeCol{&c.ReceivedAt}, timeCol{&c.DueAt}, timeCol{&c.RepliedAt}, &c.Overdue); err != nil {
			return nil, fmt.Errorf("recompute assessment: %w", err)
		}
		c.State = yipanqi.CaseState(state)
		for _, k := range assess.Tally(&c, cal) {
			if months[k.Month] {
				sum[key{unit, c.Type, k.Metric, k.Bucket}]++
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("recompute assessment: %w", err)
	}
	out := make([]assess.Count, 0, len(sum))
	for k, n := range sum {
		out = append(out, assess.Count{OrgUnit: k.unit, Type: k.typ, Metric: k.metric, Bucket: k.bucket, N: n})
	}
	sortCounts(out)
	return out, nil
}

// Assessment returns the report of period p for the unit at the top of scope and every unit
// below it with figures or manual entries, scored by rules (see assess.Build). Counts only:
// no audit entry. EFORBIDDEN for the zero Scope.
func (db *DB) Assessment(ctx context.Context, scope yipanqi.Scope, p assess.Period, rules *assess.Rules, now time.Time) (*assess.Report, error) {
	counts, err := db.AssessmentCounts(ctx, scope, p)
	if err != nil {
		return nil, err
	}
	adj, err := db.Adjustments(ctx, scope, p)
	if err != nil {
		return nil, err
	}
	return assess.Build(scope.Unit(), p, counts, adj, rules, now), nil
}

// maxAdjustment bounds one manual entry, far beyond any sensible one; it keeps a typo out.
const maxAdjustment = 100

// AddAdjustment records a manual bonus (Points > 0) or deduction (Points < 0) for a.OrgUnit
// and a.Period, made by the user in ctx, whose unit must lie above a.OrgUnit; the entry and
// its audit entry (action assess.adjust) commit together, and a's ID, actor and time are set.
// EFORBIDDEN without a user or for a user not above the unit; EINVALID, naming the field, for
// a bad unit, a malformed or future period, zero or out-of-range points (two decimals at
// most) or an empty reason. Nothing is stored on error.
func (db *DB) AddAdjustment(ctx context.Context, a *assess.Adjustment) error {
	u := yipanqi.UserFromContext(ctx)
	if u == nil {
		return yipanqi.Errorf(yipanqi.EFORBIDDEN, "无权录入加减分：未登录")
	}
	now := db.now()
	p, err := assess.ParsePeriod(a.Period, now)
	switch {
	case !yipanqi.ValidDivisionCode(a.OrgUnit):
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "org_unit", "被考核单位代码“%s”无效", a.OrgUnit)
	case len(u.OrgUnit) >= len(a.OrgUnit) || !strings.HasPrefix(a.OrgUnit, u.OrgUnit):
		return yipanqi.FieldErrorf(yipanqi.EFORBIDDEN, "org_unit", "只有上级单位可以为“%s”录入加减分", a.OrgUnit)
	case err != nil:
		return err
	case a.Points == 0 || math.IsNaN(a.Points) || math.Abs(a.Points) > maxAdjustment || math.Abs(a.Points*100-math.Round(a.Points*100)) > 1e-6:
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "points", "加减分“%g”无效：应为非零、绝对值不超过 %d、至多两位小数", a.Points, maxAdjustment)
	case strings.TrimSpace(a.Reason) == "":
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "reason", "加减分须说明理由")
	case utf8.RuneCountInString(a.Reason) > 500:
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "reason", "理由不能超过 500 字")
	}
	a.Period, a.Actor, a.ActorUnit, a.CreatedAt = p.String(), u.Username, u.OrgUnit, now
	a.Reason = strings.TrimSpace(a.Reason)
	return db.InTx(ctx, func(tx *Tx) error {
		err := tx.q.row(ctx, `INSERT INTO assess_adjustments (org_unit, period, points, reason, actor, actor_unit, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, a.OrgUnit, a.Period, int64(math.Round(a.Points*100)), a.Reason,
			a.Actor, a.ActorUnit, db.dialect.timeArg(now)).Scan(&a.ID)
		if err != nil {
			return fmt.Errorf("add adjustment: %w", err)
		}
		return tx.Audit(ctx, &yipanqi.AuditEntry{Actor: a.Actor, OrgUnit: a.ActorUnit, Action: "assess.adjust",
			Object: a.OrgUnit + "/" + a.Period, Reason: fmt.Sprintf("%+.2f 分：%s", a.Points, a.Reason)})
	})
}

// Adjustments returns the manual entries for units in scope that count in period p (those
// of p and of the months and quarters inside it), oldest first. EFORBIDDEN for the zero Scope.
func (db *DB) Adjustments(ctx context.Context, scope yipanqi.Scope, p assess.Period) ([]assess.Adjustment, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	lo, hi := scope.Range()
	ps := p.Contained()
	args := []any{lo, hi}
	for _, x := range ps {
		args = append(args, x)
	}
	rows, err := db.q().query(ctx, `SELECT id, org_unit, period, points, reason, actor, actor_unit, created_at FROM assess_adjustments
		WHERE org_unit >= ? AND org_unit < ? AND period IN (?`+strings.Repeat(", ?", len(ps)-1)+`) ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("adjustments: %w", err)
	}
	defer rows.Close()
	var out []assess.Adjustment
	for rows.Next() {
		var a assess.Adjustment
		var hundredths int64
		if err := rows.Scan(&a.ID, &a.OrgUnit, &a.Period, &hundredths, &a.Reason, &a.Actor, &a.ActorUnit, timeCol{&a.CreatedAt}); err != nil {
			return nil, fmt.Errorf("adjustments: %w", err)
		}
		a.Points = float64(hundredths) / 100
		out = append(out, a)
	}
	return out, rows.Err()
}

// AssessFilter selects the cases behind one figure of a report: those of Unit (its subtree)
// counted under Metric (assess.Metric…), optionally of one Type.
type AssessFilter struct {
	Unit   string
	Metric string
	Type   string
	Offset int
	Limit  int
}

// AssessmentCases returns a page of the cases behind a figure of period p — exactly the
// cases the figure counts, as the last sweep left them — oldest receipt first, and how many
// there are. ID numbers are masked; the read is audited (action case.assess). EFORBIDDEN for
// the zero Scope; EINVALID for a unit outside scope or an unknown metric.
func (db *DB) AssessmentCases(ctx context.Context, scope yipanqi.Scope, p assess.Period, f AssessFilter, cal *calendar.Calendar) ([]*yipanqi.Case, int, error) {
	if err := checkScope(scope); err != nil {
		return nil, 0, err
	}
	switch f.Metric {
	case assess.MetricReceived, assess.MetricOnTime, assess.MetricLate, assess.MetricOverdue, assess.MetricReplyDays, assess.MetricCert7:
	default:
		return nil, 0, yipanqi.FieldErrorf(yipanqi.EINVALID, "metric", "指标“%s”未知", f.Metric)
	}
	lo, hi := scope.Range()
	if f.Unit != "" {
		sub, err := yipanqi.NewScope(f.Unit)
		if err != nil || !scope.Contains(f.Unit) {
			return nil, 0, yipanqi.FieldErrorf(yipanqi.EINVALID, "unit", "单位“%s”不在辖区 %s 之内", f.Unit, scope.Unit())
		}
		lo, hi = sub.Range()
	}
	where, args := periodCases, db.periodArgs(lo, hi, p)
	if f.Type != "" {
		where += " AND type = ?"
		args = append(args, f.Type)
	}
	rows, err := db.q().query(ctx, "SELECT "+caseColumns+", replied_at FROM cases WHERE "+where+" ORDER BY received_at, id", args...)
	if err != nil {
		return nil, 0, fmt.Errorf("assessment cases: %w", err)
	}
	defer rows.Close()
	months := map[string]bool{}
	for _, m := range p.Months() {
		months[m] = true
	}
	var all []*yipanqi.Case
	for rows.Next() {
		var replied time.Time
		c, err := scanCase(scanExtra{rows, []any{timeCol{&replied}}})
		if err != nil {
			return nil, 0, fmt.Errorf("assessment cases: %w", err)
		}
		ac := assess.Case{Type: c.Type, Direction: c.Direction, State: c.State, ReceivedAt: c.ReceivedAt, DueAt: c.DueAt,
			RepliedAt: replied, Overdue: c.Overdue}
		for _, k := range assess.Tally(&ac, cal) {
			if k.Metric == f.Metric && months[k.Month] {
				c.PersonIDNumber = idcard.Mask(c.PersonIDNumber)
				all = append(all, c)
				break
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("assessment cases: %w", err)
	}
	shown := scope.Unit()
	if f.Unit != "" {
		shown = f.Unit
	}
	total := len(all)
	off := min(max(f.Offset, 0), total)
	page := all[off:min(total, off+pageLimit(f.Limit))]
	if err := db.auditRead(ctx, "case.assess", fmt.Sprintf("unit=%s period=%s metric=%s type=%s shown=%d",
		shown, p, f.Metric, f.Type, len(page))); err != nil {
		return nil, 0, err
	}
	return page, total, nil
}
