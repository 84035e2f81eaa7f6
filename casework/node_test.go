package casework_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"yipanqi"
	"yipanqi/calendar"
	"yipanqi/casework"
	"yipanqi/exchange"
	"yipanqi/exchange/natstest"
)

const manyCases = 200

// TestExchangeRoundTrip: a verify.identity case from 44 is delivered into 43's inbox, the
// receipt comes back with received_at and due_at, the reply makes the case replied at 44;
// verify.urgent gets 24 hours; a case between two counties of 44 takes the same path.
func TestExchangeRoundTrip(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		w := newWorld(t)
		a := w.start(t, "44", newDSN(), both)
		b := w.start(t, "43", newDSN(), both)
		ctx := context.Background()

		c := a.send(t, 1, "verify.identity", unit43)
		waitReceipts(t, a, 1, 15*time.Second)
		in, err := b.db.FindCase(ctx, b.scope(t), c.ID)
		if err != nil {
			t.Fatalf("case not at 43: %v", err)
		}
		if in.Direction != yipanqi.Incoming || in.OrgUnit != unit43 || in.PeerNode != "44" || in.PeerUnit != unit44a ||
			in.State != yipanqi.CaseDelivered || in.PersonIDNumber == "" {
			t.Fatalf("incoming case = %+v", in)
		}
		var fields, sent map[string]any
		_ = json.Unmarshal(fieldsFor(1), &sent)
		if err := json.Unmarshal(in.Data, &fields); err != nil || fields["reason"] != sent["reason"] {
			t.Fatalf("incoming data = %s (%v)", in.Data, err)
		}
		if ok, _ := b.db.Received(ctx, b.events.find(casework.EventReceived)[0].MessageID); !ok {
			t.Fatal("request not in 43's inbox")
		}
		out, err := a.db.FindCase(ctx, a.scope(t), c.ID)
		if err != nil {
			t.Fatal(err)
		}
		// Both sides hold the same receipt time and deadline; the deadline is the calendar's.
		want, err := calendar.New().Due(out.ReceivedAt, calendar.Rule{WorkingDays: 15})
		if err != nil {
			t.Fatal(err)
		}
		if !out.ReceivedAt.Equal(in.ReceivedAt) || !out.DueAt.Equal(want.At) || !in.DueAt.Equal(want.At) ||
			out.DueProvisional != want.Provisional {
			t.Fatalf("sender received %v due %v; receiver received %v due %v; want due %v",
				out.ReceivedAt, out.DueAt, in.ReceivedAt, in.DueAt, want.At)
		}

		if err := b.node.Reply(ctx, c.ID, "confirmed", json.RawMessage(`{"note":"地址属实"}`)); err != nil {
			t.Fatalf("reply: %v", err)
		}
		checkFor(t, 15*time.Second, "case replied at 44", func() bool {
			got, err := a.db.FindCase(ctx, a.scope(t), c.ID)
			return err == nil && got.State == yipanqi.CaseReplied
		})
		checkFor(t, 15*time.Second, "receipt of the reply at 43", func() bool {
			return b.auditCount(t, c.ID, "case.reply_receipt") == 1
		})
		if m := a.messagesByKind(t, c.ID); m["in:verify.identity"] != 1 || m["out:receipt"] != 1 {
			t.Fatalf("sender's log after the reply = %v", m)
		}
		err = b.node.Reply(ctx, c.ID, "confirmed", nil)
		if yipanqi.ErrorCode(err) != yipanqi.ECONFLICT {
			t.Fatalf("second reply: %v, want ECONFLICT", err)
		}
		if err := b.node.Reply(ctx, c.ID, "maybe", nil); yipanqi.ErrorCode(err) != yipanqi.EINVALID {
			t.Fatalf("bad reply option: %v, want EINVALID", err)
		}

		// verify.urgent: 24 clock hours from receipt.
		u := a.send(t, 2, "verify.urgent", unit43)
		waitReceipts(t, a, 2, 15*time.Second)
		got, _ := a.db.FindCase(ctx, a.scope(t), u.ID)
		if !got.DueAt.Equal(got.ReceivedAt.Add(24 * time.Hour)) {
			t.Fatalf("urgent: received %v due %v", got.ReceivedAt, got.DueAt)
		}

		// Between two counties of one province: 440106 → 440305, through NATS like the rest.
		local := a.send(t, 3, "verify.identity", unit44b)
		checkFor(t, 15*time.Second, "local case delivered", func() bool {
			got, err := a.db.FindCase(ctx, a.scope(t), local.ID)
			return err == nil && got.State == yipanqi.CaseDelivered
		})
		recv := a.events.find(casework.EventReceived)
		if len(recv) != 1 || recv[0].CaseID == local.ID {
			t.Fatalf("local receive events = %+v", recv)
		}
		copyIn, err := a.db.FindCase(ctx, mustScope(t, unit44b), recv[0].CaseID)
		if err != nil || copyIn.Direction != yipanqi.Incoming || copyIn.PeerUnit != unit44a || copyIn.DueAt.IsZero() {
			t.Fatalf("incoming copy = %+v (%v)", copyIn, err)
		}
		if err := a.node.Reply(ctx, copyIn.ID, "not_found", json.RawMessage(`{"reason":"no_record"}`)); err != nil {
			t.Fatal(err)
		}
		checkFor(t, 15*time.Second, "local case replied", func() bool {
			got, err := a.db.FindCase(ctx, a.scope(t), local.ID)
			return err == nil && got.State == yipanqi.CaseReplied
		})

		// Send refuses what it cannot send.
		bad := []struct {
			name   string
			c      *yipanqi.Case
			fields string
		}{
			{"unknown type", &yipanqi.Case{Type: "nope", OrgUnit: unit44a, PeerNode: "43", PeerUnit: unit43}, `{"id_number":"x"}`},
			{"unit of another node", &yipanqi.Case{Type: "verify.identity", OrgUnit: "350102", PeerNode: "43", PeerUnit: unit43}, `{"id_number":"x"}`},
			{"peer unit outside peer node", &yipanqi.Case{Type: "verify.identity", OrgUnit: unit44a, PeerNode: "43", PeerUnit: "350102"}, `{"id_number":"x"}`},
			{"missing field", &yipanqi.Case{Type: "verify.identity", OrgUnit: unit44a, PeerNode: "43", PeerUnit: unit43}, `{"reason":"x"}`},
		}
		for _, tt := range bad {
			if err := a.node.Send(ctx, tt.c, json.RawMessage(tt.fields)); yipanqi.ErrorCode(err) != yipanqi.EINVALID {
				t.Errorf("%s: %v, want EINVALID", tt.name, err)
			}
		}
	})
}

func mustScope(t *testing.T, unit string) yipanqi.Scope {
	t.Helper()
	s, err := yipanqi.NewScope(unit)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestExchangeRelayDiesAfterPublish: every message is published but none marked sent (the
// relay died in between); the next relay, after the lease, publishes them again and
// JetStream's duplicate window absorbs the copies.
func TestExchangeRelayDiesAfterPublish(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		w := newWorld(t)
		b := w.start(t, "43", newDSN(), both)
		a := w.start(t, "44", newDSN(), noRelay)
		cases := sendMany(t, a, manyCases)
		out := outboxBodies(t, a, w.clock.Now())
		if len(out) != manyCases {
			t.Fatalf("outbox holds %d, want %d", len(out), manyCases)
		}
		mustPublishAll(t, a.tr, out) // … and the relay dies here, before MarkSent.
		checkFor(t, 30*time.Second, "all requests received at 43", func() bool {
			return b.countCases(t, yipanqi.Incoming, "") == manyCases
		})
		if got := a.countCases(t, yipanqi.Outgoing, yipanqi.CaseDelivered); got != manyCases {
			// Receipts arrive: 44's consumer runs.
			waitReceipts(t, a, manyCases, 30*time.Second)
		}
		// A relay now finds the rows still claimed; after the lease it publishes them again.
		if k, err := a.node.RelayOnce(context.Background()); err != nil || k != 0 {
			t.Fatalf("relay inside the lease claimed %d (%v)", k, err)
		}
		w.clock.Advance(time.Minute + time.Second)
		if k, err := a.node.RelayOnce(context.Background()); err != nil || k != manyCases {
			t.Fatalf("relay after the lease claimed %d (%v), want %d", k, err, manyCases)
		}
		if st := a.node.RelayStats(); st.Duplicates != manyCases || st.Published != 0 {
			t.Fatalf("relay stats = %+v, want every re-publish a duplicate", st)
		}
		if st, err := a.db.ExchangeStats(context.Background(), w.clock.Now()); err != nil || st.OutboxDepth != 0 {
			t.Fatalf("outbox after the second relay = %+v (%v)", st, err)
		}
		checkExactlyOnce(t, a, b, cases)
	})
}

// TestExchangeConsumerDiesBeforeAck: the receiver commits every message and then "dies"
// before acknowledging it; the redelivery finds the inbox row and is acknowledged without a
// second effect.
func TestExchangeConsumerDiesBeforeAck(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		w := newWorld(t)
		a := w.start(t, "44", newDSN(), both)
		b := w.start(t, "43", newDSN(), run{relay: true})
		var mu sync.Mutex
		seen := map[uint64]bool{}
		stop := consume(t, b.tr, func(ctx context.Context, d exchange.Delivery) error {
			if err := b.node.Handle(ctx, d); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			if !seen[d.Seq] {
				seen[d.Seq] = true
				return errors.New("crash after commit, before ack")
			}
			return nil
		})
		defer stop()
		cases := sendMany(t, a, manyCases)
		waitReceipts(t, a, manyCases, 60*time.Second)
		checkFor(t, 30*time.Second, "every request redelivered once", func() bool {
			return b.events.count(casework.EventDuplicate) >= manyCases
		})
		if n := b.events.count(casework.EventReceived); n != manyCases {
			t.Fatalf("%d cases applied, want %d", n, manyCases)
		}
		checkExactlyOnce(t, a, b, cases)
	})
}

// TestExchangeServerDown: cases made while the NATS server is down arrive after it is back.
func TestExchangeServerDown(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		w := newWorld(t)
		a := w.start(t, "44", newDSN(), both)
		b := w.start(t, "43", newDSN(), both)
		cases := sendMany(t, a, manyCases/2)
		waitReceipts(t, a, manyCases/2, 30*time.Second)
		stopped := natstest.StopServer(t, w.srv)
		for i := manyCases / 2; i < manyCases; i++ {
			cases = append(cases, a.send(t, i, "verify.identity", unit43))
		}
		// The relay tries and fails while the server is down; nothing is lost meanwhile.
		checkFor(t, 30*time.Second, "a failed publish while the server is down", func() bool {
			return a.node.RelayStats().Failed > 0
		})
		if st, err := a.db.ExchangeStats(context.Background(), w.clock.Now()); err != nil || st.OutboxDepth == 0 {
			t.Fatalf("outbox while down = %+v (%v)", st, err)
		}
		w.srv = stopped.Restart(t)
		waitReceipts(t, a, manyCases, 60*time.Second)
		checkExactlyOnce(t, a, b, cases)
	})
}

// TestExchangeReceiverDown: the receiving node is down while cases are sent; they wait in
// its stream and are delivered when it starts again.
func TestExchangeReceiverDown(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		w := newWorld(t)
		a := w.start(t, "44", newDSN(), both)
		dsn43 := newDSN()
		b := w.start(t, "43", dsn43, both)
		cases := sendMany(t, a, 10)
		waitReceipts(t, a, 10, 30*time.Second)
		b.stop()
		for i := 10; i < manyCases; i++ {
			cases = append(cases, a.send(t, i, "verify.identity", unit43))
		}
		checkFor(t, 30*time.Second, "outbox published while 43 is down", func() bool {
			st, err := a.db.ExchangeStats(context.Background(), w.clock.Now())
			return err == nil && st.OutboxDepth == 0
		})
		if got := a.countCases(t, yipanqi.Outgoing, yipanqi.CaseDelivered); got != 10 {
			t.Fatalf("%d delivered while the receiver was down, want 10", got)
		}
		b2 := w.start(t, "43", dsn43, both)
		waitReceipts(t, a, manyCases, 60*time.Second)
		checkExactlyOnce(t, a, b2, cases)
	})
}

// TestExchangePublishedTwice: the same envelopes published again under other Nats-Msg-Ids
// (so JetStream stores each copy) are applied once: the inbox key holds.
func TestExchangePublishedTwice(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		w := newWorld(t)
		b := w.start(t, "43", newDSN(), both)
		a := w.start(t, "44", newDSN(), noRelay)
		cases := sendMany(t, a, manyCases)
		out := outboxBodies(t, a, w.clock.Now())
		copies := make([]exchange.Outgoing, 0, 2*len(out))
		for _, o := range out {
			for _, suffix := range []string{"-copy1", "-copy2"} {
				c := o
				c.MsgID += suffix
				copies = append(copies, c)
			}
		}
		for _, r := range mustPublishAll(t, a.tr, copies) {
			if r.Dup {
				t.Fatal("a copy under a new Nats-Msg-Id was deduplicated by JetStream")
			}
		}
		checkFor(t, 60*time.Second, "every copy handled at 43", func() bool {
			return b.events.count(casework.EventReceived)+b.events.count(casework.EventDuplicate) == 2*manyCases
		})
		// And the relay's own publish after its lease: a third copy.
		w.clock.Advance(time.Minute + time.Second)
		stopRelay := runRelay(t, a)
		defer stopRelay()
		waitReceipts(t, a, manyCases, 60*time.Second)
		checkFor(t, 30*time.Second, "third copies handled", func() bool {
			return b.events.count(casework.EventDuplicate) == 2*manyCases
		})
		if n := b.events.count(casework.EventReceived); n != manyCases {
			t.Fatalf("applied %d times, want %d", n, manyCases)
		}
		checkExactlyOnce(t, a, b, cases)
	})
}

// runRelay runs p's relay until the returned stop.
func runRelay(t *testing.T, p *peer) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.node.RunRelay(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("relay: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// forged publishes, as node 44, an envelope made by mutate from a valid request to 43.
func forged(t *testing.T, w *world, a *peer, key *exchange.PrivateKey, mutate func(e *exchange.Envelope)) *exchange.Envelope {
	t.Helper()
	data, _ := json.Marshal(map[string]any{"from_unit": unit44a, "fields": json.RawMessage(fieldsFor(7))})
	e := &exchange.Envelope{
		ID: uuid.Must(uuid.NewV7()).String(), Source: exchange.NodeSource("44"), Type: exchange.EventType("verify.identity", 1),
		Subject: uuid.Must(uuid.NewV7()).String(), Time: w.clock.Now().UTC(), Dest: "43", Unit: unit43, Data: data,
	}
	if err := exchange.Sign(e, key); err != nil {
		t.Fatal(err)
	}
	mutate(e)
	body, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	ct, _, err := exchange.ParseEventType(e.Type)
	if err != nil {
		t.Fatal(err)
	}
	mustPublishAll(t, a.tr, []exchange.Outgoing{{Dst: "43", Type: ct, MsgID: e.ID, Body: body}})
	return e
}

// TestExchangeDeadLetters: what cannot be processed is dead-lettered at the receiver with
// its reason, and the sender is told by a signed notice (its case rejected when it has one).
func TestExchangeDeadLetters(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		w := newWorld(t)
		a := w.start(t, "44", newDSN(), both)
		b := w.start(t, "43", newDSN(), both)
		ctx := context.Background()
		stranger := MustKey(t, "44") // a key of node 44 that is not on the trust list

		tests := []struct {
			name   string
			reason string
			send   func() (msgID string)
		}{
			{"tampered", "签名无效", func() string {
				return forged(t, w, a, w.keys["44"], func(e *exchange.Envelope) {
					e.Data = json.RawMessage(`{"fields":{"id_number":"changed"},"from_unit":"440106"}`)
				}).ID
			}},
			{"untrusted key", "密钥不在信任列表", func() string {
				return forged(t, w, a, stranger, func(*exchange.Envelope) {}).ID
			}},
			{"unknown type", "未知的案件类型", func() string {
				return forged(t, w, a, w.keys["44"], func(e *exchange.Envelope) {
					e.Type = exchange.EventType("no.such.type", 1)
					if err := exchange.Sign(e, w.keys["44"]); err != nil {
						t.Fatal(err)
					}
				}).ID
			}},
			{"invalid data", yipanqi.ErrorMessage(yipanqi.Catalog().ValidateRequest("verify.identity", json.RawMessage(`{"reason":"x"}`))), func() string {
				return forged(t, w, a, w.keys["44"], func(e *exchange.Envelope) {
					e.Data = json.RawMessage(`{"fields":{"reason":"x"},"from_unit":"440106"}`)
					if err := exchange.Sign(e, w.keys["44"]); err != nil {
						t.Fatal(err)
					}
				}).ID
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if tt.reason == "" {
					t.Fatal("no reason to look for")
				}
				id := tt.send()
				dl := deadLetterWith(t, b, tt.reason)
				if dl.MessageID != id || dl.Source != "44" || dl.NoticeID == "" || len(dl.Body) == 0 {
					t.Fatalf("dead letter = %+v", dl)
				}
				checkFor(t, 15*time.Second, "sender told", func() bool { return a.auditCount(t, id, "case.rejected") == 1 })
				log, _ := a.db.AuditLog(ctx, id, 10)
				if !strings.Contains(log[0].Reason, tt.reason) {
					t.Fatalf("sender's record %q does not give the reason %q", log[0].Reason, tt.reason)
				}
			})
		}

		// An unknown addressee: the sender's own case is rejected, with the reason.
		c := a.send(t, 1, "verify.identity", unknown3)
		dl := deadLetterWith(t, b, unknown3)
		if !strings.Contains(dl.Reason, "不是本节点 43 的机构") {
			t.Fatalf("reason = %q", dl.Reason)
		}
		checkFor(t, 15*time.Second, "case rejected at 44", func() bool {
			got, err := a.db.FindCase(ctx, a.scope(t), c.ID)
			return err == nil && got.State == yipanqi.CaseRejected
		})
		log, err := a.db.AuditLog(ctx, c.ID, 10)
		if err != nil || log[0].Action != "case.rejected" || !strings.Contains(log[0].Reason, unknown3) {
			t.Fatalf("sender's audit of the rejection = %+v (%v)", log, err)
		}
		if n := b.countCases(t, yipanqi.Incoming, ""); n != 0 {
			t.Fatalf("43 opened %d cases from refused messages", n)
		}
		// The event follows the commit that the checks above saw: wait for it, then for no more.
		checkFor(t, 15*time.Second, "sender's rejection events", func() bool {
			return len(a.events.find(casework.EventRejected)) >= len(tests)+1
		})
		if ev := a.events.find(casework.EventRejected); len(ev) != len(tests)+1 {
			t.Fatalf("sender recorded %d notices, want %d", len(ev), len(tests)+1)
		}
		// Notices are not answered: 44 dead-letters nothing and 43 got no notice back.
		if st, _ := a.db.ExchangeStats(ctx, w.clock.Now()); st.DeadLetters != 0 {
			t.Fatalf("sender has %d dead letters", st.DeadLetters)
		}
		if st, _ := b.db.ExchangeStats(ctx, w.clock.Now()); st.DeadLetters != len(tests)+1 {
			t.Fatalf("receiver has %d dead letters, want %d", st.DeadLetters, len(tests)+1)
		}
	})
}

// TestExchangeReplicas: two replicas of each node on one database, each running a relay and
// consumers, share the work: no row is published twice, no message applied twice.
func TestExchangeReplicas(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		w := newWorld(t)
		dsnA, dsnB := newDSN(), newDSN()
		a1 := w.start(t, "44", dsnA, both)
		a2 := w.start(t, "44", dsnA, both)
		b1 := w.start(t, "43", dsnB, both)
		b2 := w.start(t, "43", dsnB, both)
		var mu sync.Mutex
		var cases []*yipanqi.Case
		var wg sync.WaitGroup
		for k, a := range []*peer{a1, a2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range manyCases / 2 {
					c := &yipanqi.Case{Type: "verify.identity", OrgUnit: unit44a, PeerNode: "43", PeerUnit: unit43}
					if err := a.node.Send(context.Background(), c, fieldsFor(k*1000+i)); err != nil {
						t.Errorf("send: %v", err)
						return
					}
					mu.Lock()
					cases = append(cases, c)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		waitReceipts(t, a1, manyCases, 60*time.Second)
		sa1, sa2, sb1, sb2 := a1.node.RelayStats(), a2.node.RelayStats(), b1.node.RelayStats(), b2.node.RelayStats()
		if sa1.Published+sa2.Published != manyCases || sa1.Duplicates+sa2.Duplicates != 0 {
			t.Fatalf("44's relays published %+v and %+v, want %d in all and no duplicate", sa1, sa2, manyCases)
		}
		// 43 receipts a consumer batch's cases with one envelope: its relays published each
		// receipt envelope that 44 logged, once.
		receipts := map[string]bool{}
		for _, c := range cases {
			msgs, err := a1.db.CaseMessages(context.Background(), a1.scope(t), c.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				if m.Direction == yipanqi.Incoming && (m.Type == casework.TypeReceipt || m.Type == casework.TypeReceipts) {
					receipts[m.ID] = true
				}
			}
		}
		if n := int(sb1.Published + sb2.Published); n != len(receipts) || n == 0 || n > manyCases || sb1.Duplicates+sb2.Duplicates != 0 {
			t.Fatalf("43's relays published %+v and %+v, want the %d receipt envelopes 44 logged and no duplicate", sb1, sb2, len(receipts))
		}
		if r1, r2 := b1.events.count(casework.EventReceived), b2.events.count(casework.EventReceived); r1+r2 != manyCases {
			t.Fatalf("43's replicas applied %d + %d, want %d", r1, r2, manyCases)
		}
		t.Logf("relays of 44: %d + %d; of 43: %d + %d; consumers of 43: %d + %d", sa1.Published, sa2.Published,
			sb1.Published, sb2.Published, b1.events.count(casework.EventReceived), b2.events.count(casework.EventReceived))
		checkExactlyOnce(t, a1, b1, cases)
	})
}
