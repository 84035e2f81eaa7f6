package casework_test

import (
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

// TestExchangeBatchWithBadMessages: one HandleBatch holding good requests, a duplicate, a
// tampered message, a second request for a case that the batch opens (a conflict found only
// when the batch's rows are written) and a receipt naming nothing of 43's (refused inside the
// transaction) commits every good message once and dead-letters the three bad ones; handling
// the same batch again changes nothing.
func TestExchangeBatchWithBadMessages(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		w := newWorld(t)
		a := w.start(t, "44", newDSN(), run{})
		b := w.start(t, "43", newDSN(), run{})
		ctx := context.Background()
		const good = 10
		cases := make([]casework.NewCase, good)
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
		if len(ds) != good {
			t.Fatalf("outbox holds %d, want %d", len(ds), good)
		}
		ds = append(ds, ds[3]) // the same message twice

		sealed := func(typ, subject, replyTo string, data any, mutate func(*exchange.Envelope)) exchange.Delivery {
			raw, _ := json.Marshal(data)
			e := &exchange.Envelope{ID: uuid.Must(uuid.NewV7()).String(), Source: exchange.NodeSource("44"),
				Type: exchange.EventType(typ, 1), Subject: subject, Time: w.clock.Now().UTC(), Dest: "43", Unit: unit43,
				ReplyTo: replyTo, Data: raw}
			if err := exchange.Sign(e, w.keys["44"]); err != nil {
				t.Fatal(err)
			}
			mutate(e)
			body, err := e.Encode()
			if err != nil {
				t.Fatal(err)
			}
			return delivery(typ, e.ID, body)
		}
		request := map[string]any{"from_unit": unit44a, "fields": json.RawMessage(fieldsFor(99))}
		ds = append(ds,
			sealed("verify.identity", uuid.Must(uuid.NewV7()).String(), "", request, func(e *exchange.Envelope) {
				e.Data = json.RawMessage(`{"fields":{"id_number":"changed"},"from_unit":"440106"}`)
			}),
			sealed("verify.identity", cases[5].Case.ID, "", request, func(*exchange.Envelope) {}),
			sealed(casework.TypeReceipt, cases[0].Case.ID, strings.Repeat("ab", 32),
				map[string]any{"message_id": uuid.NewString(), "received_at": w.clock.Now().UTC().Format(time.RFC3339Nano)},
				func(*exchange.Envelope) {}),
		)
		for round := 1; round <= 2; round++ {
			for i, err := range b.node.HandleBatch(ctx, ds) {
				if err != nil {
					t.Fatalf("round %d: delivery %d: %v", round, i, err)
				}
			}
			if n := b.countCases(t, yipanqi.Incoming, ""); n != good {
				t.Fatalf("round %d: 43 holds %d incoming cases, want %d", round, n, good)
			}
			if n := b.events.count(casework.EventReceived); n != good {
				t.Fatalf("round %d: %d cases applied, want %d", round, n, good)
			}
			dl, err := b.db.DeadLetters(ctx, 10)
			if err != nil || len(dl) != 3 {
				t.Fatalf("round %d: dead letters = %d (%v), want 3", round, len(dl), err)
			}
			for _, c := range cases {
				if m := b.messagesByKind(t, c.Case.ID); m["in:verify.identity"] != 1 || m["out:receipt"] != 1 {
					t.Fatalf("round %d: receiver's log of %s = %v", round, c.Case.ID, m)
				}
			}
			if _, err := b.db.VerifyAudit(ctx); err != nil {
				t.Fatalf("round %d: audit chain: %v", round, err)
			}
		}
	})
}

// delivery is what node 43's consumer would get for a message node 44 published.
func delivery(typ, msgID string, body []byte) exchange.Delivery {
	return exchange.Delivery{Subject: exchange.Subject("43", "44", typ), Src: "44", Dst: "43", Type: typ,
		Body: body, MsgID: msgID, NumDelivered: 1}
}
