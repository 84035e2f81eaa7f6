package casework_test

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

// TestFlowNotices: the arrivals an import recorded get their move notices, once, however
// often SendFlowNotices runs; a flow RecordFlow announced is not announced again.
func TestFlowNotices(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		w := newWorld(t)
		a := w.start(t, "44", newDSN(), both)
		b := w.start(t, "43", newDSN(), both)
		ctx := context.Background()
		var people []*yipanqi.Person
		for i := 1; i <= 3; i++ {
			p := storetest.NewPerson(i, unit44a+"001")
			p.IDNumber, p.HukouCode = storetest.IDNumber(unit43, p.BirthDate, i), unit43
			people = append(people, p)
		}
		storetest.MustImport(t, a.db, people...)

		last, sent, err := a.node.SendFlowNotices(ctx, 0, 1000)
		if err != nil || sent != 3 || last == 0 {
			t.Fatalf("first call: last %d, sent %d, %v", last, sent, err)
		}
		if again, n, err := a.node.SendFlowNotices(ctx, 0, 1000); err != nil || n != 0 || again != last {
			t.Fatalf("second call from 0: last %d, sent %d, %v", again, n, err)
		}
		c, err := a.node.RecordFlow(ctx, a.scope(t), people[0].IDNumber, &yipanqi.FlowEvent{Kind: yipanqi.FlowLeft,
			On: yipanqi.Date{Year: 2026, Month: 11, Day: 3}})
		if err != nil {
			t.Fatal(err)
		}
		if next, n, err := a.node.SendFlowNotices(ctx, last, 1000); err != nil || n != 0 || next <= last {
			t.Fatalf("after RecordFlow: last %d, sent %d, %v", next, n, err)
		}
		checkFor(t, 15*time.Second, "four notices at 43", func() bool {
			return b.countCases(t, yipanqi.Incoming, yipanqi.CaseClosed) == 4
		})
		list, _, err := b.db.ListCases(ctx, b.scope(t), yipanqi.CaseFilter{Type: "move.notice"})
		if err != nil {
			t.Fatal(err)
		}
		flows := map[string]int{}
		for _, x := range list {
			var f map[string]any
			_ = json.Unmarshal(x.Data, &f)
			flows[f["flow"].(string)]++
		}
		if flows["arrived"] != 3 || flows["left"] != 1 {
			t.Fatalf("notices at 43 by flow: %v", flows)
		}
		if got, _ := b.db.FindCase(ctx, b.scope(t), c.ID); got == nil {
			t.Fatal("RecordFlow's notice is not at 43")
		}
	})
}
