package casework

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"yipanqi"
	"yipanqi/calendar"
	"yipanqi/exchange"
	"yipanqi/sqlstore"
)

// RunConsumer handles the node's stream with Consumers goroutines until ctx ends, and
// returns nil then, or the first error that stops one of them (see Transport.ConsumeBatch).
// Each goroutine takes what has arrived, up to ConsumeBatch messages, and handles it with
// HandleBatch: one transaction, then the acknowledgements.
func (n *Node) RunConsumer(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, n.cfg.Consumers)
	for range n.cfg.Consumers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.tr.ConsumeBatch(ctx, n.cfg.ConsumeBatch, n.handleLogged); err != nil {
				errs <- err
				cancel()
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// handleLogged is HandleBatch for ConsumeBatch: a store failure is logged, and the message
// comes again.
func (n *Node) handleLogged(ctx context.Context, ds []exchange.Delivery) []error {
	errs := n.HandleBatch(ctx, ds)
	for i, err := range errs {
		if err != nil && ctx.Err() == nil {
			d := ds[i]
			n.log.Error("inbox: message not processed, will retry", "subject", d.Subject, "msg_id", d.MsgID,
				"delivered", d.NumDelivered, "err", err)
		}
	}
	return errs
}

// Handle processes one delivery; see HandleBatch, of which it is the batch of one. It returns
// nil — acknowledge — once the message's effect, or its dead letter, has committed, or when
// the inbox shows it was applied before; it returns an error — deliver again later — only
// when the store failed.
func (n *Node) Handle(ctx context.Context, d exchange.Delivery) error {
	return n.HandleBatch(ctx, []exchange.Delivery{d})[0]
}

// HandleBatch processes deliveries together and returns one error per delivery, in order:
// nil — acknowledge — once the message's effect, or its dead letter, has committed, or when
// the inbox shows it was applied before; an error — deliver again later — only when the store
// failed. It is the handler RunConsumer gives Transport.ConsumeBatch.
//
// Each message is checked on its own, outside any transaction: Decode (strict form) →
// TrustList.Verify with the subject's sender → the message must be addressed to this node, on
// a subject of its own type → by type: a receipt, a rejection notice, a reply (ypqreplyto
// set), or a request, which must be of a known type, addressed to one of this node's org
// units (or the node itself), with valid data; receipts are signed. A message that fails a
// step is dead-lettered with the reason, and its sender gets a signed rejection notice unless
// the message was itself a receipt or a notice.
//
// Then one transaction holds the whole batch: the inbox rows (one statement), the effect of
// each message whose row is new, the dead letters, and one append to the audit chain. A
// message refused inside the transaction (a receipt naming no request of ours, a case that
// exists) rolls it back and the batch is committed again with that message dead-lettered, so
// a bad message never holds back the good ones; after a store failure each message is
// committed on its own, so one that keeps failing is retried alone.
func (n *Node) HandleBatch(ctx context.Context, ds []exchange.Delivery) []error {
	units := map[string]route{} // the routing of this batch's addressees
	steps := make([]*step, len(ds))
	var live []*step
	for i, d := range ds {
		steps[i] = n.prepare(ctx, d, units)
		if steps[i].err == nil {
			live = append(live, steps[i])
		}
	}
	if len(live) > 0 {
		n.presealReceipts(live)
		n.commit(ctx, live)
	}
	errs := make([]error, len(ds))
	for i, s := range steps {
		errs[i] = s.err
	}
	return errs
}

// step is what one delivery asks of the store: the effect of a valid message, applied if its
// inbox row is new, or a dead letter; or nothing, when err says why it cannot be handled now.
type step struct {
	d       exchange.Delivery
	e       *exchange.Envelope // nil when the body did not decode
	inbox   *yipanqi.InboxItem // the message's inbox row; nil for a dead letter
	apply   func(context.Context, *sqlstore.Tx, *timeline) error
	applied func()          // after the commit, when the effect was applied
	dead    *deadLetter     // dead-letter the message instead
	err     error           // the store failed: deliver the message again
	rcpt    *pendingReceipt // the receipt the message earns, sent when the batch commits
	person  *personCheck    // a request about a person: its sender is checked against the registry
	refs    []string        // the hashes of the messages it names; nil: e.ReplyTo

	fresh bool // set by the transaction: the inbox row was new and apply ran
}

// prepare checks d and prepares its step; it reads the store (org units, memoised in units)
// but writes nothing.
func (n *Node) prepare(ctx context.Context, d exchange.Delivery, units map[string]route) *step {
	e, err := exchange.Decode(d.Body)
	if err != nil {
		return n.deadStep(d, nil, err)
	}
	if err := n.cfg.Trust.Verify(e, d.Src); err != nil {
		return n.deadStep(d, e, err)
	}
	typ, _, _ := exchange.ParseEventType(e.Type) // Decode checked it
	var s *step
	switch {
	case e.Dest != n.code || d.Dst != n.code:
		err = refuse(yipanqi.EINVALID, "ypqdest", "消息的目的节点为 %s，不是本节点 %s", e.Dest, n.code)
	case d.Type != typ:
		err = refuse(yipanqi.EINVALID, "type", "消息类型与主题中的类型不符")
	case typ == TypeReceipt:
		s, err = n.onReceipt(d, e)
	case typ == TypeReceipts:
		s, err = n.onReceipts(d, e)
	case typ == TypeRejected:
		s, err = n.onRejected(d, e)
	case typ == TypeWithdrawn:
		s, err = n.onWithdrawn(d, e)
	case typ == TypeTransferred:
		s, err = n.onTransferred(d, e)
	case typ == TypeAuditHead:
		s, err = n.onAuditHead(d, e)
	case e.ReplyTo != "":
		s, err = n.onReply(d, e, typ)
	default:
		s, err = n.onRequest(ctx, d, e, typ, units)
	}
	if r, ok := isRefusal(err); ok {
		return n.deadStep(d, e, r.err)
	}
	if err != nil {
		return &step{d: d, e: e, err: err}
	}
	s.d, s.e = d, e
	return s
}

// commit runs steps in one transaction; see HandleBatch. It sets each step's err.
func (n *Node) commit(ctx context.Context, steps []*step) {
	for {
		refused := -1
		var cause error
		inTx := n.db.InTx
		if len(steps) > 1 {
			inTx = n.db.InBatchTx
		}
		err := inTx(ctx, func(tx *sqlstore.Tx) error {
			tl := &timeline{} // the case events of the batch: one INSERT at the end
			var items []*yipanqi.InboxItem
			var refs []string
			for _, s := range steps {
				s.fresh = false
				if s.dead == nil {
					items = append(items, s.inbox)
					if s.refs != nil {
						refs = append(refs, s.refs...)
					} else {
						refs = append(refs, s.e.ReplyTo)
					}
				}
			}
			fresh, err := tx.Inbox(ctx, items)
			if err != nil {
				return err
			}
			// Receipts, replies and notices name a message this node sent.
			if err := tx.PrefetchByHash(ctx, refs, yipanqi.Outgoing); err != nil {
				return err
			}
			// Requests about a person: who the registry says the person is (checkReceived).
			var ids []string
			for _, s := range steps {
				if s.dead == nil && s.person != nil {
					ids = append(ids, s.person.idNumber)
				}
			}
			var reg map[string]sqlstore.Registered
			if len(ids) > 0 {
				if reg, err = tx.RegistryPeople(ctx, ids); err != nil {
					return err
				}
			}
			k := 0
			for i, s := range steps {
				if s.dead != nil {
					if err := n.deadLetterTx(ctx, tx, s.dead); err != nil {
						return err
					}
					continue
				}
				s.fresh = fresh[k]
				k++
				if !s.fresh {
					continue
				}
				if s.person != nil {
					if err := n.checkReceived(s.person, reg); err != nil {
						refused, cause = i, err.(*refusal).err
						return err
					}
				}
				if err := s.apply(ctx, tx, tl); err != nil {
					if r, ok := isRefusal(err); ok {
						refused, cause = i, r.err
					}
					return err
				}
			}
			if err := n.enqueueReceipts(ctx, tx, steps); err != nil {
				return err
			}
			return tx.AddCaseEvents(ctx, tl.events)
		})
		switch {
		case err == nil:
			n.committed(steps)
			return
		case refused >= 0:
			// Commit the batch again, with this message dead-lettered.
			s := steps[refused]
			dead := n.deadStep(s.d, s.e, cause)
			if dead.err != nil {
				s.err = dead.err
				steps = append(steps[:refused:refused], steps[refused+1:]...)
				if len(steps) == 0 {
					return
				}
				continue
			}
			// HandleBatch reports through the step it made: keep that pointer.
			*s = *dead
		case len(steps) == 1 || ctx.Err() != nil:
			for _, s := range steps {
				s.err = err
			}
			return
		default:
			// A store failure, or a conflict InBatchTx cannot place: commit each message
			// alone, so that one that keeps failing (and comes again after its retry delay)
			// does not hold back the others, and a conflict is found and refused.
			for _, s := range steps {
				n.commit(ctx, []*step{s})
			}
			return
		}
	}
}

// committed reports what the transaction of steps did: events, logs, and a nudge to the
// relay when something was put in the outbox.
func (n *Node) committed(steps []*step) {
	nudge := false
	for _, s := range steps {
		switch {
		case s.dead != nil:
			dl := s.dead
			if !dl.added {
				continue
			}
			n.log.Info("message dead-lettered", "msg_id", dl.dl.MessageID, "src", s.d.Src, "subject", s.d.Subject,
				"notice", dl.dl.NoticeID)
			nudge = nudge || dl.notice != nil
			n.emit(Event{Kind: EventDeadLetter, MessageID: dl.dl.MessageID, Reason: dl.dl.Reason})
		case s.fresh:
			nudge = true
			s.applied()
		default:
			n.emit(Event{Kind: EventDuplicate, MessageID: s.e.ID})
		}
	}
	if nudge {
		n.nudge()
	}
}

// inMessage is the message-log entry of a received envelope: the bytes as received.
func (n *Node) inMessage(d exchange.Delivery, e *exchange.Envelope, typ, caseID string) *yipanqi.Message {
	return &yipanqi.Message{ID: e.ID, CaseID: caseID, Direction: yipanqi.Incoming, Type: typ,
		Source: d.Src, Dest: n.code, Body: d.Body}
}

func (n *Node) inboxItem(d exchange.Delivery, e *exchange.Envelope, typ string) *yipanqi.InboxItem {
	return &yipanqi.InboxItem{MessageID: e.ID, Source: d.Src, Type: typ}
}

// deadLetter is a prepared dead letter: the row, and the signed rejection notice to enqueue
// with it, if any.
type deadLetter struct {
	dl         *yipanqi.DeadLetter
	notice     *exchange.Envelope
	noticeBody []byte
	added      bool // set by the transaction: the dead letter was new
}

// deadStep prepares the dead letter of a message, with the reason and, unless it was a
// receipt or a notice, a signed rejection notice to the node that published it (the
// subject's sender, which the server vouches for).
func (n *Node) deadStep(d exchange.Delivery, e *exchange.Envelope, cause error) *step {
	// The reason names the field and the rule, never a value received (docs/exchange-engine.md);
	// masking what looks like an ID number is the last guard should a message forget it.
	reason, field := maskIDNumbers(yipanqi.ErrorMessage(cause)), maskIDNumbers(yipanqi.ErrorField(cause))
	if field != "" {
		reason = fmt.Sprintf("%s（字段 %s）", reason, field)
	}
	msgID, subject, typ := d.MsgID, "", d.Type
	var replyTo string
	if e != nil {
		msgID, subject, replyTo = e.ID, e.Subject, exchange.Hash(e)
		typ, _, _ = exchange.ParseEventType(e.Type)
	}
	if len(msgID) > 64 {
		msgID = msgID[:64]
	}
	dl := &deadLetter{dl: &yipanqi.DeadLetter{MessageID: msgID, Source: d.Src, Subject: d.Subject, Reason: reason, Body: d.Body}}
	if !isAnswer(typ) && !isAnswer(d.Type) && exchange.ValidNodeCode(d.Src) {
		if _, err := uuid.Parse(subject); err != nil || subject == "" {
			// Nothing readable names the case; the notice still needs a subject.
			subject = uuid.Must(uuid.NewV7()).String()
		}
		var err error
		dl.notice, dl.noticeBody, err = n.seal(TypeRejected, subject, d.Src, d.Src, replyTo, n.now(),
			rejectedData{MessageID: msgID, Code: yipanqi.ErrorCode(cause), Field: field, Reason: reason})
		if err != nil {
			return &step{d: d, e: e, err: fmt.Errorf("exchange: rejection notice for %s: %w", msgID, err)}
		}
		dl.dl.NoticeID = dl.notice.ID
	}
	return &step{d: d, e: e, dead: dl}
}

// deadLetterTx keeps the dead letter (once per body), enqueues its notice and audits it, in
// tx.
func (n *Node) deadLetterTx(ctx context.Context, tx *sqlstore.Tx, dl *deadLetter) error {
	var err error
	if dl.added, err = tx.DeadLetter(ctx, dl.dl); err != nil {
		return fmt.Errorf("exchange: dead letter %s: %w", dl.dl.MessageID, err)
	}
	if !dl.added {
		return nil
	}
	if dl.notice != nil {
		if err := tx.Enqueue(ctx, n.outMessage(dl.notice, TypeRejected, "", dl.noticeBody), exchange.Hash(dl.notice), dl.notice.ReplyTo,
			exchange.Subject(dl.dl.Source, n.code, TypeRejected)); err != nil {
			return fmt.Errorf("exchange: dead letter %s: %w", dl.dl.MessageID, err)
		}
	}
	return tx.Audit(ctx, &yipanqi.AuditEntry{Actor: systemActor, OrgUnit: n.code, Action: "message.dead_letter",
		Object: dl.dl.MessageID, Reason: dl.dl.Reason})
}

// onRequest prepares the step of a request: open the incoming case, log the request and
// enqueue the signed receipt, with the inbox row. units memoises org-unit lookups.
func (n *Node) onRequest(ctx context.Context, d exchange.Delivery, e *exchange.Envelope, typ string, units map[string]route) (*step, error) {
	ct, ok := n.cfg.Types[typ]
	if !ok {
		return nil, refuse(yipanqi.EINVALID, "type", "未知的案件类型“%s”", exchange.NameOfType(typ))
	}
	holder, err := n.routeRequest(ctx, e.Unit, units)
	if err != nil {
		return nil, err
	}
	var rd requestData
	if err := json.Unmarshal(e.Data, &rd); err != nil {
		return nil, refuse(yipanqi.EINVALID, "data", "案件数据格式错误：%s", jsonProblem(err))
	}
	if !yipanqi.ValidDivisionCode(rd.FromUnit) || rd.FromUnit[:2] != d.Src {
		return nil, refuse(yipanqi.EINVALID, "from_unit", "发文单位（from_unit）无效或不属于来源节点 %s", d.Src)
	}
	// The catalog's checks, as Send made them at the sender: a sender on an older or
	// tampered build may have skipped them.
	if err := checkSides(ct, rd.FromUnit, e.Unit); err != nil {
		return nil, &refusal{err}
	}
	idNumber, err := checkFields(ct, rd.Fields)
	if err != nil {
		return nil, &refusal{err}
	}
	now := n.now()
	var due struct {
		at          time.Time
		provisional bool
	}
	rc := receiptData{MessageID: e.ID, ReceivedAt: now.Format(time.RFC3339Nano)}
	if holder != e.Unit {
		rc.Unit = holder
	}
	if ct.Deadline != (calendar.Rule{}) {
		dl, err := n.cfg.Calendar.Due(now, ct.Deadline)
		if err != nil {
			return nil, fmt.Errorf("exchange: deadline of %s: %w", typ, err)
		}
		due.at, due.provisional = dl.At.UTC(), dl.Provisional
		rc.DueAt, rc.DueProvisional = due.at.Format(time.RFC3339Nano), due.provisional
	}
	caseID := n.incomingCaseID(d.Src, e.Subject)
	rcpt := &pendingReceipt{dest: d.Src, unit: rd.FromUnit, subject: e.Subject, replyTo: exchange.Hash(e), at: now, data: rc, caseID: caseID}
	// A notice is acknowledged by its receipt and closed at once (ARCHITECTURE §2).
	state, ack := yipanqi.CaseDelivered, ""
	if isNotice(ct) {
		state, ack = yipanqi.CaseClosed, "签收即确认，已办结"
		if typ == "service.result" {
			ack = "已收到——无需返乡：本人已在现居住地接受该项服务，户籍地不再要求其返乡"
		}
	}
	// A type the registry answers is answered here and now, in the transaction that opens
	// the case (certcheck.go).
	var auto *registryAnswer
	var autoEnv *exchange.Envelope
	var autoBody []byte
	if ct.Spec != nil && ct.Spec.Answer == yipanqi.AnswerRegistry {
		if auto, err = n.answerFromRegistry(ctx, typ, rd.Fields); err != nil {
			return nil, err
		}
		if auto != nil {
			if err := checkReply(ct, auto.reply, auto.fields); err != nil {
				return nil, fmt.Errorf("exchange: registry answer to %s: %w", typ, err)
			}
			state = yipanqi.CaseReplied
			autoEnv, autoBody, err = n.seal(typ, e.Subject, d.Src, rd.FromUnit, exchange.Hash(e), now,
				requestData{FromUnit: holder, Reply: auto.reply, Fields: auto.fields})
			if err != nil {
				return nil, err
			}
		}
	}
	note := "来自 " + rd.FromUnit
	if holder != e.Unit {
		note += "，寄往 " + e.Unit + "，由 " + holder + " 承办"
	}
	apply := func(ctx context.Context, tx *sqlstore.Tx, tl *timeline) error {
		c := &yipanqi.Case{ID: caseID, Type: typ, Direction: yipanqi.Incoming, OrgUnit: holder, PeerNode: d.Src,
			PeerUnit: rd.FromUnit, PersonIDNumber: idNumber, State: state, Data: rd.Fields,
			ReceivedAt: now, DueAt: due.at, DueProvisional: due.provisional}
		if err := tx.CreateCase(ctx, c); yipanqi.ErrorCode(err) == yipanqi.ECONFLICT {
			return refuse(yipanqi.ECONFLICT, "subject", "案件“%s”已存在，不能重复立案", e.Subject)
		} else if err != nil {
			return err
		}
		if ct.Apply != nil {
			if err := ct.Apply(ctx, tx, c); err != nil {
				if code := yipanqi.ErrorCode(err); code != yipanqi.EINTERNAL {
					return &refusal{err}
				}
				return err
			}
		}
		if err := tx.LogMessage(ctx, n.inMessage(d, e, typ, caseID), exchange.Hash(e), ""); err != nil {
			return err
		}
		tl.add(&yipanqi.CaseEvent{CaseID: caseID, At: now, Kind: yipanqi.CaseEventReceived, Actor: systemActor, Node: n.code,
			OrgUnit: holder, Note: note})
		if ack != "" {
			tl.add(&yipanqi.CaseEvent{CaseID: caseID, At: now, Kind: yipanqi.CaseEventAcknowledged, Actor: systemActor,
				Node: n.code, OrgUnit: holder, Note: ack})
		}
		if autoEnv != nil {
			if err := tx.Enqueue(ctx, n.outMessage(autoEnv, typ, caseID, autoBody), exchange.Hash(autoEnv), autoEnv.ReplyTo,
				exchange.Subject(d.Src, n.code, typ)); err != nil {
				return err
			}
			tl.add(&yipanqi.CaseEvent{CaseID: caseID, At: now, Kind: yipanqi.CaseEventAutoAnswered, Actor: systemActor,
				Node: n.code, OrgUnit: holder, Note: auto.note})
			if err := tx.Audit(ctx, &yipanqi.AuditEntry{Actor: systemActor, OrgUnit: holder, Action: "case.replied",
				Object: caseID, Reason: "系统自动答复：" + auto.reply}); err != nil {
				return err
			}
		}
		return tx.Audit(ctx, &yipanqi.AuditEntry{Actor: systemActor, OrgUnit: holder, Action: "case.received",
			Object: caseID, Reason: "来自 " + rd.FromUnit})
	}
	return &step{inbox: n.inboxItem(d, e, typ), apply: apply, rcpt: rcpt, person: personCheckOf(ct, idNumber, d.Src),
		applied: func() {
			n.emit(Event{Kind: EventReceived, CaseID: caseID, MessageID: e.ID})
		}}, nil
}

// onReceipt records the receiver's receipt: on the outgoing case it names, received_at (the
// receipt's time) and due_at.
func (n *Node) onReceipt(d exchange.Delivery, e *exchange.Envelope) (*step, error) {
	if e.ReplyTo == "" {
		return nil, refuse(yipanqi.EINVALID, "ypqreplyto", "回执缺少 ypqreplyto：未指明所回执的消息")
	}
	var rc receiptData
	if err := json.Unmarshal(e.Data, &rc); err != nil {
		return nil, refuse(yipanqi.EINVALID, "data", "回执数据格式错误：%s", jsonProblem(err))
	}
	var due time.Time
	if rc.DueAt != "" {
		t, err := time.Parse(time.RFC3339Nano, rc.DueAt)
		if err != nil {
			return nil, refuse(yipanqi.EINVALID, "due_at", "回执中的办理期限（due_at）不是 RFC 3339 时间")
		}
		due = t
	}
	var caseID string
	recorded := false
	apply := func(ctx context.Context, tx *sqlstore.Tx, tl *timeline) error {
		recorded = false
		ref, err := tx.MessageByHash(ctx, e.ReplyTo, yipanqi.Outgoing)
		if yipanqi.ErrorCode(err) == yipanqi.ENOTFOUND || (err == nil && ref.Dest != d.Src) {
			return refuse(yipanqi.ENOTFOUND, "ypqreplyto", "回执所指的消息不是本节点发给节点 %s 的", d.Src)
		} else if err != nil {
			return err
		}
		caseID = ref.CaseID
		if err := tx.LogMessage(ctx, n.inMessage(d, e, TypeReceipt, caseID), exchange.Hash(e), e.ReplyTo); err != nil {
			return err
		}
		return n.applyReceipt(ctx, tx, tl, d.Src, ref, e.Time, due, rc.DueProvisional, rc.Unit, func(changed bool) {
			recorded = changed
		})
	}
	return &step{inbox: n.inboxItem(d, e, TypeReceipt), apply: apply, applied: func() {
		if recorded {
			n.emit(Event{Kind: EventReceipt, CaseID: caseID, MessageID: e.ID})
		}
	}}, nil
}

// onRejected records a rejection notice: the sender is told. When it names the request of an
// outgoing case, that case becomes rejected; the reason is in the audit log and the notice
// in the message log either way.
func (n *Node) onRejected(d exchange.Delivery, e *exchange.Envelope) (*step, error) {
	var rd rejectedData
	if err := json.Unmarshal(e.Data, &rd); err != nil || rd.Reason == "" {
		return nil, refuse(yipanqi.EINVALID, "data", "退回通知缺少退回原因")
	}
	rd.Reason = maskIDNumbers(rd.Reason) // a peer on an older build may quote what it refused
	var caseID string
	apply := func(ctx context.Context, tx *sqlstore.Tx, tl *timeline) error {
		caseID = ""
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
		// A batch receipt concerns no one case (case_id ''): an old node that does not know
		// the type rejects it, and the notice is recorded against its message id.
		if ref != nil && err == nil && ref.Dest == d.Src && ref.CaseID != "" {
			caseID, object = ref.CaseID, ref.CaseID
			if ref.ReplyTo == "" && !isAnswer(ref.Type) {
				if err := advanceLater(ctx, tx, caseID, yipanqi.ActRejected); err != nil {
					return err
				}
			}
		}
		if err := tx.LogMessage(ctx, n.inMessage(d, e, TypeRejected, caseID), exchange.Hash(e), e.ReplyTo); err != nil {
			return err
		}
		if caseID != "" {
			tl.add(&yipanqi.CaseEvent{CaseID: caseID, At: n.now(), Kind: yipanqi.CaseEventRejected, Actor: nodeActor(d.Src),
				Node: d.Src, Note: rd.Reason})
		}
		return tx.Audit(ctx, &yipanqi.AuditEntry{Actor: systemActor, OrgUnit: n.code, Action: "case.rejected", Object: object,
			Reason: "节点 " + d.Src + " 退回：" + rd.Reason})
	}
	return &step{inbox: n.inboxItem(d, e, TypeRejected), apply: apply, applied: func() {
		n.emit(Event{Kind: EventRejected, CaseID: caseID, MessageID: rd.MessageID, Reason: rd.Reason})
	}}, nil
}

// onReply records a reply on the outgoing case whose request it names (state replied) and
// enqueues a signed receipt of the reply.
func (n *Node) onReply(d exchange.Delivery, e *exchange.Envelope, typ string) (*step, error) {
	ct, ok := n.cfg.Types[typ]
	if !ok {
		return nil, refuse(yipanqi.EINVALID, "type", "未知的案件类型“%s”", exchange.NameOfType(typ))
	}
	var rd requestData
	if err := json.Unmarshal(e.Data, &rd); err != nil {
		return nil, refuse(yipanqi.EINVALID, "data", "答复数据格式错误：%s", jsonProblem(err))
	}
	if !yipanqi.ValidDivisionCode(rd.FromUnit) || rd.FromUnit[:2] != d.Src {
		return nil, refuse(yipanqi.EINVALID, "from_unit", "答复单位（from_unit）无效或不属于来源节点 %s", d.Src)
	}
	// The catalog's check, as Reply made it at the sender: a sender on an older or tampered
	// build may have skipped it. An empty fields object is not valid JSON data here: Reply
	// always sends one.
	if len(rd.Fields) == 0 {
		return nil, refuse(yipanqi.EINVALID, "fields", "答复数据 fields 须为 JSON 对象")
	}
	if err := checkReply(ct, rd.Reply, rd.Fields); err != nil {
		return nil, &refusal{err}
	}
	interim := n.isInterim(typ, rd.Reply)
	var interimDue time.Time
	if interim && rd.DueAt != "" {
		t, err := time.Parse(time.RFC3339Nano, rd.DueAt)
		if err != nil {
			return nil, refuse(yipanqi.EINVALID, "due_at", "答复中的办理期限（due_at）不是 RFC 3339 时间")
		}
		interimDue = t
	}
	now := n.now()
	rcpt := &pendingReceipt{dest: d.Src, unit: rd.FromUnit, subject: e.Subject, replyTo: exchange.Hash(e), at: now,
		data: receiptData{MessageID: e.ID, ReceivedAt: now.Format(time.RFC3339Nano)}}
	var caseID string
	apply := func(ctx context.Context, tx *sqlstore.Tx, tl *timeline) error {
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
		rcpt.caseID = caseID
		if err := tx.LogMessage(ctx, n.inMessage(d, e, typ, caseID), exchange.Hash(e), e.ReplyTo); err != nil {
			return err
		}
		if interim {
			// The case stays open for the final reply; the deadline that now runs is the
			// receiver's.
			if err := advanceLater(ctx, tx, caseID, yipanqi.ActAcceptReceived); err != nil {
				return err
			}
			if !interimDue.IsZero() {
				if err := tx.SetCaseDue(ctx, caseID, yipanqi.Outgoing, interimDue, rd.DueProvisional); err != nil {
					return err
				}
			}
		} else if err := advanceLater(ctx, tx, caseID, yipanqi.ActReplyReceived); err != nil {
			return err
		}
		tl.add(&yipanqi.CaseEvent{CaseID: caseID, At: now, Kind: yipanqi.CaseEventReplyReceived, Actor: nodeActor(d.Src),
			Node: d.Src, OrgUnit: rd.FromUnit, Note: "答复：" + n.replyLabel(typ, rd.Reply)})
		return tx.Audit(ctx, &yipanqi.AuditEntry{Actor: systemActor, OrgUnit: n.code, Action: "case.reply_received",
			Object: caseID, Reason: "答复：" + rd.Reply})
	}
	return &step{inbox: n.inboxItem(d, e, typ), apply: apply, rcpt: rcpt, applied: func() {
		n.emit(Event{Kind: EventReplied, CaseID: caseID, MessageID: e.ID})
	}}, nil
}

// idNumberLike is what may be a resident ID number in a text: a run of 15 or more digits, or
// 14 or more and an X.
var idNumberLike = regexp.MustCompile(`[0-9]{14,}[0-9Xx]`)

// maskIDNumbers masks what may be an ID number in s: the first 6 and last 4 characters stay
// ("440103********1234"), as lists show ID numbers (SCOPE.md).
func maskIDNumbers(s string) string {
	return idNumberLike.ReplaceAllStringFunc(s, func(m string) string {
		return m[:6] + strings.Repeat("*", len(m)-10) + m[len(m)-4:]
	})
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
