package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"yipanqi"
)

// Retention (SCOPE.md: closed cases and messages are kept for a configured period and then
// anonymised; statistics survive as aggregates). docs/retention.md has the decisions.
//
// A case is anonymised when it has ended (replied, closed, transferred, withdrawn, rejected)
// and nothing has happened to it since the cut-off: its last change (updated_at), the last
// step on its timeline and the last message of its log all lie before it. A replied case
// whose sender may still act (a cert.reissue's arrival and hand-over, a withdrawal crossing
// the reply) therefore counts from that last step. Anonymising clears the person's ID
// number and replaces the request's data by AnonymisedData; the columns the deadline clock
// and the assessment fold (id, type, direction, org_unit, peer, state, received/due/replied
// times, overdue) and sla_next are not touched, so the kept aggregates stay equal to a
// recomputation and the sweep has nothing to fold.

// AnonymisedData is the data of an anonymised case: one key the web page and the API show
// as it is, no personal data.
const AnonymisedData = `{"保存期限":"已按保存期限匿名化"}`

// AnonymisedBody replaces the body of each logged message of an anonymised case: the signed
// envelope carried the request's or the reply's personal data.
var AnonymisedBody = []byte(`{"retention":"已按保存期限匿名化"}`)

// endedStates are the states a case no longer leaves by itself, for SQL; the partial index
// cases_retention (migration 0013) has the same list, word for word.
const endedStates = "('replied', 'closed', 'transferred', 'withdrawn', 'rejected')"

// keptNoteKinds are the timeline events whose notes the engine writes from codes and labels
// (a reply's label, a receipt's time, the consent's number): they are kept. Every other
// kind's note — reasons typed by staff, notice and certificate numbers, unknown kinds — is
// cleared.
const keptNoteKinds = "('sent', 'received', 'receipted', 'replied', 'reply_received', 'acknowledged', 'auto_answered')"

// RetentionResult says what a retention run changed (or, dry, would change).
type RetentionResult struct {
	Cutoff      time.Time
	Cases       int64 // cases anonymised
	Messages    int64 // logged messages whose body was replaced
	Outbox      int64 // sent outbox rows of those messages deleted
	Notes       int64 // timeline notes cleared
	Consents    int64 // revoked consents deleted
	DeadLetters int64 // dead letters deleted
	Batches     int   // transactions committed (each with its audit entry)
}

// retentionActor is the audit actor of a retention run: a program, not a person.
const retentionActor = "system:retention"

// retentionCandidates is the condition on cases c that makes one due for anonymising at the
// cut-off (three arguments, the cut-off each time).
const retentionCandidates = `c.anonymised_at IS NULL AND c.state IN ` + endedStates + ` AND c.updated_at < ?
	AND NOT EXISTS (SELECT 1 FROM case_events e WHERE e.case_id = c.id AND e.at >= ?)
	AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.case_id = c.id AND m.recorded_at >= ?)`

// ApplyRetention anonymises the cases that ended before cutoff, batch cases per transaction
// (at least 1; 500 when batch <= 0), then deletes revoked consents and dead letters older
// than cutoff, and returns what it changed. Each transaction writes an audit entry
// "retention.anonymise" with the numbers and the cut-off, and no personal data. A second
// run with the same cut-off changes nothing. It stops between batches when ctx ends.
func (db *DB) ApplyRetention(ctx context.Context, cutoff time.Time, batch int) (RetentionResult, error) {
	if batch <= 0 {
		batch = 500
	}
	cutoff = cutoff.UTC().Truncate(time.Microsecond)
	res := RetentionResult{Cutoff: cutoff}
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		var b RetentionResult
		n, err := db.retentionBatch(ctx, cutoff, batch, &b)
		if err != nil {
			return res, err
		}
		if n == 0 {
			break
		}
		res.add(b)
		if n < batch {
			break
		}
	}
	for _, step := range []func(context.Context, time.Time, int, *RetentionResult) (int, error){db.purgeConsents, db.purgeDeadLetters} {
		for {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			var b RetentionResult
			n, err := step(ctx, cutoff, batch, &b)
			if err != nil {
				return res, err
			}
			if n == 0 {
				break
			}
			res.add(b)
			if n < batch {
				break
			}
		}
	}
	return res, nil
}

func (r *RetentionResult) add(b RetentionResult) {
	r.Cases += b.Cases
	r.Messages += b.Messages
	r.Outbox += b.Outbox
	r.Notes += b.Notes
	r.Consents += b.Consents
	r.DeadLetters += b.DeadLetters
	r.Batches++
}

// RetentionDue counts what ApplyRetention would change at cutoff, changing nothing (the
// numbers of cases, revoked consents and dead letters; message bodies and notes follow the
// cases).
func (db *DB) RetentionDue(ctx context.Context, cutoff time.Time) (RetentionResult, error) {
	cutoff = cutoff.UTC().Truncate(time.Microsecond)
	res := RetentionResult{Cutoff: cutoff}
	t := db.dialect.timeArg(cutoff)
	if err := db.q().row(ctx, "SELECT COUNT(*) FROM cases c WHERE "+retentionCandidates, t, t, t).Scan(&res.Cases); err != nil {
		return res, fmt.Errorf("retention: count cases: %w", err)
	}
	// The consents a run would delete: after it, the people of the due cases have none left.
	if err := db.q().row(ctx, `SELECT COUNT(*) FROM consents k WHERE k.revoked_at IS NOT NULL AND k.revoked_at < ?
		AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.person_id_number = k.id_number AND NOT (`+retentionCandidates+`))`,
		t, t, t, t).Scan(&res.Consents); err != nil {
		return res, fmt.Errorf("retention: count consents: %w", err)
	}
	if err := db.q().row(ctx, "SELECT COUNT(*) FROM dead_letters WHERE received_at < ?", t).Scan(&res.DeadLetters); err != nil {
		return res, fmt.Errorf("retention: count dead letters: %w", err)
	}
	return res, nil
}

// retentionBatch anonymises up to batch due cases, their messages, sent outbox rows and
// timeline notes, with the audit entry, in one transaction, and returns how many cases.
func (db *DB) retentionBatch(ctx context.Context, cutoff time.Time, batch int, res *RetentionResult) (int, error) {
	t := db.dialect.timeArg
	n := 0
	err := db.inTx(ctx, func(qq q) error {
		*res = RetentionResult{Cutoff: cutoff}
		rows, err := qq.query(ctx, "SELECT c.id FROM cases c WHERE "+retentionCandidates+
			" ORDER BY c.updated_at, c.id LIMIT ?"+db.dialect.skipLocked(), t(cutoff), t(cutoff), t(cutoff), batch)
		if err != nil {
			return fmt.Errorf("retention: select cases: %w", err)
		}
		var ids []any
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("retention: select cases: %w", err)
			}
			ids = append(ids, id)
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("retention: select cases: %w", err)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("retention: select cases: %w", err)
		}
		n = len(ids)
		if n == 0 {
			return nil
		}
		in := "(?" + strings.Repeat(", ?", n-1) + ")"
		now := t(db.now())
		exec := func(what, query string, args ...any) (int64, error) {
			r, err := qq.exec(ctx, query, args...)
			if err != nil {
				return 0, fmt.Errorf("retention: %s: %w", what, err)
			}
			return r.RowsAffected()
		}
		// The case row: only the personal data and the mark.
		if res.Cases, err = exec("cases", "UPDATE cases SET person_id_number = '', data = ?, anonymised_at = ? WHERE anonymised_at IS NULL AND id IN "+in,
			append([]any{AnonymisedData, now}, ids...)...); err != nil {
			return err
		}
		// Messages, outbox rows and notes belong to a case id; they go once no row of the id
		// remains un-anonymised.
		allGone := "NOT EXISTS (SELECT 1 FROM cases x WHERE x.id = %s AND x.anonymised_at IS NULL)"
		if res.Outbox, err = exec("outbox", "DELETE FROM outbox WHERE sent_at IS NOT NULL AND message_id IN (SELECT m.id FROM messages m WHERE m.case_id IN "+
			in+" AND "+fmt.Sprintf(allGone, "m.case_id")+")", ids...); err != nil {
			return err
		}
		if res.Messages, err = exec("messages", "UPDATE messages SET body = ? WHERE body <> ? AND case_id IN "+in+" AND "+fmt.Sprintf(allGone, "messages.case_id"),
			append([]any{AnonymisedBody, AnonymisedBody}, ids...)...); err != nil {
			return err
		}
		// A message shared by several cases (a batch receipt, linked in message_cases) goes
		// once every case it concerns is anonymised.
		sharedGone := "case_id = '' AND (%[1]s.id, %[1]s.direction) IN (SELECT l.message_id, l.direction FROM message_cases l WHERE l.case_id IN " + in +
			") AND NOT EXISTS (SELECT 1 FROM message_cases l JOIN cases x ON x.id = l.case_id WHERE l.message_id = %[1]s.id AND l.direction = %[1]s.direction AND x.anonymised_at IS NULL)"
		n, err := exec("outbox", "DELETE FROM outbox WHERE sent_at IS NOT NULL AND message_id IN (SELECT m.id FROM messages m WHERE m.direction = 'out' AND "+
			fmt.Sprintf(sharedGone, "m")+")", ids...)
		if err != nil {
			return err
		}
		res.Outbox += n
		if n, err = exec("messages", "UPDATE messages SET body = ? WHERE body <> ? AND "+fmt.Sprintf(sharedGone, "messages"),
			append([]any{AnonymisedBody, AnonymisedBody}, ids...)...); err != nil {
			return err
		}
		res.Messages += n
		if res.Notes, err = exec("notes", "UPDATE case_events SET note = '' WHERE note <> '' AND kind NOT IN "+keptNoteKinds+" AND case_id IN "+in+
			" AND "+fmt.Sprintf(allGone, "case_events.case_id"), ids...); err != nil {
			return err
		}
		return db.audit(ctx, qq, &yipanqi.AuditEntry{Actor: retentionActor, Action: "retention.anonymise", Object: "cases",
			Reason: fmt.Sprintf("截止 %s：匿名化案件 %d 件，消息 %d 条，已发送的发件箱记录 %d 条，办理记录备注 %d 条",
				cutoff.Format(time.RFC3339), res.Cases, res.Messages, res.Outbox, res.Notes)})
	})
	return n, err
}

// purgeConsents deletes up to batch consents revoked before cutoff whose person has no case
// left that is not anonymised: the record of the person's choice is kept while data shared
// under it, or the choice itself, stands (docs/retention.md).
func (db *DB) purgeConsents(ctx context.Context, cutoff time.Time, batch int, res *RetentionResult) (int, error) {
	return db.purge(ctx, "consents", `SELECT k.id FROM consents k WHERE k.revoked_at IS NOT NULL AND k.revoked_at < ?
		AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.person_id_number = k.id_number) ORDER BY k.id LIMIT ?`,
		cutoff, batch, &res.Consents, "截止 %s：删除已撤回且本人案件均已匿名化的单独同意 %d 条")
}

// purgeDeadLetters deletes up to batch dead letters received before cutoff.
func (db *DB) purgeDeadLetters(ctx context.Context, cutoff time.Time, batch int, res *RetentionResult) (int, error) {
	return db.purge(ctx, "dead_letters", "SELECT id FROM dead_letters WHERE received_at < ? ORDER BY id LIMIT ?",
		cutoff, batch, &res.DeadLetters, "截止 %s：删除死信 %d 条")
}

// purge deletes the rows of table whose integer ids pick (arguments: the cut-off, the batch)
// returns, with an audit entry "retention.purge" (reason: format of the cut-off and the
// number), in one transaction, and returns how many.
func (db *DB) purge(ctx context.Context, table, pick string, cutoff time.Time, batch int, count *int64, format string) (int, error) {
	n := 0
	err := db.inTx(ctx, func(qq q) error {
		r, err := qq.exec(ctx, "DELETE FROM "+table+" WHERE id IN ("+pick+")", db.dialect.timeArg(cutoff), batch)
		if err != nil {
			return fmt.Errorf("retention: %s: %w", table, err)
		}
		if *count, err = r.RowsAffected(); err != nil {
			return fmt.Errorf("retention: %s: %w", table, err)
		}
		n = int(*count)
		if n == 0 {
			return nil
		}
		return db.audit(ctx, qq, &yipanqi.AuditEntry{Actor: retentionActor, Action: "retention.purge", Object: table,
			Reason: fmt.Sprintf(format, cutoff.Format(time.RFC3339), n)})
	})
	return n, err
}
