package casework_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"yipanqi"
	"yipanqi/sqlstore/storetest"
)

// TestSidesAndLevels: a type is sent only by the levels the catalog names, and a province
// type only between province units; Send refuses anything else before storing, and the
// receiver dead-letters a request that skipped the check, telling the sender.
func TestSidesAndLevels(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		w := newWorld(t)
		a := w.start(t, "44", newDSN(), both)
		b := w.start(t, "43", newDSN(), both)
		ctx := context.Background()
		consult := json.RawMessage(`{"topic":"婚育证明互认","detail":"两省证明格式不一，基层互不认可"}`)
		tests := []struct {
			name   string
			c      *yipanqi.Case
			fields json.RawMessage
			field  string
		}{
			{"consult.case from a county", &yipanqi.Case{Type: "consult.case", OrgUnit: unit44a, PeerNode: "43", PeerUnit: "43"}, consult, "org_unit"},
			{"consult.case to a county", &yipanqi.Case{Type: "consult.case", OrgUnit: "44", PeerNode: "43", PeerUnit: unit43}, consult, "peer_unit"},
			{"verify.identity from the province", &yipanqi.Case{Type: "verify.identity", OrgUnit: "44", PeerNode: "43", PeerUnit: unit43}, fieldsFor(1), "org_unit"},
			{"petition.forward from a township", &yipanqi.Case{Type: "petition.forward", OrgUnit: unit44a + "001", PeerNode: "43", PeerUnit: unit43}, petition(1), "org_unit"},
		}
		before := a.kept(t)
		for _, tt := range tests {
			err := a.node.Send(ctx, tt.c, tt.fields)
			wantError(t, err, yipanqi.EINVALID, tt.field)
			if !strings.Contains(yipanqi.ErrorMessage(err), "“") {
				t.Errorf("%s: message %q does not name the type", tt.name, yipanqi.ErrorMessage(err))
			}
		}
		if after := a.kept(t); after != before {
			t.Fatalf("refused sends stored something: %+v → %+v", before, after)
		}

		// Province to province: the happy path, answered.
		c := &yipanqi.Case{Type: "consult.case", OrgUnit: "44", PeerNode: "43", PeerUnit: "43"}
		if err := a.node.Send(ctx, c, consult); err != nil {
			t.Fatal(err)
		}
		checkFor(t, 15*time.Second, "consult.case delivered", func() bool {
			got, err := b.db.FindCase(ctx, b.scope(t), c.ID)
			return err == nil && got.State == yipanqi.CaseDelivered && got.OrgUnit == "43"
		})
		if err := b.node.Reply(ctx, c.ID, "resolution", json.RawMessage(`{"resolution":"两省互认对方签发的婚育证明"}`)); err != nil {
			t.Fatal(err)
		}
		checkFor(t, 15*time.Second, "consult.case answered", func() bool {
			got, err := a.db.FindCase(ctx, a.scope(t), c.ID)
			return err == nil && got.State == yipanqi.CaseReplied
		})

		// A request from a level that may not send it, signed by a build that skipped the check.
		id := uuid.Must(uuid.NewV7()).String()
		e := stage(t, w, a, "consult.case", "43", "43", id, "", id, map[string]any{"from_unit": unit44a,
			"fields": map[string]any{"topic": "x", "detail": "y"}})
		dl := deadLetterOf(t, b, e.ID)
		if !strings.Contains(dl.Reason, "省级") {
			t.Fatalf("dead letter reason %q", dl.Reason)
		}
		checkFor(t, 15*time.Second, "sender told", func() bool {
			got, err := a.db.FindCase(ctx, a.scope(t), id)
			return err == nil && got.State == yipanqi.CaseRejected
		})
		if _, err := b.db.FindCase(ctx, b.scope(t), id); yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
			t.Fatalf("the refused request opened a case: %v", err)
		}
	})
}

// TestSenderIsASideOfThePerson: a case about a person is sent by a side of that person — the
// residence only about someone its registry holds, the hometown only about someone whose
// hukou is in its province; a type not about a person, or a case naming nobody, is not
// checked. Send refuses anything else, naming id_number but not the number, before storing;
// the receiver dead-letters what a sender that skipped the check sends about a person its own
// registry shows living here.
func TestSenderIsASideOfThePerson(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		w := newWorld(t)
		a := w.start(t, "44", newDSN(), both)
		b := w.start(t, "43", newDSN(), both)
		ctx := context.Background()
		birth := yipanqi.Date{Year: 1985, Month: 6, Day: 15}
		hunan := storetest.IDNumber(unit43, birth, 901)       // hukou in Hunan, in nobody's registry
		guangdong := storetest.IDNumber("440106", birth, 903) // a Guangdong resident, in nobody's registry
		care := func(id string) json.RawMessage {
			f := map[string]any{"need": "left_behind_elder", "detail": "老人独居，请协助探望"}
			if id != "" {
				f["id_number"] = id
			}
			raw, _ := json.Marshal(f)
			return raw
		}
		verify := func(id string) json.RawMessage {
			raw, _ := json.Marshal(map[string]any{"id_number": id})
			return raw
		}
		refused := []struct {
			name   string
			from   *peer
			c      *yipanqi.Case
			fields json.RawMessage
		}{
			{"residence, not in its registry", a, &yipanqi.Case{Type: "verify.identity", OrgUnit: unit44a, PeerNode: "43", PeerUnit: unit43}, verify(hunan)},
			{"hometown township, a Guangdong resident", b, &yipanqi.Case{Type: "care.request", OrgUnit: unit43 + "001", PeerNode: "44", PeerUnit: unit44a}, care(guangdong)},
			{"hometown sending a residence type", b, &yipanqi.Case{Type: "verify.identity", OrgUnit: unit43, PeerNode: "44", PeerUnit: unit44a}, verify(hunan)},
			{"either type, neither side", a, &yipanqi.Case{Type: "verify.urgent", OrgUnit: unit44a, PeerNode: "43", PeerUnit: unit43}, verify(hunan)},
		}
		beforeA, beforeB := a.kept(t), b.kept(t)
		for _, tt := range refused {
			err := tt.from.node.Send(ctx, tt.c, tt.fields)
			wantError(t, err, yipanqi.EINVALID, "id_number")
			if msg := yipanqi.ErrorMessage(err); strings.Contains(msg, hunan) || strings.Contains(msg, guangdong) || !strings.Contains(msg, "“") {
				t.Errorf("%s: message %q", tt.name, msg)
			}
		}
		if a.kept(t) != beforeA || b.kept(t) != beforeB {
			t.Fatal("a refused send stored something")
		}

		allowed := []struct {
			name   string
			from   *peer
			c      *yipanqi.Case
			fields json.RawMessage
		}{
			{"residence, in its registry", a, &yipanqi.Case{Type: "care.request", OrgUnit: unit44a, PeerNode: "43", PeerUnit: unit43}, care(idFor(1))},
			{"hometown, hukou by the ID number", b, &yipanqi.Case{Type: "care.request", OrgUnit: unit43, PeerNode: "44", PeerUnit: unit44a}, care(hunan)},
			{"hometown, about someone the residence holds", b, &yipanqi.Case{Type: "care.request", OrgUnit: unit43, PeerNode: "44", PeerUnit: unit44a}, care(idFor(4))},
			{"naming nobody", b, &yipanqi.Case{Type: "care.request", OrgUnit: unit43, PeerNode: "44", PeerUnit: unit44a}, care("")},
			{"not about a person", b, &yipanqi.Case{Type: "petition.forward", OrgUnit: unit43, PeerNode: "44", PeerUnit: unit44a}, petition(2)},
		}
		for _, tt := range allowed {
			if err := tt.from.node.Send(ctx, tt.c, tt.fields); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
		}
		for _, tt := range allowed {
			to := a
			if tt.from == a {
				to = b
			}
			checkFor(t, 15*time.Second, tt.name+": delivered", func() bool {
				got, err := to.db.FindCase(ctx, to.scope(t), tt.c.ID)
				return err == nil && got.State == yipanqi.CaseDelivered
			})
		}

		// A sender that skipped the check: 44's registry shows the person living in 44.
		for _, tt := range []struct {
			name, typ, id string
		}{
			{"residence type about someone living here", "verify.identity", idFor(2)},
			{"either type, hukou not in the sender", "care.request", localIDFor(3)},
		} {
			fields := map[string]any{"id_number": tt.id}
			if tt.typ == "care.request" {
				fields["need"], fields["detail"] = "hardship", "生活困难"
			}
			id := uuid.Must(uuid.NewV7()).String()
			e := stage(t, w, b, tt.typ, "44", unit44a, id, "", id, map[string]any{"from_unit": unit43, "fields": fields})
			dl := deadLetterOf(t, a, e.ID)
			if !strings.Contains(dl.Reason, "id_number") || strings.Contains(dl.Reason, tt.id) {
				t.Errorf("%s: dead letter reason %q", tt.name, dl.Reason)
			}
			checkFor(t, 15*time.Second, tt.name+": sender told", func() bool {
				got, err := b.db.FindCase(ctx, b.scope(t), id)
				return err == nil && got.State == yipanqi.CaseRejected
			})
			if _, err := a.db.FindCase(ctx, a.scope(t), id); yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
				t.Fatalf("%s: the refused request opened a case: %v", tt.name, err)
			}
		}
	})
}
