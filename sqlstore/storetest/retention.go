package storetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/assess"
	"yipanqi/calendar"
	"yipanqi/sla"
	"yipanqi/sqlstore"
)

// testRetention: cases that ended before the cut-off lose their personal data (ID number,
// request data, message bodies, sent outbox rows, free-text notes), recent and open ones and
// a replied case with a later step keep theirs; revoked consents go only once the person
// has no case left with data; old dead letters go; the kept assessment and supervision
// figures are unchanged and still equal a recomputation; each batch is audited without
// personal data; a second run changes nothing.
func testRetention(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	clock := &fakeClock{now: shAt("2022-03-01 10:00:00")}
	db.Now = clock.Now
	k := MustClock(t, sla.Config{Now: clock.Now})
	p1, p2 := NewPerson(1, townshipA), NewPerson(2, townshipA)
	MustImport(t, db, p1, p2)
	staff := yipanqi.NewContextWithUser(ctx(), &yipanqi.User{Username: "wang", OrgUnit: county})
	scope := MustScope(t, county)

	// p1's consents: one revoked in 2022 (goes once p1's cases are all anonymised), one that
	// stands (kept). p2's revoked consent stays: p2 has a recent case.
	consent := func(p *yipanqi.Person, revoke bool) *yipanqi.Consent {
		c := &yipanqi.Consent{IDNumber: p.IDNumber, CaseType: "service.result", Recipient: hometown, GivenAt: clock.now.Add(-time.Hour)}
		if err := db.RecordConsent(staff, scope, c); err != nil {
			t.Fatal(err)
		}
		if revoke {
			if err := db.RevokeConsent(staff, scope, c.ID, "本人撤回"); err != nil {
				t.Fatal(err)
			}
		}
		return c
	}
	c1Revoked, c1Live, c2Revoked := consent(p1, true), consent(p1, false), consent(p2, true)

	// withLog gives a case a request and a reply in its log (the reply also sent, from the
	// outbox) and a timeline with an engine note and a note typed by staff.
	secret := "手机13800138000"
	withLog := func(c *yipanqi.Case) {
		t.Helper()
		body := func(kind string) []byte {
			return fmt.Appendf(nil, `{"kind":%q,"data":{"id_number":%q,"note":%q}}`, kind, c.PersonIDNumber, secret)
		}
		if err := db.InTx(ctx(), func(tx *sqlstore.Tx) error {
			in := &yipanqi.Message{ID: c.ID + "-req", CaseID: c.ID, Direction: yipanqi.Incoming, Type: c.Type, Source: "36", Dest: "44", Body: body("req")}
			if err := tx.LogMessage(ctx(), in, "h-"+c.ID, ""); err != nil {
				return err
			}
			out := &yipanqi.Message{ID: c.ID + "-rep", CaseID: c.ID, Type: c.Type, Source: "44", Dest: "36", Body: body("rep")}
			if err := tx.Enqueue(ctx(), out, "r-"+c.ID, "h-"+c.ID, "ypq.36.44."+c.Type); err != nil {
				return err
			}
			return tx.AddCaseEvents(ctx(), []*yipanqi.CaseEvent{
				{CaseID: c.ID, At: clock.now, Kind: yipanqi.CaseEventReplied, Actor: "wang", Node: "44", OrgUnit: c.OrgUnit, Note: "答复：属实"},
				{CaseID: c.ID, At: clock.now, Kind: yipanqi.CaseEventNoted, Actor: "wang", Node: "44", OrgUnit: c.OrgUnit, Note: secret},
			})
		}); err != nil {
			t.Fatal(err)
		}
		items, err := db.ClaimOutbox(ctx(), 100, clock.now, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, it := range items {
			ids = append(ids, it.ID)
		}
		if err := db.MarkSent(ctx(), ids, clock.now); err != nil {
			t.Fatal(err)
		}
	}
	data := func(c *yipanqi.Case, p *yipanqi.Person) *yipanqi.Case {
		c.Data = fmt.Appendf(nil, `{"name":%q,"id_number":%q}`, p.Name, p.IDNumber)
		return c
	}

	// 2022: cases that end (on time, late, withdrawn), one that stays open and overdue, and a
	// cert.reissue replied in 2022 whose sender records the arrival in 2025.
	old := []*yipanqi.Case{
		receiveCase(t, db, "verify.identity", townshipA, p1.IDNumber, clock.now),
		receiveCase(t, db, "cert.reissue", townshipA, p1.IDNumber, clock.now),
		receiveCase(t, db, "verify.identity", townshipB, p1.IDNumber, clock.now),
		receiveCase(t, db, "service.result", townshipB, p2.IDNumber, clock.now),
	}
	openOld := receiveCase(t, db, "verify.identity", townshipB, p2.IDNumber, clock.now)
	lateStep := receiveCase(t, db, "cert.reissue", townshipB, p2.IDNumber, clock.now)
	for _, c := range append(old, openOld, lateStep) {
		p := map[string]*yipanqi.Person{p1.IDNumber: p1, p2.IDNumber: p2}[c.PersonIDNumber]
		if err := db.ExecRaw(ctx(), "UPDATE cases SET data = ? WHERE id = ?", string(data(c, p).Data), c.ID); err != nil {
			t.Fatal(err)
		}
	}
	sweep(t, db, k, clock.now)
	clock.now = shAt("2022-03-04 15:00:00")
	setState(t, db, old[0].ID, yipanqi.CaseReplied)
	setState(t, db, old[1].ID, yipanqi.CaseReplied)
	setState(t, db, lateStep.ID, yipanqi.CaseReplied)
	setState(t, db, old[2].ID, yipanqi.CaseWithdrawn)
	setState(t, db, old[3].ID, yipanqi.CaseClosed)
	for _, c := range append(old, lateStep) {
		withLog(c)
	}
	clock.now = shAt("2022-05-01 10:00:00")
	setState(t, db, old[1].ID, yipanqi.CaseClosed)
	sweep(t, db, k, clock.now) // openOld is overdue now
	if _, err := db.DeadLetter(ctx(), &yipanqi.DeadLetter{Source: "36", Reason: "签名无效", Body: []byte(secret + " old")}); err != nil {
		t.Fatal(err)
	}

	clock.now = shAt("2025-09-01 10:00:00")
	if err := db.InTx(ctx(), func(tx *sqlstore.Tx) error {
		return tx.AddCaseEvents(ctx(), []*yipanqi.CaseEvent{{CaseID: lateStep.ID, At: clock.now, Kind: yipanqi.CaseEventCertArrived, Note: "证明已寄达"}})
	}); err != nil {
		t.Fatal(err)
	}
	clock.now = shAt("2026-05-01 10:00:00")
	recent := receiveCase(t, db, "verify.identity", townshipA, p2.IDNumber, clock.now)
	clock.now = shAt("2026-05-06 10:00:00")
	setState(t, db, recent.ID, yipanqi.CaseReplied)
	if _, err := db.DeadLetter(ctx(), &yipanqi.DeadLetter{Source: "36", Reason: "签名无效", Body: []byte(secret + " new")}); err != nil {
		t.Fatal(err)
	}
	clock.now = shAt("2026-06-01 10:00:00")
	sweep(t, db, k, clock.now)

	type figures struct {
		board  *sla.Board
		counts map[string]string
	}
	periods := []string{"2022-03", "2022-05", "2022-Q1", "2022-Q2", "2022", "2026-05", "2026"}
	kept := func(recompute bool) figures {
		t.Helper()
		f := figures{counts: map[string]string{}}
		var err error
		if recompute {
			f.board, err = db.RecomputeSupervision(ctx(), MustScope(t, "44"), clock.now)
		} else {
			f.board, err = db.Supervision(ctx(), MustScope(t, "44"), clock.now)
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, ps := range periods {
			p, err := assess.ParsePeriod(ps, clock.now)
			if err != nil {
				t.Fatal(err)
			}
			var cs []assess.Count
			if recompute {
				cs, err = db.RecomputeAssessmentCounts(ctx(), MustScope(t, "44"), p, calendar.New())
			} else {
				cs, err = db.AssessmentCounts(ctx(), MustScope(t, "44"), p)
			}
			if err != nil {
				t.Fatal(err)
			}
			f.counts[ps] = fmt.Sprint(cs)
		}
		return f
	}
	before := kept(false)
	if before.counts["2022"] == "[]" || before.board.Total.Open == 0 {
		t.Fatalf("fixture counts nothing: %+v %v", before.board.Total, before.counts)
	}
	caseRows := func() map[string]yipanqi.Case {
		list, _, err := db.ListCases(ctx(), MustScope(t, "44"), yipanqi.CaseFilter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]yipanqi.Case{}
		for _, c := range list {
			m[c.ID] = *c
		}
		return m
	}
	rowsBefore := caseRows()

	cutoff := clock.now.AddDate(-3, 0, 0)
	due, err := db.RetentionDue(ctx(), cutoff)
	if err != nil {
		t.Fatal(err)
	}
	if due.Cases != int64(len(old)) || due.Consents != 1 || due.DeadLetters != 1 {
		t.Errorf("due = %+v, want %d cases, 1 consent, 1 dead letter", due, len(old))
	}
	if again, _ := db.RetentionDue(ctx(), cutoff); again != due {
		t.Errorf("counting changed something: %+v then %+v", due, again)
	}
	res, err := db.ApplyRetention(ctx(), cutoff, 3) // two batches of cases
	if err != nil {
		t.Fatal(err)
	}
	if res.Cases != int64(len(old)) || res.Messages != 2*int64(len(old)) || res.Outbox != int64(len(old)) ||
		res.Notes != int64(len(old)) || res.Consents != 1 || res.DeadLetters != 1 || res.Batches != 4 {
		t.Errorf("result = %+v", res)
	}

	rowsAfter := caseRows()
	anonymised := map[string]bool{}
	for _, c := range old {
		anonymised[c.ID] = true
	}
	for id, b := range rowsBefore {
		a := rowsAfter[id]
		if !anonymised[id] {
			if !reflect.DeepEqual(a, b) {
				t.Errorf("case %s changed:\n%+v\n%+v", id, b, a)
			}
			continue
		}
		var got, want map[string]string
		if a.PersonIDNumber != "" || json.Unmarshal(a.Data, &got) != nil || json.Unmarshal([]byte(sqlstore.AnonymisedData), &want) != nil ||
			!reflect.DeepEqual(got, want) {
			t.Errorf("case %s not anonymised: %q %s", id, a.PersonIDNumber, a.Data)
		}
		a.PersonIDNumber, a.Data = b.PersonIDNumber, b.Data
		if !reflect.DeepEqual(a, b) {
			t.Errorf("case %s: more than its personal data changed:\n%+v\n%+v", id, b, a)
		}
		msgs, err := db.CaseMessages(ctx(), scope, id)
		if err != nil || len(msgs) != 2 {
			t.Fatalf("messages of %s: %d, %v", id, len(msgs), err)
		}
		for _, m := range msgs {
			if !bytes.Equal(m.Body, sqlstore.AnonymisedBody) {
				t.Errorf("message %s of %s: %s", m.ID, id, m.Body)
			}
		}
		tl, err := db.CaseTimeline(ctx(), scope, id)
		if err != nil {
			t.Fatal(err)
		}
		notes := ""
		for _, e := range tl {
			notes += e.Kind + ":" + e.Note + ";"
		}
		if strings.Contains(notes, secret) || !strings.Contains(notes, "replied:答复：属实") {
			t.Errorf("timeline of %s: %s", id, notes)
		}
	}
	// The cases that keep their data keep their log too.
	for _, c := range []*yipanqi.Case{lateStep} {
		msgs, err := db.CaseMessages(ctx(), scope, c.ID)
		if err != nil || len(msgs) != 2 || !bytes.Contains(msgs[0].Body, []byte(secret)) {
			t.Errorf("log of %s touched: %v %v", c.ID, msgs, err)
		}
		if got := rowsAfter[c.ID]; got.PersonIDNumber != p2.IDNumber {
			t.Errorf("%s has a step in 2025 and must keep its data: %+v", c.ID, got)
		}
	}
	if rowsAfter[openOld.ID].PersonIDNumber == "" || rowsAfter[recent.ID].PersonIDNumber == "" {
		t.Errorf("open or recent case anonymised")
	}

	// Consents: p1's cases are all anonymised, so p1's revoked consent goes and the one that
	// stands stays; p2 still has cases with data, so p2's revoked consent stays.
	all := func(p *yipanqi.Person) map[int64]bool {
		list, err := db.Consents(ctx(), scope, p.IDNumber)
		if err != nil {
			t.Fatal(err)
		}
		m := map[int64]bool{}
		for _, c := range list {
			m[c.ID] = true
		}
		return m
	}
	c1, c2 := all(p1), all(p2)
	if c1[c1Revoked.ID] || !c1[c1Live.ID] || !c2[c2Revoked.ID] {
		t.Errorf("consents: p1 %v (revoked %d must go, live %d stay), p2 %v (revoked %d stays)", c1, c1Revoked.ID, c1Live.ID, c2, c2Revoked.ID)
	}

	letters, err := db.DeadLetters(ctx(), 10)
	if err != nil || len(letters) != 1 || !strings.HasSuffix(string(letters[0].Body), "new") {
		t.Errorf("dead letters left: %v, %v", letters, err)
	}

	// The figures: unchanged, and still what the cases give — also after the next sweep.
	if after := kept(false); !reflect.DeepEqual(after, before) {
		t.Errorf("kept figures changed:\n%+v\n%+v", before, after)
	}
	sweep(t, db, k, clock.now)
	if after, re := kept(false), kept(true); !reflect.DeepEqual(after, before) || !reflect.DeepEqual(re, before) {
		t.Errorf("figures after the sweep:\nbefore     %+v\nkept       %+v\nrecomputed %+v", before, after, re)
	}

	// Audited per batch, with the numbers and the cut-off, no personal data.
	log, err := db.AuditLog(ctx(), "cases", 10)
	if err != nil {
		t.Fatal(err)
	}
	var batches int
	for _, e := range log {
		if e.Action != "retention.anonymise" {
			continue
		}
		batches++
		if !strings.Contains(e.Reason, cutoff.UTC().Format(time.RFC3339)) || e.Actor != "system:retention" {
			t.Errorf("audit entry %+v", e)
		}
		for _, pd := range []string{p1.IDNumber, p2.IDNumber, p1.Name, secret} {
			if strings.Contains(e.Reason+e.Object, pd) {
				t.Errorf("audit entry holds personal data %q: %+v", pd, e)
			}
		}
	}
	if batches != 2 {
		t.Errorf("%d retention.anonymise entries, want 2", batches)
	}

	// A second run changes nothing and writes no entry.
	entries := len(log)
	if res, err := db.ApplyRetention(ctx(), cutoff, 3); err != nil || res != (sqlstore.RetentionResult{Cutoff: res.Cutoff}) {
		t.Errorf("second run: %+v, %v", res, err)
	}
	if log, _ := db.AuditLog(ctx(), "cases", 10); len(log) != entries {
		t.Errorf("second run wrote %d audit entries", len(log)-entries)
	}
}
