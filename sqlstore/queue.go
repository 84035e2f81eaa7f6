package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"yipanqi"
)

// ListCasesByDue returns a page of the cases in scope that match f (Type, Direction,
// Overdue; f.State is ignored) and are in one of states (any state when none is given),
// ordered by deadline — the soonest first, cases without a deadline last — and how many match
// in all. It is the to-do list (待办) of the web application. EFORBIDDEN for the zero Scope.
func (db *DB) ListCasesByDue(ctx context.Context, scope yipanqi.Scope, f yipanqi.CaseFilter, states ...yipanqi.CaseState) ([]*yipanqi.Case, int, error) {
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
		return nil, 0, fmt.Errorf("count cases by due: %w", err)
	}
	if f.Offset < 0 {
		f.Offset = 0
	}
	rows, err := db.q().query(ctx, pageOfCases(cond, "(CASE WHEN due_at IS NULL THEN 1 ELSE 0 END), due_at, created_at, id"),
		append(args, pageLimit(f.Limit), f.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list cases by due: %w", err)
	}
	defer rows.Close()
	var out []*yipanqi.Case
	for rows.Next() {
		c, err := scanCase(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("list cases by due: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list cases by due: %w", err)
	}
	return out, total, nil
}
