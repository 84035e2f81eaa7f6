package storetest

import (
	"context"
	"testing"

	"yipanqi"
	"yipanqi/meeting"
	"yipanqi/sqlstore"
)

// testMeetings: a province records the year's joint meeting (host by rotation) with a
// resolution, its minutes, a second resolution, and the consult case that follows one up,
// whose state the listing shows; others may not, and bad input stores nothing.
func testMeetings(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	prov := yipanqi.NewContextWithUser(context.Background(), &yipanqi.User{Username: "gd-admin", OrgUnit: "44"})
	countyCtx := yipanqi.NewContextWithUser(context.Background(), &yipanqi.User{Username: "c", OrgUnit: county})
	r := meeting.DefaultRotation()
	m := &meeting.Meeting{Year: 2026, HeldOn: yipanqi.Date{Year: 2026, Month: 11, Day: 20}, Place: "广州", Agenda: "流动人口服务均等化",
		Resolutions: []*meeting.Resolution{{Text: "统一婚育证明查验口径", Lead: "44", Counterpart: "36"}}}
	wantCode(t, db.CreateMeeting(countyCtx, r, m), yipanqi.EFORBIDDEN)
	bad := *m
	bad.Resolutions = []*meeting.Resolution{{Text: "", Lead: "44", Counterpart: "36"}}
	wantCode(t, db.CreateMeeting(prov, r, &bad), yipanqi.EINVALID)
	if ms, err := db.Meetings(ctx(), 0); err != nil || len(ms) != 0 {
		t.Fatalf("after refused meetings: %d stored, %v", len(ms), err)
	}
	if err := db.CreateMeeting(prov, r, m); err != nil {
		t.Fatal(err)
	}
	if m.Host != "44" || m.Resolutions[0].Seq != 1 {
		t.Fatalf("meeting host %s, resolution seq %d", m.Host, m.Resolutions[0].Seq)
	}
	if err := db.SetMinutes(prov, m.ID, "会议纪要……"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.SetMinutes(prov, m.ID+100, "x"), yipanqi.ENOTFOUND)
	second := &meeting.Resolution{Text: "建立季度会商机制", Lead: "44", Counterpart: "45"}
	if err := db.AddResolution(prov, m.ID, second); err != nil || second.Seq != 2 {
		t.Fatalf("second resolution: seq %d, %v", second.Seq, err)
	}

	// The follow-up: an outgoing consult case, sent through the exchange in real use.
	c := &yipanqi.Case{Type: "consult.case", Direction: yipanqi.Outgoing, OrgUnit: "44", PeerNode: "36", PeerUnit: "36",
		State: yipanqi.CaseSent}
	if err := db.CreateCase(ctx(), c); err != nil {
		t.Fatal(err)
	}
	other := &yipanqi.Case{Type: "verify.identity", Direction: yipanqi.Outgoing, OrgUnit: "44", State: yipanqi.CaseSent}
	if err := db.CreateCase(ctx(), other); err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.LinkResolutionCase(prov, m.Resolutions[0].ID, other.ID), yipanqi.EINVALID)
	wantCode(t, db.LinkResolutionCase(prov, m.Resolutions[0].ID, "no-such-case"), yipanqi.ENOTFOUND)
	if err := db.LinkResolutionCase(prov, m.Resolutions[0].ID, c.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.LinkResolutionCase(prov, m.Resolutions[0].ID, c.ID), yipanqi.ECONFLICT)

	ms, err := db.Meetings(ctx(), 2026)
	if err != nil || len(ms) != 1 {
		t.Fatalf("meetings of 2026: %d, %v", len(ms), err)
	}
	got := ms[0]
	if got.Minutes != "会议纪要……" || got.HeldOn != m.HeldOn || len(got.Resolutions) != 2 ||
		got.Resolutions[0].CaseID != c.ID || got.Resolutions[0].CaseState != yipanqi.CaseSent || got.Resolutions[1].CaseID != "" {
		t.Fatalf("meeting read back = %+v, resolutions %+v %+v", got, got.Resolutions[0], got.Resolutions[len(got.Resolutions)-1])
	}
	if ms, _ := db.Meetings(ctx(), 2027); len(ms) != 0 {
		t.Errorf("meetings of 2027: %d, want 0", len(ms))
	}
	log, err := db.AuditLog(ctx(), c.ID, 5)
	if err != nil || len(log) == 0 || log[0].Action != "meeting.followup" || log[0].Actor != "gd-admin" {
		t.Errorf("audit of the follow-up = %+v, %v", first(log), err)
	}
}
