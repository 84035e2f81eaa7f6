package exchange

import (
	"context"
	"encoding/json"
	"fmt"

	"yipanqi"
	"yipanqi/sqlstore"
)

// MoveNotice is the catalog type a registry change makes by itself (S1.2).
const MoveNotice = "move.notice"

// RecordFlow records a step of a person's movement in the registry (arrived, left, moved on,
// returned; sqlstore RecordFlow) and, in the same transaction, opens the move.notice to the
// person's hometown (RouteFor of the hukou code), from the deepest active unit on the path of
// the residence whose register changed (the new one for an arrival, else the one left): the
// registry change exists if and only if its notice will be
// sent. The notice carries the minimum — ID number, the change, its date and the residence
// now — and no name. It returns the notice case. Errors as for sqlstore RecordFlow
// (EINVALID naming the field, ENOTFOUND for a person out of scope); nothing is stored when
// it fails.
func (n *Node) RecordFlow(ctx context.Context, scope yipanqi.Scope, idNumber string, ev *yipanqi.FlowEvent) (*yipanqi.Case, error) {
	var c *yipanqi.Case
	var sent sendItem
	at := n.now()
	err := n.db.InTx(ctx, func(tx *sqlstore.Tx) error {
		p, err := tx.RecordFlow(ctx, scope, idNumber, ev)
		if err != nil {
			return err
		}
		// The notice comes from the unit whose register changed: where the person arrived,
		// or the residence they left.
		residence := p.ResidenceCode
		if ev.Kind == yipanqi.FlowArrived && ev.ToCode != "" && n.scope.Contains(ev.ToCode) {
			residence = ev.ToCode
		}
		from, _, err := tx.RouteUnit(ctx, residence)
		if err != nil {
			return err
		}
		if from == "" {
			from = scope.Unit()
		}
		peer, unit, err := n.RouteFor(ctx, p.HukouCode)
		if err != nil {
			return err
		}
		fields := map[string]any{"id_number": p.IDNumber, "flow": string(ev.Kind), "flow_date": ev.On.String()}
		if ev.ToCode != "" {
			fields["residence_code"] = ev.ToCode
		} else if yipanqi.ValidDivisionCode(residence) {
			fields["residence_code"] = residence
		}
		raw, err := json.Marshal(fields)
		if err != nil {
			return fmt.Errorf("exchange: move notice: %w", err)
		}
		c = &yipanqi.Case{Type: MoveNotice, OrgUnit: from, PeerNode: peer, PeerUnit: unit}
		e, body, err := n.prepareSend(c, raw)
		if err != nil {
			return err
		}
		sent = n.sendItem(ctx, c, e, body)
		tl := &timeline{}
		hukou, err := n.hukouOf(ctx, tx, []sendItem{sent})
		if err != nil {
			return err
		}
		if err := n.storeSend(ctx, tx, sent, at, tl, hukou); err != nil {
			return err
		}
		return tx.AddCaseEvents(ctx, tl.events)
	})
	if err != nil {
		return nil, fmt.Errorf("exchange: record flow: %w", err)
	}
	n.nudge()
	n.emit(Event{Kind: EventSent, CaseID: c.ID, MessageID: sent.m.ID})
	return c, nil
}
