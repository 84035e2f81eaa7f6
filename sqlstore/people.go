package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"yipanqi"
)

var _ yipanqi.PersonService = (*DB)(nil)

const personColumns = `id, id_number, name, sex, birth_date, marital_status, hukou_code, hukou_address,
	residence_code, residence_address, phone, arrived_on, flow_status, version, created_at, updated_at`

// inScope is the subtree filter on people: an index range scan on residence_code.
const personInScope = "residence_code >= ? AND residence_code < ?"

func scanPerson(sc interface{ Scan(...any) error }) (*yipanqi.Person, error) {
	p := &yipanqi.Person{}
	var sex, marital, flow string
	err := sc.Scan(&p.ID, &p.IDNumber, &p.Name, &sex, &p.BirthDate, &marital, &p.HukouCode, &p.HukouAddress,
		&p.ResidenceCode, &p.ResidenceAddress, &p.Phone, &p.ArrivedOn, &flow, &p.Version,
		timeCol{&p.CreatedAt}, timeCol{&p.UpdatedAt})
	p.Sex, p.MaritalStatus, p.FlowStatus = yipanqi.Sex(sex), yipanqi.MaritalStatus(marital), yipanqi.FlowKind(flow)
	return p, err
}

// FindPerson returns the person with the ID number whose residence lies in scope. ENOTFOUND
// when there is none in scope (whether or not one exists elsewhere); EFORBIDDEN for the zero
// Scope.
//
// Seeing a person's record is audited: an entry "person.view" by the actor in ctx
// (yipanqi.NewContextWithUser) is written before the record is returned.
func (db *DB) FindPerson(ctx context.Context, scope yipanqi.Scope, idNumber string) (*yipanqi.Person, error) {
	p, err := db.findPerson(ctx, db.q(), scope, idNumber)
	if err != nil {
		return nil, err
	}
	if err := db.auditRead(ctx, "person.view", idNumber); err != nil {
		return nil, err
	}
	return p, nil
}

func (db *DB) findPerson(ctx context.Context, qq q, scope yipanqi.Scope, idNumber string) (*yipanqi.Person, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	lo, hi := scope.Range()
	p, err := scanPerson(qq.row(ctx, "SELECT "+personColumns+" FROM people WHERE id_number = ? AND "+personInScope,
		idNumber, lo, hi))
	if err != nil {
		return nil, notFound(fmt.Errorf("find person: %w", err), "未找到该公民身份号码对应的人员")
	}
	return p, nil
}

// auditRead records that the actor in ctx saw personal data (SCOPE.md: every read is logged).
// It commits on its own: a read has no change to commit with.
func (db *DB) auditRead(ctx context.Context, action, object string) error {
	actor, unit := actorFrom(ctx)
	if err := db.Audit(ctx, &yipanqi.AuditEntry{Actor: actor, OrgUnit: unit, Action: action, Object: object}); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// CountPeople returns how many people reside in scope. It reads no personal data and so
// writes no audit entry. EFORBIDDEN for the zero Scope.
func (db *DB) CountPeople(ctx context.Context, scope yipanqi.Scope) (int, error) {
	if err := checkScope(scope); err != nil {
		return 0, err
	}
	lo, hi := scope.Range()
	var n int
	if err := db.q().row(ctx, "SELECT COUNT(*) FROM people WHERE "+personInScope, lo, hi).Scan(&n); err != nil {
		return 0, fmt.Errorf("count people: %w", err)
	}
	return n, nil
}

const (
	defaultPageSize = 50
	maxPageSize     = 1000
)

func pageLimit(limit int) int {
	switch {
	case limit <= 0:
		return defaultPageSize
	case limit > maxPageSize:
		return maxPageSize
	}
	return limit
}

// likePrefix is a LIKE pattern matching strings that start with s.
func likePrefix(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s) + "%"
}

// ListPeople returns a page of the people in scope that match f, ordered by ID number, and
// how many match in all. A page that shows anyone is audited as "people.search" (scope,
// filters, how many shown) by the actor in ctx; for a bare count use CountPeople.
// EFORBIDDEN for the zero Scope.
func (db *DB) ListPeople(ctx context.Context, scope yipanqi.Scope, f yipanqi.PersonFilter) ([]*yipanqi.Person, int, error) {
	if err := checkScope(scope); err != nil {
		return nil, 0, err
	}
	lo, hi := scope.Range()
	where := []string{personInScope}
	args := []any{lo, hi}
	if f.Name != "" {
		where = append(where, `name LIKE ? ESCAPE '\'`)
		args = append(args, likePrefix(f.Name))
	}
	if f.IDNumber != "" {
		where = append(where, "id_number = ?")
		args = append(args, f.IDNumber)
	}
	if f.HukouCode != "" {
		hukou, err := yipanqi.NewScope(f.HukouCode)
		if err != nil {
			return nil, 0, yipanqi.FieldErrorf(yipanqi.EINVALID, "hukou_code", "户籍地区划代码“%s”无效", f.HukouCode)
		}
		hlo, hhi := hukou.Range()
		where = append(where, "hukou_code >= ? AND hukou_code < ?")
		args = append(args, hlo, hhi)
	}
	if f.FlowStatus != "" {
		where = append(where, "flow_status = ?")
		args = append(args, string(f.FlowStatus))
	}
	cond := strings.Join(where, " AND ")
	var total int
	if err := db.q().row(ctx, "SELECT COUNT(*) FROM people WHERE "+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count people: %w", err)
	}
	if f.Offset < 0 {
		f.Offset = 0
	}
	// The page's ids from the index people_search alone, then only its rows from the table.
	rows, err := db.q().query(ctx, "SELECT "+personColumns+" FROM people WHERE id IN (SELECT id FROM people WHERE "+cond+
		" ORDER BY id_number LIMIT ? OFFSET ?) ORDER BY id_number", append(args, pageLimit(f.Limit), f.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list people: %w", err)
	}
	defer rows.Close()
	var out []*yipanqi.Person
	for rows.Next() {
		p, err := scanPerson(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("list people: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list people: %w", err)
	}
	if len(out) > 0 {
		if err := db.auditRead(ctx, "people.search", searchObject(scope, f, len(out))); err != nil {
			return nil, 0, err
		}
	}
	return out, total, nil
}

// searchObject describes a search for the audit log: where, with which filters, how many
// records were shown.
func searchObject(scope yipanqi.Scope, f yipanqi.PersonFilter, shown int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "scope=%s", scope.Unit())
	if f.Name != "" {
		fmt.Fprintf(&b, " name=%s", f.Name)
	}
	if f.IDNumber != "" {
		fmt.Fprintf(&b, " id_number=%s", f.IDNumber)
	}
	if f.HukouCode != "" {
		fmt.Fprintf(&b, " hukou=%s", f.HukouCode)
	}
	if f.FlowStatus != "" {
		fmt.Fprintf(&b, " flow=%s", f.FlowStatus)
	}
	fmt.Fprintf(&b, " offset=%d shown=%d", f.Offset, shown)
	return b.String()
}

const flowColumns = "id, person_id, kind, on_date, from_code, to_code, note, recorded_at"

// FlowHistory returns the flow events of a person in scope, oldest first. ENOTFOUND when the
// person is not in scope; EFORBIDDEN for the zero Scope.
func (db *DB) FlowHistory(ctx context.Context, scope yipanqi.Scope, idNumber string) ([]*yipanqi.FlowEvent, error) {
	p, err := db.FindPerson(ctx, scope, idNumber)
	if err != nil {
		return nil, err
	}
	rows, err := db.q().query(ctx, "SELECT "+flowColumns+" FROM flow_events WHERE person_id = ? ORDER BY on_date, id", p.ID)
	if err != nil {
		return nil, fmt.Errorf("flow history: %w", err)
	}
	defer rows.Close()
	var out []*yipanqi.FlowEvent
	for rows.Next() {
		e := &yipanqi.FlowEvent{}
		var kind string
		if err := rows.Scan(&e.ID, &e.PersonID, &kind, &e.On, &e.FromCode, &e.ToCode, &e.Note, timeCol{&e.RecordedAt}); err != nil {
			return nil, fmt.Errorf("flow history: %w", err)
		}
		e.Kind = yipanqi.FlowKind(kind)
		out = append(out, e)
	}
	return out, rows.Err()
}

// RecordFlow records a step of a person's movement and applies it to the person: the flow
// status becomes the event's kind, and an arrival or a move with a destination sets the
// residence. The person must be in scope (ENOTFOUND otherwise). The change and an audit entry
// "person.flow" by the actor in ctx (yipanqi.NewContextWithUser) commit together. EINVALID
// for an unknown kind, a missing date or a destination that is not a division code.
func (db *DB) RecordFlow(ctx context.Context, scope yipanqi.Scope, idNumber string, ev *yipanqi.FlowEvent) error {
	return db.inTx(ctx, func(qq q) error {
		_, err := db.recordFlow(ctx, qq, scope, idNumber, ev)
		return err
	})
}

// recordFlow is RecordFlow inside a transaction (Tx.RecordFlow calls it too); it returns the
// person as found before the change.
func (db *DB) recordFlow(ctx context.Context, qq q, scope yipanqi.Scope, idNumber string, ev *yipanqi.FlowEvent) (*yipanqi.Person, error) {
	if ev.Kind.Label() == "" {
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "kind", "流动类型“%s”无效：应为流入、离开、再流动或返乡", ev.Kind)
	}
	if ev.On.IsZero() {
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "on", "流动日期不能为空")
	}
	if ev.ToCode != "" && !yipanqi.ValidDivisionCode(ev.ToCode) {
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "to_code", "流向地区划代码“%s”无效", ev.ToCode)
	}
	actor, unit := actorFrom(ctx)
	p, err := db.findPerson(ctx, qq, scope, idNumber)
	if err != nil {
		return nil, err
	}
	if ev.FromCode == "" {
		ev.FromCode = p.ResidenceCode
	}
	residence := p.ResidenceCode
	if (ev.Kind == yipanqi.FlowArrived || ev.Kind == yipanqi.FlowMovedOn) && ev.ToCode != "" {
		residence = ev.ToCode
	}
	now := db.now()
	ev.PersonID, ev.RecordedAt = p.ID, now
	if err := qq.row(ctx, `INSERT INTO flow_events (person_id, kind, on_date, from_code, to_code, note, recorded_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, p.ID, string(ev.Kind), ev.On, ev.FromCode, ev.ToCode, ev.Note,
		db.dialect.timeArg(now)).Scan(&ev.ID); err != nil {
		return nil, fmt.Errorf("record flow: %w", err)
	}
	if _, err := qq.exec(ctx, `UPDATE people SET flow_status = ?, residence_code = ?, version = version + 1,
		updated_at = ? WHERE id = ?`, string(ev.Kind), residence, db.dialect.timeArg(now), p.ID); err != nil {
		return nil, fmt.Errorf("record flow: %w", err)
	}
	return p, db.audit(ctx, qq, &yipanqi.AuditEntry{At: now, Actor: actor, OrgUnit: unit,
		Action: "person.flow", Object: idNumber, Reason: string(ev.Kind)})
}

// ExportPeople calls fn for every person in scope, ordered by ID number, streaming from the
// database (memory does not grow with the registry). It first writes one audit entry
// "people.export" by actor, so even an export that fails half-way is on record. It stops at
// the first error fn returns. EFORBIDDEN for the zero Scope.
func (db *DB) ExportPeople(ctx context.Context, scope yipanqi.Scope, actor string, fn func(*yipanqi.Person) error) error {
	if err := checkScope(scope); err != nil {
		return err
	}
	if err := db.Audit(ctx, &yipanqi.AuditEntry{Actor: actor, OrgUnit: scope.Unit(), Action: "people.export",
		Object: scope.Unit()}); err != nil {
		return fmt.Errorf("export people: %w", err)
	}
	lo, hi := scope.Range()
	rows, err := db.q().query(ctx, "SELECT "+personColumns+" FROM people WHERE "+personInScope+" ORDER BY id_number", lo, hi)
	if err != nil {
		return fmt.Errorf("export people: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		p, err := scanPerson(rows)
		if err != nil {
			return fmt.Errorf("export people: %w", err)
		}
		if err := fn(p); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("export people: %w", err)
	}
	return nil
}

// actorFrom names who is acting for an audit entry: the user in ctx, or the store itself.
func actorFrom(ctx context.Context) (actor, unit string) {
	if u := yipanqi.UserFromContext(ctx); u != nil {
		return u.Username, u.OrgUnit
	}
	return "system:sqlstore", ""
}
