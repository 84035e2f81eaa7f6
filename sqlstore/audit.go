package sqlstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
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

// Audit appends an entry to the audit log. EINVALID without an actor or an action.
func (db *DB) Audit(ctx context.Context, e *yipanqi.AuditEntry) error {
	return db.inTx(ctx, func(qq q) error { return db.audit(ctx, qq, e) })
}

// audit appends e inside the caller's transaction, so that the entry commits with the change
// it records.
func (db *DB) audit(ctx context.Context, qq q, e *yipanqi.AuditEntry) error {
	if err := db.checkAudit(e); err != nil {
		return err
	}
	return db.appendAudit(ctx, qq, []*yipanqi.AuditEntry{e})
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

// auditRowsPerInsert keeps a multi-row INSERT of audit entries (8 values each) well below the
// variables a statement may have (32766 on SQLite, 65535 on PostgreSQL).
const auditRowsPerInsert = 500

// appendAudit chains the checked entries, in order, onto the head of the audit log inside the
// caller's transaction: it locks the chain-head row, inserts the entries with multi-row
// INSERTs and moves the head, three statements for any number of entries. Locking the head
// serialises appends — PostgreSQL holds the row lock until commit, and on SQLite the
// transaction already holds the write lock — so the ids, given in insertion order under the
// lock, follow the chain. Callers take the lock as late as they can (Tx flushes its entries
// right before commit) because every writing transaction of the node waits for it.
func (db *DB) appendAudit(ctx context.Context, qq q, entries []*yipanqi.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	var prev string
	if err := qq.row(ctx, "UPDATE audit_head SET last_id = last_id WHERE id = 1 RETURNING hash").Scan(&prev); err != nil {
		return fmt.Errorf("audit: lock chain head: %w", err)
	}
	byHash := make(map[string]*yipanqi.AuditEntry, len(entries))
	for _, e := range entries {
		e.PrevHash = prev
		e.Hash = AuditHash(e)
		prev = e.Hash
		byHash[e.Hash] = e
	}
	var last int64
	for lo := 0; lo < len(entries); lo += auditRowsPerInsert {
		chunk := entries[lo:min(lo+auditRowsPerInsert, len(entries))]
		var b strings.Builder
		b.WriteString("INSERT INTO audit_log (at, actor, org_unit, action, object, reason, prev_hash, hash) VALUES ")
		args := make([]any, 0, 8*len(chunk))
		for i, e := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
			args = append(args, db.dialect.timeArg(e.At), e.Actor, e.OrgUnit, e.Action, e.Object, e.Reason, e.PrevHash, e.Hash)
		}
		b.WriteString(" RETURNING id, hash")
		rows, err := qq.query(ctx, b.String(), args...)
		if err != nil {
			return fmt.Errorf("audit: insert: %w", err)
		}
		for rows.Next() {
			var id int64
			var hash string
			if err := rows.Scan(&id, &hash); err != nil {
				rows.Close()
				return fmt.Errorf("audit: insert: %w", err)
			}
			if e := byHash[hash]; e != nil {
				e.ID = id
			}
			last = max(last, id)
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("audit: insert: %w", err)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("audit: insert: %w", err)
		}
	}
	if _, err := qq.exec(ctx, "UPDATE audit_head SET last_id = ?, hash = ? WHERE id = 1", last, prev); err != nil {
		return fmt.Errorf("audit: move chain head: %w", err)
	}
	return nil
}

const auditColumns = "id, at, actor, org_unit, action, object, reason, prev_hash, hash"

func scanAudit(sc interface{ Scan(...any) error }) (*yipanqi.AuditEntry, error) {
	e := &yipanqi.AuditEntry{}
	err := sc.Scan(&e.ID, timeCol{&e.At}, &e.Actor, &e.OrgUnit, &e.Action, &e.Object, &e.Reason, &e.PrevHash, &e.Hash)
	return e, err
}

// AuditLog returns the newest entries about an object (every object when object is ""),
// newest first; limit 0 means 100.
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

// VerifyAudit walks the whole chain, recomputing every hash, and returns how many entries it
// checked. A changed, inserted or removed entry is EINTERNAL naming the first broken entry.
func (db *DB) VerifyAudit(ctx context.Context) (checked int, err error) {
	rows, err := db.q().query(ctx, "SELECT "+auditColumns+" FROM audit_log ORDER BY id")
	if err != nil {
		return 0, fmt.Errorf("verify audit: %w", err)
	}
	defer rows.Close()
	prev := ""
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return checked, fmt.Errorf("verify audit: %w", err)
		}
		switch {
		case e.PrevHash != prev:
			return checked, yipanqi.Errorf(yipanqi.EINTERNAL, "审计日志第 %d 条记录与前一条不衔接：其前的记录被修改或删除", e.ID)
		case AuditHash(e) != e.Hash:
			return checked, yipanqi.Errorf(yipanqi.EINTERNAL, "审计日志第 %d 条记录校验失败：内容被修改", e.ID)
		}
		prev = e.Hash
		checked++
	}
	if err := rows.Err(); err != nil {
		return checked, fmt.Errorf("verify audit: %w", err)
	}
	var head string
	if err := db.q().row(ctx, "SELECT hash FROM audit_head WHERE id = 1").Scan(&head); err != nil {
		return checked, fmt.Errorf("verify audit: read chain head: %w", err)
	}
	if head != prev {
		return checked, yipanqi.Errorf(yipanqi.EINTERNAL, "审计日志末尾不完整：共 %d 条可校验，最新的记录被删除或修改", checked)
	}
	return checked, nil
}
