package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"yipanqi"
	"yipanqi/stats"
)

// The monthly statistics (S1.1; docs/stats.md). Every figure is a GROUP BY in the database,
// the same SQL on both: dates compare as parameters (TEXT 'YYYY-MM-DD' on SQLite, DATE on
// PostgreSQL), age bands are a CASE over birth_date against cut-off dates computed in Go, and
// units roll up with substr on the division code. Go sees only the groups.

// presentAt selects the people in a residence range present at the end of a month: arrived
// by then (by arrived_on, or when that is unknown by an arrival event), and not taken away by
// then: either they have no other event than arrivals on or before that day — most people, so
// one set of the few who do is built once — or their latest event by then is an arrival or a
// move to a known place, not leaving, returning or a move to an unknown place.
// Arguments: lo, hi, then the last day four times.
const presentAt = `p.residence_code >= ? AND p.residence_code < ?
	AND (p.arrived_on <= ? OR p.arrived_on IS NULL
		AND EXISTS (SELECT 1 FROM flow_events a WHERE a.person_id = p.id AND a.on_date <= ?))
	AND (p.id NOT IN (SELECT d.person_id FROM flow_events d WHERE d.kind <> 'arrived' AND d.on_date <= ?)
		OR (SELECT CASE WHEN e.kind = 'arrived' OR (e.kind = 'moved_on' AND e.to_code <> '') THEN 1 ELSE 0 END
			FROM flow_events e WHERE e.person_id = p.id AND e.on_date <= ?
			ORDER BY e.on_date DESC, e.id DESC LIMIT 1) = 1)`

// ageBand is the band index (stats.AgeBands) of p at the end of the month; its arguments are
// stats.BandCuts of that day, youngest first.
const ageBand = `CASE WHEN p.birth_date > ? THEN 0 WHEN p.birth_date > ? THEN 1
	WHEN p.birth_date > ? THEN 2 WHEN p.birth_date > ? THEN 3 ELSE 4 END`

// The queries of a live report. Grouping is by select-list position, which both databases
// accept and which keeps each parameterised expression written once.
const (
	// Arguments: child width, band cuts (4), presentAt's.
	statsPopulationLive = `SELECT substr(p.residence_code, 1, ?), p.sex, ` + ageBand + `, p.marital_status, COUNT(*)
		FROM people p WHERE ` + presentAt + ` GROUP BY 1, 2, 3, 4`

	// Arguments: first day, last day, lo, hi, lo, hi.
	statsFlowsLive = `SELECT kind, from_code, to_code, COUNT(*) FROM flow_events
		WHERE on_date >= ? AND on_date <= ?
			AND ((from_code >= ? AND from_code < ?) OR (to_code >= ? AND to_code < ?))
		GROUP BY kind, from_code, to_code`

	// Arguments: presentAt's.
	statsOriginsLive = `SELECT substr(p.hukou_code, 1, 4), substr(p.residence_code, 1, 4), COUNT(*)
		FROM people p WHERE ` + presentAt + ` GROUP BY 1, 2`
)

// The same figures read from a snapshot.
const (
	// Arguments: child width, month, lo, hi.
	statsPopulationSnap = `SELECT substr(residence_code, 1, ?), sex, age_band, marital_status, CAST(SUM(people) AS BIGINT)
		FROM stats_population WHERE month = ? AND residence_code >= ? AND residence_code < ?
		GROUP BY 1, 2, 3, 4`
	// Arguments: month, lo, hi, lo, hi.
	statsFlowsSnap = `SELECT kind, from_code, to_code, events FROM stats_flows
		WHERE month = ? AND ((from_code >= ? AND from_code < ?) OR (to_code >= ? AND to_code < ?))`
	// Arguments: month, lo, hi.
	statsOriginsSnap = `SELECT hukou_code, residence_code, people FROM stats_origins
		WHERE month = ? AND residence_code >= ? AND residence_code < ?`
)

// Taking a snapshot: the live queries over the whole node at full residence grain.
const (
	// Arguments: month, band cuts (4), presentAt's.
	statsPopulationTake = `INSERT INTO stats_population (month, residence_code, sex, age_band, marital_status, people)
		SELECT CAST(? AS TEXT), p.residence_code, p.sex, ` + ageBand + `, p.marital_status, COUNT(*)
		FROM people p WHERE ` + presentAt + ` GROUP BY 2, 3, 4, 5`
	// Arguments: month, first day, last day.
	statsFlowsTake = `INSERT INTO stats_flows (month, kind, from_code, to_code, events)
		SELECT CAST(? AS TEXT), kind, from_code, to_code, COUNT(*) FROM flow_events
		WHERE on_date >= ? AND on_date <= ? GROUP BY 2, 3, 4`
	// Arguments: month, presentAt's.
	statsOriginsTake = `INSERT INTO stats_origins (month, hukou_code, residence_code, people)
		SELECT CAST(? AS TEXT), substr(p.hukou_code, 1, 4), substr(p.residence_code, 1, 4), COUNT(*)
		FROM people p WHERE ` + presentAt + ` GROUP BY 2, 3`
)

// wholeNode is the residence range of every person a node holds: division codes are digits,
// and every digit string sorts at or after "0" and before ":".
var wholeNode = [2]string{"0", ":"}

func presentArgs(lo, hi string, m stats.Month) []any {
	last := m.Last()
	return []any{lo, hi, last, last, last, last}
}

func bandArgs(m stats.Month) []any {
	var out []any
	for _, c := range stats.BandCuts(m.Last()) {
		out = append(out, c)
	}
	return out
}

// MonthlyStats returns the aggregates of the month for the unit of scope: from the month's
// snapshot when one was taken (Tally.Snapshot says when), else computed live. A snapshot can
// only exist for a month that has ended, so the current month is always live. EFORBIDDEN for
// the zero Scope.
func (db *DB) MonthlyStats(ctx context.Context, scope yipanqi.Scope, m stats.Month) (*stats.Tally, error) {
	t, err := db.SnapshotStats(ctx, scope, m)
	if yipanqi.ErrorCode(err) == yipanqi.ENOTFOUND {
		return db.LiveStats(ctx, scope, m)
	}
	return t, err
}

// LiveStats computes the aggregates of the month for the unit of scope from the registry as
// it is now. EFORBIDDEN for the zero Scope.
func (db *DB) LiveStats(ctx context.Context, scope yipanqi.Scope, m stats.Month) (*stats.Tally, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	lo, hi := scope.Range()
	first, last := m.First(), m.Last()
	t := &stats.Tally{Unit: scope.Unit(), Month: m}
	args := append(append([]any{stats.ChildWidth(len(scope.Unit()))}, bandArgs(m)...), presentArgs(lo, hi, m)...)
	var err error
	if t.Population, err = db.population(ctx, statsPopulationLive, args...); err != nil {
		return nil, err
	}
	if t.Flows, err = db.flows(ctx, statsFlowsLive, first, last, lo, hi, lo, hi); err != nil {
		return nil, err
	}
	return t, nil
}

// SnapshotStats reads the aggregates of the month for the unit of scope from the month's
// snapshot. ENOTFOUND when none was taken; EFORBIDDEN for the zero Scope.
func (db *DB) SnapshotStats(ctx context.Context, scope yipanqi.Scope, m stats.Month) (*stats.Tally, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	snap, err := db.StatsSnapshot(ctx, m)
	if err != nil {
		return nil, err
	}
	lo, hi := scope.Range()
	t := &stats.Tally{Unit: scope.Unit(), Month: m, Snapshot: snap}
	if t.Population, err = db.population(ctx, statsPopulationSnap, stats.ChildWidth(len(scope.Unit())), m.String(), lo, hi); err != nil {
		return nil, err
	}
	if t.Flows, err = db.flows(ctx, statsFlowsSnap, m.String(), lo, hi, lo, hi); err != nil {
		return nil, err
	}
	return t, nil
}

// StatsSnapshot returns the description of the month's snapshot; ENOTFOUND when none was
// taken.
func (db *DB) StatsSnapshot(ctx context.Context, m stats.Month) (*stats.Snapshot, error) {
	s := &stats.Snapshot{Month: m}
	err := db.q().row(ctx, "SELECT taken_at, actor, people FROM stats_snapshots WHERE month = ?", m.String()).
		Scan(timeCol{&s.TakenAt}, &s.Actor, &s.People)
	if err != nil {
		return nil, notFound(fmt.Errorf("stats snapshot %s: %w", m, err), "%s 没有月度快照", m)
	}
	return s, nil
}

// TakeStatsSnapshot computes the month's aggregates over everyone the node holds and stores
// them, with an audit entry "stats.snapshot" by actor, in one transaction. A month that has
// not ended (by db.Now, China time) is EINVALID naming "month": its figures can still change.
// A month that already has a snapshot is ECONFLICT unless replace is set, so a published
// month is not silently rewritten.
func (db *DB) TakeStatsSnapshot(ctx context.Context, m stats.Month, actor string, replace bool) (*stats.Snapshot, error) {
	now := db.now()
	if !m.Ended(now) {
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "month", "--month %s 尚未结束，不能生成月度快照（本月数据只做实时计算）", m)
	}
	if actor == "" {
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "actor", "生成快照缺少操作人")
	}
	snap := &stats.Snapshot{Month: m, TakenAt: now, Actor: actor}
	month, first, last := m.String(), m.First(), m.Last()
	err := db.inTx(ctx, func(qq q) error {
		var held stats.Snapshot
		err := qq.row(ctx, "SELECT taken_at FROM stats_snapshots WHERE month = ?", month).Scan(timeCol{&held.TakenAt})
		switch {
		case err == nil && !replace:
			return yipanqi.FieldErrorf(yipanqi.ECONFLICT, "month", "%s 已有月度快照（生成于 %s）；如需重新生成请加 --replace",
				m, stats.SourceLabel(&held))
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("stats snapshot: %w", err)
		}
		for _, table := range []string{"stats_snapshots", "stats_population", "stats_flows", "stats_origins"} {
			if _, err := qq.exec(ctx, "DELETE FROM "+table+" WHERE month = ?", month); err != nil {
				return fmt.Errorf("stats snapshot: clear %s: %w", table, err)
			}
		}
		present := presentArgs(wholeNode[0], wholeNode[1], m)
		if _, err := qq.exec(ctx, statsPopulationTake, append(append([]any{month}, bandArgs(m)...), present...)...); err != nil {
			return fmt.Errorf("stats snapshot: population: %w", err)
		}
		if _, err := qq.exec(ctx, statsFlowsTake, month, first, last); err != nil {
			return fmt.Errorf("stats snapshot: flows: %w", err)
		}
		if _, err := qq.exec(ctx, statsOriginsTake, append([]any{month}, present...)...); err != nil {
			return fmt.Errorf("stats snapshot: origins: %w", err)
		}
		if err := qq.row(ctx, "SELECT CAST(COALESCE(SUM(people), 0) AS BIGINT) FROM stats_origins WHERE month = ?", month).Scan(&snap.People); err != nil {
			return fmt.Errorf("stats snapshot: total: %w", err)
		}
		if _, err := qq.exec(ctx, "INSERT INTO stats_snapshots (month, taken_at, actor, people) VALUES (?, ?, ?, ?)",
			month, db.dialect.timeArg(now), actor, snap.People); err != nil {
			return fmt.Errorf("stats snapshot: %w", err)
		}
		return db.audit(ctx, qq, &yipanqi.AuditEntry{At: now, Actor: actor, Action: "stats.snapshot", Object: month,
			Reason: fmt.Sprintf("月末在住 %d 人", snap.People)})
	})
	if err != nil {
		return nil, err
	}
	return snap, nil
}

// StatsOrigins returns the people present at the end of the month in the unit of scope by
// hukou city and residence city — the node's part of the region's flow matrix — from the
// month's snapshot when there is one (returned too), else live. EFORBIDDEN for the zero Scope.
func (db *DB) StatsOrigins(ctx context.Context, scope yipanqi.Scope, m stats.Month) ([]stats.OriginGroup, *stats.Snapshot, error) {
	if err := checkScope(scope); err != nil {
		return nil, nil, err
	}
	lo, hi := scope.Range()
	snap, err := db.StatsSnapshot(ctx, m)
	var rows *sql.Rows
	switch {
	case err == nil:
		rows, err = db.q().query(ctx, statsOriginsSnap, m.String(), lo, hi)
	case yipanqi.ErrorCode(err) == yipanqi.ENOTFOUND:
		snap = nil
		rows, err = db.q().query(ctx, statsOriginsLive, presentArgs(lo, hi, m)...)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("stats origins: %w", err)
	}
	defer rows.Close()
	var out []stats.OriginGroup
	for rows.Next() {
		var g stats.OriginGroup
		if err := rows.Scan(&g.Hukou, &g.Residence, &g.People); err != nil {
			return nil, nil, fmt.Errorf("stats origins: %w", err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("stats origins: %w", err)
	}
	return out, snap, nil
}

func (db *DB) population(ctx context.Context, query string, args ...any) ([]stats.PopGroup, error) {
	rows, err := db.q().query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("stats population: %w", err)
	}
	defer rows.Close()
	var out []stats.PopGroup
	for rows.Next() {
		var g stats.PopGroup
		var sex, marital string
		if err := rows.Scan(&g.Code, &sex, &g.Band, &marital, &g.People); err != nil {
			return nil, fmt.Errorf("stats population: %w", err)
		}
		g.Sex, g.Marital = yipanqi.Sex(sex), yipanqi.MaritalStatus(marital)
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("stats population: %w", err)
	}
	return out, nil
}

func (db *DB) flows(ctx context.Context, query string, args ...any) ([]stats.FlowGroup, error) {
	rows, err := db.q().query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("stats flows: %w", err)
	}
	defer rows.Close()
	var out []stats.FlowGroup
	for rows.Next() {
		var g stats.FlowGroup
		var kind string
		if err := rows.Scan(&kind, &g.From, &g.To, &g.Events); err != nil {
			return nil, fmt.Errorf("stats flows: %w", err)
		}
		g.Kind = yipanqi.FlowKind(kind)
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("stats flows: %w", err)
	}
	return out, nil
}

// StatsAudit records that someone read the month's statistics of a unit ("stats.report").
// Only counts are shown, but who looked at which unit's figures is on record like every read.
func (db *DB) StatsAudit(ctx context.Context, actor string, scope yipanqi.Scope, m stats.Month, what string) error {
	return db.Audit(ctx, &yipanqi.AuditEntry{Actor: actor, OrgUnit: scope.Unit(), Action: what, Object: scope.Unit(), Reason: m.String()})
}

// statsSent counts the cases units in [lo, hi) sent in [start, end), by type: outgoing, not
// drafts, by created_at. The covering index cases_list (org_unit, direction, state, type, …,
// created_at) answers it without reading a case row. Arguments: lo, hi, start, end.
const statsSent = `SELECT type, COUNT(*) FROM cases
	WHERE org_unit >= ? AND org_unit < ? AND direction = ? AND state <> ? AND created_at >= ? AND created_at < ?
	GROUP BY type`

// MonthlyExchange returns the exchange table of month m for the unit of scope (see
// stats.NewExchange): received, replied on time or late, still overdue and the median working
// days to reply from the counts the deadline clock keeps (AssessmentCounts of the month), as
// the last sweep left them, and the cases sent in the month counted from the cases. Counts
// only: the caller audits the report it belongs to. EFORBIDDEN for the zero Scope.
func (db *DB) MonthlyExchange(ctx context.Context, scope yipanqi.Scope, m stats.Month) (*stats.Exchange, error) {
	counts, err := db.AssessmentCounts(ctx, scope, m.Period())
	if err != nil {
		return nil, err
	}
	lo, hi := scope.Range()
	p := m.Period()
	rows, err := db.q().query(ctx, statsSent, lo, hi, string(yipanqi.Outgoing), string(yipanqi.CaseDrafted),
		db.dialect.timeArg(p.Start()), db.dialect.timeArg(p.End()))
	if err != nil {
		return nil, fmt.Errorf("exchange stats: %w", err)
	}
	defer rows.Close()
	sent := map[string]int64{}
	for rows.Next() {
		var typ string
		var n int64
		if err := rows.Scan(&typ, &n); err != nil {
			return nil, fmt.Errorf("exchange stats: %w", err)
		}
		sent[typ] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("exchange stats: %w", err)
	}
	return stats.NewExchange(scope.Unit(), m, counts, sent), nil
}

// MonthlyReport is the monthly report of the unit of scope (unitName its full name, name
// naming its rows) with its exchange table: MonthlyStats and MonthlyExchange, and the
// stats.report audit entry for actor written before anything is shown. The command line and
// the web page (its table and its xlsx download) both read it here. EFORBIDDEN for the zero
// Scope.
func (db *DB) MonthlyReport(ctx context.Context, actor string, scope yipanqi.Scope, m stats.Month, unitName string,
	name stats.NameFunc) (*stats.Report, error) {
	tally, err := db.MonthlyStats(ctx, scope, m)
	if err != nil {
		return nil, err
	}
	ex, err := db.MonthlyExchange(ctx, scope, m)
	if err != nil {
		return nil, err
	}
	if err := db.StatsAudit(ctx, actor, scope, m, "stats.report"); err != nil {
		return nil, err
	}
	r := stats.NewReport(tally, unitName, name)
	r.Exchange = ex
	return r, nil
}
