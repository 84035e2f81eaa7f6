package sqlstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"yipanqi"
)

// AuditHash returns the hash of an audit entry: the lowercase hex SHA-256 of its canonical
// form, which is, for each of prev_hash, at, actor, org_unit, action, object and reason in
// that order, the field's length in bytes as a decimal number, ":", the field's bytes and
// "\n". The time is written as UTC with microseconds ("2006-01-02T15:04:05.000000Z").
// Length prefixes make the form unambiguous whatever the fields contain.
func AuditHash(e *yipanqi.AuditEntry) string {
	h := sha256.New()
	for _, f := range []string{e.PrevHash, e.At.UTC().Format(timeLayout), e.Actor, e.OrgUnit,
		e.Action, e.Object, e.Reason} {
		h.Write([]byte(strconv.Itoa(len(f))))
		h.Write([]byte{':'})
		h.Write([]byte(f))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Audit appends an entry to the audit log in a transaction of its own and sets e.ID.
// EINVALID without an actor or an action. The entry is written unchained: the sealer
// (SealAudit, RunAuditSealer, Close) chains it shortly afterwards, and only the stored row,
// not e, then carries PrevHash and Hash.
func (db *DB) Audit(ctx context.Context, e *yipanqi.AuditEntry) error {
	return db.inTx(ctx, func(qq q) error { return db.audit(ctx, qq, e) })
}

// audit appends e inside the caller's transaction, so that the entry commits with the change
// it records.
func (db *DB) audit(ctx context.Context, qq q, e *yipanqi.AuditEntry) error {
	if err := db.checkAudit(e); err != nil {
		return err
	}
	return db.insertAudit(ctx, qq, []*yipanqi.AuditEntry{e})
}

// checkAudit refuses an entry without actor or action and sets its time (now by default,
// UTC, microseconds) as it will be hashed.
func (db *DB) checkAudit(e *yipanqi.AuditEntry) error {
	if e.Actor == "" {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "actor", "审计记录缺少操作人")
	}
	if e.Action == "" {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "action", "审计记录缺少操作类型")
	}
	if e.At.IsZero() {
		e.At = db.now()
	}
	e.At = e.At.UTC().Truncate(time.Microsecond)
	return nil
}

// auditRowsPerInsert keeps a multi-row INSERT of audit entries (6 values each) well below the
// variables a statement may have (32766 on SQLite, 65535 on PostgreSQL).
const auditRowsPerInsert = 500

// insertAudit writes the checked entries, unchained (prev_hash, hash and seal_seq NULL), with
// multi-row INSERTs inside the caller's transaction and sets their IDs. It takes no lock
// beyond the rows it inserts, so the writing transactions of a node, and of its replicas,
// commit side by side; the sealer chains the entries once they have committed.
func (db *DB) insertAudit(ctx context.Context, qq q, entries []*yipanqi.AuditEntry) error {
	for lo := 0; lo < len(entries); lo += auditRowsPerInsert {
		chunk := entries[lo:min(lo+auditRowsPerInsert, len(entries))]
		var b strings.Builder
		b.WriteString("INSERT INTO audit_log (at, actor, org_unit, action, object, reason) VALUES ")
		args := make([]any, 0, 6*len(chunk))
		for i, e := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?, ?, ?)")
			args = append(args, db.dialect.timeArg(e.At), e.Actor, e.OrgUnit, e.Action, e.Object, e.Reason)
		}
		b.WriteString(" RETURNING id")
		rows, err := qq.query(ctx, b.String(), args...)
		if err != nil {
			return fmt.Errorf("audit: insert: %w", err)
		}
		ids := make([]int64, 0, len(chunk))
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("audit: insert: %w", err)
			}
			ids = append(ids, id)
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("audit: insert: %w", err)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("audit: insert: %w", err)
		}
		if len(ids) != len(chunk) {
			return fmt.Errorf("audit: insert: %d ids for %d entries", len(ids), len(chunk))
		}
		// Both databases number the rows of one INSERT in the order of its VALUES (a
		// sequence or the rowid, drawn row by row), but neither promises RETURNING's order.
		slices.Sort(ids)
		for i, e := range chunk {
			e.ID = ids[i]
		}
	}
	return nil
}

// DefaultAuditSealInterval is how often RunAuditSealer seals when not told otherwise: the
// longest time a committed audit entry stays unchained while a node runs.
const DefaultAuditSealInterval = 200 * time.Millisecond

// auditSealBatch is the most entries one sealing transaction chains.
const auditSealBatch = 1000

// SealAudit chains the committed, unsealed audit entries onto the head of the audit log and
// returns how many it chained. It takes them in id order, numbers them on from the head
// (seal_seq, dense from 1) and sets their prev_hash and hash, at most auditSealBatch entries
// per short transaction, until none is left. The transaction first locks the chain-head row,
// so one sealer at a time works on a database — sealers of other handles, processes and
// replicas wait for it and then see what it sealed — and the chain cannot fork. An entry
// whose transaction commits after a sealer passed (sequence ids may commit out of order) is
// sealed by the next one: the chain's order is the seal order, not the id order.
//
// Each batch leaves a seal row (audit_seals) for the head it made: the hash of its last
// entry, its seal_seq and the time, signed with the node's key when db has a signer
// (SetAuditSigner), unsigned otherwise. With nothing to chain, a signing sealer signs the
// head a keyless process left unsigned.
func (db *DB) SealAudit(ctx context.Context) (sealed int, err error) {
	for {
		n, err := db.sealBatch(ctx)
		sealed += n
		if err != nil || n < auditSealBatch {
			return sealed, err
		}
	}
}

// sealBatch chains up to auditSealBatch unsealed entries in one transaction.
func (db *DB) sealBatch(ctx context.Context) (sealed int, err error) {
	var signed func()
	err = db.inTx(ctx, func(qq q) error {
		signed = nil
		var seq, lastID int64
		var prev string
		// The same statement on both databases takes the lock: a row lock held to commit on
		// PostgreSQL (READ COMMITTED, so a sealer that waited reads the head as the one
		// before it left it); on SQLite the transaction holds the write lock already.
		if err := qq.row(ctx, "UPDATE audit_head SET last_id = last_id WHERE id = 1 RETURNING seal_seq, last_id, hash").
			Scan(&seq, &lastID, &prev); err != nil {
			return fmt.Errorf("lock chain head: %w", err)
		}
		rows, err := qq.query(ctx, "SELECT "+auditColumns+" FROM audit_log WHERE seal_seq IS NULL ORDER BY id LIMIT ?", auditSealBatch)
		if err != nil {
			return fmt.Errorf("read unsealed: %w", err)
		}
		var entries []*yipanqi.AuditEntry
		for rows.Next() {
			e, err := scanAudit(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("read unsealed: %w", err)
			}
			entries = append(entries, e)
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("read unsealed: %w", err)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read unsealed: %w", err)
		}
		if len(entries) == 0 {
			signed, err = db.signUnsignedHead(ctx, qq, seq, prev)
			return err
		}
		var b strings.Builder
		b.WriteString("WITH v (id, seq, prev_hash, hash) AS (VALUES ")
		args := make([]any, 0, 4*len(entries))
		for i, e := range entries {
			seq++
			e.PrevHash = prev
			e.Hash = AuditHash(e)
			prev = e.Hash
			lastID = e.ID
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(CAST(? AS BIGINT), CAST(? AS BIGINT), ?, ?)")
			args = append(args, e.ID, seq, e.PrevHash, e.Hash)
		}
		b.WriteString(`) UPDATE audit_log SET seal_seq = v.seq, prev_hash = v.prev_hash, hash = v.hash
			FROM v WHERE audit_log.id = v.id AND audit_log.seal_seq IS NULL`)
		res, err := qq.exec(ctx, b.String(), args...)
		if err != nil {
			return fmt.Errorf("chain entries: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("chain entries: %w", err)
		} else if n != int64(len(entries)) {
			// Cannot happen while every sealer locks the head first; refuse to move it.
			return fmt.Errorf("chain entries: %d of %d rows were still unsealed", n, len(entries))
		}
		if _, err := qq.exec(ctx, "UPDATE audit_head SET seal_seq = ?, last_id = ?, hash = ? WHERE id = 1", seq, lastID, prev); err != nil {
			return fmt.Errorf("move chain head: %w", err)
		}
		if signed, err = db.sealHead(ctx, qq, seq, prev); err != nil {
			return err
		}
		sealed = len(entries)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("seal audit: %w", err)
	}
	if signed != nil {
		signed()
	}
	return sealed, nil
}

// RunAuditSealer calls SealAudit every interval (DefaultAuditSealInterval when every <= 0)
// until ctx ends. A failed round is passed to onError (when not nil) and tried again at the
// next tick: the entries wait, unchanged, in the log. Entries written after the last round
// are sealed by Close, or by the next sealer of the database.
func (db *DB) RunAuditSealer(ctx context.Context, every time.Duration, onError func(error)) {
	if every <= 0 {
		every = DefaultAuditSealInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := db.SealAudit(ctx); err != nil && ctx.Err() == nil && onError != nil {
				onError(err)
			}
		}
	}
}

// UnsealedAudit returns how many committed audit entries are not yet chained.
func (db *DB) UnsealedAudit(ctx context.Context) (int, error) {
	var n int
	if err := db.q().row(ctx, "SELECT COUNT(*) FROM audit_log WHERE seal_seq IS NULL").Scan(&n); err != nil {
		return 0, fmt.Errorf("unsealed audit entries: %w", err)
	}
	return n, nil
}

// auditColumns reads an entry; an unsealed one has empty PrevHash and Hash.
const auditColumns = "id, at, actor, org_unit, action, object, reason, COALESCE(prev_hash, ''), COALESCE(hash, '')"

func scanAudit(sc interface{ Scan(...any) error }) (*yipanqi.AuditEntry, error) {
	e := &yipanqi.AuditEntry{}
	err := sc.Scan(&e.ID, timeCol{&e.At}, &e.Actor, &e.OrgUnit, &e.Action, &e.Object, &e.Reason, &e.PrevHash, &e.Hash)
	return e, err
}

// AuditLog returns the newest entries about an object (every object when object is ""),
// newest first (by id, the order they were written in); limit 0 means 100. Entries not yet
// sealed have empty PrevHash and Hash.
func (db *DB) AuditLog(ctx context.Context, object string, limit int) ([]*yipanqi.AuditEntry, error) {
	if limit <= 0 {
		limit = 100
	}
	query := "SELECT " + auditColumns + " FROM audit_log ORDER BY id DESC LIMIT ?"
	args := []any{limit}
	if object != "" {
		query = "SELECT " + auditColumns + " FROM audit_log WHERE object = ? ORDER BY id DESC LIMIT ?"
		args = []any{object, limit}
	}
	rows, err := db.q().query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	defer rows.Close()
	var out []*yipanqi.AuditEntry
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, fmt.Errorf("audit log: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// VerifyAudit seals what is unsealed (SealAudit), then walks the chain in seal order up to
// the head it read first, recomputing every hash, and returns how many entries it checked.
// A changed, inserted, renumbered or removed sealed entry is EINTERNAL naming the first
// broken entry; so is a seal row whose hash is not the chain's at its seq. Entries committed
// after the sealing are left to the next verify. Signatures are not checked: see
// VerifyAuditSigned.
func (db *DB) VerifyAudit(ctx context.Context) (checked int, err error) {
	r, err := db.VerifyAuditSigned(ctx, AuditVerifyOptions{})
	return r.Checked, err
}

// AuditVerifyOptions says what VerifyAuditSigned checks besides the hash chain.
type AuditVerifyOptions struct {
	// CheckSig checks the signature of a signed head (casework.AuditChecker);
	// nil: signatures are not checked.
	CheckSig func(h *AuditHead) error
	// Strict refuses what is not proven by a signature: no CheckSig, or entries that no
	// signed head covers (sealed by a process without the key, after the last signed head,
	// or the whole log of a node from before signed heads).
	Strict bool
	// NoSeal skips the sealing before the walk: what is pending stays unchecked.
	NoSeal bool
	// PeerHeads are heads of this node's chain that a peer received (PeerAuditHeads on the
	// peer's database): the chain must hold each, its hash at its seq.
	PeerHeads []AuditHead
}

// AuditReport is what VerifyAuditSigned found.
type AuditReport struct {
	Checked   int   // entries checked, in chain order
	Seals     int   // seal rows checked against the chain
	Signed    int   // of which signed, each signature checked when CheckSig was given
	Unsigned  int64 // entries after the last signed head: covered by no signature
	PeerHeads int   // peer heads found in the chain
}

// VerifyAuditSigned is VerifyAudit with the signed heads: every seal row must name the
// chain's hash at its seq; every signed one must pass opts.CheckSig; every peer head must be
// in the chain (a head beyond the chain's end means entries were removed from its end). The
// report counts the entries no signed head covers; with opts.Strict they are an error.
// Failures are EINTERNAL, in Chinese, naming the entry or the head.
func (db *DB) VerifyAuditSigned(ctx context.Context, opts AuditVerifyOptions) (r AuditReport, err error) {
	if opts.Strict && opts.CheckSig == nil {
		return r, yipanqi.Errorf(yipanqi.EINVALID, "严格校验需要信任列表以核验链头签名")
	}
	if !opts.NoSeal {
		if _, err := db.SealAudit(ctx); err != nil {
			return r, fmt.Errorf("verify audit: %w", err)
		}
	}
	// The head first: sealed rows never change, so every row up to it is there to read
	// however far other sealers move on meanwhile.
	var headSeq int64
	var head string
	if err := db.q().row(ctx, "SELECT seal_seq, hash FROM audit_head WHERE id = 1").Scan(&headSeq, &head); err != nil {
		return r, fmt.Errorf("verify audit: read chain head: %w", err)
	}
	seals, err := db.AuditSeals(ctx)
	if err != nil {
		return r, fmt.Errorf("verify audit: %w", err)
	}
	// What must be found at a seq: seal rows up to the head (a later one belongs to a
	// sealer that ran meanwhile), and every peer head.
	want := map[int64][]*AuditHead{}
	var lastSigned int64
	for i := range seals {
		h := &seals[i]
		if h.Seq > headSeq {
			continue
		}
		want[h.Seq] = append(want[h.Seq], h)
		r.Seals++
		if h.Signed() {
			if opts.CheckSig != nil {
				if err := opts.CheckSig(h); err != nil {
					return r, yipanqi.Errorf(yipanqi.EINTERNAL, "审计日志第 %d 号链头的签名未通过核验：%s", h.Seq, yipanqi.ErrorMessage(err))
				}
			}
			r.Signed++
			lastSigned = max(lastSigned, h.Seq)
		}
	}
	for i := range opts.PeerHeads {
		h := &opts.PeerHeads[i]
		if opts.CheckSig != nil {
			if err := opts.CheckSig(h); err != nil {
				return r, yipanqi.Errorf(yipanqi.EINTERNAL, "对端收到的节点 %s 第 %d 号链头签名未通过核验：%s", h.Node, h.Seq, yipanqi.ErrorMessage(err))
			}
		}
		if h.Seq > headSeq {
			return r, yipanqi.Errorf(yipanqi.EINTERNAL, "对端收到过节点 %s 审计日志第 %d 号链头，但本地日志只有 %d 条：末尾的记录被删除", h.Node, h.Seq, headSeq)
		}
		want[h.Seq] = append(want[h.Seq], h)
	}
	rows, err := db.q().query(ctx, "SELECT "+auditColumns+", seal_seq FROM audit_log WHERE seal_seq <= ? ORDER BY seal_seq", headSeq)
	if err != nil {
		return r, fmt.Errorf("verify audit: %w", err)
	}
	defer rows.Close()
	prev := ""
	for rows.Next() {
		e := &yipanqi.AuditEntry{}
		var seq int64
		if err := rows.Scan(&e.ID, timeCol{&e.At}, &e.Actor, &e.OrgUnit, &e.Action, &e.Object, &e.Reason, &e.PrevHash, &e.Hash, &seq); err != nil {
			return r, fmt.Errorf("verify audit: %w", err)
		}
		switch {
		case seq != int64(r.Checked)+1 || e.PrevHash != prev:
			return r, yipanqi.Errorf(yipanqi.EINTERNAL, "审计日志第 %d 条记录与前一条不衔接：其前的记录被修改或删除", e.ID)
		case AuditHash(e) != e.Hash:
			return r, yipanqi.Errorf(yipanqi.EINTERNAL, "审计日志第 %d 条记录校验失败：内容被修改", e.ID)
		}
		for _, h := range want[seq] {
			if h.Hash == e.Hash {
				continue
			}
			if h.Node != "" {
				return r, yipanqi.Errorf(yipanqi.EINTERNAL, "审计日志第 %d 号链头与对端收到的节点 %s 的链头不符（第 %d 条记录）：日志在对端收到链头后被改写", seq, h.Node, e.ID)
			}
			return r, yipanqi.Errorf(yipanqi.EINTERNAL, "审计日志第 %d 号链头与日志不符（第 %d 条记录）：其前的记录被修改或删除", seq, e.ID)
		}
		prev = e.Hash
		r.Checked++
	}
	if err := rows.Err(); err != nil {
		return r, fmt.Errorf("verify audit: %w", err)
	}
	if int64(r.Checked) != headSeq || head != prev {
		return r, yipanqi.Errorf(yipanqi.EINTERNAL, "审计日志末尾不完整：共 %d 条可校验，最新的记录被删除或修改", r.Checked)
	}
	r.PeerHeads = len(opts.PeerHeads)
	r.Unsigned = headSeq - lastSigned
	if opts.Strict && r.Unsigned > 0 {
		return r, yipanqi.Errorf(yipanqi.EINTERNAL, "审计日志最后 %d 条记录没有已签名的链头覆盖（共 %d 条）：可能是无密钥的进程刚封存，或签名被删除", r.Unsigned, headSeq)
	}
	return r, nil
}
