package sqlstore

import (
	"context"

	"yipanqi"
)

// ListCasesByDue returns a page of the cases in scope that match f (Type, Direction,
// Overdue; f.State is ignored) and are in one of states (any state when none is given),
// ordered by deadline — the soonest first, cases without a deadline last — and how many match
// in all. It is the to-do list (待办) of the web application. EFORBIDDEN for the zero Scope.
func (db *DB) ListCasesByDue(ctx context.Context, scope yipanqi.Scope, f yipanqi.CaseFilter, states ...yipanqi.CaseState) ([]*yipanqi.Case, int, error) {
	f.State = ""
	return db.listCases(ctx, scope, f, states, "(CASE WHEN due_at IS NULL THEN 1 ELSE 0 END), due_at, created_at, id")
}
