package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"yipanqi"
)

const caseColumns = `id, type, direction, org_unit, peer_node, peer_unit, person_id_number, state, data,
	received_at, due_at, due_provisional, overdue, created_at, updated_at`

// caseInScope is the subtree filter on cases: by the unit that holds the case.
const caseInScope = "org_unit >= ? AND org_unit < ?"

// CreateCase stores a new case. An empty ID gets a new UUIDv7; CreatedAt and UpdatedAt are
// set now. ECONFLICT when the id is taken; EINVALID for a missing type, a bad direction or
// org unit, or Data that is not JSON.
func (db *DB) CreateCase(ctx context.Context, c *yipanqi.Case) error {
	return db.insertCase(ctx, db.q(), c)
}

// caseRow checks a new case, fills in its id, state and times, and returns the values of
// caseColumns for it: the one place the rules of a new case live (DB.CreateCase and
// Tx.CreateCase both come here).
func (db *DB) caseRow(c *yipanqi.Case) ([]any, error) {
	switch {
	case c.Type == "":
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "type", "案件类型不能为空")
	case c.Direction != yipanqi.Incoming && c.Direction != yipanqi.Outgoing:
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "direction", "案件方向“%s”无效：应为 in 或 out", c.Direction)
	case !yipanqi.ValidDivisionCode(c.OrgUnit):
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "org_unit", "承办机构代码“%s”无效", c.OrgUnit)
	case len(c.Data) > 0 && !json.Valid(c.Data):
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "data", "案件数据不是有效的 JSON")
	}
	if c.ID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return nil, fmt.Errorf("create case: %w", err)
		}
		c.ID = id.String()
	}
	if c.State == "" {
		c.State = yipanqi.CaseDrafted
	}
	now := db.now()
	c.CreatedAt, c.UpdatedAt = now, now
	var data any
	if len(c.Data) > 0 {
		data = string(c.Data)
	}
	t := db.dialect.timeArg
	return []any{c.ID, c.Type, string(c.Direction), c.OrgUnit, c.PeerNode, c.PeerUnit, c.PersonIDNumber, string(c.State), data,
		t(c.ReceivedAt), t(c.DueAt), c.DueProvisional, c.Overdue, t(now), t(now)}, nil
}

// insertCase checks and inserts one new case through qq.
func (db *DB) insertCase(ctx context.Context, qq q, c *yipanqi.Case) error {
	row, err := db.caseRow(c)
	if err != nil {
		return err
	}
	_, err = qq.exec(ctx, "INSERT INTO cases ("+caseColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row...)
	if db.dialect.violation(err) == uniqueViolation {
		return yipanqi.FieldErrorf(yipanqi.ECONFLICT, "id", "案件“%s”已存在", c.ID)
	}
	if err != nil {
		return fmt.Errorf("create case: %w", db.dialect.classify(err))
	}
	return nil
}

// pageOfCases is the query of one page of the cases matching cond in the given order. The
// page's ids are chosen from the index cases_list alone (it holds every column a list filters
// and sorts on), then only those rows are read: a list of thousands of cases reads fifty.
func pageOfCases(cond, order string) string {
	return "SELECT " + caseColumns + " FROM cases WHERE id IN (SELECT id FROM cases WHERE " + cond +
		" ORDER BY " + order + " LIMIT ? OFFSET ?) ORDER BY " + order
}

func scanCase(sc interface{ Scan(...any) error }) (*yipanqi.Case, error) {
	c := &yipanqi.Case{}
	var dir, state string
	var data []byte
	err := sc.Scan(&c.ID, &c.Type, &dir, &c.OrgUnit, &c.PeerNode, &c.PeerUnit, &c.PersonIDNumber, &state, &data,
		timeCol{&c.ReceivedAt}, timeCol{&c.DueAt}, &c.DueProvisional, &c.Overdue, timeCol{&c.CreatedAt}, timeCol{&c.UpdatedAt})
	c.Direction, c.State = yipanqi.Direction(dir), yipanqi.CaseState(state)
	if len(data) > 0 {
		c.Data = json.RawMessage(data)
	}
	return c, err
}

// FindCase returns the case with the id held by a unit in scope. ENOTFOUND when there is
// none in scope; EFORBIDDEN for the zero Scope.
func (db *DB) FindCase(ctx context.Context, scope yipanqi.Scope, id string) (*yipanqi.Case, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	lo, hi := scope.Range()
	c, err := scanCase(db.q().row(ctx, "SELECT "+caseColumns+" FROM cases WHERE id = ? AND "+caseInScope, id, lo, hi))
	if err != nil {
		return nil, notFound(fmt.Errorf("find case: %w", err), "未找到案件“%s”", id)
	}
	return c, nil
}

// ListCases returns a page of the cases in scope that match f, newest first, and how many
// match in all. EFORBIDDEN for the zero Scope.
func (db *DB) ListCases(ctx context.Context, scope yipanqi.Scope, f yipanqi.CaseFilter) ([]*yipanqi.Case, int, error) {
	return db.listCases(ctx, scope, f, nil, "created_at DESC, id DESC")
}

// listCases returns a page of the cases in scope that match f and, when states are given,
// are in one of them, in the given order, and how many match in all.
func (db *DB) listCases(ctx context.Context, scope yipanqi.Scope, f yipanqi.CaseFilter, states []yipanqi.CaseState, order string) ([]*yipanqi.Case, int, error) {
	if err := checkScope(scope); err != nil {
		return nil, 0, err
	}
	lo, hi := scope.Range()
	where := []string{caseInScope}
	args := []any{lo, hi}
	if f.Type != "" {
		where = append(where, "type = ?")
		args = append(args, f.Type)
	}
	if f.State != "" {
		where = append(where, "state = ?")
		args = append(args, string(f.State))
	}
	if f.Direction != "" {
		where = append(where, "direction = ?")
		args = append(args, string(f.Direction))
	}
	if f.Overdue != nil {
		where = append(where, "overdue = ?")
		args = append(args, *f.Overdue)
	}
	if len(states) > 0 {
		marks := make([]string, len(states))
		for i, s := range states {
			marks[i] = "?"
			args = append(args, string(s))
		}
		where = append(where, "state IN ("+strings.Join(marks, ", ")+")")
	}
	cond := strings.Join(where, " AND ")
	var total int
	if err := db.q().row(ctx, "SELECT COUNT(*) FROM cases WHERE "+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count cases: %w", err)
	}
	if f.Offset < 0 {
		f.Offset = 0
	}
	rows, err := db.q().query(ctx, pageOfCases(cond, order), append(args, pageLimit(f.Limit), f.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list cases: %w", err)
	}
	defer rows.Close()
	var out []*yipanqi.Case
	for rows.Next() {
		c, err := scanCase(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("list cases: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list cases: %w", err)
	}
	return out, total, nil
}
