package exchange_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"yipanqi"
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
