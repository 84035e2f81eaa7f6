// Package casework is the exchange engine of a node: the outbox, the relay, the inbox and
// receipts, dead letters, and the case workflows (withdrawal, transfer, routing, consent,
// reissue, cert.check, move notices, the directory, audit heads) over the store. It sends and
// receives through package exchange (envelope, signature, keys, trust list, transport). See
// docs/exchange-engine.md.
package casework

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"yipanqi"
	"yipanqi/calendar"
	"yipanqi/exchange"
	"yipanqi/sqlstore"
)

// Message types of the engine itself, besides the catalog's case types. Neither is ever
// receipted or rejected in turn, so two nodes cannot answer each other forever.
const (
	// TypeReceipt is the receiver's signed receipt of a request or a reply. Its time is the
	// time of receipt, from which the deadline runs.
	TypeReceipt = "receipt"
	// TypeRejected tells the sender that a message was dead-lettered, and why.
	TypeRejected = "rejected"
	// TypeReceipts is the receiver's signed receipt of several requests or replies at once:
	// one per consumer batch and sending node, its data listing every message it receipts
	// (receiptsData). A batch that receipts one message to a node sends a TypeReceipt.
	TypeReceipts = "receipts"
)

// messageVersion is the version every type is sent with for now (cn.ypq.<type>.v1).
const messageVersion = 1

// CaseType is what the engine needs to know of a catalog type: its deadline and the
// validation of its requests and replies. CaseTypesFrom fills both from the catalog
// (ARCHITECTURE §2), which is then the one source of truth for what a message may carry:
// Send, SendMany and Reply refuse what it refuses before anything is stored, and the inbox
// dead-letters what it refuses on receipt.
type CaseType struct {
	Name     string        // e.g. "verify.identity"
	Deadline calendar.Rule // from the time of receipt; the zero Rule means no deadline
	// ValidateRequest checks the fields of a request (a JSON object); nil: any JSON object.
	// Its error is EINVALID naming the field, in Chinese (see yipanqi.CaseType.ValidateRequest).
	ValidateRequest func(fields json.RawMessage) error
	// ValidateReply checks a reply value and its fields; nil: the type takes no reply. Its
	// error is EINVALID naming the field, in Chinese (see yipanqi.CaseType.ValidateReply).
	ValidateReply func(reply string, fields json.RawMessage) error
	// Spec is the catalog's declaration of the type (sides, levels, consent, who answers,
	// labels); nil for a type made by hand, which the engine then checks no further.
	Spec *yipanqi.CaseType
	// Apply, if set, runs in the transaction that opens an incoming case of the type, with
	// the case as it is stored (in a batch it is written when the batch ends, so Apply must
	// not read it back): what a notice applied on receipt does (directory.update). A
	// *yipanqi.Error other than EINTERNAL refuses the message — rolled back, dead-lettered,
	// the sender told; any other error is a store failure, and the message comes again.
	Apply func(ctx context.Context, tx *sqlstore.Tx, c *yipanqi.Case) error
}

// CaseTypes is the table of types a node accepts, by name. A request of a type not in it is
// dead-lettered as unknown.
type CaseTypes map[string]CaseType

// DefaultCaseTypes is the engine's table of the region's catalog (yipanqi.Catalog), as
// CaseTypesFrom maps it.
func DefaultCaseTypes() CaseTypes {
	return CaseTypesFrom(yipanqi.Catalog())
}

// EventKind names what happened in an Event.
type EventKind string

// Event kinds, each reported after its transaction committed.
const (
	EventSent        EventKind = "sent"        // an outgoing case was stored with its message
	EventReceived    EventKind = "received"    // an incoming case was created and receipted
	EventReceipt     EventKind = "receipt"     // the receiver's receipt was recorded on an outgoing case
	EventReplied     EventKind = "replied"     // a reply was recorded on an outgoing case
	EventReplySent   EventKind = "reply_sent"  // this node answered an incoming case
	EventRejected    EventKind = "rejected"    // a rejection notice was recorded (case rejected if it was a request)
	EventDeadLetter  EventKind = "dead_letter" // a received message was dead-lettered
	EventDuplicate   EventKind = "duplicate"   // a message already applied came again and was acknowledged
	EventWithdrawn   EventKind = "withdrawn"   // a case was withdrawn (here, or by its sender)
	EventTransferred EventKind = "transferred" // a case moved to another unit (here, or at its receiver)
)

// Event is one step of the exchange, for metrics, logs and tests.
type Event struct {
	Kind      EventKind
	CaseID    string // the local case, "" when none
	MessageID string // the envelope id of the message concerned
	Reason    string // for rejected and dead_letter: the reason (Chinese)
}

// NodeConfig wires a node's exchange engine.
type NodeConfig struct {
	Code      string               // this node's province code, e.g. "44". Required.
	Store     *sqlstore.DB         // Required.
	Transport *exchange.Transport  // connected as Code. Required.
	Key       *exchange.PrivateKey // this node's signing key. Required.
	Trust     *exchange.TrustList  // the region's trust list. Required.
	Calendar  *calendar.Calendar   // default calendar.New()
	Types     CaseTypes            // default DefaultCaseTypes()
	Now       func() time.Time     // default time.Now
	Logger    *slog.Logger         // default slog.Default()
	// OnEvent, if set, is called after each step commits. It must not block for long.
	OnEvent func(Event)

	// ReissueNoticeDays is the person's deadline on the 《限期补办通知书》 of a cert.reissue
	// (StartReissue), in days; default DefaultReissueNoticeDays (30).
	ReissueNoticeDays int

	// RelayBatch is how many outbox rows the relay claims and publishes at a time; default 256.
	RelayBatch int
	// RelayPoll is how often the relay looks at the outbox when nothing woke it (a message
	// enqueued by another replica, a retry coming due); default 200ms.
	RelayPoll time.Duration
	// Lease is how long a claimed outbox row stays with the relay that claimed it; a relay
	// that dies leaves its rows to another after this. Default 1 minute — well above
	// TransportConfig.PublishTimeout.
	Lease time.Duration
	// Backoff says when a failed publish is tried again, given how many times it failed;
	// default 1s doubling to 5 minutes.
	Backoff func(attempts int) time.Duration
	// Consumers is how many goroutines handle incoming messages (verification and signing
	// use the CPU, and one can check a batch while another commits); default 2.
	Consumers int
	// ConsumeBatch is the most messages a consumer goroutine handles in one transaction; it
	// takes what has arrived, up to this, without waiting for more. Default 256.
	ConsumeBatch int
	// SingleReceipts makes the consumer send one TypeReceipt per received message, as nodes
	// before batch receipts did, instead of one TypeReceipts per batch and sending node: for a
	// rollout while some peers do not yet accept TypeReceipts (docs/exchange-engine.md).
	// Receiving both kinds does not depend on it.
	SingleReceipts bool
	// AuditSeal is how often Run chains the audit entries committed meanwhile (the store's
	// RunAuditSealer): the longest an entry stays unsealed. Default
	// sqlstore.DefaultAuditSealInterval (200ms); negative: Run does not seal (another process
	// on the same database does).
	AuditSeal time.Duration
	// AuditHead is how often Run publishes the node's signed audit head to the other nodes
	// when it moved (RunAuditHeads; at least daily either way). Default
	// DefaultAuditHeadInterval (1h); negative: Run does not publish.
	AuditHead time.Duration
}

// Node is one province's exchange engine: it sends cases (Send, Reply), publishes the
// outbox (RunRelay) and handles what arrives (Handle, RunConsumer). Several Nodes of the same
// code may share one PostgreSQL database (replicas); see docs/exchange-engine.md.
type Node struct {
	cfg   NodeConfig
	code  string
	db    *sqlstore.DB
	tr    *exchange.Transport
	log   *slog.Logger
	scope yipanqi.Scope
	wake  chan struct{}

	// The group commit of Send and SendMany (see SendMany).
	sendMu    sync.Mutex
	sendQueue []*sendReq
	sendBusy  bool

	published, duplicates, failed atomic.Int64

	dir dirState // what ApplyDirectoryUpdates has read so far (directory.go)
}

// NewNode checks cfg and returns the node. EINVALID when a required part is missing or the
// key is not the node's.
func NewNode(cfg NodeConfig) (*Node, error) {
	switch {
	case !exchange.ValidNodeCode(cfg.Code):
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "node", "节点代码“%s”无效，应为两位省级代码", cfg.Code)
	case cfg.Store == nil || cfg.Transport == nil || cfg.Trust == nil:
		return nil, yipanqi.Errorf(yipanqi.EINVALID, "节点 %s 缺少数据库、NATS 连接或信任列表", cfg.Code)
	case cfg.Key == nil || cfg.Key.Node != cfg.Code:
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "key", "节点 %s 的签名密钥缺失或不属于本节点", cfg.Code)
	case cfg.Transport.Node() != cfg.Code:
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "node", "NATS 连接属于节点 %s，不是 %s", cfg.Transport.Node(), cfg.Code)
	}
	if cfg.Calendar == nil {
		cfg.Calendar = calendar.New()
	}
	if cfg.Types == nil {
		cfg.Types = DefaultCaseTypes()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ReissueNoticeDays <= 0 {
		cfg.ReissueNoticeDays = DefaultReissueNoticeDays
	}
	if cfg.RelayBatch <= 0 {
		cfg.RelayBatch = 256
	}
	if cfg.RelayPoll <= 0 {
		cfg.RelayPoll = 200 * time.Millisecond
	}
	if cfg.Lease <= 0 {
		cfg.Lease = time.Minute
	}
	if cfg.Backoff == nil {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.Consumers <= 0 {
		cfg.Consumers = 2
	}
	if cfg.ConsumeBatch <= 0 {
		cfg.ConsumeBatch = 256
	}
	scope, err := yipanqi.NewScope(cfg.Code)
	if err != nil {
		return nil, err
	}
	return &Node{
		cfg: cfg, code: cfg.Code, db: cfg.Store, tr: cfg.Transport, scope: scope,
		log:  cfg.Logger.With("node", cfg.Code),
		wake: make(chan struct{}, 1),
	}, nil
}

// DefaultBackoff is the default NodeConfig.Backoff: 1s after the first failure, doubling up
// to 5 minutes.
func DefaultBackoff(attempts int) time.Duration {
	d := time.Second
	for i := 1; i < attempts && d < 5*time.Minute; i++ {
		d *= 2
	}
	return min(d, 5*time.Minute)
}

// Code returns the node's code.
func (n *Node) Code() string { return n.code }

func (n *Node) now() time.Time { return n.cfg.Now().UTC() }

func (n *Node) emit(ev Event) {
	if n.cfg.OnEvent != nil {
		n.cfg.OnEvent(ev)
	}
}

// nudge wakes the relay: something was just put in the outbox.
func (n *Node) nudge() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// Run runs the relay, the consumers, the audit sealer (which signs the heads it leaves with
// the node's key) and the audit-head publisher (RunAuditHeads) until ctx ends; it returns nil
// then, or the first error that stops one of them (the others are stopped too).
func (n *Node) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	runs := []func(context.Context) error{n.RunRelay, n.RunConsumer}
	// The sealer signs the heads it leaves with the node's key (docs/personal-data.md).
	n.db.SetAuditSigner(n.cfg.Key.AuditSigner())
	if n.cfg.AuditHead >= 0 {
		runs = append(runs, func(ctx context.Context) error { n.RunAuditHeads(ctx, n.cfg.AuditHead); return nil })
	}
	if n.cfg.AuditSeal >= 0 {
		runs = append(runs, func(ctx context.Context) error {
			n.db.RunAuditSealer(ctx, n.cfg.AuditSeal, func(err error) {
				n.log.Warn("audit sealer: will retry", "err", err)
			})
			return nil
		})
	}
	for _, run := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx); err != nil {
				errs <- err
				cancel()
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// systemActor is the actor of the audit entries the engine writes.
const systemActor = "system:exchange"

// requestData is the envelope data of a case request and of a reply. The catalog's fields
// travel in Fields; FromUnit is the sending unit, to which replies are addressed.
type requestData struct {
	FromUnit string          `json:"from_unit"`
	Reply    string          `json:"reply,omitempty"`
	Fields   json.RawMessage `json:"fields"`
	// An interim reply (docs/workflows.md) carries the deadline that now runs, from it.
	DueAt          string `json:"due_at,omitempty"`
	DueProvisional bool   `json:"due_provisional,omitempty"`
}

// receiptData is the envelope data of a receipt.
type receiptData struct {
	MessageID      string `json:"message_id"`
	ReceivedAt     string `json:"received_at"`
	DueAt          string `json:"due_at,omitempty"`
	DueProvisional bool   `json:"due_provisional,omitempty"`
	// Unit is the unit that took the case when routing gave it to another than the one
	// addressed (docs/workflows.md); "" when it is the one addressed.
	Unit string `json:"unit,omitempty"`
}

// receiptsData is the envelope data of a batch receipt (TypeReceipts): one item per message
// receipted. The envelope's subject is an id of its own (no case's), its ypqunit the node it
// is sent to, its time the time it was signed; each item carries its own time of receipt.
type receiptsData struct {
	Items []receiptItem `json:"items"`
}

// receiptItem is one receipted message in a batch receipt: what a TypeReceipt says of it
// (receiptData), plus what the single receipt says in its envelope — the hash of the
// receipted message (its ypqreplyto) and the sender's case id (its subject).
type receiptItem struct {
	MessageID      string `json:"message_id"`
	Hash           string `json:"hash"`
	Subject        string `json:"subject"`
	ReceivedAt     string `json:"received_at"`
	DueAt          string `json:"due_at,omitempty"`
	DueProvisional bool   `json:"due_provisional,omitempty"`
	Unit           string `json:"unit,omitempty"`
}

// rejectedData is the envelope data of a rejection notice.
type rejectedData struct {
	MessageID string `json:"message_id"`
	Code      string `json:"code"`
	Field     string `json:"field,omitempty"`
	Reason    string `json:"reason"`
}

// seal builds, signs and encodes an envelope from this node.
func (n *Node) seal(typ, subject, dest, unit, replyTo string, at time.Time, data any) (*exchange.Envelope, []byte, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, nil, fmt.Errorf("exchange: marshal %s data: %w", typ, err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, nil, fmt.Errorf("exchange: new message id: %w", err)
	}
	e := &exchange.Envelope{
		ID: id.String(), Source: exchange.NodeSource(n.code), Type: exchange.EventType(typ, messageVersion), Subject: subject,
		Time: at, Dest: dest, Unit: unit, ReplyTo: replyTo, Data: raw,
	}
	if err := exchange.Sign(e, n.cfg.Key); err != nil {
		return nil, nil, err
	}
	body, err := e.Encode()
	if err != nil {
		return nil, nil, err
	}
	return e, body, nil
}

// outMessage is the message-log entry of an envelope this node sends.
func (n *Node) outMessage(e *exchange.Envelope, typ, caseID string, body []byte) *yipanqi.Message {
	return &yipanqi.Message{ID: e.ID, CaseID: caseID, Direction: yipanqi.Outgoing, Type: typ,
		Source: n.code, Dest: e.Dest, Body: body}
}

// checkFields checks the fields of a request of type ct — a JSON object, valid for the type
// (ct.ValidateRequest) — and returns the person's ID number if there is one. The error is
// EINVALID naming the field, in Chinese.
func checkFields(ct CaseType, fields json.RawMessage) (idNumber string, err error) {
	if ct.ValidateRequest != nil {
		if err := ct.ValidateRequest(fields); err != nil {
			return "", err
		}
	}
	var obj map[string]any
	if len(fields) == 0 || json.Unmarshal(fields, &obj) != nil || obj == nil {
		return "", yipanqi.FieldErrorf(yipanqi.EINVALID, "fields", "案件数据 fields 须为 JSON 对象")
	}
	idNumber, _ = obj["id_number"].(string)
	return idNumber, nil
}

// checkReply checks a reply to a case of type ct (ct.ValidateReply). EINVALID naming the
// field, in Chinese.
func checkReply(ct CaseType, reply string, fields json.RawMessage) error {
	if ct.ValidateReply == nil {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "reply", "%s 类案件无需答复", ct.Name)
	}
	return ct.ValidateReply(reply, fields)
}

// Send opens case c — Type, OrgUnit (the sending unit of this node), PeerNode and PeerUnit
// (the addressed node and unit) are required — with the catalog fields: it builds and signs
// the request, and stores the case (state sent, ID a new UUIDv7), the message, its outbox row,
// the audit entry and the timeline's first event in one transaction; the relay publishes it.
// EINVALID for an unknown type, a bad unit, fields the catalog refuses (a required field
// missing, a field the type does not declare, a value of the wrong kind), a unit of a level
// that may not send the type (org_unit), a case about a person this node is no side of — the
// residence side sends only about a person its registry holds, the hometown side only about
// one whose hukou is in its province (id_number) —, a case for the hometown addressed off the hukou code
// the registry holds for the person (peer_unit), or a sensitive type without the person's
// live separate consent (consent), naming the field; nothing is stored then.
func (n *Node) Send(ctx context.Context, c *yipanqi.Case, fields json.RawMessage) error {
	err := n.SendMany(ctx, []NewCase{{Case: c, Fields: fields}})
	var one *manyError
	if errors.As(err, &one) {
		return one.err
	}
	return err
}

// NewCase is one case for SendMany: the case as for Send, and its catalog fields.
type NewCase struct {
	Case   *yipanqi.Case
	Fields json.RawMessage
}

// SendMany opens the cases as Send does, all in one transaction: all are stored, with their
// messages, outbox rows and audit entries, or none is. It is for senders of many cases at
// once (the move notices of an import, a benchmark). EINVALID, naming the case by its
// position (from 1), when any case is invalid; nothing is stored then.
//
// Concurrent Send and SendMany calls of a node are committed together (group commit): while
// one transaction commits, the calls that arrive queue, and the first of them then commits
// them all in the next one. Every transaction that writes appends to the audit chain, whose
// head stays locked until its commit is durable, so a node commits one transaction at a time;
// grouping makes that one transaction carry many cases. Each call still returns only after
// its own cases committed; if a group fails, its calls are committed again one by one, so
// one call's failure is not another's.
func (n *Node) SendMany(ctx context.Context, batch []NewCase) error {
	return n.sendManyAs(ctx, batch, nil)
}

// sendManyAs is SendMany with the case ids given (ids[i] for batch[i]; nil: new UUIDv7s).
func (n *Node) sendManyAs(ctx context.Context, batch []NewCase, ids []string) error {
	if len(batch) == 0 {
		return nil
	}
	req := &sendReq{ctx: ctx, done: make(chan error, 1), lead: make(chan struct{}, 1)}
	req.items = make([]sendItem, len(batch))
	for i, nc := range batch {
		id := ""
		if ids != nil {
			id = ids[i]
		}
		e, body, err := n.prepareSendAs(nc.Case, nc.Fields, id)
		if err != nil {
			return &manyError{i: i, total: len(batch), err: err}
		}
		req.items[i] = n.sendItem(ctx, nc.Case, e, body)
	}
	n.sendMu.Lock()
	n.sendQueue = append(n.sendQueue, req)
	lead := !n.sendBusy
	n.sendBusy = true
	n.sendMu.Unlock()
	if lead {
		n.leadSends()
	}
	for {
		select {
		case err := <-req.done:
			if err != nil {
				return fmt.Errorf("exchange: send: %w", err)
			}
			return nil
		case <-req.lead:
			n.leadSends()
		}
	}
}

// sendItem is the prepared case c (prepareSend made e and body) ready to store.
func (n *Node) sendItem(ctx context.Context, c *yipanqi.Case, e *exchange.Envelope, body []byte) sendItem {
	return sendItem{c: c, m: n.outMessage(e, c.Type, c.ID, body), hash: exchange.Hash(e), subject: exchange.Subject(c.PeerNode, n.code, c.Type),
		audit: &yipanqi.AuditEntry{Actor: actorOf(ctx), Action: "case.sent", Object: c.ID, OrgUnit: c.OrgUnit,
			Reason: "发往 " + c.PeerUnit}}
}

// sendReq is one Send or SendMany call waiting for its group's commit.
type sendReq struct {
	ctx   context.Context
	items []sendItem
	done  chan error    // the outcome, once committed or failed
	lead  chan struct{} // this call is to commit the next group
}

// sendItem is one prepared case of a sendReq.
type sendItem struct {
	c       *yipanqi.Case
	m       *yipanqi.Message
	hash    string
	subject string
	audit   *yipanqi.AuditEntry
}

// leadSends commits the queued calls in one transaction, tells each its outcome and hands the
// next group to the first call that queued meanwhile (or marks the queue idle).
func (n *Node) leadSends() {
	n.sendMu.Lock()
	group := n.sendQueue
	n.sendQueue = nil
	n.sendMu.Unlock()
	live := group[:0:0]
	for _, r := range group {
		if err := r.ctx.Err(); err != nil {
			r.done <- err // gave up before its turn: nothing stored
			continue
		}
		live = append(live, r)
	}
	if len(live) > 0 {
		// The transaction must not die with the leader's context: the others wait on it.
		ctx := context.WithoutCancel(live[0].ctx)
		errs := make([]error, len(live))
		if err := n.commitSends(ctx, live); err != nil {
			for i, r := range live {
				errs[i] = err
				if len(live) > 1 {
					errs[i] = n.commitSends(ctx, []*sendReq{r})
				}
			}
		}
		for i, r := range live {
			if errs[i] == nil {
				for _, it := range r.items {
					n.emit(Event{Kind: EventSent, CaseID: it.c.ID, MessageID: it.m.ID})
				}
			}
			r.done <- errs[i]
		}
		n.nudge()
	}
	n.sendMu.Lock()
	if len(n.sendQueue) == 0 {
		n.sendBusy = false
	} else {
		n.sendQueue[0].lead <- struct{}{}
	}
	n.sendMu.Unlock()
}

// commitSends stores the cases of reqs in one transaction.
func (n *Node) commitSends(ctx context.Context, reqs []*sendReq) error {
	count := 0
	for _, r := range reqs {
		count += len(r.items)
	}
	inTx := n.db.InTx
	if count > 1 {
		inTx = n.db.InBatchTx // new UUIDv7 ids: no conflict to place
	}
	at := n.now()
	return inTx(ctx, func(tx *sqlstore.Tx) error {
		tl := &timeline{}
		var all []sendItem
		for _, r := range reqs {
			all = append(all, r.items...)
		}
		hukou, err := n.hukouOf(ctx, tx, all)
		if err != nil {
			return err
		}
		for _, r := range reqs {
			for i, it := range r.items {
				if err := n.storeSend(ctx, tx, it, at, tl, hukou); err != nil {
					return &manyError{i: i, total: len(r.items), err: err}
				}
			}
		}
		return tx.AddCaseEvents(ctx, tl.events)
	})
}

// storeSend stores one prepared outgoing case in tx: checked against the node's registry
// (hukou, from hukouOf: a side of the person sends it, to the hukou the registry holds) and
// its consent if its type needs one, the case, its message and outbox row, the audit entry,
// and its event on tl.
func (n *Node) storeSend(ctx context.Context, tx *sqlstore.Tx, it sendItem, at time.Time, tl *timeline, hukou map[string]string) error {
	note := "发往 " + it.c.PeerUnit
	ct := n.cfg.Types[it.c.Type]
	if err := checkSender(ct, n.code, it.c, hukou); err != nil {
		return err
	}
	if err := checkHometown(ct, it.c, hukou); err != nil {
		return err
	}
	if ct.Spec != nil && ct.Spec.Sensitive {
		consent, err := n.consentFor(ctx, tx, it.c, at)
		if err != nil {
			return err
		}
		note += fmt.Sprintf("，依据本人单独同意（同意书 %d）", consent.ID)
	}
	if err := tx.CreateCase(ctx, it.c); err != nil {
		return err
	}
	if err := tx.Enqueue(ctx, it.m, it.hash, "", it.subject); err != nil {
		return err
	}
	if err := tx.Audit(ctx, it.audit); err != nil {
		return err
	}
	tl.add(&yipanqi.CaseEvent{CaseID: it.c.ID, At: at, Kind: yipanqi.CaseEventSent, Actor: it.audit.Actor,
		Node: n.code, OrgUnit: it.c.OrgUnit, Note: note})
	return nil
}

// manyError names the case of a SendMany batch that was refused; its code and message are
// those of the cause.
type manyError struct {
	i, total int
	err      error
}

func (e *manyError) Error() string {
	return fmt.Sprintf("case %d of %d: %v", e.i+1, e.total, e.err)
}

func (e *manyError) Unwrap() error { return e.err }

// prepareSend checks a new outgoing case, gives it its id and state, and builds and signs its
// request. EINVALID as for Send.
func (n *Node) prepareSend(c *yipanqi.Case, fields json.RawMessage) (*exchange.Envelope, []byte, error) {
	return n.prepareSendAs(c, fields, "")
}

// prepareSendAs is prepareSend with the case id given (a notice whose id is derived from
// what made it, so that it is made once); "" gives a new UUIDv7.
func (n *Node) prepareSendAs(c *yipanqi.Case, fields json.RawMessage, caseID string) (*exchange.Envelope, []byte, error) {
	ct, ok := n.cfg.Types[c.Type]
	if !ok {
		return nil, nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "type", "未知的案件类型“%s”", c.Type)
	}
	if !n.scope.Contains(c.OrgUnit) || !yipanqi.ValidDivisionCode(c.OrgUnit) {
		return nil, nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "org_unit", "发文单位“%s”不属于本节点 %s", c.OrgUnit, n.code)
	}
	if !exchange.ValidNodeCode(c.PeerNode) || !yipanqi.ValidDivisionCode(c.PeerUnit) || c.PeerUnit[:2] != c.PeerNode {
		return nil, nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "peer_unit", "受理单位“%s”不在目的节点“%s”的辖区内", c.PeerUnit, c.PeerNode)
	}
	if err := checkSides(ct, c.OrgUnit, c.PeerUnit); err != nil {
		return nil, nil, err
	}
	idNumber, err := checkFields(ct, fields)
	if err != nil {
		return nil, nil, err
	}
	if caseID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return nil, nil, fmt.Errorf("exchange: send: %w", err)
		}
		caseID = id.String()
	}
	c.ID, c.Direction, c.State, c.Data, c.PersonIDNumber = caseID, yipanqi.Outgoing, yipanqi.CaseSent, fields, idNumber
	c.ReceivedAt, c.DueAt = time.Time{}, time.Time{}
	return n.seal(c.Type, c.ID, c.PeerNode, c.PeerUnit, "", n.now(), requestData{FromUnit: c.OrgUnit, Fields: fields})
}

// actorOf names the user in ctx for the audit log, or the engine.
func actorOf(ctx context.Context) string {
	if u := yipanqi.UserFromContext(ctx); u != nil {
		return u.Username
	}
	return systemActor
}

// Reply answers the incoming case caseID with reply (one of the type's replies in the
// catalog) and the catalog fields of the answer: the reply carries ypqreplyto = Hash of the
// request and goes to the unit that sent it. The case becomes replied in the same
// transaction — or, for an interim reply (a petition accepted), in progress with the deadline
// that counts from it (docs/workflows.md). The reply is on the case's timeline.
// ENOTFOUND for an unknown case; EINVALID, naming the field, for a reply the catalog refuses
// (a value the type does not have, a missing reason, an undeclared field); ECONFLICT when the
// case is not open (already replied, closed, transferred, withdrawn or rejected) or the reply
// is out of turn (a second interim reply, an outcome before the acceptance). Nothing is stored
// when it fails.
func (n *Node) Reply(ctx context.Context, caseID, reply string, fields json.RawMessage) error {
	if len(fields) == 0 {
		fields = json.RawMessage("{}")
	}
	var sent *exchange.Envelope
	err := n.db.InTx(ctx, func(tx *sqlstore.Tx) error {
		c, err := tx.Case(ctx, caseID, yipanqi.Incoming)
		if err != nil {
			return err
		}
		ct, ok := n.cfg.Types[c.Type]
		if !ok {
			return yipanqi.FieldErrorf(yipanqi.EINVALID, "type", "未知的案件类型“%s”", c.Type)
		}
		if err := checkReply(ct, reply, fields); err != nil {
			return err
		}
		if !yipanqi.ActReply.Allows(c.State) {
			return yipanqi.StateConflict(caseID, yipanqi.ActReply, c.State)
		}
		req, err := tx.RequestMessage(ctx, caseID, yipanqi.Incoming, c.Type)
		if err != nil {
			return err
		}
		re, err := exchange.Decode(req.Body)
		if err != nil {
			return fmt.Errorf("exchange: reply: stored request %s: %w", req.ID, err)
		}
		var rd requestData
		if err := json.Unmarshal(re.Data, &rd); err != nil {
			return fmt.Errorf("exchange: reply: stored request %s data: %w", req.ID, err)
		}
		plan, err := n.planReply(ctx, tx, c, ct, reply)
		if err != nil {
			return err
		}
		// The state read above may have changed since (another replica answered): the
		// update is conditional, and the loser gets the same conflict.
		ok, err = advance(ctx, tx, caseID, plan.act)
		if err != nil {
			return err
		}
		if !ok {
			return yipanqi.StateConflict(caseID, yipanqi.ActReply, yipanqi.CaseReplied)
		}
		out := requestData{FromUnit: c.OrgUnit, Reply: reply, Fields: fields}
		if !plan.due.IsZero() {
			if err := tx.SetCaseDue(ctx, caseID, yipanqi.Incoming, plan.due, plan.dueProvisional); err != nil {
				return err
			}
			out.DueAt, out.DueProvisional = plan.due.Format(time.RFC3339Nano), plan.dueProvisional
		}
		// The reply names the case by the request's subject: the sender's case id.
		e, body, err := n.seal(c.Type, re.Subject, c.PeerNode, rd.FromUnit, req.Hash, n.now(), out)
		if err != nil {
			return err
		}
		if err := tx.Enqueue(ctx, n.outMessage(e, c.Type, caseID, body), exchange.Hash(e), e.ReplyTo, exchange.Subject(c.PeerNode, n.code, c.Type)); err != nil {
			return err
		}
		sent = e
		if err := tx.AddCaseEvents(ctx, []*yipanqi.CaseEvent{{CaseID: caseID, At: e.Time, Kind: yipanqi.CaseEventReplied,
			Actor: actorOf(ctx), Node: n.code, OrgUnit: c.OrgUnit, Note: "答复：" + n.replyLabel(c.Type, reply)}}); err != nil {
			return err
		}
		return tx.Audit(ctx, &yipanqi.AuditEntry{Actor: actorOf(ctx), Action: "case.replied", Object: caseID,
			OrgUnit: c.OrgUnit, Reason: "答复：" + reply})
	})
	if err != nil {
		return fmt.Errorf("exchange: reply to %s: %w", caseID, err)
	}
	n.nudge()
	n.emit(Event{Kind: EventReplySent, CaseID: caseID, MessageID: sent.ID})
	return nil
}

// localCaseNS derives the id of the incoming copy of a case between two units of the same
// node, whose outgoing copy already holds the sender's id.
var localCaseNS = uuid.MustParse("6f1d3c1e-5b0a-4c43-9a57-9d1a3e1c0b44")

// incomingCaseID is the local id of the case a request from src with subject opens: the
// sender's id, the same on both nodes, except inside one node where it is derived from it.
func (n *Node) incomingCaseID(src, subject string) string {
	if src != n.code {
		return subject
	}
	return uuid.NewSHA1(localCaseNS, []byte(subject)).String()
}

// refusal marks a message the engine refuses for what it says, as opposed to a failure of
// the store: it is dead-lettered, not retried.
type refusal struct{ err error }

func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

func refuse(code, field, format string, args ...any) error {
	return &refusal{yipanqi.FieldErrorf(code, field, format, args...)}
}

func isRefusal(err error) (*refusal, bool) {
	var r *refusal
	ok := errors.As(err, &r)
	return r, ok
}
