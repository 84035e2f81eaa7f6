package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"yipanqi"
)

// The store side of the case workflows (docs/workflows.md): the timeline of every case, the
// routing of an addressed code to the unit that handles it, moving a case within the node,
// and what the hometown side shows of the service results it received.

const caseEventColumns = "case_id, at, kind, actor, node, org_unit, note"

// AddCaseEvents adds events to case timelines in the transaction, in one multi-row INSERT
// (a batch of the engine writes all its events in one statement, as it writes its cases and
// messages). At zero is set now. EINVALID for an event without a case id or a kind; nothing
// is written then.
func (tx *Tx) AddCaseEvents(ctx context.Context, events []*yipanqi.CaseEvent) error {
	if len(events) == 0 {
		return nil
	}
	now := tx.db.now()
	rows := make([][]any, len(events))
	for i, e := range events {
		if e.CaseID == "" || e.Kind == "" {
			return yipanqi.FieldErrorf(yipanqi.EINVALID, "kind", "案件流程记录缺少案件编号或类别")
		}
		if e.At.IsZero() {
			e.At = now
		}
		rows[i] = []any{e.CaseID, tx.db.dialect.timeArg(e.At), e.Kind, e.Actor, e.Node, e.OrgUnit, e.Note}
	}
	if err := insertRows(ctx, tx.db, tx.q, "INSERT INTO case_events ("+caseEventColumns+") VALUES ", rows); err != nil {
		return fmt.Errorf("case events: %w", tx.db.dialect.classify(err))
	}
	return nil
}

// CaseTimeline returns the timeline of the case held by a unit in scope, oldest first (by
// time, then in the order written). The events hold no personal data (who acted is staff or
// a node; notes are replies and reasons), so reading them writes no audit entry. ENOTFOUND
// when the case is not in scope; EFORBIDDEN for the zero Scope.
func (db *DB) CaseTimeline(ctx context.Context, scope yipanqi.Scope, caseID string) ([]*yipanqi.CaseEvent, error) {
	if _, err := db.FindCase(ctx, scope, caseID); err != nil {
		return nil, err
	}
	rows, err := db.q().query(ctx, "SELECT "+caseEventColumns+" FROM case_events WHERE case_id = ? ORDER BY at, id", caseID)
	if err != nil {
		return nil, fmt.Errorf("case timeline: %w", err)
	}
	defer rows.Close()
	var out []*yipanqi.CaseEvent
	for rows.Next() {
		e := &yipanqi.CaseEvent{}
		if err := rows.Scan(&e.CaseID, timeCol{&e.At}, &e.Kind, &e.Actor, &e.Node, &e.OrgUnit, &e.Note); err != nil {
			return nil, fmt.Errorf("case timeline: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// RouteUnit finds who handles a case addressed to code at this node: the deepest active org
// unit among code and its ancestors (the deepest level with staff, ARCHITECTURE §2). held
// says whether the node holds an org unit at code itself; unit is "" when no unit on the path
// is active. One query whatever the depth.
func (db *DB) RouteUnit(ctx context.Context, code string) (unit string, held bool, err error) {
	return db.routeUnit(ctx, db.q(), code)
}

// RouteUnit is DB.RouteUnit read in the transaction.
func (tx *Tx) RouteUnit(ctx context.Context, code string) (unit string, held bool, err error) {
	return tx.db.routeUnit(ctx, tx.q, code)
}

func (db *DB) routeUnit(ctx context.Context, qq q, code string) (unit string, held bool, err error) {
	if !yipanqi.ValidDivisionCode(code) {
		return "", false, nil
	}
	var path []any
	for _, l := range []yipanqi.Level{yipanqi.LevelProvince, yipanqi.LevelCity, yipanqi.LevelCounty, yipanqi.LevelTownship, yipanqi.LevelVillage} {
		if n := l.CodeLength(); n <= len(code) {
			path = append(path, code[:n])
		}
	}
	rows, err := qq.query(ctx, "SELECT code, active FROM org_units WHERE code IN (?"+strings.Repeat(", ?", len(path)-1)+")", path...)
	if err != nil {
		return "", false, fmt.Errorf("route %s: %w", code, err)
	}
	defer rows.Close()
	for rows.Next() {
		var c string
		var active bool
		if err := rows.Scan(&c, &active); err != nil {
			return "", false, fmt.Errorf("route %s: %w", code, err)
		}
		if c == code {
			held = true
		}
		if active && len(c) > len(unit) {
			unit = c
		}
	}
	return unit, held, rows.Err()
}

// MoveCase moves the incoming case to another unit of the node (a transfer): it must be open
// (delivered or in progress). It returns the unit that held it. ENOTFOUND for an unknown
// case; ECONFLICT when it is not open; EINVALID when toUnit is not an active org unit of the
// node or is the unit that holds it.
func (tx *Tx) MoveCase(ctx context.Context, caseID, toUnit string) (from string, err error) {
	c, err := tx.Case(ctx, caseID, yipanqi.Incoming)
	if err != nil {
		return "", err
	}
	if !yipanqi.ActTransfer.Allows(c.State) {
		return "", yipanqi.FieldErrorf(yipanqi.ECONFLICT, "state", "案件“%s”已不在办理中，不能转办", caseID)
	}
	var active bool
	err = tx.q.row(ctx, "SELECT active FROM org_units WHERE code = ?", toUnit).Scan(&active)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("move case %s: %w", caseID, err)
	}
	if !active {
		return "", yipanqi.FieldErrorf(yipanqi.EINVALID, "to_unit", "转办单位“%s”不是本节点在岗的机构", toUnit)
	}
	if toUnit == c.OrgUnit {
		return "", yipanqi.FieldErrorf(yipanqi.EINVALID, "to_unit", "案件已由“%s”承办，无需转办", toUnit)
	}
	// The supervision counts are per unit: the deadline clock refolds the case (slaTouch).
	if _, err := tx.q.exec(ctx, "UPDATE cases SET org_unit = ?, updated_at = ?, "+slaTouch+" WHERE id = ? AND direction = ?",
		toUnit, tx.db.dialect.timeArg(tx.db.now()), tx.db.slaNowArg(), caseID, string(yipanqi.Incoming)); err != nil {
		return "", fmt.Errorf("move case %s: %w", caseID, err)
	}
	return c.OrgUnit, nil
}

// SetPeerUnit records that the other node moved the case to another of its units: replies and
// later messages of the case name it. Only an outgoing case changes.
func (tx *Tx) SetPeerUnit(ctx context.Context, caseID, unit string) error {
	if !yipanqi.ValidDivisionCode(unit) {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "peer_unit", "承办单位“%s”无效", unit)
	}
	if _, err := tx.q.exec(ctx, "UPDATE cases SET peer_unit = ?, updated_at = ? WHERE id = ? AND direction = ?",
		unit, tx.db.dialect.timeArg(tx.db.now()), caseID, string(yipanqi.Outgoing)); err != nil {
		return fmt.Errorf("set peer unit of %s: %w", caseID, err)
	}
	return nil
}

// ServiceResult is a service result the hometown side received (a service.result case): the
// person's period is marked "已收到——无需返乡" for it, and nothing in the hometown workflow asks
// them to come back for the same service.
type ServiceResult struct {
	CaseID      string
	IDNumber    string
	ServiceKind string // the catalog's value, e.g. "health_checkup"
	ServiceDate yipanqi.Date
	Provider    string
	CheckupDone bool
	From        string    // the residence unit that sent it
	ReceivedAt  time.Time // when this node received and acknowledged it
}

// NoTripHomeLabel is what the hometown record shows for a period covered by a received
// service result.
const NoTripHomeLabel = "已收到——无需返乡"

// ServiceResults returns the service results received about the person by units in scope,
// newest service first. It reads personal data, so it writes an audit entry
// "person.service_results" by the actor in ctx. EFORBIDDEN for the zero Scope.
func (db *DB) ServiceResults(ctx context.Context, scope yipanqi.Scope, idNumber string) ([]*ServiceResult, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	lo, hi := scope.Range()
	rows, err := db.q().query(ctx, "SELECT "+caseColumns+" FROM cases WHERE person_id_number = ? AND type = ? AND direction = ? AND "+
		caseInScope+" AND state <> ? ORDER BY received_at DESC", idNumber, "service.result", string(yipanqi.Incoming), lo, hi,
		string(yipanqi.CaseWithdrawn))
	if err != nil {
		return nil, fmt.Errorf("service results: %w", err)
	}
	defer rows.Close()
	var out []*ServiceResult
	for rows.Next() {
		c, err := scanCase(rows)
		if err != nil {
			return nil, fmt.Errorf("service results: %w", err)
		}
		var f struct {
			Kind     string `json:"service_kind"`
			Date     string `json:"service_date"`
			Provider string `json:"provider"`
			Checkup  bool   `json:"checkup_done"`
		}
		if err := json.Unmarshal(c.Data, &f); err != nil {
			return nil, fmt.Errorf("service results: case %s data: %w", c.ID, err)
		}
		date, _ := yipanqi.ParseDate(f.Date) // the catalog checked it on receipt
		out = append(out, &ServiceResult{CaseID: c.ID, IDNumber: c.PersonIDNumber, ServiceKind: f.Kind, ServiceDate: date,
			Provider: f.Provider, CheckupDone: f.Checkup, From: c.PeerUnit, ReceivedAt: c.ReceivedAt})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("service results: %w", err)
	}
	if err := db.auditRead(ctx, "person.service_results", idNumber); err != nil {
		return nil, err
	}
	return out, nil
}

// CaseReplies returns the replies logged on the case in direction dir (the answers of its
// type, not receipts or notices), oldest first: what the engine reads to know whether an
// interim reply was given (docs/workflows.md).
func (tx *Tx) CaseReplies(ctx context.Context, caseID string, dir yipanqi.Direction, typ string) ([]*LoggedMessage, error) {
	rows, err := tx.q.query(ctx, "SELECT "+messageColumns+` FROM messages
		WHERE case_id = ? AND direction = ? AND type = ? AND reply_to <> '' ORDER BY recorded_at, id`, caseID, string(dir), typ)
	if err != nil {
		return nil, fmt.Errorf("replies of case %s: %w", caseID, err)
	}
	defer rows.Close()
	var out []*LoggedMessage
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, fmt.Errorf("replies of case %s: %w", caseID, err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// SetCaseDue sets the deadline of the case: a deadline that counts from an interim reply
// (a petition's outcome, 60 days from its acceptance) replaces the first one. The deadline
// clock looks at the case again (slaTouch).
func (tx *Tx) SetCaseDue(ctx context.Context, caseID string, dir yipanqi.Direction, due time.Time, provisional bool) error {
	t := tx.db.dialect.timeArg
	if _, err := tx.q.exec(ctx, "UPDATE cases SET due_at = ?, due_provisional = ?, updated_at = ?, "+slaTouch+
		" WHERE id = ? AND direction = ?", t(due), provisional, t(tx.db.now()), tx.db.slaNowArg(), caseID, string(dir)); err != nil {
		return fmt.Errorf("set due of case %s: %w", caseID, err)
	}
	return nil
}

// RecordFlow is DB.RecordFlow in the transaction, for a caller that commits more with it (the
// exchange's move.notice); it returns the person as found before the change. Errors as for
// DB.RecordFlow.
func (tx *Tx) RecordFlow(ctx context.Context, scope yipanqi.Scope, idNumber string, ev *yipanqi.FlowEvent) (*yipanqi.Person, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	return tx.db.recordFlow(ctx, tx.q, scope, idNumber, ev)
}

// CaseEventCounts returns how many events of each kind the case's timeline holds, read in the
// transaction: what a step that must follow another checks.
func (tx *Tx) CaseEventCounts(ctx context.Context, caseID string) (map[string]int, error) {
	rows, err := tx.q.query(ctx, "SELECT kind, COUNT(*) FROM case_events WHERE case_id = ? GROUP BY kind", caseID)
	if err != nil {
		return nil, fmt.Errorf("case events of %s: %w", caseID, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var kind string
		var n int
		if err := rows.Scan(&kind, &n); err != nil {
			return nil, fmt.Errorf("case events of %s: %w", caseID, err)
		}
		out[kind] = n
	}
	return out, rows.Err()
}

// Registered is what the engine reads of a person the node's registry holds: where the
// hukou is, where the person lives, and the latest flow (RegistryPeople).
type Registered struct {
	HukouCode     string
	ResidenceCode string
	FlowStatus    yipanqi.FlowKind
}

// RegistryPeople returns, by ID number, those of the people that the node's registry holds,
// in one query (chunked below the variable limit): the engine's check, on receipt, that a
// case about a person comes from a side of that person (docs/workflows.md). Like HukouCodes
// it shows nothing to anyone and writes no audit entry.
func (tx *Tx) RegistryPeople(ctx context.Context, idNumbers []string) (map[string]Registered, error) {
	out := make(map[string]Registered, len(idNumbers))
	for lo := 0; lo < len(idNumbers); lo += maxVarsPerStatement {
		chunk := idNumbers[lo:min(lo+maxVarsPerStatement, len(idNumbers))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := tx.q.query(ctx, "SELECT id_number, hukou_code, residence_code, flow_status FROM people WHERE id_number IN (?"+
			strings.Repeat(", ?", len(chunk)-1)+")", args...)
		if err != nil {
			return nil, fmt.Errorf("registry people: %w", err)
		}
		for rows.Next() {
			var id string
			var r Registered
			if err := rows.Scan(&id, &r.HukouCode, &r.ResidenceCode, &r.FlowStatus); err != nil {
				rows.Close()
				return nil, fmt.Errorf("registry people: %w", err)
			}
			out[id] = r
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("registry people: %w", err)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("registry people: %w", err)
		}
	}
	return out, nil
}

// HukouCodes returns, by ID number, the hukou codes of those of the people that the node's
// registry holds, in one query (chunked below the variable limit): the engine's check that a
// case for the hometown goes to the hometown. It shows nothing to anyone and writes no audit
// entry; the engine's refusal does not name the code.
func (tx *Tx) HukouCodes(ctx context.Context, idNumbers []string) (map[string]string, error) {
	out := make(map[string]string, len(idNumbers))
	for lo := 0; lo < len(idNumbers); lo += maxVarsPerStatement {
		chunk := idNumbers[lo:min(lo+maxVarsPerStatement, len(idNumbers))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := tx.q.query(ctx, "SELECT id_number, hukou_code FROM people WHERE id_number IN (?"+
			strings.Repeat(", ?", len(chunk)-1)+")", args...)
		if err != nil {
			return nil, fmt.Errorf("hukou codes: %w", err)
		}
		for rows.Next() {
			var id, code string
			if err := rows.Scan(&id, &code); err != nil {
				rows.Close()
				return nil, fmt.Errorf("hukou codes: %w", err)
			}
			out[id] = code
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("hukou codes: %w", err)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("hukou codes: %w", err)
		}
	}
	return out, nil
}

// FlowNotice is a flow event of the registry with what its move.notice needs.
type FlowNotice struct {
	FlowID        int64
	Kind          yipanqi.FlowKind
	On            yipanqi.Date
	FromCode      string
	ToCode        string
	IDNumber      string
	HukouCode     string
	ResidenceCode string // the person's residence now
}

// FlowsAfter returns up to limit flow events with ids above afterID, oldest first, of people
// who live in scope or whose flow left it: what the exchange turns into move notices (an
// import records arrivals and moves by the thousand). Returning any is audited
// ("people.flow_notices" by the actor in ctx, object the scope's unit). EFORBIDDEN for the
// zero Scope.
func (db *DB) FlowsAfter(ctx context.Context, scope yipanqi.Scope, afterID int64, limit int) ([]*FlowNotice, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	lo, hi := scope.Range()
	rows, err := db.q().query(ctx, `SELECT f.id, f.kind, f.on_date, f.from_code, f.to_code, p.id_number, p.hukou_code, p.residence_code
		FROM flow_events f JOIN people p ON p.id = f.person_id
		WHERE f.id > ? AND ((p.residence_code >= ? AND p.residence_code < ?) OR (f.from_code >= ? AND f.from_code < ?))
		ORDER BY f.id LIMIT ?`, afterID, lo, hi, lo, hi, pageLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("flows after %d: %w", afterID, err)
	}
	defer rows.Close()
	var out []*FlowNotice
	for rows.Next() {
		f := &FlowNotice{}
		var kind string
		if err := rows.Scan(&f.FlowID, &kind, &f.On, &f.FromCode, &f.ToCode, &f.IDNumber, &f.HukouCode, &f.ResidenceCode); err != nil {
			return nil, fmt.Errorf("flows after %d: %w", afterID, err)
		}
		f.Kind = yipanqi.FlowKind(kind)
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("flows after %d: %w", afterID, err)
	}
	if len(out) > 0 {
		actor, _ := actorFrom(ctx)
		if err := db.Audit(ctx, &yipanqi.AuditEntry{Actor: actor, OrgUnit: scope.Unit(), Action: "people.flow_notices",
			Object: scope.Unit(), Reason: fmt.Sprintf("flow %d..%d (%d)", out[0].FlowID, out[len(out)-1].FlowID, len(out))}); err != nil {
			return nil, fmt.Errorf("flows after %d: %w", afterID, err)
		}
	}
	return out, nil
}

// ExistingCases reports which of the case ids the store holds, in one query per chunk.
func (db *DB) ExistingCases(ctx context.Context, ids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	for lo := 0; lo < len(ids); lo += maxVarsPerStatement {
		chunk := ids[lo:min(lo+maxVarsPerStatement, len(ids))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := db.q().query(ctx, "SELECT id FROM cases WHERE id IN (?"+strings.Repeat(", ?", len(chunk)-1)+")", args...)
		if err != nil {
			return nil, fmt.Errorf("existing cases: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("existing cases: %w", err)
			}
			out[id] = true
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("existing cases: %w", err)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("existing cases: %w", err)
		}
	}
	return out, nil
}
