package casework

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"yipanqi"
	"yipanqi/exchange"
	"yipanqi/sqlstore"
)

// Receipts, one per consumer batch and sending node (docs/exchange-engine.md, "Receipts").
//
// Every request and reply a node receives earns a signed receipt back to its sender. A
// consumer batch no longer signs one envelope per message: when the batch commits, the
// receipts it earned are grouped by the node they go to, and each group of two or more
// becomes one TypeReceipts envelope listing every message it receipts; a group of one stays
// a TypeReceipt, as before (the form every node understands, and no bigger than it must be
// at a low rate). NodeConfig.SingleReceipts keeps the one-per-message form throughout.

// maxReceiptItems bounds the items of one batch receipt, well inside MaxEnvelopeSize (an
// item is about 250 bytes); a larger group is sent as several envelopes.
const maxReceiptItems = 256

// pendingReceipt is the receipt a received request or reply earns, made when its batch
// commits.
type pendingReceipt struct {
	dest, unit, subject, replyTo string // the single receipt's envelope: the sender, its unit, its case, Hash(message)
	at                           time.Time
	data                         receiptData
	caseID                       string // the local case, for the message log (a reply's is set by its apply)

	env  *exchange.Envelope // the single receipt, when sealed ahead of the transaction
	body []byte
}

// isAnswer reports whether typ is a message that is never receipted or rejected in turn.
func isAnswer(typ string) bool {
	return typ == TypeReceipt || typ == TypeReceipts || typ == TypeRejected || typ == TypeAuditHead
}

// receiptGroups groups the receipts of the steps that would earn one (fresh ones only when
// fresh), by the node they go to, in order.
func receiptGroups(steps []*step, freshOnly bool) (order []string, groups map[string][]*pendingReceipt) {
	groups = map[string][]*pendingReceipt{}
	for _, s := range steps {
		if s.rcpt == nil || s.dead != nil || (freshOnly && !s.fresh) {
			continue
		}
		if _, ok := groups[s.rcpt.dest]; !ok {
			order = append(order, s.rcpt.dest)
		}
		groups[s.rcpt.dest] = append(groups[s.rcpt.dest], s.rcpt)
	}
	return order, groups
}

// presealReceipts signs, outside the transaction, the receipts that will go as single
// receipts: those alone in their group (the usual case at a low rate), or all of them with
// SingleReceipts. A seal that fails here is made again in the transaction.
func (n *Node) presealReceipts(steps []*step) {
	order, groups := receiptGroups(steps, false)
	for _, dest := range order {
		g := groups[dest]
		if len(g) > 1 && !n.cfg.SingleReceipts {
			continue
		}
		for _, r := range g {
			r.env, r.body, _ = n.seal(TypeReceipt, r.subject, r.dest, r.unit, r.replyTo, r.at, r.data)
		}
	}
}

// enqueueReceipts puts in the outbox, in tx, the receipts of the steps whose effect was
// applied: per node, one TypeReceipts for two or more (linked in the message log to every
// case it receipts), a TypeReceipt for one.
func (n *Node) enqueueReceipts(ctx context.Context, tx *sqlstore.Tx, steps []*step) error {
	order, groups := receiptGroups(steps, true)
	for _, dest := range order {
		g := groups[dest]
		if len(g) == 1 || n.cfg.SingleReceipts {
			for _, r := range g {
				if r.env == nil {
					var err error
					if r.env, r.body, err = n.seal(TypeReceipt, r.subject, r.dest, r.unit, r.replyTo, r.at, r.data); err != nil {
						return err
					}
				}
				if err := tx.Enqueue(ctx, n.outMessage(r.env, TypeReceipt, r.caseID, r.body), exchange.Hash(r.env), r.env.ReplyTo,
					exchange.Subject(dest, n.code, TypeReceipt)); err != nil {
					return err
				}
			}
			continue
		}
		for lo := 0; lo < len(g); lo += maxReceiptItems {
			part := g[lo:min(lo+maxReceiptItems, len(g))]
			items := make([]receiptItem, len(part))
			caseIDs := make([]string, len(part))
			var at time.Time
			for i, r := range part {
				items[i] = receiptItem{MessageID: r.data.MessageID, Hash: r.replyTo, Subject: r.subject,
					ReceivedAt: r.data.ReceivedAt, DueAt: r.data.DueAt, DueProvisional: r.data.DueProvisional, Unit: r.data.Unit}
				caseIDs[i] = r.caseID
				if r.at.After(at) {
					at = r.at
				}
			}
			id, err := uuid.NewV7()
			if err != nil {
				return err
			}
			env, body, err := n.seal(TypeReceipts, id.String(), dest, dest, "", at, receiptsData{Items: items})
			if err != nil {
				return err
			}
			if err := tx.Enqueue(ctx, n.outMessage(env, TypeReceipts, "", body), exchange.Hash(env), "",
				exchange.Subject(dest, n.code, TypeReceipts)); err != nil {
				return err
			}
			if err := tx.LinkMessage(ctx, env.ID, yipanqi.Outgoing, caseIDs); err != nil {
				return err
			}
		}
	}
	return nil
}

// applyReceipt records, in tx, one receipt from node src of the message ref this node sent:
// for a request, received_at (at, from which the deadline runs), due_at and state delivered
// (closed for a notice), and the unit that took it; for a reply, nothing on the case. Either
// way a timeline event and an audit entry. done reports, after the batch's receipts are
// written, whether the case took it (only its first receipt counts).
func (n *Node) applyReceipt(ctx context.Context, tx *sqlstore.Tx, tl *timeline, src string, ref *sqlstore.LoggedMessage,
	at, due time.Time, provisional bool, unit string, done func(changed bool)) error {
	caseID := ref.CaseID
	action := "case.reply_receipt"
	if ref.ReplyTo == "" && ref.Type != TypeRejected {
		// The receipt of a request: the deadline clock starts at its time. In a batch the
		// receipts are written together when the batch's effects are done.
		if err := tx.RecordReceiptThen(ctx, caseID, at, due, provisional, done); err != nil {
			return err
		}
		action = "case.receipt"
		if isNotice(n.cfg.Types[ref.Type]) {
			// A notice is done once receipted.
			if err := advanceLater(ctx, tx, caseID, yipanqi.ActAcknowledged); err != nil {
				return err
			}
		}
		if unit != "" && yipanqi.ValidDivisionCode(unit) && unit[:2] == src {
			if err := tx.SetPeerUnit(ctx, caseID, unit); err != nil {
				return err
			}
		}
	}
	note := "答复已被对方签收"
	if action == "case.receipt" {
		note = "签收时间 " + at.In(shanghai).Format("2006-01-02 15:04:05")
		if !due.IsZero() {
			note += "，办理期限 " + due.In(shanghai).Format("2006-01-02 15:04:05")
		}
		if unit != "" {
			note += "，由 " + unit + " 承办"
		}
	}
	tl.add(&yipanqi.CaseEvent{CaseID: caseID, At: at, Kind: yipanqi.CaseEventReceipted, Actor: nodeActor(src),
		Node: src, OrgUnit: unit, Note: note})
	return tx.Audit(ctx, &yipanqi.AuditEntry{Actor: systemActor, OrgUnit: n.code, Action: action, Object: caseID,
		Reason: "节点 " + src + " 签收于 " + at.Format(time.RFC3339)})
}

// onReceipts records a batch receipt (TypeReceipts): each item as onReceipt records a single
// receipt, with the item's own time of receipt, all in the message's transaction. The
// envelope was verified once, as a whole; an item that is malformed refuses the whole
// message (the sender signed it so). An item naming no message this node sent to the
// sender is skipped, and logged by message id, without failing the others; a batch receipt
// none of whose items names one is refused. The message is logged once and linked to every
// case it receipts.
func (n *Node) onReceipts(d exchange.Delivery, e *exchange.Envelope) (*step, error) {
	var rd receiptsData
	if err := json.Unmarshal(e.Data, &rd); err != nil {
		return nil, refuse(yipanqi.EINVALID, "data", "批量回执数据格式错误：%s", jsonProblem(err))
	}
	if len(rd.Items) == 0 {
		return nil, refuse(yipanqi.EINVALID, "items", "批量回执没有条目")
	}
	type item struct {
		msgID, hash, unit string
		at, due           time.Time
		provisional       bool
	}
	items := make([]item, 0, len(rd.Items))
	refs := make([]string, 0, len(rd.Items))
	seen := make(map[string]bool, len(rd.Items))
	for _, it := range rd.Items {
		if it.Hash == "" || exchange.CheckReplyTo(it.Hash) != nil {
			return nil, refuse(yipanqi.EINVALID, "hash", "批量回执的条目未指明所回执的消息")
		}
		at, err := time.Parse(time.RFC3339Nano, it.ReceivedAt)
		if err != nil {
			return nil, refuse(yipanqi.EINVALID, "received_at", "批量回执中的签收时间不是 RFC 3339 时间")
		}
		x := item{msgID: it.MessageID, hash: it.Hash, unit: it.Unit, at: at.UTC(), provisional: it.DueProvisional}
		if it.DueAt != "" {
			if x.due, err = time.Parse(time.RFC3339Nano, it.DueAt); err != nil {
				return nil, refuse(yipanqi.EINVALID, "due_at", "批量回执中的办理期限不是 RFC 3339 时间")
			}
		}
		if seen[it.Hash] {
			continue // the same message twice: its first item counts
		}
		seen[it.Hash] = true
		items = append(items, x)
		refs = append(refs, it.Hash)
	}
	var (
		recorded []string // the cases whose receipt counted
		skipped  []string // the message ids of items naming nothing of ours
	)
	apply := func(ctx context.Context, tx *sqlstore.Tx, tl *timeline) error {
		recorded, skipped = nil, nil
		type match struct {
			it  *item
			ref *sqlstore.LoggedMessage
		}
		var found []match
		var caseIDs []string
		for i := range items {
			it := &items[i]
			ref, err := tx.MessageByHash(ctx, it.hash, yipanqi.Outgoing)
			if yipanqi.ErrorCode(err) == yipanqi.ENOTFOUND || (err == nil && ref.Dest != d.Src) {
				skipped = append(skipped, it.msgID)
				continue
			} else if err != nil {
				return err
			}
			found = append(found, match{it, ref})
			caseIDs = append(caseIDs, ref.CaseID)
		}
		if len(found) == 0 {
			return refuse(yipanqi.ENOTFOUND, "items", "批量回执所列的消息都不是本节点发给节点 %s 的", d.Src)
		}
		if err := tx.LogMessage(ctx, n.inMessage(d, e, TypeReceipts, ""), exchange.Hash(e), ""); err != nil {
			return err
		}
		if err := tx.LinkMessage(ctx, e.ID, yipanqi.Incoming, caseIDs); err != nil {
			return err
		}
		for _, m := range found {
			caseID := m.ref.CaseID
			if err := n.applyReceipt(ctx, tx, tl, d.Src, m.ref, m.it.at, m.it.due, m.it.provisional, m.it.unit, func(changed bool) {
				if changed {
					recorded = append(recorded, caseID)
				}
			}); err != nil {
				return err
			}
		}
		return nil
	}
	return &step{inbox: n.inboxItem(d, e, TypeReceipts), apply: apply, refs: refs, applied: func() {
		if len(skipped) > 0 {
			// Message ids only: no personal data.
			n.log.Warn("batch receipt: items naming no message of ours skipped", "msg_id", e.ID, "src", d.Src,
				"skipped", len(skipped), "items", len(items), "skipped_ids", skipped)
		}
		for _, c := range recorded {
			n.emit(Event{Kind: EventReceipt, CaseID: c, MessageID: e.ID})
		}
	}}, nil
}
