package exchange_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/sqlstore/storetest"
)

// TestMoveNotice: recording a flow in the registry sends the move.notice to the person's
// hometown in the same transaction; the hometown acknowledges it on receipt. A refused flow
// sends nothing.
func TestMoveNotice(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		w := newWorld(t)
		a := w.start(t, "44", newDSN(), both)
		b := w.start(t, "43", newDSN(), both)
		ctx := context.Background()
		p := storetest.NewPerson(1, unit44a+"001")
		p.IDNumber, p.HukouCode = storetest.IDNumber(unit43, p.BirthDate, 1), unit43+"001"
		storetest.MustImport(t, a.db, p)
		scope := a.scope(t)
		// The hukou township is held without staff: its county takes the notice.
		if err := b.db.UpsertOrgUnits(ctx, []yipanqi.OrgUnit{{Code: unit43 + "001", Name: "五里牌街道"}}); err != nil {
			t.Fatal(err)
		}

		before := a.kept(t)
		for _, bad := range []*yipanqi.FlowEvent{
			{Kind: "pregnant", On: yipanqi.Date{Year: 2026, Month: 11, Day: 2}},
			{Kind: yipanqi.FlowLeft},
		} {
			if _, err := a.node.RecordFlow(ctx, scope, p.IDNumber, bad); yipanqi.ErrorCode(err) != yipanqi.EINVALID {
				t.Fatalf("bad flow %+v: %v", bad, err)
			}
		}
		if _, err := a.node.RecordFlow(ctx, mustScope(t, unit44b), p.IDNumber, &yipanqi.FlowEvent{Kind: yipanqi.FlowLeft,
			On: yipanqi.Date{Year: 2026, Month: 11, Day: 2}}); yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
			t.Fatalf("flow out of scope: %v", err)
		}
		if after := a.kept(t); after != before {
			t.Fatalf("refused flows stored something: %+v → %+v", before, after)
		}

		c, err := a.node.RecordFlow(ctx, scope, p.IDNumber, &yipanqi.FlowEvent{Kind: yipanqi.FlowMovedOn,
			On: yipanqi.Date{Year: 2026, Month: 11, Day: 2}, ToCode: unit44b})
		if err != nil {
			t.Fatal(err)
		}
		if c.Type != "move.notice" || c.OrgUnit != unit44a || c.PeerNode != "43" || c.PeerUnit != unit43+"001" {
			t.Fatalf("notice = %+v", c)
		}
		hist, err := a.db.FlowHistory(ctx, scope, p.IDNumber)
		if err != nil || len(hist) == 0 || hist[len(hist)-1].Kind != yipanqi.FlowMovedOn {
			t.Fatalf("flow history = %+v, %v", hist, err)
		}
		checkFor(t, 15*time.Second, "notice acknowledged", func() bool {
			got, err := a.db.FindCase(ctx, a.scope(t), c.ID)
			return err == nil && got.State == yipanqi.CaseClosed
		})
		in, err := b.db.FindCase(ctx, b.scope(t), c.ID)
		if err != nil || in.OrgUnit != unit43 || in.State != yipanqi.CaseClosed || in.PersonIDNumber != p.IDNumber {
			t.Fatalf("hometown's notice = %+v, %v", in, err)
		}
		var f map[string]any
		_ = json.Unmarshal(in.Data, &f)
		if f["flow"] != "moved_on" || f["flow_date"] != "2026-11-02" || f["residence_code"] != unit44b || f["name"] != nil {
			t.Fatalf("notice fields = %v", f)
		}
		waitTimeline(t, b, c.ID, yipanqi.CaseEventReceived, yipanqi.CaseEventAcknowledged)
	})
}
