package storetest

import (
	"context"
	"math"
	"testing"

	"yipanqi"
	"yipanqi/assess"
	"yipanqi/calendar"
	"yipanqi/sla"
	"yipanqi/sqlstore"
)

// testAssessment: a quarter of two townships' cases, the report's figures and ranks, the
// drill-down to the cases behind a figure, and manual entries by the level above only.
func testAssessment(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	clock := &fakeClock{now: shAt("2026-03-02 10:00:00")}
	db.Now = clock.Now
	k := MustClock(t, sla.Config{Now: clock.Now})
	// Township A: two certificates answered on the 5th (3 working days), an identity check
	// answered late on 2026-04-01. Township B: an identity check still open and overdue.
	c1 := receiveCase(t, db, "cert.reissue", townshipA, "", clock.now)
	c2 := receiveCase(t, db, "cert.reissue", townshipA, "", clock.now)
	v1 := receiveCase(t, db, "verify.identity", townshipA, "", clock.now)
	receiveCase(t, db, "verify.identity", townshipB, "", clock.now)
	sweep(t, db, k, clock.now)
	clock.now = shAt("2026-03-05 16:00:00")
	setState(t, db, c1.ID, yipanqi.CaseReplied)
	setState(t, db, c2.ID, yipanqi.CaseReplied)
	clock.now = shAt("2026-04-01 09:00:00")
	setState(t, db, v1.ID, yipanqi.CaseReplied)
	sweep(t, db, k, clock.now)

	p, err := assess.ParsePeriod("2026-Q1", clock.now)
	if err != nil {
		t.Fatal(err)
	}
	scope := MustScope(t, county)
	rep, err := db.Assessment(ctx(), scope, p, assess.DefaultRules(), clock.now)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 3 || rep.Rows[0].Unit != county {
		t.Fatalf("rows = %+v", rep.Rows)
	}
	cf := rep.Rows[0].Figures
	// The late reply fell in April, outside Q1; B's overdue case falls due in March.
	if cf.Received != 4 || cf.OnTime != 2 || cf.Late != 0 || cf.Overdue != 1 || cf.CertReplied != 2 || cf.CertWithin7 != 2 || cf.MedianReplyDays != 3 {
		t.Fatalf("county Q1 figures = %+v", cf)
	}
	a, b := rep.Rows[1], rep.Rows[2]
	// A: 60 + 25 + 10 + 5 = 100; B: 60 + 25×0 + 10 + 5 − 1 = 74.
	if a.Unit != townshipA || a.Score.Total != 100 || a.Rank != 1 || b.Unit != townshipB || b.Score.Total != 74 || b.Rank != 2 {
		t.Fatalf("townships: %s %v #%d, %s %v #%d", a.Unit, a.Score.Total, a.Rank, b.Unit, b.Score.Total, b.Rank)
	}
	year, _ := assess.ParsePeriod("2026", clock.now)
	yr, err := db.Assessment(ctx(), scope, year, assess.DefaultRules(), clock.now)
	if err != nil || yr.Rows[0].Figures.Late != 1 {
		t.Fatalf("the year counts the late reply: %+v, %v", yr.Rows[0].Figures, err)
	}

	// Drill-down: the cases behind "late" for the year are exactly v1.
	cal := calendar.New()
	list, total, err := db.AssessmentCases(ctx(), scope, year, sqlstore.AssessFilter{Metric: assess.MetricLate}, cal)
	if err != nil || total != 1 || list[0].ID != v1.ID {
		t.Fatalf("late cases = %d %v, %v", total, list, err)
	}
	list, total, err = db.AssessmentCases(ctx(), scope, p, sqlstore.AssessFilter{Metric: assess.MetricCert7, Unit: townshipA}, cal)
	if err != nil || total != 2 {
		t.Fatalf("certificates within 7 days = %d, %v", total, err)
	}
	if log, err := db.AuditLog(ctx(), "", 1); err != nil || len(log) == 0 || log[0].Action != "case.assess" {
		t.Errorf("newest audit entry = %+v, %v; want case.assess", first(log), err)
	}
	if _, _, err := db.AssessmentCases(ctx(), scope, p, sqlstore.AssessFilter{Metric: "speed"}, cal); yipanqi.ErrorCode(err) != yipanqi.EINVALID {
		t.Errorf("unknown metric: %v, want EINVALID", err)
	}

	// Manual entries: only the level above, with a reason; bad ones store nothing.
	countyUser := yipanqi.NewContextWithUser(context.Background(), &yipanqi.User{Username: "county-sup", OrgUnit: county})
	townUser := yipanqi.NewContextWithUser(context.Background(), &yipanqi.User{Username: "town", OrgUnit: townshipB})
	for _, bad := range []struct {
		ctx  context.Context
		a    assess.Adjustment
		code string
	}{
		{townUser, assess.Adjustment{OrgUnit: townshipB, Period: "2026-Q1", Points: 5, Reason: "自评"}, yipanqi.EFORBIDDEN},
		{ctx(), assess.Adjustment{OrgUnit: townshipB, Period: "2026-Q1", Points: 5, Reason: "无人"}, yipanqi.EFORBIDDEN},
		{countyUser, assess.Adjustment{OrgUnit: elsewhere, Period: "2026-Q1", Points: 5, Reason: "辖区外"}, yipanqi.EFORBIDDEN},
		{countyUser, assess.Adjustment{OrgUnit: townshipB, Period: "2026-Q1", Points: 5, Reason: "  "}, yipanqi.EINVALID},
		{countyUser, assess.Adjustment{OrgUnit: townshipB, Period: "2026-Q3", Points: 5, Reason: "未来"}, yipanqi.EINVALID},
		{countyUser, assess.Adjustment{OrgUnit: townshipB, Period: "2026-Q1", Points: 0.005, Reason: "小数"}, yipanqi.EINVALID},
		{countyUser, assess.Adjustment{OrgUnit: townshipB, Period: "2026-Q1", Points: math.NaN(), Reason: "非数"}, yipanqi.EINVALID},
		{countyUser, assess.Adjustment{OrgUnit: townshipB, Period: "2026-Q1", Points: math.Inf(-1), Reason: "无穷"}, yipanqi.EINVALID},
	} {
		a := bad.a
		wantCode(t, db.AddAdjustment(bad.ctx, &a), bad.code)
	}
	if adj, err := db.Adjustments(ctx(), scope, year); err != nil || len(adj) != 0 {
		t.Fatalf("after refused entries: %d stored, %v", len(adj), err)
	}
	good := &assess.Adjustment{OrgUnit: townshipB, Period: "2026-03", Points: -2.5, Reason: "未按期反馈造成群众往返"}
	if err := db.AddAdjustment(countyUser, good); err != nil {
		t.Fatal(err)
	}
	if log, err := db.AuditLog(ctx(), townshipB+"/2026-03", 5); err != nil || len(log) != 1 || log[0].Action != "assess.adjust" || log[0].Actor != "county-sup" {
		t.Errorf("audit of the entry = %+v, %v", log, err)
	}
	rep, err = db.Assessment(ctx(), scope, p, assess.DefaultRules(), clock.now)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Rows {
		if r.Unit == townshipB && (r.Score.Total != 71.5 || len(r.Manual) != 1 || r.Manual[0].Reason != good.Reason) {
			t.Errorf("township B with the deduction: %v %+v, want 71.5", r.Score.Total, r.Manual)
		}
	}
}
