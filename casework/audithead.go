package casework

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"yipanqi"
	"yipanqi/exchange"
	"yipanqi/sqlstore"
)

// TypeAuditHead is a node's signed audit-chain head, published to every other node of the
// trust list (PublishAuditHead), which keeps it (sqlstore's audit_peer_heads): a rewrite of
// the sender's audit log after it published no longer contains the head, whoever rewrote it
// (docs/personal-data.md, "Audit log"). It is never receipted or rejected in turn.
const TypeAuditHead = "audit.head"

// DefaultAuditHeadInterval is how often Run publishes the audit head when it moved; an
// unchanged head is published again after auditHeadRepeat.
const DefaultAuditHeadInterval = time.Hour

// auditHeadRepeat is the longest Run goes without publishing the head, changed or not.
const auditHeadRepeat = 24 * time.Hour

// auditHeadFirst is how soon after Run starts the head is first published.
const auditHeadFirst = time.Minute

// auditHeadData is the data of a TypeAuditHead: the signed head as the sender's store keeps
// it. Its signature is the sealer's own (sqlstore.AuditHead.SigningBytes), so the head can be
// checked later, without the envelope, by whoever holds the trust list.
type auditHeadData struct {
	Seq   int64  `json:"seq"`
	Hash  string `json:"hash"`
	At    string `json:"at"`
	KeyID string `json:"key_id"`
	Sig   string `json:"sig"`
}

// VerifyAuditHead checks the signature of an audit head against the trust list tl: its key is
// on the list, of the node h.Node when set, valid at h.At, and the SM2 signature verifies over
// h.SigningBytes() (exchange.TrustList.VerifyAuditHeadSig). EFORBIDDEN naming the field
// otherwise, in Chinese. AuditChecker makes it a sqlstore.AuditVerifyOptions.CheckSig.
func VerifyAuditHead(tl *exchange.TrustList, h *sqlstore.AuditHead) error {
	return tl.VerifyAuditHeadSig(h.Node, h.KeyID, h.At, h.Seq, h.SigningBytes(), h.Sig)
}

// AuditChecker returns VerifyAuditHead against tl, for sqlstore.AuditVerifyOptions.CheckSig.
func AuditChecker(tl *exchange.TrustList) func(*sqlstore.AuditHead) error {
	return func(h *sqlstore.AuditHead) error { return VerifyAuditHead(tl, h) }
}

// PublishAuditHead sends the newest signed head of this node's audit chain to every other
// node of the trust list, in one transaction, and returns it. ENOTFOUND when no head is
// signed yet.
func (n *Node) PublishAuditHead(ctx context.Context) (sqlstore.AuditHead, error) {
	h, err := n.db.LatestAuditHead(ctx)
	if err != nil {
		return h, err
	}
	data := auditHeadData{Seq: h.Seq, Hash: h.Hash, At: h.At.UTC().Format(time.RFC3339Nano), KeyID: h.KeyID, Sig: h.Sig}
	now := n.now()
	err = n.db.InTx(ctx, func(tx *sqlstore.Tx) error {
		for _, peer := range n.cfg.Trust.Nodes {
			if peer.Code == n.code {
				continue
			}
			env, body, err := n.seal(TypeAuditHead, uuid.Must(uuid.NewV7()).String(), peer.Code, peer.Code, "", now, data)
			if err != nil {
				return err
			}
			if err := tx.Enqueue(ctx, n.outMessage(env, TypeAuditHead, "", body), exchange.Hash(env), "",
				exchange.Subject(peer.Code, n.code, TypeAuditHead)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return h, fmt.Errorf("publish audit head %d: %w", h.Seq, err)
	}
	n.nudge()
	return h, nil
}

// RunAuditHeads publishes the audit head (PublishAuditHead) a minute after it starts, then
// every interval when it moved and at least daily, until ctx ends. A failure is logged and
// tried again at the next tick.
func (n *Node) RunAuditHeads(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = DefaultAuditHeadInterval
	}
	t := time.NewTimer(min(every, auditHeadFirst))
	defer t.Stop()
	var lastSeq int64 = -1
	var lastAt time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		t.Reset(every)
		h, err := n.db.LatestAuditHead(ctx)
		switch {
		case yipanqi.ErrorCode(err) == yipanqi.ENOTFOUND:
			continue
		case err != nil:
			if ctx.Err() == nil {
				n.log.Warn("audit head: will retry", "err", err)
			}
			continue
		case h.Seq == lastSeq && n.now().Sub(lastAt) < auditHeadRepeat:
			continue
		}
		if h, err = n.PublishAuditHead(ctx); err != nil {
			if ctx.Err() == nil {
				n.log.Warn("audit head: will retry", "err", err)
			}
			continue
		}
		lastSeq, lastAt = h.Seq, n.now()
	}
}

// onAuditHead keeps a peer's published audit head, once its own signature checks out against
// the trust list as the sender's. A head that contradicts one kept before (same sequence
// number, other hash) is kept too, and logged: one of the two chains was rewritten.
func (n *Node) onAuditHead(d exchange.Delivery, e *exchange.Envelope) (*step, error) {
	var hd auditHeadData
	if err := exchange.StrictUnmarshal(e.Data, &hd); err != nil {
		return nil, refuse(yipanqi.EINVALID, "data", "审计链头数据格式错误：%s", jsonProblem(err))
	}
	at, err := time.Parse(time.RFC3339Nano, hd.At)
	if err != nil {
		return nil, refuse(yipanqi.EINVALID, "at", "审计链头时间不是 RFC 3339 时间")
	}
	if hd.Seq <= 0 || len(hd.Hash) != 64 || !exchange.IsLowerHex(hd.Hash, 64) {
		return nil, refuse(yipanqi.EINVALID, "hash", "审计链头的序号或哈希无效")
	}
	h := &sqlstore.AuditHead{Node: d.Src, Seq: hd.Seq, Hash: hd.Hash, At: at.UTC(), KeyID: hd.KeyID, Sig: hd.Sig}
	if err := VerifyAuditHead(n.cfg.Trust, h); err != nil {
		return nil, &refusal{err}
	}
	var added, conflict bool
	apply := func(ctx context.Context, tx *sqlstore.Tx, _ *timeline) error {
		if err := tx.LogMessage(ctx, n.inMessage(d, e, TypeAuditHead, ""), exchange.Hash(e), ""); err != nil {
			return err
		}
		var err error
		added, conflict, err = tx.AddPeerAuditHead(ctx, h, e.ID)
		return err
	}
	return &step{inbox: n.inboxItem(d, e, TypeAuditHead), apply: apply, applied: func() {
		if conflict {
			n.log.Error("audit head contradicts one received before: the sender's audit log was rewritten",
				"src", d.Src, "seq", h.Seq, "msg_id", e.ID)
		} else if added {
			n.log.Debug("audit head kept", "src", d.Src, "seq", h.Seq)
		}
	}}, nil
}
