package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/sqlstore"
)

// newIncoming stores an open incoming case held by unit.
func newIncoming(t *testing.T, db *sqlstore.DB, unit string) *yipanqi.Case {
	t.Helper()
	c := &yipanqi.Case{Type: "verify.identity", Direction: yipanqi.Incoming, OrgUnit: unit, PeerNode: "36",
		PeerUnit: "360121", State: yipanqi.CaseDelivered}
	if err := db.CreateCase(ctx(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

// testCaseTimeline: events written in a transaction come back in time order (ties in the order
// written), only through a scope that holds the case; a rolled-back step leaves none; a bad
// event writes nothing.
func testCaseTimeline(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	c := newIncoming(t, db, townshipA)
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	events := []*yipanqi.CaseEvent{
		{CaseID: c.ID, At: t0.Add(time.Hour), Kind: yipanqi.CaseEventReplied, Actor: "wang", Node: "44", OrgUnit: townshipA, Note: "答复：属实"},
		{CaseID: c.ID, At: t0, Kind: yipanqi.CaseEventReceived, Actor: "system:exchange", Node: "44", OrgUnit: townshipA, Note: "来自 360121"},
		{CaseID: c.ID, At: t0, Kind: yipanqi.CaseEventTransferred, Actor: "li", Node: "44", OrgUnit: townshipA},
	}
	if err := db.InBatchTx(ctx(), func(tx *sqlstore.Tx) error { return tx.AddCaseEvents(ctx(), events) }); err != nil {
		t.Fatal(err)
	}
	// A step that rolls back leaves no event.
	boom := yipanqi.Errorf(yipanqi.ECONFLICT, "boom")
	err := db.InTx(ctx(), func(tx *sqlstore.Tx) error {
		if err := tx.AddCaseEvents(ctx(), []*yipanqi.CaseEvent{{CaseID: c.ID, Kind: yipanqi.CaseEventWithdrawn}}); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Fatalf("rolled-back transaction returned %v", err)
	}
	// A bad event refuses the whole call.
	err = db.InTx(ctx(), func(tx *sqlstore.Tx) error {
		return tx.AddCaseEvents(ctx(), []*yipanqi.CaseEvent{{CaseID: c.ID, Kind: yipanqi.CaseEventNoted}, {CaseID: c.ID}})
	})
	wantCode(t, err, yipanqi.EINVALID)

	got, err := db.CaseTimeline(ctx(), MustScope(t, county), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []*yipanqi.CaseEvent{events[1], events[2], events[0]}
	if len(got) != len(want) {
		t.Fatalf("timeline has %d events, want %d: %+v", len(got), len(want), got)
	}
	for i, e := range got {
		w := want[i]
		if e.CaseID != w.CaseID || !e.At.Equal(w.At) || e.Kind != w.Kind || e.Actor != w.Actor || e.Node != w.Node ||
			e.OrgUnit != w.OrgUnit || e.Note != w.Note {
			t.Fatalf("event %d = %+v, want %+v", i, e, w)
		}
	}
	if got[0].Label() != "已收到并签收" || got[2].Label() != "已答复" {
		t.Fatalf("labels %q, %q", got[0].Label(), got[2].Label())
	}
	_, err = db.CaseTimeline(ctx(), MustScope(t, townshipB), c.ID)
	wantCode(t, err, yipanqi.ENOTFOUND)
	_, err = db.CaseTimeline(ctx(), yipanqi.Scope{}, c.ID)
	wantCode(t, err, yipanqi.EFORBIDDEN)
}

// testRouteUnit: the deepest active unit on the path of the addressed code.
func testRouteUnit(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	if err := db.UpsertOrgUnits(ctx(), []yipanqi.OrgUnit{
		{Code: "44", Name: "广东省", Active: true},
		{Code: "4401", Name: "广州市", Active: false},
		{Code: county, Name: "天河区", Active: true},
		{Code: townshipA, Name: "甲街道", Active: true},
		{Code: townshipB, Name: "乙街道", Active: false},
	}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		code, unit string
		held       bool
	}{
		{townshipA, townshipA, true},
		{townshipA + "001", townshipA, false}, // a village: its township has staff
		{townshipB, county, true},             // held, but without staff: the county
		{townshipB + "002", county, false},
		{"440111", "44", false}, // no unit of the city or county: the province
		{"4401", "44", true},
		{"45", "", false},
		{"bad", "", false},
	}
	for _, tt := range tests {
		unit, held, err := db.RouteUnit(ctx(), tt.code)
		if err != nil || unit != tt.unit || held != tt.held {
			t.Errorf("RouteUnit(%s) = %q, %v, %v; want %q, %v", tt.code, unit, held, err, tt.unit, tt.held)
		}
	}
}

// testMoveCase: a transfer moves an open incoming case to an active unit; anything else is
// refused and changes nothing.
func testMoveCase(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	if err := db.UpsertOrgUnits(ctx(), []yipanqi.OrgUnit{
		{Code: townshipA, Name: "甲街道", Active: true}, {Code: townshipB, Name: "乙街道", Active: true},
		{Code: elsewhere, Name: "南山区", Active: false},
	}); err != nil {
		t.Fatal(err)
	}
	c := newIncoming(t, db, townshipA)
	move := func(id, to string) (string, error) {
		var from string
		err := db.InTx(ctx(), func(tx *sqlstore.Tx) error {
			var err error
			from, err = tx.MoveCase(ctx(), id, to)
			return err
		})
		return from, err
	}
	for _, bad := range []struct {
		id, to, code string
	}{
		{c.ID, elsewhere, yipanqi.EINVALID},    // no staff
		{c.ID, "440199", yipanqi.EINVALID},     // not a unit of the node
		{c.ID, townshipA, yipanqi.EINVALID},    // already there
		{"nope", townshipB, yipanqi.ENOTFOUND}, // no such case
	} {
		_, err := move(bad.id, bad.to)
		wantCode(t, err, bad.code)
	}
	if got, err := db.FindCase(ctx(), MustScope(t, townshipA), c.ID); err != nil || got.OrgUnit != townshipA {
		t.Fatalf("after refused moves: %+v, %v", got, err)
	}
	from, err := move(c.ID, townshipB)
	if err != nil || from != townshipA {
		t.Fatalf("move = %q, %v", from, err)
	}
	if _, err := db.FindCase(ctx(), MustScope(t, townshipA), c.ID); yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
		t.Fatalf("the old unit still sees the case: %v", err)
	}
	if got, err := db.FindCase(ctx(), MustScope(t, townshipB), c.ID); err != nil || got.OrgUnit != townshipB {
		t.Fatalf("the new unit: %+v, %v", got, err)
	}
	// A case that is no longer open is not moved.
	if err := db.InTx(ctx(), func(tx *sqlstore.Tx) error {
		_, err := tx.SetCaseState(ctx(), c.ID, yipanqi.Incoming, yipanqi.CaseReplied)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	_, err = move(c.ID, townshipA)
	wantCode(t, err, yipanqi.ECONFLICT)
}

// testCaseworkTx: the transaction helpers of the workflows — peer unit, deadline, the replies
// of a case, its event counts, hukou codes, and a flow recorded in a transaction that rolls
// back leaving nothing.
func testCaseworkTx(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	out := &yipanqi.Case{Type: "petition.forward", Direction: yipanqi.Outgoing, OrgUnit: townshipA, PeerNode: "36",
		PeerUnit: "360121", State: yipanqi.CaseDelivered}
	if err := db.CreateCase(ctx(), out); err != nil {
		t.Fatal(err)
	}
	p := NewPerson(1, townshipA)
	MustImport(t, db, p)
	due := time.Date(2027, 1, 5, 15, 59, 59, 0, time.UTC)
	err := db.InTx(ctx(), func(tx *sqlstore.Tx) error {
		if err := tx.SetPeerUnit(ctx(), out.ID, "360121100"); err != nil {
			return err
		}
		if err := tx.SetCaseDue(ctx(), out.ID, yipanqi.Outgoing, due, true); err != nil {
			return err
		}
		for i, replyTo := range []string{"", "h-request", "h-request"} {
			m := &yipanqi.Message{ID: fmt.Sprintf("m%d", i), CaseID: out.ID, Direction: yipanqi.Incoming, Type: out.Type,
				Source: "36", Dest: "44", Body: []byte(fmt.Sprintf(`{"n":%d}`, i))}
			if err := tx.LogMessage(ctx(), m, fmt.Sprintf("h%d", i), replyTo); err != nil {
				return err
			}
		}
		return tx.AddCaseEvents(ctx(), []*yipanqi.CaseEvent{{CaseID: out.ID, Kind: yipanqi.CaseEventReplyReceived},
			{CaseID: out.ID, Kind: yipanqi.CaseEventReplyReceived}, {CaseID: out.ID, Kind: yipanqi.CaseEventSent}})
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.FindCase(ctx(), MustScope(t, townshipA), out.ID)
	if err != nil || got.PeerUnit != "360121100" || !got.DueAt.Equal(due) || !got.DueProvisional {
		t.Fatalf("case = %+v, %v", got, err)
	}
	wantCode(t, db.InTx(ctx(), func(tx *sqlstore.Tx) error { return tx.SetPeerUnit(ctx(), out.ID, "36x") }), yipanqi.EINVALID)
	err = db.InTx(ctx(), func(tx *sqlstore.Tx) error {
		replies, err := tx.CaseReplies(ctx(), out.ID, yipanqi.Incoming, out.Type)
		if err != nil {
			return err
		}
		if len(replies) != 2 || replies[0].ID != "m1" || replies[1].ID != "m2" {
			t.Errorf("replies = %d", len(replies))
		}
		counts, err := tx.CaseEventCounts(ctx(), out.ID)
		if err != nil {
			return err
		}
		if counts[yipanqi.CaseEventReplyReceived] != 2 || counts[yipanqi.CaseEventSent] != 1 || len(counts) != 2 {
			t.Errorf("event counts = %v", counts)
		}
		codes, err := tx.HukouCodes(ctx(), []string{p.IDNumber, NewPerson(2, townshipA).IDNumber})
		if err != nil {
			return err
		}
		if len(codes) != 1 || codes[p.IDNumber] != p.HukouCode {
			t.Errorf("hukou codes = %v", codes)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// A flow recorded in a transaction that rolls back leaves nothing.
	boom := yipanqi.Errorf(yipanqi.ECONFLICT, "boom")
	err = db.InTx(ctx(), func(tx *sqlstore.Tx) error {
		before, err := tx.RecordFlow(ctx(), MustScope(t, county), p.IDNumber, &yipanqi.FlowEvent{Kind: yipanqi.FlowLeft, On: p.ArrivedOn.AddDays(30)})
		if err != nil {
			return err
		}
		if before.FlowStatus != yipanqi.FlowArrived {
			t.Errorf("person before the flow: %s", before.FlowStatus)
		}
		return boom
	})
	if err != boom {
		t.Fatalf("rolled-back flow: %v", err)
	}
	hist, err := db.FlowHistory(ctx(), MustScope(t, county), p.IDNumber)
	if err != nil || len(hist) != 1 {
		t.Fatalf("history after a rolled-back flow: %d events, %v", len(hist), err)
	}
	err = db.InTx(ctx(), func(tx *sqlstore.Tx) error {
		_, err := tx.RecordFlow(ctx(), MustScope(t, townshipB), p.IDNumber, &yipanqi.FlowEvent{Kind: yipanqi.FlowLeft, On: p.ArrivedOn})
		return err
	})
	wantCode(t, err, yipanqi.ENOTFOUND)
}

// testServiceResults: the service results a hometown received about a person, for units in
// scope only, withdrawn ones left out, the read audited.
func testServiceResults(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	id := NewPerson(1, townshipA).IDNumber
	mk := func(unit string, state yipanqi.CaseState, date string) *yipanqi.Case {
		c := &yipanqi.Case{Type: "service.result", Direction: yipanqi.Incoming, OrgUnit: unit, PeerNode: "36",
			PeerUnit: "360121", PersonIDNumber: id, State: state, ReceivedAt: time.Now().UTC().Truncate(time.Millisecond),
			Data: json.RawMessage(`{"id_number":"` + id + `","service_kind":"health_checkup","service_date":"` + date +
				`","provider":"某县妇幼保健院","checkup_done":true}`)}
		if err := db.CreateCase(ctx(), c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	kept := mk(townshipA, yipanqi.CaseClosed, "2026-10-12")
	mk(townshipA, yipanqi.CaseWithdrawn, "2026-09-01")
	mk(townshipB, yipanqi.CaseClosed, "2026-08-01")
	user := yipanqi.NewContextWithUser(ctx(), &yipanqi.User{Username: "hu", OrgUnit: townshipA})
	got, err := db.ServiceResults(user, MustScope(t, townshipA), id)
	if err != nil || len(got) != 1 {
		t.Fatalf("service results = %d, %v", len(got), err)
	}
	r := got[0]
	if r.CaseID != kept.ID || r.ServiceKind != "health_checkup" || r.ServiceDate.String() != "2026-10-12" || !r.CheckupDone ||
		r.Provider != "某县妇幼保健院" || r.From != "360121" || !r.ReceivedAt.Equal(kept.ReceivedAt) {
		t.Fatalf("service result = %+v", r)
	}
	if all, err := db.ServiceResults(user, MustScope(t, county), id); err != nil || len(all) != 2 {
		t.Fatalf("county sees %d, %v", len(all), err)
	}
	_, err = db.ServiceResults(user, yipanqi.Scope{}, id)
	wantCode(t, err, yipanqi.EFORBIDDEN)
	log, err := db.AuditLog(ctx(), id, 10)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range log {
		if e.Action == "person.service_results" && e.Actor == "hu" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d audited reads, want 2", n)
	}
}

// testFlowsAfter: flow events after an id, oldest first, of people in scope or whose flow
// left it, with the person's ID number and hukou code, audited; ExistingCases.
func testFlowsAfter(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	a, b, far := NewPerson(1, townshipA), NewPerson(2, townshipB), NewPerson(3, elsewhere+"001")
	MustImport(t, db, a, b, far)
	if err := db.RecordFlow(ctx(), MustScope(t, "44"), a.IDNumber, &yipanqi.FlowEvent{Kind: yipanqi.FlowMovedOn,
		On: a.ArrivedOn.AddDays(10), ToCode: elsewhere + "001"}); err != nil {
		t.Fatal(err)
	}
	all, err := db.FlowsAfter(ctx(), MustScope(t, "44"), 0, 100)
	if err != nil || len(all) != 4 {
		t.Fatalf("flows = %d, %v", len(all), err)
	}
	for i := 1; i < len(all); i++ {
		if all[i].FlowID <= all[i-1].FlowID {
			t.Fatalf("flows not in id order: %d after %d", all[i].FlowID, all[i-1].FlowID)
		}
	}
	moved := all[3]
	if moved.Kind != yipanqi.FlowMovedOn || moved.IDNumber != a.IDNumber || moved.HukouCode != a.HukouCode ||
		moved.FromCode != townshipA || moved.ToCode != elsewhere+"001" || moved.ResidenceCode != elsewhere+"001" {
		t.Fatalf("moved-on flow = %+v", moved)
	}
	// The township a left sees the departure (a lives elsewhere now, so not the arrival).
	inA, err := db.FlowsAfter(ctx(), MustScope(t, townshipA), 0, 100)
	if err != nil || len(inA) != 1 || inA[0].FlowID != moved.FlowID {
		t.Fatalf("township A sees %d flows, %v", len(inA), err)
	}
	if rest, err := db.FlowsAfter(ctx(), MustScope(t, "44"), all[1].FlowID, 1); err != nil || len(rest) != 1 || rest[0].FlowID != all[2].FlowID {
		t.Fatalf("after %d, limit 1: %+v, %v", all[1].FlowID, rest, err)
	}
	_, err = db.FlowsAfter(ctx(), yipanqi.Scope{}, 0, 10)
	wantCode(t, err, yipanqi.EFORBIDDEN)

	c := newIncoming(t, db, townshipA)
	have, err := db.ExistingCases(ctx(), []string{c.ID, "01a22700-0000-7000-8000-000000000000"})
	if err != nil || len(have) != 1 || !have[c.ID] {
		t.Fatalf("existing = %v, %v", have, err)
	}
}
