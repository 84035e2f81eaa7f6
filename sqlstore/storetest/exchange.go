package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"yipanqi"
	"yipanqi/sqlstore"
)

// exchangeTests are the store behaviours the exchange engine rests on (docs/exchange-engine.md).
var exchangeTests = []struct {
	name string
	fn   func(t *testing.T, open func(t *testing.T) *sqlstore.DB)
}{
	{"SendCaseCommitsTogether", testSendCaseCommitsTogether},
	{"OutboxClaimLeaseRetry", testOutboxClaimLeaseRetry},
	{"OutboxConcurrentClaims", testOutboxConcurrentClaims},
	{"ReceiveMessageOnce", testReceiveMessageOnce},
	{"ReceiveMessageConcurrent", testReceiveMessageConcurrent},
	{"RecordReceipt", testRecordReceipt},
	{"MessageLookups", testMessageLookups},
	{"DeadLetters", testDeadLetters},
}

func runExchange(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	for _, tt := range exchangeTests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open) })
	}
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// sendOne stores an outgoing case with one message in the outbox and returns both.
func sendOne(t *testing.T, db *sqlstore.DB, body string) (*yipanqi.Case, *yipanqi.Message) {
	t.Helper()
	c := &yipanqi.Case{Type: "verify.identity", Direction: yipanqi.Outgoing, OrgUnit: townshipA, PeerNode: "36",
		PeerUnit: hometown, State: yipanqi.CaseSent}
	m := &yipanqi.Message{ID: newID(), Type: "verify.identity", Source: "44", Dest: "36", Body: []byte(body)}
	err := db.SendCase(ctx(), c, m, "hash-"+m.ID, "ypq.36.44.verify.identity",
		&yipanqi.AuditEntry{Actor: "system:exchange", Action: "case.sent"})
	if err != nil {
		t.Fatalf("send case: %v", err)
	}
	return c, m
}

func testSendCaseCommitsTogether(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	c, m := sendOne(t, db, "body-1")
	if _, err := db.FindCase(ctx(), MustScope(t, county), c.ID); err != nil {
		t.Fatalf("case not stored: %v", err)
	}
	it, err := db.Outbox(ctx(), m.ID)
	if err != nil {
		t.Fatalf("outbox row: %v", err)
	}
	if it.Subject != "ypq.36.44.verify.identity" || string(it.Body) != "body-1" || !it.SentAt.IsZero() || it.Attempts != 0 {
		t.Fatalf("outbox row = %+v", it)
	}
	msgs, err := db.CaseMessages(ctx(), MustScope(t, county), c.ID)
	if err != nil || len(msgs) != 1 || msgs[0].ID != m.ID || msgs[0].Hash != "hash-"+m.ID || msgs[0].Direction != yipanqi.Outgoing {
		t.Fatalf("message log = %v (%v)", msgs, err)
	}
	if log, err := db.AuditLog(ctx(), c.ID, 0); err != nil || len(log) != 1 || log[0].Action != "case.sent" || log[0].OrgUnit != townshipA {
		t.Fatalf("audit = %v (%v)", log, err)
	}

	// The same case id again: nothing of the second attempt may remain.
	dup := *c
	m2 := &yipanqi.Message{ID: newID(), Type: "verify.identity", Source: "44", Dest: "36", Body: []byte("body-2")}
	err = db.SendCase(ctx(), &dup, m2, "h2", "ypq.36.44.verify.identity", &yipanqi.AuditEntry{Actor: "system:exchange", Action: "case.sent"})
	wantCode(t, err, yipanqi.ECONFLICT)
	_, err = db.Outbox(ctx(), m2.ID)
	wantCode(t, err, yipanqi.ENOTFOUND)
	if st, err := db.ExchangeStats(ctx(), db.Now()); err != nil || st.OutboxDepth != 1 {
		t.Fatalf("stats = %+v (%v), want depth 1", st, err)
	}
	if log, _ := db.AuditLog(ctx(), "", 0); len(log) != 1 {
		t.Fatalf("audit has %d entries after the failed send, want 1", len(log))
	}
	if _, err := db.VerifyAudit(ctx()); err != nil {
		t.Fatal(err)
	}
}

func testOutboxClaimLeaseRetry(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	var ids []string
	for i := range 5 {
		_, m := sendOne(t, db, fmt.Sprint("b", i))
		ids = append(ids, m.ID)
	}
	now := db.Now().Add(time.Second)
	const lease = time.Minute
	got, err := db.ClaimOutbox(ctx(), 3, now, lease)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].MessageID != ids[0] || got[2].MessageID != ids[2] {
		t.Fatalf("first claim = %v, want the three oldest", got)
	}
	// Claimed rows are not handed out again during the lease.
	rest, err := db.ClaimOutbox(ctx(), 10, now, lease)
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != 2 || rest[0].MessageID != ids[3] {
		t.Fatalf("second claim = %v, want the two others", rest)
	}
	if again, _ := db.ClaimOutbox(ctx(), 10, now.Add(lease/2), lease); len(again) != 0 {
		t.Fatalf("claimed %d rows inside the lease", len(again))
	}
	// One is published, one fails, the rest are abandoned by a relay that died.
	if err := db.MarkSent(ctx(), []int64{got[0].ID}, now); err != nil {
		t.Fatal(err)
	}
	retryAt := now.Add(10 * time.Second)
	if err := db.MarkFailed(ctx(), got[1].ID, "NATS 不可用", retryAt); err != nil {
		t.Fatal(err)
	}
	if due, _ := db.ClaimOutbox(ctx(), 10, now.Add(time.Second), lease); len(due) != 0 {
		t.Fatalf("claimed %v before the retry time and the lease end", due)
	}
	failed, err := db.ClaimOutbox(ctx(), 10, retryAt, lease)
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) != 1 || failed[0].ID != got[1].ID || failed[0].Attempts != 1 || failed[0].LastError != "NATS 不可用" {
		t.Fatalf("retry claim = %+v, want the failed row with one attempt", failed)
	}
	// After the lease, the rows of the dead relay come back; the sent one never does.
	after, err := db.ClaimOutbox(ctx(), 10, now.Add(lease+time.Second), lease)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 3 {
		t.Fatalf("after the lease claimed %d rows, want the 3 abandoned ones: %v", len(after), after)
	}
	for _, it := range after {
		if it.ID == got[0].ID || it.ID == got[1].ID {
			t.Fatalf("row %d claimed again (sent, or still leased by its retry)", it.ID)
		}
	}
	it, err := db.Outbox(ctx(), ids[0])
	if err != nil || !it.SentAt.Equal(now.UTC().Truncate(time.Microsecond)) {
		t.Fatalf("sent row = %+v (%v)", it, err)
	}
	st, err := db.ExchangeStats(ctx(), now.Add(time.Hour))
	if err != nil || st.OutboxDepth != 4 || st.OldestUnsentAge < time.Hour {
		t.Fatalf("stats = %+v (%v), want depth 4 and age ≥ 1h", st, err)
	}
}

// testOutboxConcurrentClaims: relays claiming at once never get the same row.
func testOutboxConcurrentClaims(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	const n = 120
	for i := range n {
		sendOne(t, db, fmt.Sprint("b", i))
	}
	now := db.Now().Add(time.Second)
	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				got, err := db.ClaimOutbox(ctx(), 7, now, time.Minute)
				if err != nil {
					errs <- err
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, it := range got {
					seen[it.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(seen) != n {
		t.Fatalf("claimed %d distinct rows, want %d", len(seen), n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Fatalf("row %d claimed %d times", id, k)
		}
	}
}

func testReceiveMessageOnce(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	msgID := newID()
	caseID := newID()
	apply := func(tx *sqlstore.Tx) error {
		if err := tx.CreateCase(ctx(), &yipanqi.Case{ID: caseID, Type: "verify.identity", Direction: yipanqi.Incoming,
			OrgUnit: townshipA, PeerNode: "36", State: yipanqi.CaseDelivered}); err != nil {
			return err
		}
		return tx.LogMessage(ctx(), &yipanqi.Message{ID: msgID, CaseID: caseID, Direction: yipanqi.Incoming,
			Type: "verify.identity", Source: "36", Dest: "44", Body: []byte("{}")}, "h", "")
	}
	in := &yipanqi.InboxItem{MessageID: msgID, Source: "36", Type: "verify.identity"}
	applied, err := db.ReceiveMessage(ctx(), in, apply)
	if err != nil || !applied {
		t.Fatalf("first receive: applied=%v err=%v", applied, err)
	}
	// A redelivery is "already applied", not an error, and apply does not run again.
	ran := false
	applied, err = db.ReceiveMessage(ctx(), in, func(tx *sqlstore.Tx) error { ran = true; return apply(tx) })
	if err != nil || applied || ran {
		t.Fatalf("second receive: applied=%v ran=%v err=%v", applied, ran, err)
	}
	if ok, err := db.Received(ctx(), msgID); err != nil || !ok {
		t.Fatalf("Received = %v, %v", ok, err)
	}

	// A failing effect leaves no inbox row, so the message is applied when it comes again.
	other := newID()
	boom := errors.New("boom")
	_, err = db.ReceiveMessage(ctx(), &yipanqi.InboxItem{MessageID: other, Source: "36", Type: "x"}, func(tx *sqlstore.Tx) error {
		if err := tx.LogMessage(ctx(), &yipanqi.Message{ID: other, Direction: yipanqi.Incoming, Type: "x", Source: "36", Dest: "44", Body: []byte("{}")}, "", ""); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the effect's error", err)
	}
	if ok, _ := db.Received(ctx(), other); ok {
		t.Fatal("inbox row committed although the effect failed")
	}
	applied, err = db.ReceiveMessage(ctx(), &yipanqi.InboxItem{MessageID: other, Source: "36", Type: "x"}, func(tx *sqlstore.Tx) error {
		return tx.LogMessage(ctx(), &yipanqi.Message{ID: other, Direction: yipanqi.Incoming, Type: "x", Source: "36", Dest: "44", Body: []byte("{}")}, "", "")
	})
	if err != nil || !applied {
		t.Fatalf("retry after failure: applied=%v err=%v", applied, err)
	}
}

// testReceiveMessageConcurrent: the same message handled by several consumers at once takes
// effect once.
func testReceiveMessageConcurrent(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	for round := range 10 {
		msgID := newID()
		var wg sync.WaitGroup
		var mu sync.Mutex
		applied := 0
		errs := make(chan error, 4)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := db.ReceiveMessage(ctx(), &yipanqi.InboxItem{MessageID: msgID, Source: "36", Type: "verify.identity"},
					func(tx *sqlstore.Tx) error {
						return tx.Audit(ctx(), &yipanqi.AuditEntry{Actor: "system:exchange", Action: "case.received", Object: msgID})
					})
				if err != nil {
					errs <- err
					return
				}
				if ok {
					mu.Lock()
					applied++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if applied != 1 {
			t.Fatalf("round %d: applied %d times", round, applied)
		}
		if log, _ := db.AuditLog(ctx(), msgID, 0); len(log) != 1 {
			t.Fatalf("round %d: %d audit entries", round, len(log))
		}
	}
}

func testRecordReceipt(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	c, _ := sendOne(t, db, "b")
	received := time.Date(2026, 3, 2, 1, 2, 3, 456789000, time.UTC)
	due := time.Date(2026, 3, 23, 15, 59, 59, 0, time.UTC)
	err := db.InTx(ctx(), func(tx *sqlstore.Tx) error {
		changed, err := tx.RecordReceipt(ctx(), c.ID, received, due, true)
		if err == nil && !changed {
			err = errors.New("first receipt not recorded")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.FindCase(ctx(), MustScope(t, townshipA), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != yipanqi.CaseDelivered || !got.ReceivedAt.Equal(received) || !got.DueAt.Equal(due) || !got.DueProvisional {
		t.Fatalf("case after receipt = %+v", got)
	}
	// A second receipt changes nothing; a reply that came first is not undone by a receipt.
	err = db.InTx(ctx(), func(tx *sqlstore.Tx) error {
		if changed, err := tx.RecordReceipt(ctx(), c.ID, received.Add(time.Hour), due.Add(time.Hour), false); err != nil || changed {
			return fmt.Errorf("second receipt: changed=%v err=%v", changed, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := db.FindCase(ctx(), MustScope(t, townshipA), c.ID); !got.ReceivedAt.Equal(received) {
		t.Fatalf("second receipt moved received_at to %v", got.ReceivedAt)
	}
	c3, _ := sendOne(t, db, "b3")
	err = db.InTx(ctx(), func(tx *sqlstore.Tx) error {
		if ok, err := tx.SetCaseState(ctx(), c3.ID, yipanqi.Outgoing, yipanqi.CaseReplied, yipanqi.CaseSent, yipanqi.CaseDelivered); err != nil || !ok {
			return fmt.Errorf("reply state: %v %v", ok, err)
		}
		if ok, err := tx.SetCaseState(ctx(), c3.ID, yipanqi.Outgoing, yipanqi.CaseRejected, yipanqi.CaseSent); err != nil || ok {
			return fmt.Errorf("rejected after replied: changed=%v err=%v", ok, err)
		}
		_, err := tx.RecordReceipt(ctx(), c3.ID, received, due, false)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = db.FindCase(ctx(), MustScope(t, townshipA), c3.ID)
	if got.State != yipanqi.CaseReplied || !got.ReceivedAt.Equal(received) {
		t.Fatalf("late receipt: case = %+v, want replied with received_at", got)
	}
}

func testMessageLookups(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	c, m := sendOne(t, db, "req")
	err := db.InTx(ctx(), func(tx *sqlstore.Tx) error {
		// The same envelope received by this node too (a case inside one node).
		if err := tx.LogMessage(ctx(), &yipanqi.Message{ID: m.ID, CaseID: "other", Direction: yipanqi.Incoming, Type: m.Type,
			Source: "44", Dest: "44", Body: m.Body}, "hash-"+m.ID, ""); err != nil {
			return err
		}
		return tx.LogMessage(ctx(), &yipanqi.Message{ID: newID(), CaseID: c.ID, Direction: yipanqi.Incoming, Type: "receipt",
			Source: "36", Dest: "44", Body: []byte("r")}, "hash-r", "hash-"+m.ID)
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.InTx(ctx(), func(tx *sqlstore.Tx) error {
		got, err := tx.MessageByHash(ctx(), "hash-"+m.ID, yipanqi.Outgoing)
		if err != nil || got.ID != m.ID || got.CaseID != c.ID || !bytes.Equal(got.Body, m.Body) {
			return fmt.Errorf("by hash out = %+v, %v", got, err)
		}
		if got, err := tx.MessageByHash(ctx(), "hash-"+m.ID, yipanqi.Incoming); err != nil || got.CaseID != "other" {
			return fmt.Errorf("by hash in = %+v, %v", got, err)
		}
		if _, err := tx.MessageByHash(ctx(), "nope", yipanqi.Outgoing); yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
			return fmt.Errorf("unknown hash: %v", err)
		}
		if got, err := tx.RequestMessage(ctx(), c.ID, yipanqi.Outgoing, "verify.identity"); err != nil || got.ID != m.ID {
			return fmt.Errorf("request = %+v, %v", got, err)
		}
		if got, err := tx.Case(ctx(), c.ID, yipanqi.Outgoing); err != nil || got.ID != c.ID {
			return fmt.Errorf("case = %+v, %v", got, err)
		}
		if _, err := tx.Case(ctx(), c.ID, yipanqi.Incoming); yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
			return fmt.Errorf("incoming case: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := db.CaseMessages(ctx(), MustScope(t, townshipA), c.ID)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("case messages = %d (%v), want 2", len(msgs), err)
	}
	_, err = db.CaseMessages(ctx(), MustScope(t, townshipB), c.ID)
	wantCode(t, err, yipanqi.ENOTFOUND)
}

func testDeadLetters(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	d := &yipanqi.DeadLetter{MessageID: "m1", Source: "36", Subject: "ypq.44.36.verify.identity",
		Reason: "签名无效", Body: []byte("tampered"), NoticeID: "n1"}
	added, err := db.DeadLetter(ctx(), d)
	if err != nil || !added || d.ID == 0 {
		t.Fatalf("first dead letter: added=%v id=%d err=%v", added, d.ID, err)
	}
	again := *d
	added, err = db.DeadLetter(ctx(), &again)
	if err != nil || added {
		t.Fatalf("same body again: added=%v err=%v", added, err)
	}
	if _, err := db.DeadLetter(ctx(), &yipanqi.DeadLetter{Body: []byte("x")}); yipanqi.ErrorCode(err) != yipanqi.EINVALID {
		t.Fatalf("no reason: %v", err)
	}
	added, err = db.DeadLetter(ctx(), &yipanqi.DeadLetter{Source: "36", Reason: "未知类型", Body: []byte("other")})
	if err != nil || !added {
		t.Fatalf("second dead letter: %v %v", added, err)
	}
	list, err := db.DeadLetters(ctx(), 0)
	if err != nil || len(list) != 2 {
		t.Fatalf("dead letters = %v (%v)", list, err)
	}
	if got := list[1]; got.Reason != "签名无效" || got.NoticeID != "n1" || string(got.Body) != "tampered" || got.ReceivedAt.IsZero() {
		t.Fatalf("oldest dead letter = %+v", got)
	}
	if st, err := db.ExchangeStats(ctx(), db.Now()); err != nil || st.DeadLetters != 2 || st.OutboxDepth != 0 || st.OldestUnsentAge != 0 {
		t.Fatalf("stats = %+v (%v)", st, err)
	}
}
