package casework_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"yipanqi"
	"yipanqi/casework"
	"yipanqi/exchange"
	"yipanqi/sqlstore"
)

// counts is what a node has stored: cases, unsent outbox rows (each with its message log
// row: Enqueue writes both), and dead letters.
type counts struct{ cases, outbox, dead int }

func (p *peer) counts(tb testing.TB) counts {
	tb.Helper()
	st, err := p.db.ExchangeStats(context.Background(), time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	return counts{cases: p.countCases(tb, "", ""), outbox: st.OutboxDepth, dead: st.DeadLetters}
}

// wantCatalogError fails unless err is EINVALID naming field with the catalog's own message
// for the same input (want, the catalog's error).
func wantCatalogError(tb testing.TB, err, want error, field string) {
	tb.Helper()
	if want == nil {
		tb.Fatal("the catalog accepts this input: the case tests nothing")
	}
	wantError(tb, err, yipanqi.EINVALID, field)
	if yipanqi.ErrorField(want) != field || yipanqi.ErrorMessage(err) != yipanqi.ErrorMessage(want) {
		tb.Fatalf("error %v, want the catalog's %v", err, want)
	}
}

// requestWith is the request fieldsFor(i), which the catalog accepts, with extra set on top
// (nil deletes a field).
func requestWith(i int, extra map[string]any) json.RawMessage {
	var obj map[string]any
	_ = json.Unmarshal(fieldsFor(i), &obj)
	for k, v := range extra {
		if v == nil {
			delete(obj, k)
		} else {
			obj[k] = v
		}
	}
	b, _ := json.Marshal(obj)
	return b
}

// TestValidateSend: Send and SendMany refuse, before storing anything, what the catalog
// refuses, with its EINVALID naming the field.
func TestValidateSend(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		w := newWorld(t)
		a := w.start(t, "44", newDSN(), run{}) // nothing publishes: the outbox shows all
		ctx := context.Background()
		cat := yipanqi.Catalog()
		tests := []struct {
			name, typ string
			fields    json.RawMessage
			field     string
		}{
			{"missing required field", "verify.identity", requestWith(1, map[string]any{"id_number": nil}), "id_number"},
			{"empty required field", "verify.identity", requestWith(1, map[string]any{"id_number": ""}), "id_number"},
			{"field the type does not declare", "verify.identity", requestWith(1, map[string]any{"phone": "13800000000"}), "phone"},
			{"number for a text", "verify.identity", requestWith(1, map[string]any{"name": 7}), "name"},
			{"bad ID number", "verify.identity", requestWith(1, map[string]any{"id_number": "43010219880101000Y"}), "id_number"},
			{"text too long", "verify.identity", requestWith(1, map[string]any{"reason": strings.Repeat("查", 201)}), "reason"},
			{"not an object", "verify.identity", json.RawMessage(`["id_number"]`), "fields"},
			{"no fields", "verify.identity", nil, "fields"},
			{"enum value the type lacks", "move.notice", requestWith(1, map[string]any{"reason": nil,
				"flow": "vanished", "flow_date": "2025-09-26"}), "flow"},
			{"bool as text", "service.result", requestWith(1, map[string]any{"reason": nil, "service_kind": "follow_up",
				"service_date": "2025-09-26", "provider": "芙蓉区卫生服务中心", "checkup_done": "yes"}), "checkup_done"},
		}
		before := a.counts(t)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				want := cat.ValidateRequest(tt.typ, tt.fields)
				c := &yipanqi.Case{Type: tt.typ, OrgUnit: unit44a, PeerNode: "43", PeerUnit: unit43}
				wantCatalogError(t, a.node.Send(ctx, c, tt.fields), want, tt.field)
				if c.ID != "" {
					t.Errorf("refused case got id %s", c.ID)
				}
				// In a batch: the one bad case refuses the batch, named by its position.
				batch := []casework.NewCase{
					{Case: &yipanqi.Case{Type: "verify.identity", OrgUnit: unit44a, PeerNode: "43", PeerUnit: unit43}, Fields: fieldsFor(2)},
					{Case: &yipanqi.Case{Type: tt.typ, OrgUnit: unit44a, PeerNode: "43", PeerUnit: unit43}, Fields: tt.fields},
				}
				err := a.node.SendMany(ctx, batch)
				wantCatalogError(t, err, want, tt.field)
				if !strings.Contains(err.Error(), "case 2 of 2") {
					t.Errorf("SendMany error %q does not name the case", err)
				}
				if got := a.counts(t); got != before {
					t.Fatalf("stored %+v, before %+v: a refused send wrote something", got, before)
				}
			})
		}
		// The counts do move when a case is sent.
		a.send(t, 3, "verify.identity", unit43)
		if got := a.counts(t); got.cases != before.cases+1 || got.outbox != before.outbox+1 {
			t.Fatalf("after a valid send: %+v, before %+v", got, before)
		}
	})
}

// TestValidateReply: Reply refuses, before storing anything, a reply the catalog refuses
// (EINVALID naming the field) and a reply to a case that is not open (ECONFLICT).
func TestValidateReply(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		w := newWorld(t)
		a := w.start(t, "44", newDSN(), both)
		dsn43 := newDSN()
		b := w.start(t, "43", dsn43, both)
		ctx := context.Background()
		c := a.send(t, 1, "verify.identity", unit43)
		waitReceipts(t, a, 1, 15*time.Second)
		// From here 43 runs nothing, so what it holds changes only by what Reply does.
		b.stop()
		b = w.start(t, "43", dsn43, run{})
		ct, err := yipanqi.Catalog().Type(c.Type)
		if err != nil {
			t.Fatal(err)
		}

		// stored is what 43 holds of the case, besides its counts.
		type stored struct {
			counts
			state           yipanqi.CaseState
			messages, audit int
		}
		snapshot := func() stored {
			got, err := b.db.FindCase(ctx, b.scope(t), c.ID)
			if err != nil {
				t.Fatal(err)
			}
			log, err := b.db.AuditLog(ctx, c.ID, 1000)
			if err != nil {
				t.Fatal(err)
			}
			msgs := 0
			for _, n := range b.messagesByKind(t, c.ID) {
				msgs += n
			}
			return stored{b.counts(t), got.State, msgs, len(log)}
		}

		bad := []struct {
			name, reply, fields, field string
		}{
			{"reply value the type lacks", "maybe", `{}`, "reply"},
			{"not_found without reason", "not_found", `{}`, yipanqi.ReasonField},
			{"not_found with free text", "not_found", `{"reason":"户籍地查无此人"}`, yipanqi.ReasonField},
			{"其他 without text", "not_found", `{"reason":"other"}`, yipanqi.ReasonTextField},
			{"其他 with blank text", "not_found", `{"reason":"other","reason_text":"  "}`, yipanqi.ReasonTextField},
			{"field the reply does not declare", "confirmed", `{"note":"属实","phone":"13800000000"}`, "phone"},
			{"corrected without corrections", "corrected", `{"note":"已更正"}`, "corrected"},
			{"corrected names no request field", "corrected", `{"corrected":{"birthday":"1988-01-01"}}`, "corrected.birthday"},
			{"corrected value of the wrong kind", "corrected", `{"corrected":{"hukou_code":"湖南"}}`, "corrected.hukou_code"},
			{"not an object", "confirmed", `"属实"`, "fields"},
		}
		before := snapshot()
		if before.state != yipanqi.CaseDelivered || before.messages == 0 {
			t.Fatalf("case at 43 before replying: %+v", before)
		}
		for _, tt := range bad {
			t.Run(tt.name, func(t *testing.T) {
				err := b.node.Reply(ctx, c.ID, tt.reply, json.RawMessage(tt.fields))
				wantCatalogError(t, err, ct.ValidateReply(tt.reply, json.RawMessage(tt.fields)), tt.field)
				if got := snapshot(); got != before {
					t.Fatalf("stored %+v, before %+v: a refused reply wrote something", got, before)
				}
			})
		}

		// A case that is not open takes no reply, whatever the reply.
		setState := func(s yipanqi.CaseState) {
			t.Helper()
			if err := b.db.InTx(ctx, func(tx *sqlstore.Tx) error {
				_, err := tx.SetCaseState(ctx, c.ID, yipanqi.Incoming, s)
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		valid := []struct{ reply, fields string }{
			{"confirmed", `{"note":"属实"}`}, {"not_found", `{"reason":"moved_out"}`},
			{"not_found", `{"reason":"other","reason_text":"底册移交中"}`},
			{"corrected", `{"corrected":{"hukou_address":"湖南省长沙市芙蓉区五一大道19号"}}`},
		}
		for _, v := range valid {
			if err := ct.ValidateReply(v.reply, json.RawMessage(v.fields)); err != nil {
				t.Fatalf("the catalog refuses %s %s: %v", v.reply, v.fields, err)
			}
		}
		for _, s := range []yipanqi.CaseState{yipanqi.CaseReplied, yipanqi.CaseClosed, yipanqi.CaseTransferred,
			yipanqi.CaseWithdrawn, yipanqi.CaseRejected} {
			t.Run("state "+string(s), func(t *testing.T) {
				setState(s)
				want := snapshot()
				for _, v := range valid {
					err := b.node.Reply(ctx, c.ID, v.reply, json.RawMessage(v.fields))
					wantError(t, err, yipanqi.ECONFLICT, "state")
					if !strings.Contains(yipanqi.ErrorMessage(err), "不能") {
						t.Errorf("message %q does not say the case cannot be answered", yipanqi.ErrorMessage(err))
					}
				}
				if got := snapshot(); got != want {
					t.Fatalf("stored %+v, before %+v: a refused reply wrote something", got, want)
				}
			})
		}

		// Open again: the first valid reply is stored, a second is ECONFLICT and stores nothing.
		setState(yipanqi.CaseDelivered)
		open := snapshot()
		if err := b.node.Reply(ctx, c.ID, valid[2].reply, json.RawMessage(valid[2].fields)); err != nil {
			t.Fatalf("valid reply: %v", err)
		}
		replied := snapshot()
		if replied.state != yipanqi.CaseReplied || replied.outbox != open.outbox+1 || replied.messages != open.messages+1 {
			t.Fatalf("after the reply %+v, before %+v", replied, open)
		}
		for _, v := range valid {
			wantError(t, b.node.Reply(ctx, c.ID, v.reply, json.RawMessage(v.fields)), yipanqi.ECONFLICT, "state")
		}
		if got := snapshot(); got != replied {
			t.Fatalf("second reply stored %+v, after the first %+v", got, replied)
		}
	})
}

// stage stores at p, as an older or tampered build of p would, a signed envelope of type typ
// whose data carries fields unchecked, in p's outbox for its relay to publish: a request
// opening a new outgoing case, or a reply (replyTo set) making the incoming case caseID
// replied. It returns the envelope.
func stage(t *testing.T, w *world, p *peer, typ, dest, unit, subject, replyTo, caseID string, data map[string]any) *exchange.Envelope {
	t.Helper()
	raw, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	e := &exchange.Envelope{ID: uuid.Must(uuid.NewV7()).String(), Source: exchange.NodeSource(p.code),
		Type: exchange.EventType(typ, 1), Subject: subject, Time: w.clock.Now().UTC(), Dest: dest, Unit: unit,
		ReplyTo: replyTo, Data: raw}
	if err := exchange.Sign(e, w.keys[p.code]); err != nil {
		t.Fatal(err)
	}
	body, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err = p.db.InTx(ctx, func(tx *sqlstore.Tx) error {
		if replyTo == "" {
			if err := tx.CreateCase(ctx, &yipanqi.Case{ID: caseID, Type: typ, Direction: yipanqi.Outgoing, OrgUnit: data["from_unit"].(string),
				PeerNode: dest, PeerUnit: unit, State: yipanqi.CaseSent, Data: json.RawMessage(`{}`)}); err != nil {
				return err
			}
		} else if _, err := tx.SetCaseState(ctx, caseID, yipanqi.Incoming, yipanqi.CaseReplied); err != nil {
			return err
		}
		m := &yipanqi.Message{ID: e.ID, CaseID: caseID, Type: typ, Source: p.code, Dest: dest, Body: body}
		return tx.Enqueue(ctx, m, exchange.Hash(e), replyTo, exchange.Subject(dest, p.code, typ))
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// deadLetterOf waits for p's dead letter of message id.
func deadLetterOf(t *testing.T, p *peer, id string) *yipanqi.DeadLetter {
	t.Helper()
	var found *yipanqi.DeadLetter
	checkFor(t, 15*time.Second, "dead letter of "+id+" at "+p.code, func() bool {
		list, err := p.db.DeadLetters(context.Background(), 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range list {
			if d.MessageID == id {
				found = d
				return true
			}
		}
		return false
	})
	return found
}

// TestValidateOnReceipt: a request or a reply whose data the catalog refuses — signed by a
// trusted sender that skipped the check — is dead-lettered with the catalog's reason, and the
// sender is told by a rejection notice (its request's case rejected).
func TestValidateOnReceipt(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		w := newWorld(t)
		a := w.start(t, "44", newDSN(), both)
		b := w.start(t, "43", newDSN(), both)
		ctx := context.Background()
		cat := yipanqi.Catalog()

		requests := []struct {
			name   string
			fields json.RawMessage
		}{
			{"extra field", requestWith(1, map[string]any{"phone": "13800000000"})},
			{"missing required field", requestWith(1, map[string]any{"id_number": nil})},
			{"bad value kind", requestWith(1, map[string]any{"name": 7})},
		}
		for _, tt := range requests {
			t.Run("request "+tt.name, func(t *testing.T) {
				want := cat.ValidateRequest("verify.identity", tt.fields)
				if want == nil {
					t.Fatal("the catalog accepts this request: the case tests nothing")
				}
				caseID := uuid.Must(uuid.NewV7()).String()
				e := stage(t, w, a, "verify.identity", "43", unit43, caseID, "", caseID,
					map[string]any{"from_unit": unit44a, "fields": tt.fields})
				dl := deadLetterOf(t, b, e.ID)
				wantReason := fmt.Sprintf("%s（字段 %s）", yipanqi.ErrorMessage(want), yipanqi.ErrorField(want))
				if dl.Reason != wantReason || dl.NoticeID == "" {
					t.Fatalf("dead letter %q (notice %q), want the catalog's reason %q and a notice", dl.Reason, dl.NoticeID, wantReason)
				}
				checkFor(t, 15*time.Second, "case rejected at 44", func() bool {
					got, err := a.db.FindCase(ctx, a.scope(t), caseID)
					return err == nil && got.State == yipanqi.CaseRejected
				})
				log, err := a.db.AuditLog(ctx, caseID, 10)
				if err != nil || len(log) == 0 || log[0].Action != "case.rejected" || !strings.Contains(log[0].Reason, wantReason) {
					t.Fatalf("sender's record of the rejection = %+v (%v), want the reason %q", log, err, wantReason)
				}
				if _, err := b.db.FindCase(ctx, b.scope(t), caseID); yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
					t.Fatalf("43 opened the refused case: %v", err)
				}
			})
		}

		replies := []struct {
			name, reply string
			fields      json.RawMessage
		}{
			{"extra field", "confirmed", json.RawMessage(`{"note":"属实","phone":"13800000000"}`)},
			{"free-text not_found reason", "not_found", json.RawMessage(`{"reason":"户籍地查无此人"}`)},
			{"reply value the type lacks", "maybe", json.RawMessage(`{}`)},
		}
		for i, tt := range replies {
			t.Run("reply "+tt.name, func(t *testing.T) {
				want := cat.ValidateReply("verify.identity", tt.reply, tt.fields)
				if want == nil {
					t.Fatal("the catalog accepts this reply: the case tests nothing")
				}
				c := a.send(t, 10+i, "verify.identity", unit43)
				checkFor(t, 15*time.Second, "case delivered at 44", func() bool {
					got, err := a.db.FindCase(ctx, a.scope(t), c.ID)
					return err == nil && got.State == yipanqi.CaseDelivered
				})
				var request string
				msgs, err := b.db.CaseMessages(ctx, b.scope(t), c.ID)
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range msgs {
					if m.Direction == yipanqi.Incoming && m.Type == c.Type {
						request = m.Hash
					}
				}
				if request == "" {
					t.Fatalf("43 logged no request of %s: %+v", c.ID, msgs)
				}
				e := stage(t, w, b, "verify.identity", "44", unit44a, c.ID, request, c.ID,
					map[string]any{"from_unit": unit43, "reply": tt.reply, "fields": tt.fields})
				dl := deadLetterOf(t, a, e.ID)
				wantReason := fmt.Sprintf("%s（字段 %s）", yipanqi.ErrorMessage(want), yipanqi.ErrorField(want))
				if dl.Reason != wantReason || dl.NoticeID == "" {
					t.Fatalf("dead letter %q (notice %q), want the catalog's reason %q and a notice", dl.Reason, dl.NoticeID, wantReason)
				}
				checkFor(t, 15*time.Second, "43 told of the refused reply", func() bool {
					return b.auditCount(t, c.ID, "case.rejected") == 1
				})
				got, err := a.db.FindCase(ctx, a.scope(t), c.ID)
				if err != nil || got.State != yipanqi.CaseDelivered {
					t.Fatalf("44's case after a refused reply = %+v (%v), want still delivered", got, err)
				}
			})
		}
	})
}
