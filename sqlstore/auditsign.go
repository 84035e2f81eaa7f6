package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"yipanqi"
)

// AuditHead is a head of a node's audit chain: the hash of its Seq-th sealed entry, as a
// sealer left it At, with the node's signature when the sealer held the key. Whoever holds
// the node's public key (the region's trust list) can check it; a chain rewritten after the
// head was signed no longer contains it.
type AuditHead struct {
	Node  string    // the node whose chain it is; set on heads received from a peer
	Seq   int64     // the seal_seq of the entry whose hash Hash is
	Hash  string    // AuditHash of that entry
	At    time.Time // when the head was sealed or signed (UTC, microseconds)
	KeyID string    // the key that signed it; "" when unsigned
	Sig   string    // base64 DER SM2 signature over SigningBytes; "" when unsigned
}

// Signed reports whether h carries a signature.
func (h *AuditHead) Signed() bool { return h.Sig != "" }

// SigningBytes returns what the signature of h covers: the lines "yipanqi audit head v1",
// the key id, the sequence number, the hash and the time (UTC, microseconds), each ended by
// "\n". The key id names the node, so a head cannot pass for another node's.
func (h *AuditHead) SigningBytes() []byte {
	b := make([]byte, 0, 160)
	b = append(b, "yipanqi audit head v1\n"...)
	b = append(b, h.KeyID...)
	b = append(b, '\n')
	b = strconv.AppendInt(b, h.Seq, 10)
	b = append(b, '\n')
	b = append(b, h.Hash...)
	b = append(b, '\n')
	b = append(b, h.At.UTC().Format(timeLayout)...)
	return append(b, '\n')
}

// AuditSigner signs the heads of the audit chain with a node's key (exchange.PrivateKey's
// AuditSigner).
type AuditSigner interface {
	// AuditKeyID is the id of the signing key, which the signed bytes include.
	AuditKeyID() string
	// SignAuditHead returns the base64 signature of msg (AuditHead.SigningBytes).
	SignAuditHead(msg []byte) (string, error)
}

// auditSigning is the signer of a store and the head this process signed last.
type auditSigning struct {
	s        AuditSigner
	mu       sync.Mutex
	lastSeq  int64
	lastHash string
	lastAt   time.Time
}

// sealHour is the span in which a signing sealer keeps only its newest seal row: the newest
// signed head covers every entry before it through the chain, so the rows between only narrow
// down where a break is. One row an hour keeps audit_seals small while a node seals every
// 200 ms under load.
const sealHour = time.Hour

// SetAuditSigner makes the sealer of db sign every head it leaves with s (nil: unsigned, as
// a process without the node's key seals). A signing sealer also signs a head another,
// keyless process left unsigned, and before signing checks that the head it signed last is
// still in the chain: it refuses to sign over a rewrite.
func (db *DB) SetAuditSigner(s AuditSigner) {
	if s == nil {
		db.auditSigner.Store(nil)
		return
	}
	db.auditSigner.Store(&auditSigning{s: s})
}

// sealHead writes the seal row of the head (seq, hash) in the sealing transaction: signed
// when db has a signer. It returns the function that records, once the transaction has
// committed, what was signed.
func (db *DB) sealHead(ctx context.Context, qq q, seq int64, hash string) (func(), error) {
	h := AuditHead{Seq: seq, Hash: hash, At: db.now()}
	as := db.auditSigner.Load()
	if as == nil {
		_, err := qq.exec(ctx, "INSERT INTO audit_seals (seq, hash, at) VALUES (?, ?, ?)", seq, hash, db.dialect.timeArg(h.At))
		if err != nil {
			return nil, fmt.Errorf("record seal: %w", err)
		}
		return func() {}, nil
	}
	as.mu.Lock()
	lastSeq, lastHash, lastAt := as.lastSeq, as.lastHash, as.lastAt
	as.mu.Unlock()
	if lastSeq > 0 && lastSeq <= seq {
		var got string
		err := qq.row(ctx, "SELECT COALESCE(hash, '') FROM audit_log WHERE seal_seq = ?", lastSeq).Scan(&got)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("check signed head: %w", err)
		}
		if got != lastHash {
			return nil, yipanqi.Errorf(yipanqi.EINTERNAL, "审计日志第 %d 号链头已由本节点签名，现已不在日志中：日志被改写，拒绝签名", lastSeq)
		}
	}
	h.KeyID = as.s.AuditKeyID()
	sig, err := as.s.SignAuditHead(h.SigningBytes())
	if err != nil {
		return nil, fmt.Errorf("sign audit head: %w", err)
	}
	h.Sig = sig
	if _, err := qq.exec(ctx, `INSERT INTO audit_seals (seq, hash, at, key_id, sig) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (seq) DO UPDATE SET hash = excluded.hash, at = excluded.at, key_id = excluded.key_id, sig = excluded.sig`,
		seq, hash, db.dialect.timeArg(h.At), h.KeyID, h.Sig); err != nil {
		return nil, fmt.Errorf("record seal: %w", err)
	}
	if lastSeq > 0 && lastSeq < seq && h.At.Truncate(sealHour).Equal(lastAt.Truncate(sealHour)) {
		// The row this process signed before in the same hour: the new head covers it.
		if _, err := qq.exec(ctx, "DELETE FROM audit_seals WHERE seq = ? AND key_id = ?", lastSeq, h.KeyID); err != nil {
			return nil, fmt.Errorf("prune seal: %w", err)
		}
	}
	return func() {
		as.mu.Lock()
		if seq > as.lastSeq {
			as.lastSeq, as.lastHash, as.lastAt = seq, hash, h.At
		}
		as.mu.Unlock()
	}, nil
}

// signUnsignedHead signs, in the sealing transaction, the chain head (seq, hash) when db has
// a signer and no signed seal covers it yet: the head a keyless process left.
func (db *DB) signUnsignedHead(ctx context.Context, qq q, seq int64, hash string) (func(), error) {
	if seq == 0 || db.auditSigner.Load() == nil {
		return nil, nil
	}
	var signed int64
	if err := qq.row(ctx, "SELECT COALESCE(MAX(seq), 0) FROM audit_seals WHERE sig <> ''").Scan(&signed); err != nil {
		return nil, fmt.Errorf("read signed head: %w", err)
	}
	if signed >= seq {
		return nil, nil
	}
	return db.sealHead(ctx, qq, seq, hash)
}

const auditHeadColumns = "seq, hash, at, key_id, sig"

func scanAuditHead(sc interface{ Scan(...any) error }) (AuditHead, error) {
	var h AuditHead
	err := sc.Scan(&h.Seq, &h.Hash, timeCol{&h.At}, &h.KeyID, &h.Sig)
	return h, err
}

// LatestAuditHead returns the newest signed head of this node's chain, the one to publish;
// ENOTFOUND when no head is signed yet.
func (db *DB) LatestAuditHead(ctx context.Context) (AuditHead, error) {
	h, err := scanAuditHead(db.q().row(ctx, "SELECT "+auditHeadColumns+" FROM audit_seals WHERE sig <> '' ORDER BY seq DESC LIMIT 1"))
	if errors.Is(err, sql.ErrNoRows) {
		return AuditHead{}, yipanqi.Errorf(yipanqi.ENOTFOUND, "审计日志尚无已签名的链头")
	}
	if err != nil {
		return AuditHead{}, fmt.Errorf("latest audit head: %w", err)
	}
	return h, nil
}

// AuditSeals returns the seal rows of this node's chain in seq order.
func (db *DB) AuditSeals(ctx context.Context) ([]AuditHead, error) {
	rows, err := db.q().query(ctx, "SELECT "+auditHeadColumns+" FROM audit_seals ORDER BY seq")
	if err != nil {
		return nil, fmt.Errorf("audit seals: %w", err)
	}
	defer rows.Close()
	var out []AuditHead
	for rows.Next() {
		h, err := scanAuditHead(rows)
		if err != nil {
			return nil, fmt.Errorf("audit seals: %w", err)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// AddPeerAuditHead keeps a head the node h.Node published (audit.head), received in message
// messageID. It returns added false when the same head was kept already, and conflict true
// when a different hash for the same sequence number of that node is kept: one of the two
// chains was rewritten. The signature is checked by the caller (the exchange engine).
func (tx *Tx) AddPeerAuditHead(ctx context.Context, h *AuditHead, messageID string) (added, conflict bool, err error) {
	if h.Node == "" || h.Seq <= 0 || h.Hash == "" || h.Sig == "" {
		return false, false, yipanqi.FieldErrorf(yipanqi.EINVALID, "head", "审计链头缺少节点、序号、哈希或签名")
	}
	res, err := tx.q.exec(ctx, `INSERT INTO audit_peer_heads (node, seq, hash, at, key_id, sig, message_id, received_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		h.Node, h.Seq, h.Hash, tx.db.dialect.timeArg(h.At.UTC().Truncate(time.Microsecond)), h.KeyID, h.Sig, messageID,
		tx.db.dialect.timeArg(tx.db.now()))
	if err != nil {
		return false, false, fmt.Errorf("keep audit head: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, false, fmt.Errorf("keep audit head: %w", err)
	}
	var others int
	if err := tx.q.row(ctx, "SELECT COUNT(*) FROM audit_peer_heads WHERE node = ? AND seq = ? AND hash <> ?",
		h.Node, h.Seq, h.Hash).Scan(&others); err != nil {
		return false, false, fmt.Errorf("keep audit head: %w", err)
	}
	return n > 0, others > 0, nil
}

// PeerAuditHeads returns the heads received from node (every node when ""), by node and
// sequence number.
func (db *DB) PeerAuditHeads(ctx context.Context, node string) ([]AuditHead, error) {
	query := "SELECT node, " + auditHeadColumns + " FROM audit_peer_heads ORDER BY node, seq, hash"
	var args []any
	if node != "" {
		query = "SELECT node, " + auditHeadColumns + " FROM audit_peer_heads WHERE node = ? ORDER BY seq, hash"
		args = []any{node}
	}
	rows, err := db.q().query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("peer audit heads: %w", err)
	}
	defer rows.Close()
	var out []AuditHead
	for rows.Next() {
		var h AuditHead
		if err := rows.Scan(&h.Node, &h.Seq, &h.Hash, timeCol{&h.At}, &h.KeyID, &h.Sig); err != nil {
			return nil, fmt.Errorf("peer audit heads: %w", err)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}
