package casework

import (
	"context"

	"yipanqi"
	"yipanqi/sqlstore"
)

// advance applies action a to the case's copy of the action's direction, as the domain's
// lifecycle says (yipanqi.CaseAction): the state moves to a.To() if the case is in one of the
// states a starts from; changed is false, and nothing changes, otherwise.
func advance(ctx context.Context, tx *sqlstore.Tx, caseID string, a yipanqi.CaseAction) (changed bool, err error) {
	t := a.Transition()
	return tx.SetCaseState(ctx, caseID, t.Direction, t.To, t.From...)
}

// advanceLater is advance in a batch's deferred updates (sqlstore.Tx.SetCaseStateLater).
func advanceLater(ctx context.Context, tx *sqlstore.Tx, caseID string, a yipanqi.CaseAction) error {
	t := a.Transition()
	return tx.SetCaseStateLater(ctx, caseID, t.Direction, t.To, t.From...)
}
