package storetest

import (
	"bytes"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/sqlstore"
)

// testSharedMessages: a message logged once for several cases (a batch receipt, empty case_id
// and LinkMessage) is in every one's CaseMessages; retention clears its body, and deletes its
// sent outbox row, only once every case it concerns is anonymised.
func testSharedMessages(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	clock := &fakeClock{now: shAt("2022-03-01 10:00:00")}
	db.Now = clock.Now
	p := NewPerson(1, townshipA)
	MustImport(t, db, p)
	scope := MustScope(t, county)
	c1 := receiveCase(t, db, "verify.identity", townshipA, p.IDNumber, clock.now)
	c2 := receiveCase(t, db, "verify.identity", townshipA, p.IDNumber, clock.now)
	own := receiveCase(t, db, "verify.identity", townshipA, p.IDNumber, clock.now)
	body := []byte(`{"items":["shared"]}`)
	if err := db.InTx(ctx(), func(tx *sqlstore.Tx) error {
		m := &yipanqi.Message{ID: "shared-1", Type: "receipts", Source: "44", Dest: "36", Body: body}
		if err := tx.Enqueue(ctx(), m, "h-shared", "", "ypq.36.44.receipts"); err != nil {
			return err
		}
		return tx.LinkMessage(ctx(), m.ID, yipanqi.Outgoing, []string{c1.ID, c2.ID, c1.ID})
	}); err != nil {
		t.Fatal(err)
	}
	// The same in a batch transaction, for the third case alone.
	if err := db.InBatchTx(ctx(), func(tx *sqlstore.Tx) error {
		m := &yipanqi.Message{ID: "shared-2", Direction: yipanqi.Incoming, Type: "receipts", Source: "36", Dest: "44", Body: body}
		if err := tx.LogMessage(ctx(), m, "h-shared-2", ""); err != nil {
			return err
		}
		return tx.LinkMessage(ctx(), m.ID, yipanqi.Incoming, []string{own.ID})
	}); err != nil {
		t.Fatal(err)
	}
	items, err := db.ClaimOutbox(ctx(), 10, clock.now, time.Minute)
	if err != nil || len(items) != 1 {
		t.Fatalf("claim: %d, %v", len(items), err)
	}
	if err := db.MarkSent(ctx(), []int64{items[0].ID}, clock.now); err != nil {
		t.Fatal(err)
	}
	logOf := func(id string) []*sqlstore.LoggedMessage {
		t.Helper()
		msgs, err := db.CaseMessages(ctx(), scope, id)
		if err != nil {
			t.Fatal(err)
		}
		return msgs
	}
	for id, want := range map[string]string{c1.ID: "shared-1", c2.ID: "shared-1", own.ID: "shared-2"} {
		if msgs := logOf(id); len(msgs) != 1 || msgs[0].ID != want || !bytes.Equal(msgs[0].Body, body) {
			t.Fatalf("log of %s = %+v, want %s", id, msgs, want)
		}
	}

	// c1 ends in 2022, c2 stays open: the shared body stays.
	clock.now = shAt("2022-03-04 10:00:00")
	setState(t, db, c1.ID, yipanqi.CaseReplied)
	clock.now = shAt("2026-06-01 10:00:00")
	cutoff := clock.now.AddDate(-3, 0, 0)
	res, err := db.ApplyRetention(ctx(), cutoff, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Cases != 1 || res.Messages != 0 || res.Outbox != 0 {
		t.Fatalf("first run = %+v, want one case and no message", res)
	}
	if msgs := logOf(c2.ID); len(msgs) != 1 || !bytes.Equal(msgs[0].Body, body) {
		t.Fatalf("shared body cleared while case %s keeps its data: %+v", c2.ID, msgs)
	}

	// Now c2 ends too (in 2022): the shared body and its sent outbox row go.
	clock.now = shAt("2022-03-05 10:00:00")
	setState(t, db, c2.ID, yipanqi.CaseReplied)
	setState(t, db, own.ID, yipanqi.CaseReplied)
	clock.now = shAt("2026-06-01 10:00:00")
	if res, err = db.ApplyRetention(ctx(), cutoff, 0); err != nil {
		t.Fatal(err)
	}
	if res.Cases != 2 || res.Messages != 2 || res.Outbox != 1 {
		t.Fatalf("second run = %+v, want two cases, two shared messages, one outbox row", res)
	}
	for _, id := range []string{c1.ID, c2.ID, own.ID} {
		if msgs := logOf(id); len(msgs) != 1 || !bytes.Equal(msgs[0].Body, sqlstore.AnonymisedBody) {
			t.Fatalf("log of %s after retention = %+v", id, msgs)
		}
	}
	if res, err = db.ApplyRetention(ctx(), cutoff, 0); err != nil || res.Cases != 0 || res.Messages != 0 {
		t.Fatalf("third run = %+v, %v, want nothing", res, err)
	}
}
