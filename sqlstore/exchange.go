package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"yipanqi"
)

// The exchange engine's tables (docs/exchange-engine.md): the message log, the outbox the
// relay publishes from, the inbox whose key on the envelope id makes a message apply once,
// and the dead letters. The engine (package casework) decides what a message means; the
// store makes each decision commit as one transaction with the case change and its audit
// entry.

// Tx is one store transaction of the exchange engine: the methods on it commit together or
// not at all. Get one from InTx, SendCase or ReceiveMessage; it must not be used after the
// function it was given to returns.
type Tx struct {
	db     *DB
	q      q
	audits []*yipanqi.AuditEntry // written when fn returns, before commit

	// In a batch transaction (InBatchTx) the rows of new cases, messages and outbox entries
	// wait here and are written when fn returns, one multi-row INSERT per table.
	batch                      bool
	cases, msgs, outbox, links [][]any
	byHash                     map[string]*LoggedMessage // PrefetchByHash's finds, by hash
	byHashDir                  yipanqi.Direction

	// In a batch transaction RecordReceiptThen and SetCaseStateLater keep their updates here
	// and write them when fn returns: one statement for all receipts, one per run of state
	// changes alike.
	receipts []keptReceipt
	states   []keptState
}

// keptReceipt is a RecordReceiptThen of a batch transaction, not yet written.
type keptReceipt struct {
	caseID            string
	receivedAt, dueAt time.Time
	provisional       bool
	done              func(changed bool)
}

// keptState is a SetCaseStateLater of a batch transaction, not yet written.
type keptState struct {
	id, key string // key: dir, to and from, which the statement shares with the kept before it
	dir     yipanqi.Direction
	to      yipanqi.CaseState
	from    []yipanqi.CaseState
}

// InTx runs fn in one transaction and commits when fn returns nil; any error rolls back
// everything fn did. The audit entries fn added with Tx.Audit are written, unchained, after
// fn returns (one multi-row INSERT) and commit with the rest; the sealer chains them later
// (SealAudit), so no lock is shared by all writers. On SQLite the transaction holds the
// write lock from its start (one writer at a time, queued in this process); on PostgreSQL it
// runs at READ COMMITTED.
func (db *DB) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	return db.inTx(ctx, func(qq q) error {
		tx := &Tx{db: db, q: qq}
		if err := fn(tx); err != nil {
			return err
		}
		return db.insertAudit(ctx, qq, tx.audits)
	})
}

// InBatchTx is InTx for many messages at once. Tx.CreateCase, LogMessage and Enqueue check
// their arguments at once but write nothing yet: their rows are written when fn returns, as
// one multi-row INSERT per table (hundreds of rows in a few statements instead of one round
// trip each), before the audit entries. Reads and updates inside fn therefore do not see the
// cases and messages fn added. A kept case or message whose key is already stored fails the
// whole transaction with ECONFLICT, without saying which: the caller redoes the work with
// InTx, one item at a time, to find out.
func (db *DB) InBatchTx(ctx context.Context, fn func(tx *Tx) error) error {
	return db.inTx(ctx, func(qq q) error {
		tx := &Tx{db: db, q: qq, batch: true}
		if err := fn(tx); err != nil {
			return err
		}
		if err := tx.flush(ctx); err != nil {
			return err
		}
		return db.insertAudit(ctx, qq, tx.audits)
	})
}

// flush writes the rows and updates a batch transaction kept. The updates go first, receipts
// before state changes: they touch outgoing cases, which the batch does not insert, and a
// receipt never undoes a state change (it moves only sent to delivered), so the order gives
// what the calls would have given one by one in any order the engine makes them.
func (tx *Tx) flush(ctx context.Context) error {
	if err := tx.flushReceipts(ctx); err != nil {
		return err
	}
	if err := tx.flushStates(ctx); err != nil {
		return err
	}
	for _, t := range []struct {
		what, insert string
		rows         [][]any
	}{
		{"cases", "INSERT INTO cases (" + caseColumns + ") VALUES ", tx.cases},
		{"messages", "INSERT INTO messages (" + messageColumns + ") VALUES ", tx.msgs},
		{"outbox", "INSERT INTO outbox (message_id, subject, body, next_attempt, created_at) VALUES ", tx.outbox},
		{"message_cases", "INSERT INTO message_cases (message_id, direction, case_id) VALUES ", tx.links},
	} {
		if err := insertRows(ctx, tx.db, tx.q, t.insert, t.rows); err != nil {
			if tx.db.dialect.violation(err) == uniqueViolation {
				return yipanqi.Errorf(yipanqi.ECONFLICT, "批量写入的%s与已有记录重复", t.what)
			}
			return fmt.Errorf("batch insert %s: %w", t.what, tx.db.dialect.classify(err))
		}
	}
	tx.cases, tx.msgs, tx.outbox, tx.links = nil, nil, nil, nil
	return nil
}

// maxVarsPerStatement keeps a multi-row INSERT below the variables a statement may have
// (32766 on SQLite, 65535 on PostgreSQL).
const maxVarsPerStatement = 30000

// insertRows runs insert ("INSERT INTO t (…) VALUES ") for rows, all of one width, in as few
// statements as the variable limit allows.
func insertRows(ctx context.Context, db *DB, qq q, insert string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	width := len(rows[0])
	tuple := "(?" + strings.Repeat(", ?", width-1) + ")"
	per := max(1, maxVarsPerStatement/width)
	for lo := 0; lo < len(rows); lo += per {
		chunk := rows[lo:min(lo+per, len(rows))]
		var b strings.Builder
		b.WriteString(insert)
		args := make([]any, 0, width*len(chunk))
		for i, r := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(tuple)
			args = append(args, r...)
		}
		if _, err := qq.exec(ctx, b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// LoggedMessage is an entry of the message log with what the exchange needs to match replies
// and receipts: the envelope's Hash and its ypqreplyto.
type LoggedMessage struct {
	yipanqi.Message
	Hash    string // exchange.Hash of the envelope
	ReplyTo string // the envelope's ypqreplyto, "" for a request
}

const messageColumns = "id, case_id, direction, type, source, dest, body, recorded_at, hash, reply_to"

func scanMessage(sc interface{ Scan(...any) error }) (*LoggedMessage, error) {
	m := &LoggedMessage{}
	var dir string
	err := sc.Scan(&m.ID, &m.CaseID, &dir, &m.Type, &m.Source, &m.Dest, &m.Body, timeCol{&m.RecordedAt}, &m.Hash, &m.ReplyTo)
	m.Direction = yipanqi.Direction(dir)
	return m, err
}

// CreateCase stores a new case inside the transaction, as DB.CreateCase does (same rules and
// errors: ECONFLICT when the id is taken, EINVALID for a bad field).
func (tx *Tx) CreateCase(ctx context.Context, c *yipanqi.Case) error {
	if !tx.batch {
		return tx.db.insertCase(ctx, tx.q, c)
	}
	row, err := tx.db.caseRow(c)
	if err != nil {
		return err
	}
	tx.cases = append(tx.cases, row)
	return nil
}

// Case returns the case with the id and direction, whatever unit holds it: the engine acts
// for the whole node. ENOTFOUND when there is none.
func (tx *Tx) Case(ctx context.Context, id string, dir yipanqi.Direction) (*yipanqi.Case, error) {
	c, err := scanCase(tx.q.row(ctx, "SELECT "+caseColumns+" FROM cases WHERE id = ? AND direction = ?", id, string(dir)))
	if err != nil {
		return nil, notFound(fmt.Errorf("case %s: %w", id, err), "未找到案件“%s”", id)
	}
	return c, nil
}

// SetCaseState moves the case with the id and direction to state `to` if it is in one of the
// states `from` (any state when from is empty), and reports whether it moved. A case that is
// not there, or in another state, is left alone (changed false, no error): messages may
// arrive out of order, and a late one must not undo a later state. A move to replied stamps
// replied_at (the first reply counts); every move marks the case for the deadline clock's
// next sweep, which refolds its supervision and assessment counts (docs/sla.md).
func (tx *Tx) SetCaseState(ctx context.Context, id string, dir yipanqi.Direction, to yipanqi.CaseState, from ...yipanqi.CaseState) (changed bool, err error) {
	query := "UPDATE cases SET state = ?, updated_at = ?, " + slaTouch + repliedStamp(to) + " WHERE id = ? AND direction = ?"
	now := tx.db.dialect.timeArg(tx.db.now())
	args := []any{string(to), now, tx.db.slaNowArg()}
	if to == yipanqi.CaseReplied {
		args = append(args, now)
	}
	args = append(args, id, string(dir))
	if len(from) > 0 {
		query += " AND state IN (?" + strings.Repeat(", ?", len(from)-1) + ")"
		for _, s := range from {
			args = append(args, string(s))
		}
	}
	res, err := tx.q.exec(ctx, query, args...)
	if err != nil {
		return false, fmt.Errorf("set case %s state: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// RecordReceipt records the receiver's signed receipt on an outgoing case: received_at (the
// time on the receipt, from which the deadline runs), due_at and whether it is provisional,
// and state delivered if the case was still sent. Only the first receipt counts; changed is
// false for a later one or for a case that is not an outgoing case of this node.
func (tx *Tx) RecordReceipt(ctx context.Context, caseID string, receivedAt, dueAt time.Time, provisional bool) (changed bool, err error) {
	t := tx.db.dialect.timeArg
	res, err := tx.q.exec(ctx, `UPDATE cases SET received_at = ?, due_at = ?, due_provisional = ?,
		state = CASE WHEN state = ? THEN ? ELSE state END, updated_at = ?, `+slaTouch+`
		WHERE id = ? AND direction = ? AND received_at IS NULL`,
		t(receivedAt), t(dueAt), provisional, string(yipanqi.CaseSent), string(yipanqi.CaseDelivered),
		t(tx.db.now()), tx.db.slaNowArg(), caseID, string(yipanqi.Outgoing))
	if err != nil {
		return false, fmt.Errorf("record receipt for case %s: %w", caseID, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// RecordReceiptThen is RecordReceipt for a transaction that applies many messages: in a
// batch transaction (InBatchTx) the receipt is kept and written when fn returns, with every
// other receipt of the transaction in one statement, and done reports then whether it counted
// (only the first receipt of a case counts, also within one batch); elsewhere it is written
// at once and done called before RecordReceiptThen returns. done may be nil; it is not called
// when the write fails.
func (tx *Tx) RecordReceiptThen(ctx context.Context, caseID string, receivedAt, dueAt time.Time, provisional bool, done func(changed bool)) error {
	if done == nil {
		done = func(bool) {}
	}
	if tx.batch {
		tx.receipts = append(tx.receipts, keptReceipt{caseID: caseID, receivedAt: receivedAt, dueAt: dueAt,
			provisional: provisional, done: done})
		return nil
	}
	changed, err := tx.RecordReceipt(ctx, caseID, receivedAt, dueAt, provisional)
	if err != nil {
		return err
	}
	done(changed)
	return nil
}

// flushReceipts writes the kept receipts: UPDATE … FROM a VALUES list, RETURNING the cases
// that took their receipt.
func (tx *Tx) flushReceipts(ctx context.Context) error {
	kept := tx.receipts
	tx.receipts = nil
	if len(kept) == 0 {
		return nil
	}
	first := make(map[string]int, len(kept)) // case id → its first receipt in kept
	var rows []int
	for i, r := range kept {
		if _, seen := first[r.caseID]; !seen {
			first[r.caseID] = i
			rows = append(rows, i)
		}
	}
	t, tp := tx.db.dialect.timeArg, tx.db.dialect.timeParam()
	tuple := "(?, " + tp + ", " + tp + ", CAST(? AS BOOLEAN))"
	changed := make(map[string]bool, len(rows))
	const per = maxVarsPerStatement / 4
	for lo := 0; lo < len(rows); lo += per {
		chunk := rows[lo:min(lo+per, len(rows))]
		var b strings.Builder
		b.WriteString("WITH v (case_id, received_at, due_at, due_provisional) AS (VALUES ")
		args := make([]any, 0, 4*len(chunk)+4)
		for k, i := range chunk {
			if k > 0 {
				b.WriteString(", ")
			}
			b.WriteString(tuple)
			r := kept[i]
			args = append(args, r.caseID, t(r.receivedAt), t(r.dueAt), r.provisional)
		}
		b.WriteString(`) UPDATE cases SET received_at = v.received_at, due_at = v.due_at, due_provisional = v.due_provisional,
			state = CASE WHEN cases.state = ? THEN ? ELSE cases.state END, updated_at = ?, ` + slaTouch + `
			FROM v WHERE cases.id = v.case_id AND cases.direction = ? AND cases.received_at IS NULL RETURNING id`)
		args = append(args, string(yipanqi.CaseSent), string(yipanqi.CaseDelivered), t(tx.db.now()), tx.db.slaNowArg(), string(yipanqi.Outgoing))
		res, err := tx.q.query(ctx, b.String(), args...)
		if err != nil {
			return fmt.Errorf("record %d receipts: %w", len(chunk), err)
		}
		for res.Next() {
			var id string
			if err := res.Scan(&id); err != nil {
				res.Close()
				return fmt.Errorf("record receipts: %w", err)
			}
			changed[id] = true
		}
		if err := res.Close(); err != nil {
			return fmt.Errorf("record receipts: %w", err)
		}
		if err := res.Err(); err != nil {
			return fmt.Errorf("record receipts: %w", err)
		}
	}
	for i, r := range kept {
		r.done(first[r.caseID] == i && changed[r.caseID])
	}
	return nil
}

// SetCaseStateLater is SetCaseState for a caller that does not need to know whether the
// case moved: in a batch transaction (InBatchTx) the change is kept and written when fn
// returns, in one statement with the changes of the same kind kept just before it; elsewhere
// it is written at once.
func (tx *Tx) SetCaseStateLater(ctx context.Context, id string, dir yipanqi.Direction, to yipanqi.CaseState, from ...yipanqi.CaseState) error {
	if !tx.batch {
		_, err := tx.SetCaseState(ctx, id, dir, to, from...)
		return err
	}
	key := fmt.Sprint(dir, to, from)
	tx.states = append(tx.states, keptState{id: id, key: key, dir: dir, to: to, from: from})
	return nil
}

// flushStates writes the kept state changes, one statement per run of changes alike (in
// the order they were made, so that two changes of one case keep theirs).
func (tx *Tx) flushStates(ctx context.Context) error {
	kept := tx.states
	tx.states = nil
	at := tx.db.dialect.timeArg(tx.db.now())
	for lo := 0; lo < len(kept); {
		hi := lo + 1
		for hi < len(kept) && kept[hi].key == kept[lo].key && hi-lo < maxVarsPerStatement/2 {
			hi++
		}
		s := kept[lo]
		query := "UPDATE cases SET state = ?, updated_at = ?, " + slaTouch + repliedStamp(s.to) + " WHERE direction = ?"
		args := []any{string(s.to), at, tx.db.slaNowArg()}
		if s.to == yipanqi.CaseReplied {
			args = append(args, at)
		}
		args = append(args, string(s.dir))
		if len(s.from) > 0 {
			query += " AND state IN (?" + strings.Repeat(", ?", len(s.from)-1) + ")"
			for _, f := range s.from {
				args = append(args, string(f))
			}
		}
		query += " AND id IN (?" + strings.Repeat(", ?", hi-lo-1) + ")"
		for _, k := range kept[lo:hi] {
			args = append(args, k.id)
		}
		if _, err := tx.q.exec(ctx, query, args...); err != nil {
			return fmt.Errorf("set state of %d cases: %w", hi-lo, err)
		}
		lo = hi
	}
	return nil
}

// LogMessage adds m to the message log with its envelope hash and ypqreplyto; RecordedAt is
// set now. ECONFLICT when the log already holds the id in that direction.
func (tx *Tx) LogMessage(ctx context.Context, m *yipanqi.Message, hash, replyTo string) error {
	if m.ID == "" || (m.Direction != yipanqi.Incoming && m.Direction != yipanqi.Outgoing) {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "id", "消息编号或方向无效")
	}
	m.RecordedAt = tx.db.now()
	row := []any{m.ID, m.CaseID, string(m.Direction), m.Type, m.Source, m.Dest, m.Body, tx.db.dialect.timeArg(m.RecordedAt), hash, replyTo}
	if tx.batch {
		tx.msgs = append(tx.msgs, row)
		return nil
	}
	_, err := tx.q.exec(ctx, "INSERT INTO messages ("+messageColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row...)
	if tx.db.dialect.violation(err) == uniqueViolation {
		return yipanqi.FieldErrorf(yipanqi.ECONFLICT, "id", "消息“%s”已记录", m.ID)
	}
	if err != nil {
		return fmt.Errorf("log message %s: %w", m.ID, err)
	}
	return nil
}

// LinkMessage records that the logged message with the id and direction concerns the cases
// as well: a message shared by several cases (a batch receipt) is logged once with an empty case_id
// and linked to each, and CaseMessages lists it for every one of them. A case named twice is
// linked once. In a batch transaction the links are written when fn returns, after the
// messages.
func (tx *Tx) LinkMessage(ctx context.Context, id string, dir yipanqi.Direction, caseIDs []string) error {
	if id == "" || (dir != yipanqi.Incoming && dir != yipanqi.Outgoing) {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "id", "消息编号或方向无效")
	}
	seen := make(map[string]bool, len(caseIDs))
	var rows [][]any
	for _, c := range caseIDs {
		if c != "" && !seen[c] {
			seen[c] = true
			rows = append(rows, []any{id, string(dir), c})
		}
	}
	if tx.batch {
		tx.links = append(tx.links, rows...)
		return nil
	}
	if err := insertRows(ctx, tx.db, tx.q, "INSERT INTO message_cases (message_id, direction, case_id) VALUES ", rows); err != nil {
		return fmt.Errorf("link message %s: %w", id, tx.db.dialect.classify(err))
	}
	return nil
}

// Enqueue logs the outgoing message m and puts it in the outbox under the NATS subject, due
// at once, so that it is published only if the transaction commits.
func (tx *Tx) Enqueue(ctx context.Context, m *yipanqi.Message, hash, replyTo, subject string) error {
	m.Direction = yipanqi.Outgoing
	if err := tx.LogMessage(ctx, m, hash, replyTo); err != nil {
		return err
	}
	t := tx.db.dialect.timeArg
	row := []any{m.ID, subject, m.Body, t(m.RecordedAt), t(m.RecordedAt)}
	if tx.batch {
		tx.outbox = append(tx.outbox, row)
		return nil
	}
	_, err := tx.q.exec(ctx, "INSERT INTO outbox (message_id, subject, body, next_attempt, created_at) VALUES (?, ?, ?, ?, ?)", row...)
	if err != nil {
		return fmt.Errorf("enqueue %s: %w", m.ID, tx.db.dialect.classify(err))
	}
	return nil
}

// Message returns the logged message with the id and direction. ENOTFOUND when there is none.
func (tx *Tx) Message(ctx context.Context, id string, dir yipanqi.Direction) (*LoggedMessage, error) {
	m, err := scanMessage(tx.q.row(ctx, "SELECT "+messageColumns+" FROM messages WHERE id = ? AND direction = ?", id, string(dir)))
	if err != nil {
		return nil, notFound(fmt.Errorf("message %s: %w", id, err), "未找到消息“%s”", id)
	}
	return m, nil
}

// MessageByHash returns the logged message of the direction whose envelope has the hash — the
// message a reply or receipt names in ypqreplyto. ENOTFOUND when there is none.
func (tx *Tx) MessageByHash(ctx context.Context, hash string, dir yipanqi.Direction) (*LoggedMessage, error) {
	if hash == "" {
		return nil, yipanqi.Errorf(yipanqi.ENOTFOUND, "未找到所引用的消息")
	}
	if m := tx.byHash[hash]; m != nil && dir == tx.byHashDir {
		c := *m
		return &c, nil
	}
	m, err := scanMessage(tx.q.row(ctx, "SELECT "+messageColumns+" FROM messages WHERE hash = ? AND hash <> '' AND direction = ? ORDER BY recorded_at LIMIT 1",
		hash, string(dir)))
	if err != nil {
		return nil, notFound(fmt.Errorf("message by hash: %w", err), "未找到所引用的消息")
	}
	return m, nil
}

// PrefetchByHash reads, in one query, the logged messages of the direction whose envelopes
// have the hashes, so that the MessageByHash calls that follow in the transaction for them
// need no round trip each. A hash not found is looked up again by MessageByHash.
func (tx *Tx) PrefetchByHash(ctx context.Context, hashes []string, dir yipanqi.Direction) error {
	uniq := make([]any, 0, len(hashes)+1)
	uniq = append(uniq, string(dir))
	seen := make(map[string]bool, len(hashes))
	for _, h := range hashes {
		if h != "" && !seen[h] {
			seen[h] = true
			uniq = append(uniq, h)
		}
	}
	if len(uniq) == 1 {
		return nil
	}
	tx.byHash, tx.byHashDir = make(map[string]*LoggedMessage, len(uniq)-1), dir
	for lo := 1; lo < len(uniq); lo += maxVarsPerStatement {
		chunk := append([]any{uniq[0]}, uniq[lo:min(lo+maxVarsPerStatement, len(uniq))]...)
		rows, err := tx.q.query(ctx, "SELECT "+messageColumns+" FROM messages WHERE direction = ? AND hash <> '' AND hash IN (?"+
			strings.Repeat(", ?", len(chunk)-2)+") ORDER BY recorded_at", chunk...)
		if err != nil {
			return fmt.Errorf("messages by hash: %w", err)
		}
		for rows.Next() {
			m, err := scanMessage(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("messages by hash: %w", err)
			}
			if tx.byHash[m.Hash] == nil {
				tx.byHash[m.Hash] = m
			}
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("messages by hash: %w", err)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("messages by hash: %w", err)
		}
	}
	return nil
}

// RequestMessage returns the message that opened a case: the first logged message of the
// case in direction dir, of the case's type, that answers nothing. ENOTFOUND when there is
// none.
func (tx *Tx) RequestMessage(ctx context.Context, caseID string, dir yipanqi.Direction, typ string) (*LoggedMessage, error) {
	m, err := scanMessage(tx.q.row(ctx, "SELECT "+messageColumns+` FROM messages
		WHERE case_id = ? AND direction = ? AND type = ? AND reply_to = '' ORDER BY recorded_at LIMIT 1`,
		caseID, string(dir), typ))
	if err != nil {
		return nil, notFound(fmt.Errorf("request of case %s: %w", caseID, err), "未找到案件“%s”的来文", caseID)
	}
	return m, nil
}

// Audit adds an audit entry that commits with the transaction. EINVALID without an actor or
// an action. The entry is written when the function given to InTx returns (see InTx), which
// sets its ID; the sealer chains it after the commit.
func (tx *Tx) Audit(_ context.Context, e *yipanqi.AuditEntry) error {
	if err := tx.db.checkAudit(e); err != nil {
		return err
	}
	tx.audits = append(tx.audits, e)
	return nil
}

// DeadLetter keeps d (ReceivedAt is set now) unless a dead letter with the same body is
// already kept, and reports whether it added one: a redelivered bad message is kept once and
// its sender told once.
func (tx *Tx) DeadLetter(ctx context.Context, d *yipanqi.DeadLetter) (added bool, err error) {
	if d.Reason == "" {
		return false, yipanqi.FieldErrorf(yipanqi.EINVALID, "reason", "死信缺少原因")
	}
	sum := sha256.Sum256(d.Body)
	d.ReceivedAt = tx.db.now()
	body := d.Body
	if body == nil {
		body = []byte{}
	}
	err = tx.q.row(ctx, `INSERT INTO dead_letters (message_id, source, subject, reason, body, received_at, body_hash, notice_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (body_hash) WHERE body_hash <> '' DO NOTHING RETURNING id`,
		d.MessageID, d.Source, d.Subject, d.Reason, body, tx.db.dialect.timeArg(d.ReceivedAt), hex.EncodeToString(sum[:]), d.NoticeID).Scan(&d.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("dead letter: %w", err)
	}
	return true, nil
}

// SendCase stores a new outgoing case, logs its first message m, puts m in the outbox under
// subject and appends the audit entry e (its Object defaults to the case id), all in one
// transaction: the case exists if and only if its message will be published. hash is
// exchange.Hash of m's envelope. Errors as for Tx.CreateCase.
func (db *DB) SendCase(ctx context.Context, c *yipanqi.Case, m *yipanqi.Message, hash, subject string, e *yipanqi.AuditEntry) error {
	return db.InTx(ctx, func(tx *Tx) error {
		if err := tx.CreateCase(ctx, c); err != nil {
			return err
		}
		m.CaseID = c.ID
		if err := tx.Enqueue(ctx, m, hash, "", subject); err != nil {
			return err
		}
		if e.Object == "" {
			e.Object = c.ID
		}
		if e.OrgUnit == "" {
			e.OrgUnit = c.OrgUnit
		}
		return tx.Audit(ctx, e)
	})
}

// ReceiveMessage records in's envelope id in the inbox and runs apply in the same
// transaction, so the message's effect commits exactly when its inbox row does. When the
// inbox already holds the id, apply is not run and applied is false with a nil error: the
// message was applied before (a redelivery) and only needs acknowledging. Two consumers
// receiving the same message at once are serialised by the inbox key: on PostgreSQL the
// second insert waits for the first transaction and then finds the row; on SQLite the
// transactions queue on the write lock. An error from apply rolls everything back and is
// returned as is.
func (db *DB) ReceiveMessage(ctx context.Context, in *yipanqi.InboxItem, apply func(tx *Tx) error) (applied bool, err error) {
	err = db.InTx(ctx, func(tx *Tx) error {
		in.ReceivedAt = db.now()
		res, err := tx.q.exec(ctx, "INSERT INTO inbox (message_id, source, type, received_at) VALUES (?, ?, ?, ?) ON CONFLICT (message_id) DO NOTHING",
			in.MessageID, in.Source, in.Type, db.dialect.timeArg(in.ReceivedAt))
		if err != nil {
			return fmt.Errorf("inbox %s: %w", in.MessageID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("inbox %s: %w", in.MessageID, err)
		} else if n == 0 {
			return nil
		}
		applied = true
		return apply(tx)
	})
	if err != nil {
		return false, err
	}
	return applied, nil
}

// Inbox records the envelope ids of items in the inbox, in one statement, and reports for
// each whether it was new — fresh[i] false means the message was applied before, or that an
// earlier item of the same call has the same id. Only a fresh message's effect may be applied
// in the transaction; with the inbox row it commits exactly once. The rows are inserted in
// the order of their ids, so that two transactions receiving overlapping sets (two consumers
// on one PostgreSQL database, a redelivery) wait for each other instead of deadlocking.
func (tx *Tx) Inbox(ctx context.Context, items []*yipanqi.InboxItem) (fresh []bool, err error) {
	fresh = make([]bool, len(items))
	if len(items) == 0 {
		return fresh, nil
	}
	order := make([]int, len(items))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return items[order[a]].MessageID < items[order[b]].MessageID })
	now := tx.db.now()
	at := tx.db.dialect.timeArg(now)
	const perInsert = 1000 // 4 values each: far below either database's limit
	for lo := 0; lo < len(order); lo += perInsert {
		chunk := order[lo:min(lo+perInsert, len(order))]
		var b strings.Builder
		b.WriteString("INSERT INTO inbox (message_id, source, type, received_at) VALUES ")
		args := make([]any, 0, 4*len(chunk))
		for k, i := range chunk {
			if k > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?)")
			items[i].ReceivedAt = now
			args = append(args, items[i].MessageID, items[i].Source, items[i].Type, at)
		}
		b.WriteString(" ON CONFLICT (message_id) DO NOTHING RETURNING message_id")
		rows, err := tx.q.query(ctx, b.String(), args...)
		if err != nil {
			return nil, fmt.Errorf("inbox: %w", err)
		}
		added := make(map[string]bool, len(chunk))
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("inbox: %w", err)
			}
			added[id] = true
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("inbox: %w", err)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("inbox: %w", err)
		}
		for _, i := range chunk {
			if added[items[i].MessageID] {
				fresh[i] = true
				delete(added, items[i].MessageID) // a second item with the id is a duplicate
			}
		}
	}
	return fresh, nil
}

// Received reports whether the inbox holds the envelope id, that is whether the message was
// applied.
func (db *DB) Received(ctx context.Context, messageID string) (bool, error) {
	var n int
	if err := db.q().row(ctx, "SELECT COUNT(*) FROM inbox WHERE message_id = ?", messageID).Scan(&n); err != nil {
		return false, fmt.Errorf("inbox: %w", err)
	}
	return n > 0, nil
}

const outboxColumns = "id, message_id, subject, body, attempts, next_attempt, last_error, created_at, sent_at"

// ClaimOutbox takes up to limit unsent outbox rows that are due at now and not claimed by
// another relay, and claims them until now+lease: no other ClaimOutbox returns them before
// then, unless MarkFailed releases them. Rows come oldest due first. On PostgreSQL the rows
// are picked with FOR UPDATE SKIP LOCKED, so relays of several replicas on one database take
// disjoint batches without waiting for each other; on SQLite the claiming transaction holds
// the write lock (one writer at a time).
func (db *DB) ClaimOutbox(ctx context.Context, limit int, now time.Time, lease time.Duration) ([]*yipanqi.OutboxItem, error) {
	return db.MarkSentAndClaim(ctx, nil, time.Time{}, limit, now, lease)
}

// MarkSentAndClaim is MarkSent(ids, sentAt) and ClaimOutbox(limit, now, lease) in one
// transaction, one commit instead of two: a relay marks the batch it published and claims
// the next. The rows marked are not claimed again (they are sent).
func (db *DB) MarkSentAndClaim(ctx context.Context, ids []int64, sentAt time.Time, limit int, now time.Time, lease time.Duration) ([]*yipanqi.OutboxItem, error) {
	if limit <= 0 {
		limit = 100
	}
	t := db.dialect.timeArg
	var out []*yipanqi.OutboxItem
	err := db.inTx(ctx, func(qq q) error {
		if err := markSent(ctx, db, qq, ids, sentAt); err != nil {
			return err
		}
		out = out[:0]
		rows, err := qq.query(ctx, `UPDATE outbox SET claimed_until = ? WHERE id IN (
			SELECT id FROM outbox WHERE sent_at IS NULL AND next_attempt <= ?
				AND (claimed_until IS NULL OR claimed_until <= ?)
			ORDER BY next_attempt, id LIMIT ?`+db.dialect.skipLocked()+`)
			RETURNING `+outboxColumns,
			t(now.Add(lease)), t(now), t(now), limit)
		if err != nil {
			return fmt.Errorf("claim outbox: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			it := &yipanqi.OutboxItem{}
			if err := rows.Scan(&it.ID, &it.MessageID, &it.Subject, &it.Body, &it.Attempts, timeCol{&it.NextAttempt},
				&it.LastError, timeCol{&it.CreatedAt}, timeCol{&it.SentAt}); err != nil {
				return fmt.Errorf("claim outbox: %w", err)
			}
			out = append(out, it)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// MarkSent records that the outbox rows with the ids were published (stored by the
// destination stream) at `at`. Marking a row twice keeps the first time.
func (db *DB) MarkSent(ctx context.Context, ids []int64, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	unlock, err := db.lockWriter(ctx)
	if err != nil {
		return fmt.Errorf("mark sent: %w", err)
	}
	defer unlock()
	return markSent(ctx, db, db.q(), ids, at)
}

func markSent(ctx context.Context, db *DB, qq q, ids []int64, at time.Time) error {
	for lo := 0; lo < len(ids); lo += maxVarsPerStatement {
		chunk := ids[lo:min(lo+maxVarsPerStatement, len(ids))]
		args := make([]any, 0, len(chunk)+1)
		args = append(args, db.dialect.timeArg(at))
		for _, id := range chunk {
			args = append(args, id)
		}
		_, err := qq.exec(ctx, "UPDATE outbox SET sent_at = ?, claimed_until = NULL WHERE sent_at IS NULL AND id IN (?"+
			strings.Repeat(", ?", len(chunk)-1)+")", args...)
		if err != nil {
			return fmt.Errorf("mark sent: %w", err)
		}
	}
	return nil
}

// MarkFailed records a failed publish of the outbox row: attempts+1, the error text, and the
// next attempt at next (the relay's backoff); the claim is released.
func (db *DB) MarkFailed(ctx context.Context, id int64, lastError string, next time.Time) error {
	if len(lastError) > 1000 {
		lastError = lastError[:1000]
	}
	unlock, err := db.lockWriter(ctx)
	if err != nil {
		return fmt.Errorf("mark failed %d: %w", id, err)
	}
	defer unlock()
	_, err = db.q().exec(ctx, "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt = ?, claimed_until = NULL WHERE id = ? AND sent_at IS NULL",
		lastError, db.dialect.timeArg(next), id)
	if err != nil {
		return fmt.Errorf("mark failed %d: %w", id, err)
	}
	return nil
}

// Outbox returns the outbox row of the message id. ENOTFOUND when there is none.
func (db *DB) Outbox(ctx context.Context, messageID string) (*yipanqi.OutboxItem, error) {
	it := &yipanqi.OutboxItem{}
	err := db.q().row(ctx, "SELECT "+outboxColumns+" FROM outbox WHERE message_id = ?", messageID).Scan(
		&it.ID, &it.MessageID, &it.Subject, &it.Body, &it.Attempts, timeCol{&it.NextAttempt},
		&it.LastError, timeCol{&it.CreatedAt}, timeCol{&it.SentAt})
	if err != nil {
		return nil, notFound(fmt.Errorf("outbox %s: %w", messageID, err), "发件箱中没有消息“%s”", messageID)
	}
	return it, nil
}

// DeadLetter keeps a dead letter in a transaction of its own; see Tx.DeadLetter.
func (db *DB) DeadLetter(ctx context.Context, d *yipanqi.DeadLetter) (added bool, err error) {
	err = db.InTx(ctx, func(tx *Tx) error {
		added, err = tx.DeadLetter(ctx, d)
		return err
	})
	return added, err
}

// DeadLetters returns the newest dead letters, newest first, for administrators; limit 0
// means 100.
func (db *DB) DeadLetters(ctx context.Context, limit int) ([]*yipanqi.DeadLetter, error) {
	rows, err := db.q().query(ctx, `SELECT id, message_id, source, subject, reason, body, notice_id, received_at
		FROM dead_letters ORDER BY id DESC LIMIT ?`, pageLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	defer rows.Close()
	var out []*yipanqi.DeadLetter
	for rows.Next() {
		d := &yipanqi.DeadLetter{}
		if err := rows.Scan(&d.ID, &d.MessageID, &d.Source, &d.Subject, &d.Reason, &d.Body, &d.NoticeID, timeCol{&d.ReceivedAt}); err != nil {
			return nil, fmt.Errorf("dead letters: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// CaseMessages returns the message log of a case held by a unit in scope, oldest first,
// messages shared with other cases (a batch receipt, LinkMessage) included.
// ENOTFOUND when the case is not in scope; EFORBIDDEN for the zero Scope.
func (db *DB) CaseMessages(ctx context.Context, scope yipanqi.Scope, caseID string) ([]*LoggedMessage, error) {
	if _, err := db.FindCase(ctx, scope, caseID); err != nil {
		return nil, err
	}
	// The case's own messages, and those it shares with other cases (LinkMessage), which
	// are logged with case_id ''.
	rows, err := db.q().query(ctx, "SELECT "+messageColumns+" FROM messages WHERE case_id = ? UNION ALL SELECT "+messageColumns+
		" FROM messages WHERE case_id = '' AND (id, direction) IN (SELECT message_id, direction FROM message_cases WHERE case_id = ?)"+
		" ORDER BY recorded_at, direction, id", caseID, caseID)
	if err != nil {
		return nil, fmt.Errorf("case messages: %w", err)
	}
	defer rows.Close()
	var out []*LoggedMessage
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, fmt.Errorf("case messages: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// ExchangeStats returns the outbox depth, the age at now of the oldest unsent message and
// the number of dead letters.
func (db *DB) ExchangeStats(ctx context.Context, now time.Time) (yipanqi.ExchangeStats, error) {
	var s yipanqi.ExchangeStats
	var oldest time.Time
	if err := db.q().row(ctx, "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE sent_at IS NULL").Scan(&s.OutboxDepth, timeCol{&oldest}); err != nil {
		return s, fmt.Errorf("exchange stats: outbox: %w", err)
	}
	if !oldest.IsZero() && now.After(oldest) {
		s.OldestUnsentAge = now.Sub(oldest)
	}
	if err := db.q().row(ctx, "SELECT COUNT(*) FROM dead_letters").Scan(&s.DeadLetters); err != nil {
		return s, fmt.Errorf("exchange stats: dead letters: %w", err)
	}
	return s, nil
}
