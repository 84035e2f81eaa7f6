package casework_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/sqlstore/storetest"
)

// TestCertCheck: cert.check is answered by the hometown node's certificate registry, with no
// person in the loop: valid, expired, revoked, and unknown (no such number, or a number that
// is not the person's).
func TestCertCheck(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		w := newWorld(t)
		a := w.start(t, "44", newDSN(), both)
		b := w.start(t, "43", newDSN(), both)
		ctx := context.Background()
		today := yipanqi.DateOf(time.Now().In(yipanqi.Shanghai))
		birth := yipanqi.Date{Year: 1990, Month: 5, Day: 6}
		person := func(i int) string { return storetest.IDNumber(unit43, birth, i) }
		register(t, a, unit43, person(1), person(2), person(3), person(4))
		issue := func(i int, issued, until yipanqi.Date) string {
			c := &yipanqi.Certificate{Kind: yipanqi.CertIssued, IDNumber: person(i), HolderName: "测试", IssuerCode: unit43,
				IssuedOn: issued, ValidUntil: until, MaritalStatus: yipanqi.FirstMarried}
			if err := b.db.IssueCertificate(ctx, c); err != nil {
				t.Fatal(err)
			}
			return c.Number
		}
		valid := issue(1, today.AddDays(-30), today.AddDays(300))
		expired := issue(2, today.AddDays(-400), today.AddDays(-35))
		revoked := issue(3, today.AddDays(-30), today.AddDays(300))
		if err := b.db.RevokeCertificate(ctx, revoked, "持证人申请注销"); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name, idNumber, number, reply string
			fields                        map[string]any
		}{
			{"valid by number", person(1), valid, "valid", map[string]any{"cert_number": valid, "valid_until": today.AddDays(300).String()}},
			{"valid by person", person(1), "", "valid", map[string]any{"cert_number": valid, "valid_until": today.AddDays(300).String()}},
			{"expired", person(2), expired, "expired", map[string]any{"valid_until": today.AddDays(-35).String()}},
			{"revoked", person(3), revoked, "revoked", map[string]any{}},
			{"unknown number", person(1), unit43 + "-2020-000999", "unknown", map[string]any{}},
			{"another person's number", person(2), valid, "unknown", map[string]any{}},
			{"no certificate", person(4), "", "unknown", map[string]any{}},
		}
		for _, tt := range tests {
			f := map[string]any{"id_number": tt.idNumber}
			if tt.number != "" {
				f["cert_number"] = tt.number
			}
			raw, _ := json.Marshal(f)
			c := &yipanqi.Case{Type: "cert.check", OrgUnit: unit44a, PeerNode: "43", PeerUnit: unit43}
			if err := a.node.Send(ctx, c, raw); err != nil {
				t.Fatal(err)
			}
			checkFor(t, 15*time.Second, tt.name+": answered", func() bool {
				got, err := a.db.FindCase(ctx, a.scope(t), c.ID)
				return err == nil && got.State == yipanqi.CaseReplied
			})
			msgs, err := a.db.CaseMessages(ctx, a.scope(t), c.ID)
			if err != nil {
				t.Fatal(err)
			}
			var reply struct {
				Reply  string         `json:"reply"`
				Fields map[string]any `json:"fields"`
			}
			for _, m := range msgs {
				if m.Direction == yipanqi.Incoming && m.Type == "cert.check" {
					var env struct {
						Data json.RawMessage `json:"data"`
					}
					_ = json.Unmarshal(m.Body, &env)
					_ = json.Unmarshal(env.Data, &reply)
				}
			}
			want, _ := json.Marshal(tt.fields)
			got, _ := json.Marshal(reply.Fields)
			if reply.Reply != tt.reply || string(got) != string(want) {
				t.Errorf("%s: reply %q %s, want %q %s", tt.name, reply.Reply, got, tt.reply, want)
			}
			waitTimeline(t, b, c.ID, yipanqi.CaseEventReceived, yipanqi.CaseEventAutoAnswered, yipanqi.CaseEventReceipted)
		}
		// Nobody at the hometown can answer it again.
		if n := b.countCases(t, yipanqi.Incoming, yipanqi.CaseDelivered); n != 0 {
			t.Fatalf("%d cert.check cases wait for a person", n)
		}
	})
}
