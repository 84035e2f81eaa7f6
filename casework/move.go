package casework

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/google/uuid"

	"yipanqi"
	"yipanqi/sqlstore"
)

// MoveNotice is the catalog type a registry change makes by itself (S1.2).
const MoveNotice = "move.notice"

// flowNoticeNS derives the id of the move.notice of a flow event from the node and the
// event: the notice of an event is made once, whichever way it is made (RecordFlow, or
// SendFlowNotices after an import), however often.
var flowNoticeNS = uuid.MustParse("0b7e1f4a-3c55-4d9e-8e0a-2f6c1d7b9a31")

func (n *Node) flowNoticeID(flowID int64) string {
	return uuid.NewSHA1(flowNoticeNS, []byte(n.code+":"+strconv.FormatInt(flowID, 10))).String()
}

// flowNotice builds the move.notice of a flow event: from the deepest active unit of the
// residence whose register changed (the new one for an arrival, else the one left), to the
// person's hometown (RouteFor of the hukou code), carrying the ID number, the change, its date
// and the residence — not the name. route finds the sending unit.
func (n *Node) flowNotice(ctx context.Context, f *sqlstore.FlowNotice, fallback string,
	route func(ctx context.Context, code string) (string, bool, error)) (*yipanqi.Case, json.RawMessage, error) {
	residence := f.FromCode
	if (f.Kind == yipanqi.FlowArrived && f.ToCode != "" && n.scope.Contains(f.ToCode)) || residence == "" {
		residence = f.ToCode
	}
	if residence == "" || !n.scope.Contains(residence) {
		residence = f.ResidenceCode
	}
	from, _, err := route(ctx, residence)
	if err != nil {
		return nil, nil, err
	}
	if from == "" {
		from = fallback
	}
	peer, unit, err := n.RouteFor(ctx, f.HukouCode)
	if err != nil {
		return nil, nil, err
	}
	fields := map[string]any{"id_number": f.IDNumber, "flow": string(f.Kind), "flow_date": f.On.String()}
	switch {
	case f.ToCode != "":
		fields["residence_code"] = f.ToCode
	case yipanqi.ValidDivisionCode(f.ResidenceCode):
		fields["residence_code"] = f.ResidenceCode
	}
	raw, err := json.Marshal(fields)
	if err != nil {
		return nil, nil, fmt.Errorf("exchange: move notice: %w", err)
	}
	return &yipanqi.Case{Type: MoveNotice, OrgUnit: from, PeerNode: peer, PeerUnit: unit}, raw, nil
}

// RecordFlow records a step of a person's movement in the registry (arrived, left, moved on,
// returned; sqlstore RecordFlow) and, in the same transaction, opens its move.notice to the
// person's hometown (see flowNotice): the registry change exists if and only if its notice
// will be sent. It returns the notice case. Errors as for sqlstore RecordFlow (EINVALID
// naming the field, ENOTFOUND for a person out of scope); nothing is stored when it fails.
func (n *Node) RecordFlow(ctx context.Context, scope yipanqi.Scope, idNumber string, ev *yipanqi.FlowEvent) (*yipanqi.Case, error) {
	var c *yipanqi.Case
	var sent sendItem
	at := n.now()
	err := n.db.InTx(ctx, func(tx *sqlstore.Tx) error {
		p, err := tx.RecordFlow(ctx, scope, idNumber, ev)
		if err != nil {
			return err
		}
		f := &sqlstore.FlowNotice{FlowID: ev.ID, Kind: ev.Kind, On: ev.On, FromCode: ev.FromCode, ToCode: ev.ToCode,
			IDNumber: p.IDNumber, HukouCode: p.HukouCode, ResidenceCode: p.ResidenceCode}
		var raw json.RawMessage
		if c, raw, err = n.flowNotice(ctx, f, scope.Unit(), tx.RouteUnit); err != nil {
			return err
		}
		e, body, err := n.prepareSendAs(c, raw, n.flowNoticeID(ev.ID))
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

// SendFlowNotices sends the move.notice of each flow event the registry recorded after flow
// id afterID that has none yet — the arrivals and moves of an import, which records them by
// the thousand outside the exchange — up to limit events a call, all in one transaction
// (SendMany). It returns the last flow id it looked at (pass it to the next call; 0 at
// first) and how many notices it sent. It is idempotent: a notice's id is derived from its
// flow event, so an event RecordFlow already announced, or one announced by an earlier call,
// is skipped. Reading the flows is audited (sqlstore FlowsAfter).
func (n *Node) SendFlowNotices(ctx context.Context, afterID int64, limit int) (last int64, sent int, err error) {
	flows, err := n.db.FlowsAfter(ctx, n.scope, afterID, limit)
	if err != nil {
		return afterID, 0, fmt.Errorf("exchange: flow notices: %w", err)
	}
	if len(flows) == 0 {
		return afterID, 0, nil
	}
	last = flows[len(flows)-1].FlowID
	ids := make([]string, len(flows))
	for i, f := range flows {
		ids[i] = n.flowNoticeID(f.FlowID)
	}
	have, err := n.db.ExistingCases(ctx, ids)
	if err != nil {
		return afterID, 0, fmt.Errorf("exchange: flow notices: %w", err)
	}
	routes := map[string]string{}
	route := func(ctx context.Context, code string) (string, bool, error) {
		if u, ok := routes[code]; ok {
			return u, true, nil
		}
		u, held, err := n.db.RouteUnit(ctx, code)
		if err == nil {
			routes[code] = u
		}
		return u, held, err
	}
	var batch []NewCase
	var preset []string
	for i, f := range flows {
		if have[ids[i]] {
			continue
		}
		c, raw, err := n.flowNotice(ctx, f, n.code, route)
		if yipanqi.ErrorCode(err) == yipanqi.EINVALID {
			// No hometown to tell (a hukou code above county level): nothing to send.
			n.log.Warn("flow notice not made: no valid hukou code", "flow_id", f.FlowID)
			continue
		} else if err != nil {
			return afterID, 0, fmt.Errorf("exchange: flow notice of flow %d: %w", f.FlowID, err)
		}
		batch = append(batch, NewCase{Case: c, Fields: raw})
		preset = append(preset, ids[i])
	}
	if err := n.sendManyAs(ctx, batch, preset); err != nil {
		return afterID, 0, fmt.Errorf("exchange: flow notices: %w", err)
	}
	return last, len(batch), nil
}
