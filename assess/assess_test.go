package assess_test

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/assess"
	"yipanqi/calendar"
	"yipanqi/internal/xlsxdim"
)

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, yipanqi.Shanghai)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParsePeriod(t *testing.T) {
	now := at("2026-08-15 10:00")
	for _, tt := range []struct {
		in, want, first, last string
		err                   string
	}{
		{in: "2026-07", want: "2026-07", first: "2026-07", last: "2026-07"},
		{in: "2026-Q3", want: "2026-Q3", first: "2026-07", last: "2026-09"},
		{in: "2025", want: "2025", first: "2025-01", last: "2025-12"},
		{in: "2026-13", err: "月份无效"},
		{in: "2026-Q5", err: "格式无效"},
		{in: "26-07", err: "格式无效"},
		{in: "2026-09", err: "尚未开始"},
		{in: "2027", err: "尚未开始"},
	} {
		p, err := assess.ParsePeriod(tt.in, now)
		if tt.err != "" {
			if yipanqi.ErrorCode(err) != yipanqi.EINVALID || !strings.Contains(yipanqi.ErrorMessage(err), tt.err) {
				t.Errorf("ParsePeriod(%q) = %v, want EINVALID with %q", tt.in, err, tt.err)
			}
			continue
		}
		m := p.Months()
		if err != nil || p.String() != tt.want || m[0] != tt.first || m[len(m)-1] != tt.last {
			t.Errorf("ParsePeriod(%q) = %v %v months %v", tt.in, p, err, m)
		}
	}
	p, _ := assess.ParsePeriod("2025", now)
	if got := strings.Join(p.Contained(), ","); !strings.Contains(got, "2025-Q4") || !strings.Contains(got, "2025-12") {
		t.Errorf("Contained = %s", got)
	}
}

func TestTally(t *testing.T) {
	cal := calendar.New()
	recv := at("2026-03-02 10:00") // Monday; due end of 2026-03-23
	due := at("2026-03-23 23:59")
	keys := func(c assess.Case) string {
		var s []string
		for _, k := range assess.Tally(&c, cal) {
			s = append(s, k.Month+"/"+k.Metric+"/"+string(rune('0'+k.Bucket%10))+string(rune('0'+k.Bucket/10)))
		}
		return strings.Join(s, " ")
	}
	for _, tt := range []struct {
		name string
		c    assess.Case
		want string
	}{
		{"open", assess.Case{Type: "verify.identity", Direction: yipanqi.Incoming, State: yipanqi.CaseDelivered, ReceivedAt: recv, DueAt: due},
			"2026-03/received/00"},
		{"outgoing not assessed", assess.Case{Type: "verify.identity", Direction: yipanqi.Outgoing, State: yipanqi.CaseDelivered, ReceivedAt: recv, DueAt: due}, ""},
		// Replied Friday 6th: 4 working days (3rd, 4th, 5th, 6th).
		{"on time", assess.Case{Type: "verify.identity", Direction: yipanqi.Incoming, State: yipanqi.CaseReplied, ReceivedAt: recv, DueAt: due,
			RepliedAt: at("2026-03-06 09:00")}, "2026-03/received/00 2026-03/on_time/00 2026-03/reply_days/40"},
		{"late, next month", assess.Case{Type: "cert.reissue", Direction: yipanqi.Incoming, State: yipanqi.CaseClosed, ReceivedAt: recv, DueAt: due,
			RepliedAt: at("2026-04-01 09:00"), Overdue: true}, "2026-03/received/00 2026-04/late/00 2026-04/reply_days/22"},
		{"cert within 7", assess.Case{Type: "cert.reissue", Direction: yipanqi.Incoming, State: yipanqi.CaseReplied, ReceivedAt: recv, DueAt: due,
			RepliedAt: at("2026-03-11 09:00")}, "2026-03/received/00 2026-03/on_time/00 2026-03/reply_days/70 2026-03/cert_7d/00"},
		{"still overdue", assess.Case{Type: "verify.identity", Direction: yipanqi.Incoming, State: yipanqi.CaseInProgress, ReceivedAt: recv, DueAt: due,
			Overdue: true}, "2026-03/received/00 2026-03/overdue/00"},
	} {
		if got := keys(tt.c); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestRulesSampleAndErrors(t *testing.T) {
	deploy, err := os.ReadFile("../deploy/assessment.sample.toml")
	if err != nil || string(deploy) != assess.SampleRules {
		t.Fatalf("deploy/assessment.sample.toml differs from assess/assessment.sample.toml (%v)", err)
	}
	r := assess.DefaultRules()
	if r.Base != 60 || r.Full != 100 || r.Cap != 110 || len(r.Weights) != 3 {
		t.Fatalf("sample rules = %+v", r)
	}
	for _, tt := range []struct{ name, src, want string }{
		{"syntax", "base = 60\nfull = = 100\n", "第 2 行无法解析"},
		{"weights", "base = 60\nfull = 100\n[weights]\non_time_rate = 30\n", "第 2 行（full）：权重不一致"},
		{"unknown rate", "base = 60\nfull = 100\n[weights]\non_time_rate = 30\nspeed = 10\n", "第 5 行（weights.speed）：未知的比率指标"},
		{"unknown key", "base = 60\nfull = 60\ncolour = 1\n", "第 3 行（colour）：未知的配置项"},
		{"negative", "base = 60\nfull = 60\n\n[deductions.late]\npoints = -1\n", "第 4 行（deductions.late）：分值"},
		{"cap", "base = 60\nfull = 60\ncap = 50\n", "第 3 行（cap）：封顶分"},
		{"missing", "name = \"x\"\n", "缺少 base"},
		{"nan weight", "base = 60\nfull = 60\n[weights]\non_time_rate = nan\n", "（weights.on_time_rate）：分值须为有限的数"},
		{"inf points", "base = 60\nfull = 60\n\n[deductions.late]\npoints = inf\n", "（deductions.late）：分值须为有限的数"},
		{"nan floor", "base = 60\nfull = 60\nfloor = nan\n", "（floor）：分值须为有限的数"},
		{"inf cap", "base = 60\nfull = 60\ncap = +inf\n", "（cap）：分值须为有限的数"},
	} {
		_, err := assess.ParseRules(tt.src, "r.toml")
		if yipanqi.ErrorCode(err) != yipanqi.EINVALID || !strings.Contains(yipanqi.ErrorMessage(err), tt.want) {
			t.Errorf("%s: %v, want EINVALID with %q", tt.name, err, tt.want)
		}
	}
}

// Two townships of one county: the county's figures are their sum; scores follow the rules;
// ranks are within each level; manual entries count for their own unit only, capped.
func TestBuild(t *testing.T) {
	r := assess.DefaultRules()
	p, _ := assess.ParsePeriod("2026-Q1", at("2026-08-01 00:00"))
	counts := []assess.Count{
		{OrgUnit: "440106001", Type: "verify.identity", Metric: assess.MetricReceived, N: 10},
		{OrgUnit: "440106001", Type: "verify.identity", Metric: assess.MetricOnTime, N: 8},
		{OrgUnit: "440106001", Type: "verify.identity", Metric: assess.MetricLate, N: 2},
		{OrgUnit: "440106001", Type: "verify.identity", Metric: assess.MetricReplyDays, Bucket: 3, N: 6},
		{OrgUnit: "440106001", Type: "verify.identity", Metric: assess.MetricReplyDays, Bucket: 20, N: 4},
		{OrgUnit: "440106002", Type: "verify.identity", Metric: assess.MetricReceived, N: 5},
		{OrgUnit: "440106002", Type: "verify.identity", Metric: assess.MetricOnTime, N: 5},
		{OrgUnit: "440106002", Type: "verify.identity", Metric: assess.MetricReplyDays, Bucket: 9, N: 5},
		{OrgUnit: "440305001", Type: "verify.identity", Metric: assess.MetricReceived, N: 99}, // not below the county
	}
	adj := []assess.Adjustment{{OrgUnit: "440106001", Points: 30, Reason: "创新协作方式"}}
	rep := assess.Build("440106", p, counts, adj, r, time.Time{})
	if len(rep.Rows) != 3 {
		t.Fatalf("rows = %d, want 3", len(rep.Rows))
	}
	county, a, b := rep.Rows[0], rep.Rows[1], rep.Rows[2]
	if county.Unit != "440106" || county.Figures.Received != 15 || county.Figures.OnTime != 13 || county.Figures.MedianReplyDays != 9 {
		t.Errorf("county = %+v", county.Figures)
	}
	// a: 60 + 25×0.8 + 10 + 5 − 2×0.5 + min(30, 10) = 104; b: 60 + 25 + 10 + 5 = 100.
	if a.Unit != "440106001" || a.Score.Total != 104 || a.Rank != 1 || a.RankOf != 2 {
		t.Errorf("first township = %s %v rank %d/%d, want 440106001 104 1/2", a.Unit, a.Score.Total, a.Rank, a.RankOf)
	}
	if b.Unit != "440106002" || b.Score.Total != 100 || b.Rank != 2 || b.Figures.MedianReplyDays != 9 {
		t.Errorf("second township = %s %v rank %d", b.Unit, b.Score.Total, b.Rank)
	}
	if a.Figures.MedianReplyDays != 3 {
		t.Errorf("median of 6×3 and 4×20 = %v, want 3", a.Figures.MedianReplyDays)
	}
}

// TestWriteXLSXDimension: the workbook declares the range its cells span (title, header and
// three rows), so that openpyxl in read-only mode reads them all.
func TestWriteXLSXDimension(t *testing.T) {
	p, _ := assess.ParsePeriod("2026-Q1", at("2026-08-01 00:00"))
	counts := []assess.Count{
		{OrgUnit: "440106001", Type: "verify.identity", Metric: assess.MetricReceived, N: 10},
		{OrgUnit: "440106002", Type: "verify.identity", Metric: assess.MetricReceived, N: 5},
	}
	rep := assess.Build("440106", p, counts, nil, assess.DefaultRules(), time.Time{})
	var b bytes.Buffer
	if err := rep.Write(&b, "xlsx", func(code string) string { return code }); err != nil {
		t.Fatal(err)
	}
	xlsxdim.Check(t, b.Bytes(), 2+len(rep.Rows))
}

func TestPeriodsOfMonth(t *testing.T) {
	for m, want := range map[string]string{"2026-01": "2026-01 2026-Q1 2026", "2026-08": "2026-08 2026-Q3 2026", "2026-12": "2026-12 2026-Q4 2026"} {
		if got := strings.Join(assess.PeriodsOfMonth(m), " "); got != want {
			t.Errorf("PeriodsOfMonth(%s) = %s, want %s", m, got, want)
		}
	}
}
