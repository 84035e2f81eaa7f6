package casework_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/casework"
	"yipanqi/sqlstore"
	"yipanqi/sqlstore/storetest"
)

// typeSample is a valid case of one catalog type between the two test nodes, and the final
// reply it is answered with (for a type answered by staff).
type typeSample struct {
	from, to string         // sending and addressed units
	fields   map[string]any // a valid request
	reply    string
	answer   map[string]any
}

// TestEveryType: for every type of the catalog, the happy path across two nodes, and the bad
// inputs every type must refuse with a clear error and nothing stored: a missing required
// field, a level that may not send it, the wrong side (a case for the hometown addressed
// elsewhere than the hukou the registry holds), a reply to a notice, a second reply.
func TestEveryType(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		w := newWorld(t)
		a := w.start(t, "44", newDSN(), both)
		b := w.start(t, "43", newDSN(), both)
		ctx := context.Background()
		person := storetest.NewPerson(5, unit44a+"001")
		person.IDNumber, person.HukouCode = storetest.IDNumber(unit43, person.BirthDate, 5), unit43
		storetest.MustImport(t, a.db, person)
		staff := yipanqi.NewContextWithUser(ctx, &yipanqi.User{Username: "lin", OrgUnit: unit44a})
		if err := a.db.RecordConsent(staff, a.scope(t), &yipanqi.Consent{IDNumber: person.IDNumber, CaseType: "service.result",
			Recipient: unit43, GivenAt: time.Now().Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
		id := person.IDNumber
		dir, err := casework.DirectoryFields(yipanqi.DirectoryVersion{Province: "44", Version: 1, UpdatedAt: time.Now()},
			[]yipanqi.DirectoryEntry{{Kind: yipanqi.EntryContact, DivisionCode: "44", Name: "广东省流动人口服务中心",
				Role: yipanqi.RoleOfficeHead, Phone: "020-12345678"}})
		if err != nil {
			t.Fatal(err)
		}
		var dirFields map[string]any
		_ = json.Unmarshal(dir, &dirFields)
		var verify map[string]any
		_ = json.Unmarshal(fieldsFor(9), &verify)

		samples := map[string]typeSample{
			"verify.identity": {unit44a, unit43, verify, "confirmed", map[string]any{}},
			"verify.urgent":   {unit44a, unit43, verify, "not_found", map[string]any{"reason": "other", "reason_text": "户籍档案待查"}},
			"cert.check":      {unit44a, unit43, map[string]any{"id_number": id}, "", nil},
			"cert.reissue": {unit44a, unit43, map[string]any{"id_number": id, "name": "测试", "post_to": unit44a + "001"},
				"refused", map[string]any{"reason": "户籍已迁出"}},
			"service.result": {unit44a, unit43, map[string]any{"id_number": id, "service_kind": "follow_up",
				"service_date": "2026-10-12", "provider": "天河区妇幼保健院", "checkup_done": false}, "", nil},
			"birth.registration": {unit44a, unit43, map[string]any{"id_number": id, "registration_number": "440106-2026-0001",
				"registered_on": "2026-10-01", "registered_by": unit44a}, "", nil},
			"proof.marital": {unit44a, unit43, map[string]any{"id_number": id, "purpose": "子女入学"},
				"issued", map[string]any{"proof_number": "P-1", "marital_status": string(yipanqi.FirstMarried), "children": 1}},
			"reward.eligibility": {unit44a, unit43, map[string]any{"id_number": id, "scheme": "rural_family_reward"},
				"eligible", map[string]any{}},
			"petition.forward": {unit44a, unit43, map[string]any{"petition_number": "粤信-1", "petition_date": "2026-11-02",
				"summary": "反映奖励扶助未兑现"}, "declined", map[string]any{"reason": "已由上级机关办结"}},
			"care.request": {unit44a, unit43, map[string]any{"need": "left_behind_child", "detail": "父母均在广州务工"},
				"action_taken", map[string]any{"action": "村委会每周走访", "acted_on": "2026-11-05"}},
			"move.notice": {unit44a, unit43, map[string]any{"id_number": id, "flow": "left", "flow_date": "2026-11-01"}, "", nil},
			"consult.case": {"44", "43", map[string]any{"topic": "证明互认", "detail": "两省互认婚育证明"},
				"resolution", map[string]any{"resolution": "互认"}},
			"directory.update": {"44", "43", dirFields, "", nil},
		}
		cat := yipanqi.Catalog()
		for _, ct := range cat.Types() {
			t.Run(ct.Name, func(t *testing.T) {
				s, ok := samples[ct.Name]
				if !ok {
					t.Fatalf("no sample for %s: add one", ct.Name)
				}
				raw, _ := json.Marshal(s.fields)
				newCase := func(from string) *yipanqi.Case {
					return &yipanqi.Case{Type: ct.Name, OrgUnit: from, PeerNode: s.to[:2], PeerUnit: s.to}
				}

				// Bad input: nothing stored.
				before := a.counts(t)
				missing := map[string]any{}
				for k, v := range s.fields {
					missing[k] = v
				}
				req := ct.RequiredFields()[0]
				delete(missing, req)
				bad, _ := json.Marshal(missing)
				wantError(t, a.node.Send(ctx, newCase(s.from), bad), yipanqi.EINVALID, req)
				for _, u := range []string{unit44a + "001", unit44a, "4401", "44"} {
					if !slices.Contains(ct.Levels, yipanqi.LevelOf(u)) {
						wantError(t, a.node.Send(ctx, newCase(u), raw), yipanqi.EINVALID, "org_unit")
						break
					}
				}
				// Wrong side: a case for the hometown addressed off the person's hukou path.
				if ct.From == yipanqi.SideResidence && ct.To == yipanqi.SideHometown && s.fields["id_number"] == id {
					c := newCase(s.from)
					c.PeerUnit = "430103"
					wantError(t, a.node.Send(ctx, c, raw), yipanqi.EINVALID, "peer_unit")
				}
				// (The outbox drains meanwhile: the relay runs. Cases and dead letters do not move.)
				if after := a.counts(t); after.cases != before.cases || after.dead != before.dead {
					t.Fatalf("refused sends stored something: %+v → %+v", before, after)
				}

				// The happy path.
				c := newCase(s.from)
				if err := a.node.Send(staff, c, raw); err != nil {
					t.Fatal(err)
				}
				final := yipanqi.CaseReplied
				if !ct.NeedsReply {
					final = yipanqi.CaseClosed
				}
				if s.reply != "" {
					checkFor(t, 15*time.Second, "delivered", func() bool {
						got, err := b.db.FindCase(ctx, b.scope(t), c.ID)
						return err == nil && got.State == yipanqi.CaseDelivered
					})
					answer, _ := json.Marshal(s.answer)
					if err := b.node.Reply(ctx, c.ID, s.reply, answer); err != nil {
						t.Fatal(err)
					}
				}
				checkFor(t, 15*time.Second, "sender's case "+string(final), func() bool {
					got, err := a.db.FindCase(ctx, a.scope(t), c.ID)
					return err == nil && got.State == final
				})
				in, err := b.db.FindCase(ctx, b.scope(t), c.ID)
				if err != nil || in.State != final {
					t.Fatalf("receiver's case = %+v, %v; want %s", in, err, final)
				}
				// No reply after the case is answered or closed.
				before = b.counts(t)
				if ct.NeedsReply {
					// A second answer, valid in itself, is refused.
					r := ct.Replies[len(ct.Replies)-1]
					answer := map[string]any{}
					if r.Value == s.reply {
						answer = s.answer
					}
					for _, f := range r.Fields {
						if !f.Required || answer[f.Name] != nil {
							continue
						}
						switch f.Kind {
						case yipanqi.KindDate:
							answer[f.Name] = "2026-11-01"
						case yipanqi.KindNumber:
							answer[f.Name] = 1
						case yipanqi.KindDivision:
							answer[f.Name] = unit43
						case yipanqi.KindEnum:
							answer[f.Name] = f.Options[0].Value
						default:
							answer[f.Name] = "x"
						}
					}
					if r.ReasonRequired {
						answer["reason"] = "x"
						if len(r.ReasonOptions) > 0 {
							answer["reason"] = r.ReasonOptions[0].Value
						}
					}
					raw, _ := json.Marshal(answer)
					if err := ct.ValidateReply(r.Value, raw); err != nil {
						t.Fatalf("the second answer is not valid in itself: %v", err)
					}
					wantError(t, b.node.Reply(ctx, c.ID, r.Value, raw), yipanqi.ECONFLICT, "state")
				} else {
					wantError(t, b.node.Reply(ctx, c.ID, "confirmed", nil), yipanqi.EINVALID, "reply")
				}
				if after := b.counts(t); after.cases != before.cases || after.dead != before.dead {
					t.Fatalf("refused replies stored something: %+v → %+v", before, after)
				}
				if kinds := b.timelineKinds(t, c.ID); len(kinds) == 0 || kinds[0] != yipanqi.CaseEventReceived {
					t.Fatalf("receiver's timeline = %v", kinds)
				}
			})
		}
		for _, p := range []*peer{a, b} {
			if dl, _ := p.db.DeadLetters(ctx, 10); len(dl) != 0 {
				t.Fatalf("dead letters at %s: %s", p.code, dl[0].Reason)
			}
		}
	})
}

// TestApplyOnReceipt: a type's Apply runs in the transaction that opens the case; a refusal
// from it rolls the case back, dead-letters the message and tells the sender.
func TestApplyOnReceipt(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		w := newWorld(t)
		a := w.start(t, "44", newDSN(), both)
		types := casework.DefaultCaseTypes()
		ct := types["care.request"]
		ct.Apply = func(ctx context.Context, tx *sqlstore.Tx, c *yipanqi.Case) error {
			var f map[string]any
			_ = json.Unmarshal(c.Data, &f)
			if f["detail"] == "拒绝" {
				return yipanqi.FieldErrorf(yipanqi.EINVALID, "detail", "本节点不受理此项协助")
			}
			return tx.AddCaseEvents(ctx, []*yipanqi.CaseEvent{{CaseID: c.ID, Kind: yipanqi.CaseEventNoted, Note: "已应用"}})
		}
		types["care.request"] = ct
		b := w.start(t, "43", newDSN(), run{relay: true, consumer: true, tune: func(c *casework.NodeConfig) { c.Types = types }})
		ctx := context.Background()
		send := func(detail string) *yipanqi.Case {
			c := &yipanqi.Case{Type: "care.request", OrgUnit: unit44a, PeerNode: "43", PeerUnit: unit43}
			raw, _ := json.Marshal(map[string]any{"need": "hardship", "detail": detail})
			if err := a.node.Send(ctx, c, raw); err != nil {
				t.Fatal(err)
			}
			return c
		}
		ok := send("家中老人需要照看")
		waitTimeline(t, b, ok.ID, yipanqi.CaseEventReceived, yipanqi.CaseEventNoted)
		no := send("拒绝")
		checkFor(t, 15*time.Second, "refused by Apply", func() bool {
			got, err := a.db.FindCase(ctx, a.scope(t), no.ID)
			return err == nil && got.State == yipanqi.CaseRejected
		})
		if _, err := b.db.FindCase(ctx, b.scope(t), no.ID); yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
			t.Fatalf("the refused case is at 43: %v", err)
		}
	})
}
