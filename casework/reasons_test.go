package casework_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"yipanqi"
	"yipanqi/exchange"
	"yipanqi/sqlstore/storetest"
)

// TestDeadLetterReasonsNameNoValue: whatever a message gets wrong about an ID number — sent as
// a JSON number, put where a name or a code goes, in an enum, invalid — it is dead-lettered
// with a reason that names the field and the rule, and neither the reason kept, the audit
// entry nor the rejection notice to the sender carries the number.
func TestDeadLetterReasonsNameNoValue(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		w := newWorld(t)
		b := w.start(t, "43", newDSN(), run{}) // nothing runs: the test hands it each delivery
		ctx := context.Background()
		id := storetest.IDNumber("440106", yipanqi.Date{Year: 1990, Month: 3, Day: 7}, 123)
		bad := id[:17] + "Y"

		// sealed returns a request from node 44, signed, and its encoding.
		sealed := func(typ string, data map[string]any) (*exchange.Envelope, string) {
			t.Helper()
			raw, err := json.Marshal(data)
			if err != nil {
				t.Fatal(err)
			}
			sid := uuid.Must(uuid.NewV7()).String()
			e := &exchange.Envelope{ID: uuid.Must(uuid.NewV7()).String(), Source: exchange.NodeSource("44"),
				Type: exchange.EventType(typ, 1), Subject: sid, Time: w.clock.Now().UTC(), Dest: "43", Unit: unit43, Data: raw}
			if err := exchange.Sign(e, w.keys["44"]); err != nil {
				t.Fatal(err)
			}
			body, err := e.Encode()
			if err != nil {
				t.Fatal(err)
			}
			return e, string(body)
		}
		request := func(fields map[string]any) map[string]any {
			return map[string]any{"from_unit": unit44a, "fields": fields}
		}
		good := map[string]any{"id_number": id, "reason": "核实"}
		_, plain := sealed("verify.identity", request(good))
		tests := []struct {
			name, typ, body string
		}{
			// Refused by Decode, before the signature is looked at.
			{"ID number as a JSON number", "verify.identity", strings.Replace(plain, `"id_number":"`+id+`"`, `"id_number":`+id[:17], 1)},
			{"ID number as the subject", "verify.identity", regexpReplaceSubject(plain, id)},
			{"ID number as a member name", "verify.identity", strings.Replace(plain, `{"data"`, `{"`+id+`":"x","data"`, 1)},
			// Refused by the catalog or the engine, signed by a trusted sender.
			{"ID number as a field name", "verify.identity", sign1(sealed, "verify.identity", request(map[string]any{"id_number": id, id: "x"}))},
			{"ID number as an enum value", "care.request", sign1(sealed, "care.request", request(map[string]any{"need": id, "detail": "留守老人"}))},
			{"invalid ID number", "verify.identity", sign1(sealed, "verify.identity", request(map[string]any{"id_number": bad}))},
			{"ID number as the sending unit", "verify.identity", sign1(sealed, "verify.identity",
				map[string]any{"from_unit": "44" + id[2:], "fields": good})},
			{"ID number in the type", "x" + id, sign1(sealed, "x"+id, request(good))},
		}
		for _, tt := range tests {
			var msgID string
			if e, err := exchange.Decode([]byte(tt.body)); err == nil {
				msgID = e.ID
			} else {
				msgID = uuid.Must(uuid.NewV7()).String()
			}
			err := b.node.Handle(ctx, exchange.Delivery{Subject: exchange.Subject("43", "44", tt.typ), Src: "44", Dst: "43",
				Type: tt.typ, MsgID: msgID, Body: []byte(tt.body), NumDelivered: 1})
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			dl := deadLetterOf(t, b, msgID)
			for _, v := range []string{id, bad, id[:17], id[2:]} {
				if strings.Contains(dl.Reason, v) {
					t.Errorf("%s: the reason %q quotes the value", tt.name, dl.Reason)
				}
			}
			if !strings.Contains(dl.Reason, "字段") && !strings.Contains(dl.Reason, "类型") {
				t.Errorf("%s: the reason %q names no field", tt.name, dl.Reason)
			}
		}
		// The audit entries and the rejection notices to the sender say the same.
		entries, err := b.db.AuditLog(ctx, "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		dead := 0
		for _, e := range entries {
			if e.Action == "message.dead_letter" {
				dead++
				if strings.Contains(e.Reason, id) || strings.Contains(e.Reason, bad) || strings.Contains(e.Reason, id[:17]) {
					t.Errorf("audit entry quotes the value: %q", e.Reason)
				}
			}
		}
		if dead != len(tests) {
			t.Errorf("dead-letter audit entries = %d, want %d", dead, len(tests))
		}
		notices := outboxBodies(t, b, w.clock.Now().Add(time.Hour))
		if len(notices) != len(tests) {
			t.Errorf("rejection notices = %d, want %d", len(notices), len(tests))
		}
		for _, n := range notices {
			e, err := exchange.Decode(n.Body)
			if err != nil {
				t.Fatal(err)
			}
			if s := string(e.Data); strings.Contains(s, id[:17]) || strings.Contains(s, id[2:]) {
				t.Errorf("rejection notice quotes the value: %s", s)
			}
		}
	})
}

// sign1 is the encoding of a sealed envelope.
func sign1(sealed func(string, map[string]any) (*exchange.Envelope, string), typ string, data map[string]any) string {
	_, body := sealed(typ, data)
	return body
}

// regexpReplaceSubject puts v as the subject of an encoded envelope.
func regexpReplaceSubject(body, v string) string {
	i := strings.Index(body, `"subject":"`) + len(`"subject":"`)
	j := i + strings.IndexByte(body[i:], '"')
	return body[:i] + v + body[j:]
}
