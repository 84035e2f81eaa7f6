package casework_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"yipanqi"
	"yipanqi/casework"
	"yipanqi/exchange"
)

// toA is what node 44's consumer would get for a message node 43 published.
func toA(o exchange.Outgoing) exchange.Delivery {
	return exchange.Delivery{Subject: exchange.Subject("44", "43", o.Type), Src: "43", Dst: "44", Type: o.Type,
		Body: o.Body, MsgID: o.MsgID, NumDelivered: 1}
}

// batchAtB sends n requests from 44 and has 43 handle them in one batch; it returns the cases
// and what 43 then holds in its outbox.
func batchAtB(t *testing.T, w *world, a, b *peer, n int) ([]casework.NewCase, []exchange.Outgoing) {
	t.Helper()
	ctx := context.Background()
	cases := make([]casework.NewCase, n)
	for i := range cases {
		cases[i] = casework.NewCase{Case: benchCase(), Fields: fieldsFor(i + 1)}
	}
	if err := a.node.SendMany(ctx, cases); err != nil {
		t.Fatal(err)
	}
	var ds []exchange.Delivery
	for _, o := range outboxBodies(t, a, w.clock.Now()) {
		ds = append(ds, delivery(o.Type, o.MsgID, o.Body))
	}
	for i, err := range b.node.HandleBatch(ctx, ds) {
		if err != nil {
			t.Fatalf("delivery %d at 43: %v", i, err)
		}
	}
	return cases, outboxBodies(t, b, w.clock.Now())
}

// logTypes lists the types of a case's logged messages in a direction.
func logTypes(t *testing.T, p *peer, caseID string, dir yipanqi.Direction) (types []string, ids []string) {
	t.Helper()
	msgs, err := p.db.CaseMessages(context.Background(), p.scope(t), caseID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.Direction == dir {
			types, ids = append(types, m.Type), append(ids, m.ID)
		}
	}
	return types, ids
}

// TestExchangeBatchReceipt: a batch of n requests from 44 handled at 43 in one transaction
// earns one signed batch receipt, which receipts all n at 44 (received_at and due set from
// its items, each case's log lists it, one audit entry each); a tampered copy of it is
// dead-lettered and changes nothing; delivering it again changes nothing.
func TestExchangeBatchReceipt(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		w := newWorld(t)
		a := w.start(t, "44", newDSN(), run{})
		b := w.start(t, "43", newDSN(), run{})
		ctx := context.Background()
		const n = 12
		cases, out := batchAtB(t, w, a, b, n)
		if len(out) != 1 || out[0].Type != casework.TypeReceipts {
			t.Fatalf("43's outbox after a batch of %d: %d messages (%v), want one %s", n, len(out), out, casework.TypeReceipts)
		}
		for _, c := range cases {
			if types, ids := logTypes(t, b, c.Case.ID, yipanqi.Outgoing); len(types) != 1 || types[0] != casework.TypeReceipts || ids[0] != out[0].MsgID {
				t.Fatalf("43's outgoing log of %s = %v %v, want the batch receipt", c.Case.ID, types, ids)
			}
		}

		// Tampered: a received_at changed after signing.
		e, err := exchange.Decode(out[0].Body)
		if err != nil {
			t.Fatal(err)
		}
		e.Data = bytes.Replace(e.Data, []byte(`"received_at":"20`), []byte(`"received_at":"19`), 1)
		tampered, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		bad := out[0]
		bad.Body = tampered
		if err := a.node.Handle(ctx, toA(bad)); err != nil {
			t.Fatal(err)
		}
		if dl, err := a.db.DeadLetters(ctx, 10); err != nil || len(dl) != 1 || dl[0].MessageID != out[0].MsgID || dl[0].NoticeID != "" {
			t.Fatalf("dead letters at 44 after a tampered batch receipt = %+v (%v), want it, with no notice", dl, err)
		}
		if got := a.countCases(t, yipanqi.Outgoing, yipanqi.CaseDelivered); got != 0 {
			t.Fatalf("a tampered batch receipt delivered %d cases", got)
		}

		for round := 1; round <= 2; round++ {
			if err := a.node.Handle(ctx, toA(out[0])); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			if got := a.events.count(casework.EventReceipt); got != n {
				t.Fatalf("round %d: %d receipts recorded, want %d", round, got, n)
			}
			for _, c := range cases {
				got, err := a.db.FindCase(ctx, a.scope(t), c.Case.ID)
				if err != nil {
					t.Fatal(err)
				}
				at43, err := b.db.FindCase(ctx, b.scope(t), c.Case.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.State != yipanqi.CaseDelivered || got.ReceivedAt.Sub(at43.ReceivedAt).Abs() > time.Millisecond ||
					got.DueAt.Sub(at43.DueAt).Abs() > time.Millisecond || got.DueAt.IsZero() {
					t.Fatalf("round %d: case at 44 = %s received %v due %v; at 43 received %v due %v", round,
						got.State, got.ReceivedAt, got.DueAt, at43.ReceivedAt, at43.DueAt)
				}
				if types, ids := logTypes(t, a, c.Case.ID, yipanqi.Incoming); len(types) != 1 || types[0] != casework.TypeReceipts || ids[0] != out[0].MsgID {
					t.Fatalf("round %d: 44's incoming log of %s = %v %v, want the batch receipt", round, c.Case.ID, types, ids)
				}
				if k := a.auditCount(t, c.Case.ID, "case.receipt"); k != 1 {
					t.Fatalf("round %d: receipt of %s audited %d times", round, c.Case.ID, k)
				}
			}
		}
		if got := a.events.count(casework.EventDuplicate); got != 1 {
			t.Fatalf("%d duplicates, want 1", got)
		}
		if dl, _ := a.db.DeadLetters(ctx, 10); len(dl) != 1 {
			t.Fatalf("%d dead letters at 44, want the tampered one only", len(dl))
		}
		if _, err := a.db.VerifyAudit(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// TestExchangeSingleReceipts: the single receipt of nodes before batch receipts is still
// applied — a 43 with SingleReceipts sends one per message, and a batch of one sends one.
func TestExchangeSingleReceipts(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		w := newWorld(t)
		a := w.start(t, "44", newDSN(), run{})
		b := w.start(t, "43", newDSN(), run{tune: func(c *casework.NodeConfig) { c.SingleReceipts = true }})
		ctx := context.Background()
		const n = 5
		cases, out := batchAtB(t, w, a, b, n)
		one, out1 := batchAtB(t, w, a, w.start(t, "43", newDSN(), run{}), 1)
		out = append(out, out1...)
		cases = append(cases, one...)
		if len(out) != n+1 {
			t.Fatalf("43's outboxes hold %d messages, want %d single receipts", len(out), n+1)
		}
		var ds []exchange.Delivery
		for _, o := range out {
			if o.Type != casework.TypeReceipt {
				t.Fatalf("43 sent a %s, want %s", o.Type, casework.TypeReceipt)
			}
			ds = append(ds, toA(o))
		}
		for i, err := range a.node.HandleBatch(ctx, ds) {
			if err != nil {
				t.Fatalf("receipt %d: %v", i, err)
			}
		}
		for _, c := range cases {
			got, err := a.db.FindCase(ctx, a.scope(t), c.Case.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != yipanqi.CaseDelivered || got.ReceivedAt.IsZero() || got.DueAt.IsZero() {
				t.Fatalf("case at 44 = %s received %v due %v", got.State, got.ReceivedAt, got.DueAt)
			}
			if types, _ := logTypes(t, a, c.Case.ID, yipanqi.Incoming); len(types) != 1 || types[0] != casework.TypeReceipt {
				t.Fatalf("44's incoming log of %s = %v", c.Case.ID, types)
			}
		}
	})
}

// TestExchangeBatchReceiptItems: an item of a batch receipt naming no message 44 sent to 43
// is skipped without failing the others; a batch receipt none of whose items names one is
// dead-lettered.
func TestExchangeBatchReceiptItems(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		w := newWorld(t)
		a := w.start(t, "44", newDSN(), run{})
		b := w.start(t, "43", newDSN(), run{})
		ctx := context.Background()
		cases, out := batchAtB(t, w, a, b, 3)
		e, err := exchange.Decode(out[0].Body)
		if err != nil {
			t.Fatal(err)
		}
		var data struct {
			Items []map[string]any `json:"items"`
		}
		if err := json.Unmarshal(e.Data, &data); err != nil || len(data.Items) != 3 {
			t.Fatalf("batch receipt data: %s (%v)", e.Data, err)
		}
		bogus := map[string]any{"message_id": uuid.NewString(), "hash": strings.Repeat("cd", 32),
			"subject": uuid.NewString(), "received_at": w.clock.Now().UTC().Format(time.RFC3339Nano)}
		resign := func(items []map[string]any) exchange.Outgoing {
			raw, _ := json.Marshal(map[string]any{"items": items})
			x := *e
			x.ID, x.Data, x.KeyID, x.Sig = uuid.Must(uuid.NewV7()).String(), raw, "", ""
			if err := exchange.Sign(&x, w.keys["43"]); err != nil {
				t.Fatal(err)
			}
			body, err := x.Encode()
			if err != nil {
				t.Fatal(err)
			}
			return exchange.Outgoing{Dst: "44", Type: casework.TypeReceipts, MsgID: x.ID, Body: body}
		}
		none := resign([]map[string]any{bogus})
		mixed := resign([]map[string]any{data.Items[0], bogus, data.Items[2]})
		for i, err := range a.node.HandleBatch(ctx, []exchange.Delivery{toA(none), toA(mixed)}) {
			if err != nil {
				t.Fatalf("delivery %d: %v", i, err)
			}
		}
		if dl, err := a.db.DeadLetters(ctx, 10); err != nil || len(dl) != 1 || dl[0].MessageID != none.MsgID {
			t.Fatalf("dead letters at 44 = %+v (%v), want the batch receipt naming nothing", dl, err)
		}
		for i, c := range cases {
			got, err := a.db.FindCase(ctx, a.scope(t), c.Case.ID)
			if err != nil {
				t.Fatal(err)
			}
			if want := i != 1; (got.State == yipanqi.CaseDelivered) != want || got.ReceivedAt.IsZero() == want {
				t.Fatalf("case %d at 44 = %s received %v; receipted: want %v", i, got.State, got.ReceivedAt, want)
			}
		}
	})
}

// TestExchangeBatchReceiptRejected: a node that does not know batch receipts (before them)
// dead-letters one and sends a rejection notice naming it; the receiver of the notice records
// it against the batch receipt's message id and changes no case.
func TestExchangeBatchReceiptRejected(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		w := newWorld(t)
		a := w.start(t, "44", newDSN(), run{})
		b := w.start(t, "43", newDSN(), run{})
		ctx := context.Background()
		cases, out := batchAtB(t, w, a, b, 3)
		if len(out) != 1 || out[0].Type != casework.TypeReceipts {
			t.Fatalf("43's outbox = %v", out)
		}
		rc, err := exchange.Decode(out[0].Body)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(map[string]any{"message_id": rc.ID, "code": "EINVALID", "field": "type", "reason": "未知的案件类型“receipts”"})
		notice := &exchange.Envelope{ID: uuid.Must(uuid.NewV7()).String(), Source: exchange.NodeSource("44"),
			Type: exchange.EventType(casework.TypeRejected, 1), Subject: rc.Subject, Time: w.clock.Now().UTC(), Dest: "43", Unit: "43",
			ReplyTo: exchange.Hash(rc), Data: raw}
		if err := exchange.Sign(notice, w.keys["44"]); err != nil {
			t.Fatal(err)
		}
		body, err := notice.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if err := b.node.Handle(ctx, delivery(casework.TypeRejected, notice.ID, body)); err != nil {
			t.Fatal(err)
		}
		if k := b.auditCount(t, rc.ID, "case.rejected"); k != 1 {
			t.Fatalf("notice audited %d times against the batch receipt", k)
		}
		if dl, _ := b.db.DeadLetters(ctx, 10); len(dl) != 0 {
			t.Fatalf("dead letters at 43: %+v", dl)
		}
		for _, c := range cases {
			got, err := b.db.FindCase(ctx, b.scope(t), c.Case.ID)
			if err != nil || got.State != yipanqi.CaseDelivered {
				t.Fatalf("case %s at 43: %+v (%v)", c.Case.ID, got, err)
			}
		}
	})
}
