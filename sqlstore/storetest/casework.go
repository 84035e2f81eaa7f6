package storetest

import (
	"testing"
	"time"

	"yipanqi"
	"yipanqi/sqlstore"
)

func init() {
	register("CaseTimeline", testCaseTimeline)
	register("RouteUnit", testRouteUnit)
	register("MoveCase", testMoveCase)
}

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
