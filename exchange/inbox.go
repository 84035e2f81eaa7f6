package exchange

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"yipanqi"
	"yipanqi/calendar"
	"yipanqi/sqlstore"
)

// RunConsumer handles the node's stream with Consumers goroutines until ctx ends, and
// returns nil then, or the first error that stops one of them (see Transport.Consume).
func (n *Node) RunConsumer(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, n.cfg.Consumers)
	for range n.cfg.Consumers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.tr.Consume(ctx, n.handleLogged); err != nil {
				errs <- err
				cancel()
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// handleLogged is Handle for Consume: a store failure is logged, and the message comes again.
func (n *Node) handleLogged(ctx context.Context, d Delivery) error {
	err := n.Handle(ctx, d)
	if err != nil && ctx.Err() == nil {
		n.log.Error("inbox: message not processed, will retry", "subject", d.Subject, "msg_id", d.MsgID,
			"delivered", d.NumDelivered, "err", err)
	}
	return err
}

// Handle processes one delivery; it is the handler RunConsumer gives Transport.Consume. It
// returns nil — acknowledge — once the message's effect, or its dead letter, has committed,
// or when the inbox shows it was applied before; it returns an error — deliver again later —
// only when the store failed.
//
// In order: Decode (strict form) → TrustList.Verify with the subject's sender → the message
// must be addressed to this node, on a subject of its own type → by type: a receipt, a
// rejection notice, a reply (ypqreplyto set), or a request, which must be of a known type,
// addressed to one of this node's org units (or the node itself), with valid data. A message
// that fails any step is dead-lettered with the reason, and its sender gets a signed
// rejection notice unless the message was itself a receipt or a notice.
func (n *Node) Handle(ctx context.Context, d Delivery) error {
	e, err := Decode(d.Body)
	if err != nil {
		return n.deadLetter(ctx, d, nil, err)
	}
	if err := n.cfg.Trust.Verify(e, d.Src); err != nil {
		return n.deadLetter(ctx, d, e, err)
	}
	typ, _, _ := ParseEventType(e.Type) // Decode checked it
	switch {
	case e.Dest != n.code || d.Dst != n.code:
		err = refuse(yipanqi.EINVALID, "ypqdest", "消息的目的节点为 %s，不是本节点 %s", e.Dest, n.code)
	case d.Type != typ:
		err = refuse(yipanqi.EINVALID, "type", "消息类型 %s 与主题中的类型 %s 不符", typ, d.Type)
	case typ == TypeReceipt:
		err = n.onReceipt(ctx, d, e)
	case typ == TypeRejected:
		err = n.onRejected(ctx, d, e)
	case e.ReplyTo != "":
		err = n.onReply(ctx, d, e, typ)
	default:
		err = n.onRequest(ctx, d, e, typ)
	}
	if r, ok := isRefusal(err); ok {
		return n.deadLetter(ctx, d, e, r.err)
	}
	return err
}

// inMessage is the message-log entry of a received envelope: the bytes as received.
func (n *Node) inMessage(d Delivery, e *Envelope, typ, caseID string) *yipanqi.Message {
	return &yipanqi.Message{ID: e.ID, CaseID: caseID, Direction: yipanqi.Incoming, Type: typ,
		Source: d.Src, Dest: n.code, Body: d.Body}
}

func (n *Node) inboxItem(d Delivery, e *Envelope, typ string) *yipanqi.InboxItem {
	return &yipanqi.InboxItem{MessageID: e.ID, Source: d.Src, Type: typ}
}

// deadLetter keeps the message with the reason and, unless it was a receipt or a notice,
// enqueues a signed rejection notice to the node that published it (the subject's sender,
// which the server vouches for), in one transaction.
func (n *Node) deadLetter(ctx context.Context, d Delivery, e *Envelope, cause error) error {
	reason := yipanqi.ErrorMessage(cause)
	if f := yipanqi.ErrorField(cause); f != "" {
		reason = fmt.Sprintf("%s（字段 %s）", reason, f)
	}
	msgID, subject, typ := d.MsgID, "", d.Type
	var replyTo string
	if e != nil {
		msgID, subject, replyTo = e.ID, e.Subject, Hash(e)
		typ, _, _ = ParseEventType(e.Type)
	}
	if len(msgID) > 64 {
		msgID = msgID[:64]
	}
	dl := &yipanqi.DeadLetter{MessageID: msgID, Source: d.Src, Subject: d.Subject, Reason: reason, Body: d.Body}
	var notice *Envelope
	var noticeBody []byte
	if typ != TypeReceipt && typ != TypeRejected && d.Type != TypeReceipt && d.Type != TypeRejected && validNodeCode(d.Src) {
		if _, err := uuid.Parse(subject); err != nil || subject == "" {
			// Nothing readable names the case; the notice still needs a subject.
			subject = uuid.Must(uuid.NewV7()).String()
		}
		var err error
		notice, noticeBody, err = n.seal(TypeRejected, subject, d.Src, d.Src, replyTo, n.now(),
			rejectedData{MessageID: msgID, Code: yipanqi.ErrorCode(cause), Field: yipanqi.ErrorField(cause), Reason: reason})
		if err != nil {
			return fmt.Errorf("exchange: rejection notice for %s: %w", msgID, err)
		}
		dl.NoticeID = notice.ID
	}
	var added bool
	err := n.db.InTx(ctx, func(tx *sqlstore.Tx) error {
		var err error
		if added, err = tx.DeadLetter(ctx, dl); err != nil || !added {
			return err
		}
		if notice != nil {
			if err := tx.Enqueue(ctx, n.outMessage(notice, TypeRejected, "", noticeBody), Hash(notice), notice.ReplyTo,
				Subject(d.Src, n.code, TypeRejected)); err != nil {
				return err
			}
		}
		return tx.Audit(ctx, &yipanqi.AuditEntry{Actor: systemActor, OrgUnit: n.code, Action: "message.dead_letter",
			Object: msgID, Reason: reason})
	})
	if err != nil {
		return fmt.Errorf("exchange: dead letter %s: %w", msgID, err)
	}
	if added {
		n.log.Info("message dead-lettered", "msg_id", msgID, "src", d.Src, "subject", d.Subject, "notice", dl.NoticeID)
		if notice != nil {
			n.nudge()
		}
		n.emit(Event{Kind: EventDeadLetter, MessageID: msgID, Reason: reason})
	}
	return nil
}

// onRequest opens the incoming case, logs the request and enqueues the signed receipt, with
// the inbox row, in one transaction.
func (n *Node) onRequest(ctx context.Context, d Delivery, e *Envelope, typ string) error {
	ct, ok := n.cfg.Types[typ]
	if !ok {
		return refuse(yipanqi.EINVALID, "type", "未知的案件类型“%s”", typ)
	}
	if e.Unit != n.code {
		if _, err := n.db.OrgUnit(ctx, e.Unit); yipanqi.ErrorCode(err) == yipanqi.ENOTFOUND {
			return refuse(yipanqi.ENOTFOUND, "ypqunit", "受理单位“%s”不是本节点 %s 的机构", e.Unit, n.code)
		} else if err != nil {
			return err
		}
	}
	var rd requestData
	if err := json.Unmarshal(e.Data, &rd); err != nil {
		return refuse(yipanqi.EINVALID, "data", "案件数据格式错误：%s", jsonProblem(err))
	}
	if !yipanqi.ValidDivisionCode(rd.FromUnit) || rd.FromUnit[:2] != d.Src {
		return refuse(yipanqi.EINVALID, "from_unit", "发文单位“%s”无效或不属于来源节点 %s", rd.FromUnit, d.Src)
	}
	idNumber, err := checkFields(ct, rd.Fields)
	if err != nil {
		return &refusal{err}
	}
	now := n.now()
	var due struct {
		at          time.Time
		provisional bool
	}
	rc := receiptData{MessageID: e.ID, ReceivedAt: now.Format(time.RFC3339Nano)}
	if ct.Deadline != (calendar.Rule{}) {
		dl, err := n.cfg.Calendar.Due(now, ct.Deadline)
		if err != nil {
			return fmt.Errorf("exchange: deadline of %s: %w", typ, err)
		}
		due.at, due.provisional = dl.At.UTC(), dl.Provisional
		rc.DueAt, rc.DueProvisional = due.at.Format(time.RFC3339Nano), due.provisional
	}
	receipt, rbody, err := n.seal(TypeReceipt, e.Subject, d.Src, rd.FromUnit, Hash(e), now, rc)
	if err != nil {
		return err
	}
	caseID := n.incomingCaseID(d.Src, e.Subject)
	applied, err := n.db.ReceiveMessage(ctx, n.inboxItem(d, e, typ), func(tx *sqlstore.Tx) error {
		c := &yipanqi.Case{ID: caseID, Type: typ, Direction: yipanqi.Incoming, OrgUnit: e.Unit, PeerNode: d.Src,
			PeerUnit: rd.FromUnit, PersonIDNumber: idNumber, State: yipanqi.CaseDelivered, Data: rd.Fields,
			ReceivedAt: now, DueAt: due.at, DueProvisional: due.provisional}
		if err := tx.CreateCase(ctx, c); yipanqi.ErrorCode(err) == yipanqi.ECONFLICT {
			return refuse(yipanqi.ECONFLICT, "subject", "案件“%s”已存在，不能重复立案", e.Subject)
		} else if err != nil {
			return err
		}
		if err := tx.LogMessage(ctx, n.inMessage(d, e, typ, caseID), Hash(e), ""); err != nil {
			return err
		}
		if err := tx.Enqueue(ctx, n.outMessage(receipt, TypeReceipt, caseID, rbody), Hash(receipt), receipt.ReplyTo,
			Subject(d.Src, n.code, TypeReceipt)); err != nil {
			return err
		}
		return tx.Audit(ctx, &yipanqi.AuditEntry{Actor: systemActor, OrgUnit: e.Unit, Action: "case.received",
			Object: caseID, Reason: "来自 " + rd.FromUnit})
	})
	if err != nil {
		return err
	}
	if !applied {
		n.emit(Event{Kind: EventDuplicate, MessageID: e.ID})
		return nil
	}
	n.nudge()
	n.emit(Event{Kind: EventReceived, CaseID: caseID, MessageID: e.ID})
	return nil
}

// onReceipt records the receiver's receipt: on the outgoing case it names, received_at (the
// receipt's time) and due_at.
func (n *Node) onReceipt(ctx context.Context, d Delivery, e *Envelope) error {
	if e.ReplyTo == "" {
		return refuse(yipanqi.EINVALID, "ypqreplyto", "回执缺少 ypqreplyto：未指明所回执的消息")
	}
	var rc receiptData
	if err := json.Unmarshal(e.Data, &rc); err != nil {
		return refuse(yipanqi.EINVALID, "data", "回执数据格式错误：%s", jsonProblem(err))
	}
	var due time.Time
	if rc.DueAt != "" {
		t, err := time.Parse(time.RFC3339Nano, rc.DueAt)
		if err != nil {
			return refuse(yipanqi.EINVALID, "due_at", "回执中的办理期限“%s”不是 RFC 3339 时间", rc.DueAt)
		}
		due = t
	}
	var caseID string
	recorded := false
	applied, err := n.db.ReceiveMessage(ctx, n.inboxItem(d, e, TypeReceipt), func(tx *sqlstore.Tx) error {
		ref, err := tx.MessageByHash(ctx, e.ReplyTo, yipanqi.Outgoing)
		if yipanqi.ErrorCode(err) == yipanqi.ENOTFOUND || (err == nil && ref.Dest != d.Src) {
			return refuse(yipanqi.ENOTFOUND, "ypqreplyto", "回执所指的消息不是本节点发给节点 %s 的", d.Src)
		} else if err != nil {
			return err
		}
		caseID = ref.CaseID
		if err := tx.LogMessage(ctx, n.inMessage(d, e, TypeReceipt, caseID), Hash(e), e.ReplyTo); err != nil {
			return err
		}
		action := "case.reply_receipt"
		if ref.ReplyTo == "" && ref.Type != TypeRejected {
			// The receipt of a request: the deadline clock starts at its time.
			if recorded, err = tx.RecordReceipt(ctx, caseID, e.Time, due, rc.DueProvisional); err != nil {
				return err
			}
			action = "case.receipt"
		}
		return tx.Audit(ctx, &yipanqi.AuditEntry{Actor: systemActor, OrgUnit: n.code, Action: action, Object: caseID,
			Reason: "节点 " + d.Src + " 签收于 " + e.Time.Format(time.RFC3339)})
	})
	if err != nil {
		return err
	}
	switch {
	case !applied:
		n.emit(Event{Kind: EventDuplicate, MessageID: e.ID})
	case recorded:
		n.emit(Event{Kind: EventReceipt, CaseID: caseID, MessageID: e.ID})
	}
	return nil
}

// onRejected records a rejection notice: the sender is told. When it names the request of an
// outgoing case, that case becomes rejected; the reason is in the audit log and the notice
// in the message log either way.
func (n *Node) onRejected(ctx context.Context, d Delivery, e *Envelope) error {
	var rd rejectedData
	if err := json.Unmarshal(e.Data, &rd); err != nil || rd.Reason == "" {
		return refuse(yipanqi.EINVALID, "data", "退回通知缺少退回原因")
	}
	var caseID string
	applied, err := n.db.ReceiveMessage(ctx, n.inboxItem(d, e, TypeRejected), func(tx *sqlstore.Tx) error {
		var ref *sqlstore.LoggedMessage
		var err error
		if e.ReplyTo != "" {
			ref, err = tx.MessageByHash(ctx, e.ReplyTo, yipanqi.Outgoing)
		}
		if (ref == nil || err != nil) && rd.MessageID != "" {
			ref, err = tx.Message(ctx, rd.MessageID, yipanqi.Outgoing)
		}
		if err != nil && yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
			return err
		}
		object := rd.MessageID
		if ref != nil && err == nil && ref.Dest == d.Src {
			caseID, object = ref.CaseID, ref.CaseID
			if ref.ReplyTo == "" && ref.Type != TypeReceipt && ref.Type != TypeRejected {
				if _, err := tx.SetCaseState(ctx, caseID, yipanqi.Outgoing, yipanqi.CaseRejected, yipanqi.CaseSent, yipanqi.CaseDelivered); err != nil {
					return err
				}
			}
		}
		if err := tx.LogMessage(ctx, n.inMessage(d, e, TypeRejected, caseID), Hash(e), e.ReplyTo); err != nil {
			return err
		}
		return tx.Audit(ctx, &yipanqi.AuditEntry{Actor: systemActor, OrgUnit: n.code, Action: "case.rejected", Object: object,
			Reason: "节点 " + d.Src + " 退回：" + rd.Reason})
	})
	if err != nil {
		return err
	}
	if !applied {
		n.emit(Event{Kind: EventDuplicate, MessageID: e.ID})
		return nil
	}
	n.emit(Event{Kind: EventRejected, CaseID: caseID, MessageID: rd.MessageID, Reason: rd.Reason})
	return nil
}

// onReply records a reply on the outgoing case whose request it names (state replied) and
// enqueues a signed receipt of the reply.
func (n *Node) onReply(ctx context.Context, d Delivery, e *Envelope, typ string) error {
	ct, ok := n.cfg.Types[typ]
	if !ok {
		return refuse(yipanqi.EINVALID, "type", "未知的案件类型“%s”", typ)
	}
	var rd requestData
	if err := json.Unmarshal(e.Data, &rd); err != nil {
		return refuse(yipanqi.EINVALID, "data", "答复数据格式错误：%s", jsonProblem(err))
	}
	if !contains(ct.Replies, rd.Reply) {
		return refuse(yipanqi.EINVALID, "reply", "“%s”不是 %s 类案件的答复选项", rd.Reply, typ)
	}
	if !yipanqi.ValidDivisionCode(rd.FromUnit) || rd.FromUnit[:2] != d.Src {
		return refuse(yipanqi.EINVALID, "from_unit", "答复单位“%s”无效或不属于来源节点 %s", rd.FromUnit, d.Src)
	}
	var fields map[string]any
	if json.Unmarshal(rd.Fields, &fields) != nil || fields == nil {
		return refuse(yipanqi.EINVALID, "fields", "答复数据 fields 须为 JSON 对象")
	}
	now := n.now()
	receipt, rbody, err := n.seal(TypeReceipt, e.Subject, d.Src, rd.FromUnit, Hash(e), now,
		receiptData{MessageID: e.ID, ReceivedAt: now.Format(time.RFC3339Nano)})
	if err != nil {
		return err
	}
	var caseID string
	applied, err := n.db.ReceiveMessage(ctx, n.inboxItem(d, e, typ), func(tx *sqlstore.Tx) error {
		ref, err := tx.MessageByHash(ctx, e.ReplyTo, yipanqi.Outgoing)
		if yipanqi.ErrorCode(err) == yipanqi.ENOTFOUND {
			return refuse(yipanqi.ENOTFOUND, "ypqreplyto", "所答复的来文不是本节点发出的")
		} else if err != nil {
			return err
		}
		if ref.ReplyTo != "" || ref.CaseID != e.Subject || ref.Dest != d.Src || ref.Type != typ {
			return refuse(yipanqi.EINVALID, "ypqreplyto", "答复与所引用的来文不符（案件、类型或节点不一致）")
		}
		caseID = ref.CaseID
		if err := tx.LogMessage(ctx, n.inMessage(d, e, typ, caseID), Hash(e), e.ReplyTo); err != nil {
			return err
		}
		if _, err := tx.SetCaseState(ctx, caseID, yipanqi.Outgoing, yipanqi.CaseReplied,
			yipanqi.CaseSent, yipanqi.CaseDelivered, yipanqi.CaseInProgress); err != nil {
			return err
		}
		if err := tx.Enqueue(ctx, n.outMessage(receipt, TypeReceipt, caseID, rbody), Hash(receipt), receipt.ReplyTo,
			Subject(d.Src, n.code, TypeReceipt)); err != nil {
			return err
		}
		return tx.Audit(ctx, &yipanqi.AuditEntry{Actor: systemActor, OrgUnit: n.code, Action: "case.reply_received",
			Object: caseID, Reason: "答复：" + rd.Reply})
	})
	if err != nil {
		return err
	}
	if !applied {
		n.emit(Event{Kind: EventDuplicate, MessageID: e.ID})
		return nil
	}
	n.nudge()
	n.emit(Event{Kind: EventReplied, CaseID: caseID, MessageID: e.ID})
	return nil
}

// jsonProblem says briefly what encoding/json disliked, without echoing the data.
func jsonProblem(err error) string {
	switch err.(type) {
	case *json.UnmarshalTypeError:
		return "字段类型不符"
	case *json.SyntaxError:
		return "JSON 语法错误"
	}
	return "无法解析"
}
