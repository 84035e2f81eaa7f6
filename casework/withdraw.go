package casework

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"yipanqi"
	"yipanqi/exchange"
	"yipanqi/sqlstore"
)

// Engine messages of the case workflows (docs/workflows.md). Like receipts, they are never
// receipted; a refused one is dead-lettered and its sender told, as any message.
const (
	// TypeWithdrawn tells the receiver that the sender withdrew a case before its reply. Its
	// ypqreplyto is the Hash of the request.
	TypeWithdrawn = "withdrawn"
	// TypeTransferred tells the sender that the receiver moved a case to another of its
	// units, which replies will come from. Its ypqreplyto is the Hash of the request.
	TypeTransferred = "transferred"
)

// noticeData is the envelope data of a withdrawal or a transfer notice.
type noticeData struct {
	FromUnit string `json:"from_unit"`         // the unit that acted
	ToUnit   string `json:"to_unit,omitempty"` // a transfer: the unit that now holds the case
	Reason   string `json:"reason"`
}

// maxReason is the longest reason a withdrawal or a transfer may give, in characters.
const maxReason = 500

func checkReason(reason, what string) error {
	r := strings.TrimSpace(reason)
	switch {
	case r == "":
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "reason", "%s须说明原因", what)
	case len([]rune(r)) > maxReason:
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "reason", "%s原因不能超过 %d 字", what, maxReason)
	}
	return nil
}

// Withdraw withdraws the outgoing case caseID before it is answered: the case becomes
// withdrawn and a signed withdrawal goes to the receiver, whose copy becomes withdrawn too,
// so that a reply to it is refused there. The case, the message, the timeline and the audit
// entry commit together. EINVALID without a reason; ENOTFOUND for an unknown outgoing case;
// ECONFLICT when the case was already answered, returned or withdrawn. Nothing is stored
// when it fails.
func (n *Node) Withdraw(ctx context.Context, caseID, reason string) error {
	if err := checkReason(reason, "撤回"); err != nil {
		return err
	}
	reason = strings.TrimSpace(reason)
	var sent *exchange.Envelope
	err := n.db.InTx(ctx, func(tx *sqlstore.Tx) error {
		c, err := tx.Case(ctx, caseID, yipanqi.Outgoing)
		if err != nil {
			return err
		}
		ok, err := advance(ctx, tx, caseID, yipanqi.ActWithdraw)
		if err != nil {
			return err
		}
		if !ok {
			return yipanqi.StateConflict(caseID, yipanqi.ActWithdraw, c.State)
		}
		req, err := tx.RequestMessage(ctx, caseID, yipanqi.Outgoing, c.Type)
		if err != nil {
			return err
		}
		e, body, err := n.seal(TypeWithdrawn, caseID, c.PeerNode, c.PeerUnit, req.Hash, n.now(),
			noticeData{FromUnit: c.OrgUnit, Reason: reason})
		if err != nil {
			return err
		}
		if err := tx.Enqueue(ctx, n.outMessage(e, TypeWithdrawn, caseID, body), exchange.Hash(e), e.ReplyTo,
			exchange.Subject(c.PeerNode, n.code, TypeWithdrawn)); err != nil {
			return err
		}
		sent = e
		if err := tx.AddCaseEvents(ctx, []*yipanqi.CaseEvent{{CaseID: caseID, At: e.Time, Kind: yipanqi.CaseEventWithdrawn,
			Actor: actorOf(ctx), Node: n.code, OrgUnit: c.OrgUnit, Note: "撤回原因：" + reason}}); err != nil {
			return err
		}
		return tx.Audit(ctx, &yipanqi.AuditEntry{Actor: actorOf(ctx), Action: "case.withdrawn", Object: caseID,
			OrgUnit: c.OrgUnit, Reason: reason})
	})
	if err != nil {
		return fmt.Errorf("exchange: withdraw %s: %w", caseID, err)
	}
	n.nudge()
	n.emit(Event{Kind: EventWithdrawn, CaseID: caseID, MessageID: sent.ID})
	return nil
}

// Transfer moves the incoming case caseID to toUnit, another active unit of this node (the
// right township, ARCHITECTURE §2), and tells the sender, whose case then names the new unit.
// The move, the notice, the timeline and the audit entry commit together. EINVALID without a
// reason or for a unit that is not an active unit of the node; ENOTFOUND for an unknown
// incoming case; ECONFLICT when the case is no longer open. Nothing is stored when it fails.
func (n *Node) Transfer(ctx context.Context, caseID, toUnit, reason string) error {
	if err := checkReason(reason, "转办"); err != nil {
		return err
	}
	reason = strings.TrimSpace(reason)
	if !n.scope.Contains(toUnit) || !yipanqi.ValidDivisionCode(toUnit) {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "to_unit", "转办单位“%s”不属于本节点 %s", toUnit, n.code)
	}
	var sent *exchange.Envelope
	err := n.db.InTx(ctx, func(tx *sqlstore.Tx) error {
		from, err := tx.MoveCase(ctx, caseID, toUnit)
		if err != nil {
			return err
		}
		c, err := tx.Case(ctx, caseID, yipanqi.Incoming)
		if err != nil {
			return err
		}
		req, err := tx.RequestMessage(ctx, caseID, yipanqi.Incoming, c.Type)
		if err != nil {
			return err
		}
		re, err := exchange.Decode(req.Body)
		if err != nil {
			return fmt.Errorf("exchange: transfer: stored request %s: %w", req.ID, err)
		}
		var rd requestData
		if err := json.Unmarshal(re.Data, &rd); err != nil {
			return fmt.Errorf("exchange: transfer: stored request %s data: %w", req.ID, err)
		}
		e, body, err := n.seal(TypeTransferred, re.Subject, c.PeerNode, rd.FromUnit, req.Hash, n.now(),
			noticeData{FromUnit: from, ToUnit: toUnit, Reason: reason})
		if err != nil {
			return err
		}
		if err := tx.Enqueue(ctx, n.outMessage(e, TypeTransferred, caseID, body), exchange.Hash(e), e.ReplyTo,
			exchange.Subject(c.PeerNode, n.code, TypeTransferred)); err != nil {
			return err
		}
		sent = e
		if err := tx.AddCaseEvents(ctx, []*yipanqi.CaseEvent{{CaseID: caseID, At: e.Time, Kind: yipanqi.CaseEventTransferred,
			Actor: actorOf(ctx), Node: n.code, OrgUnit: from, Note: "由 " + from + " 转 " + toUnit + "：" + reason}}); err != nil {
			return err
		}
		return tx.Audit(ctx, &yipanqi.AuditEntry{Actor: actorOf(ctx), Action: "case.transferred", Object: caseID,
			OrgUnit: from, Reason: "转 " + toUnit + "：" + reason})
	})
	if err != nil {
		return fmt.Errorf("exchange: transfer %s: %w", caseID, err)
	}
	n.nudge()
	n.emit(Event{Kind: EventTransferred, CaseID: caseID, MessageID: sent.ID})
	return nil
}

// onWithdrawn prepares the step of a withdrawal: the incoming copy of the case it names
// becomes withdrawn if it is still open. A withdrawal that crossed the reply (the case was
// answered meanwhile) changes nothing but is logged and shown on the timeline.
func (n *Node) onWithdrawn(d exchange.Delivery, e *exchange.Envelope) (*step, error) {
	nd, err := n.noticeOf(d, e)
	if err != nil {
		return nil, err
	}
	caseID := n.incomingCaseID(d.Src, e.Subject)
	apply := func(ctx context.Context, tx *sqlstore.Tx, tl *timeline) error {
		c, err := n.noticedCase(ctx, tx, d, e, caseID, yipanqi.Incoming)
		if err != nil {
			return err
		}
		changed, err := advance(ctx, tx, caseID, yipanqi.ActWithdrawNoticed)
		if err != nil {
			return err
		}
		kind, note := yipanqi.CaseEventWithdrawn, "来文方撤回："+nd.Reason
		if !changed {
			kind, note = yipanqi.CaseEventNoted, "来文方撤回，但案件已"+stateLabel(c.State)+"："+nd.Reason
		}
		if err := tx.LogMessage(ctx, n.inMessage(d, e, TypeWithdrawn, caseID), exchange.Hash(e), e.ReplyTo); err != nil {
			return err
		}
		tl.add(&yipanqi.CaseEvent{CaseID: caseID, At: n.now(), Kind: kind, Actor: nodeActor(d.Src), Node: d.Src,
			OrgUnit: nd.FromUnit, Note: note})
		return tx.Audit(ctx, &yipanqi.AuditEntry{Actor: systemActor, OrgUnit: c.OrgUnit, Action: "case.withdrawn",
			Object: caseID, Reason: note})
	}
	return &step{inbox: n.inboxItem(d, e, TypeWithdrawn), apply: apply, applied: func() {
		n.emit(Event{Kind: EventWithdrawn, CaseID: caseID, MessageID: e.ID})
	}}, nil
}

// onTransferred prepares the step of a transfer notice: the outgoing case it names now
// names the new unit.
func (n *Node) onTransferred(d exchange.Delivery, e *exchange.Envelope) (*step, error) {
	nd, err := n.noticeOf(d, e)
	if err != nil {
		return nil, err
	}
	if !yipanqi.ValidDivisionCode(nd.ToUnit) || nd.ToUnit[:2] != d.Src {
		return nil, refuse(yipanqi.EINVALID, "to_unit", "转办单位（to_unit）无效或不属于来源节点 %s", d.Src)
	}
	var caseID string
	apply := func(ctx context.Context, tx *sqlstore.Tx, tl *timeline) error {
		ref, err := tx.MessageByHash(ctx, e.ReplyTo, yipanqi.Outgoing)
		if yipanqi.ErrorCode(err) == yipanqi.ENOTFOUND || (err == nil && (ref.Dest != d.Src || ref.ReplyTo != "" || ref.CaseID != e.Subject)) {
			return refuse(yipanqi.ENOTFOUND, "ypqreplyto", "转办通知所指的来文不是本节点发给节点 %s 的", d.Src)
		} else if err != nil {
			return err
		}
		caseID = ref.CaseID
		if err := tx.SetPeerUnit(ctx, caseID, nd.ToUnit); err != nil {
			return err
		}
		if err := tx.LogMessage(ctx, n.inMessage(d, e, TypeTransferred, caseID), exchange.Hash(e), e.ReplyTo); err != nil {
			return err
		}
		note := "对方由 " + nd.FromUnit + " 转 " + nd.ToUnit + " 承办：" + nd.Reason
		tl.add(&yipanqi.CaseEvent{CaseID: caseID, At: n.now(), Kind: yipanqi.CaseEventTransferred, Actor: nodeActor(d.Src),
			Node: d.Src, OrgUnit: nd.FromUnit, Note: note})
		return tx.Audit(ctx, &yipanqi.AuditEntry{Actor: systemActor, OrgUnit: n.code, Action: "case.peer_transferred",
			Object: caseID, Reason: note})
	}
	return &step{inbox: n.inboxItem(d, e, TypeTransferred), apply: apply, applied: func() {
		n.emit(Event{Kind: EventTransferred, CaseID: caseID, MessageID: e.ID})
	}}, nil
}

// noticeOf checks and decodes the data of a withdrawal or a transfer notice.
func (n *Node) noticeOf(d exchange.Delivery, e *exchange.Envelope) (*noticeData, error) {
	if e.ReplyTo == "" {
		return nil, refuse(yipanqi.EINVALID, "ypqreplyto", "通知缺少 ypqreplyto：未指明所涉来文")
	}
	var nd noticeData
	if err := json.Unmarshal(e.Data, &nd); err != nil {
		return nil, refuse(yipanqi.EINVALID, "data", "通知数据格式错误：%s", jsonProblem(err))
	}
	if !yipanqi.ValidDivisionCode(nd.FromUnit) || nd.FromUnit[:2] != d.Src {
		return nil, refuse(yipanqi.EINVALID, "from_unit", "通知单位（from_unit）无效或不属于来源节点 %s", d.Src)
	}
	if err := checkReason(nd.Reason, "通知"); err != nil {
		return nil, &refusal{err}
	}
	return &nd, nil
}

// noticedCase returns the case a notice names, checking that it is the other node's case
// and that the notice answers its request. A case not found yet may be in the same batch
// as the notice (not written until the batch's end): the first deliveries are retried (the
// batch is then committed message by message, the request first); later ones are refused.
func (n *Node) noticedCase(ctx context.Context, tx *sqlstore.Tx, d exchange.Delivery, e *exchange.Envelope, caseID string, dir yipanqi.Direction) (*yipanqi.Case, error) {
	c, err := tx.Case(ctx, caseID, dir)
	if yipanqi.ErrorCode(err) == yipanqi.ENOTFOUND {
		if d.NumDelivered <= 2 {
			return nil, fmt.Errorf("exchange: notice %s: case %s not (yet) here", e.ID, caseID)
		}
		return nil, refuse(yipanqi.ENOTFOUND, "subject", "通知所指的案件“%s”不存在", e.Subject)
	} else if err != nil {
		return nil, err
	}
	if c.PeerNode != d.Src {
		return nil, refuse(yipanqi.ENOTFOUND, "subject", "通知所指的案件“%s”不是节点 %s 的来文", e.Subject, d.Src)
	}
	req, err := tx.RequestMessage(ctx, caseID, dir, c.Type)
	if err != nil {
		return nil, err
	}
	if req.Hash != e.ReplyTo {
		return nil, refuse(yipanqi.EINVALID, "ypqreplyto", "通知所引用的来文与案件不符")
	}
	return c, nil
}

// stateLabel is the Chinese name of a case state, for notes.
func stateLabel(s yipanqi.CaseState) string {
	switch s {
	case yipanqi.CaseReplied:
		return "答复"
	case yipanqi.CaseClosed:
		return "办结"
	case yipanqi.CaseWithdrawn:
		return "撤回"
	case yipanqi.CaseRejected:
		return "退回"
	case yipanqi.CaseTransferred:
		return "转办"
	}
	return string(s)
}
