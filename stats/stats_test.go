package stats_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"yipanqi"
	"yipanqi/internal/xlsxdim"
	"yipanqi/stats"
)

func TestParseMonth(t *testing.T) {
	tests := []struct {
		in   string
		want stats.Month
		ok   bool
	}{
		{"2026-10", stats.Month{Year: 2026, Month: 10}, true},
		{"2024-02", stats.Month{Year: 2024, Month: 2}, true},
		{"2026-13", stats.Month{}, false},
		{"2026-00", stats.Month{}, false},
		{"2026/10", stats.Month{}, false},
		{"2026-1", stats.Month{}, false},
		{"202610", stats.Month{}, false},
		{"", stats.Month{}, false},
		{"２０２６-10", stats.Month{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := stats.ParseMonth(tt.in)
			if !tt.ok {
				if yipanqi.ErrorCode(err) != yipanqi.EINVALID || yipanqi.ErrorField(err) != "month" ||
					!strings.Contains(yipanqi.ErrorMessage(err), "--month") {
					t.Fatalf("ParseMonth(%q) error = %v, want EINVALID naming --month", tt.in, err)
				}
				return
			}
			if err != nil || got != tt.want || got.String() != tt.in {
				t.Fatalf("ParseMonth(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestMonthDays(t *testing.T) {
	tests := []struct {
		m    stats.Month
		last string
	}{
		{stats.Month{Year: 2024, Month: 2}, "2024-02-29"},
		{stats.Month{Year: 2025, Month: 2}, "2025-02-28"},
		{stats.Month{Year: 2025, Month: 12}, "2025-12-31"},
		{stats.Month{Year: 2026, Month: 4}, "2026-04-30"},
	}
	for _, tt := range tests {
		if got := tt.m.Last().String(); got != tt.last {
			t.Errorf("%v.Last() = %s, want %s", tt.m, got, tt.last)
		}
		if got := tt.m.First(); got.Day != 1 || got.Month != tt.m.Month {
			t.Errorf("%v.First() = %v", tt.m, got)
		}
	}
}

func TestCheckReportable(t *testing.T) {
	// 2026-10-31 20:00 UTC is already 1 November in China.
	now := time.Date(2026, 10, 31, 20, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		m         string
		ok, ended bool
	}{
		{"2026-10", true, true},
		{"2026-11", true, false},
		{"2026-12", false, false},
		{"2027-01", false, false},
	} {
		m, _ := stats.ParseMonth(tt.m)
		err := stats.CheckReportable(m, now)
		if (err == nil) != tt.ok || err != nil && yipanqi.ErrorField(err) != "month" {
			t.Errorf("CheckReportable(%s) = %v, want ok=%v", tt.m, err, tt.ok)
		}
		if m.Ended(now) != tt.ended {
			t.Errorf("%s.Ended = %v, want %v", tt.m, m.Ended(now), tt.ended)
		}
	}
}

func TestBandOf(t *testing.T) {
	d := func(s string) yipanqi.Date {
		v, err := yipanqi.ParseDate(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		birth, on string
		band      int
	}{
		{"2010-10-31", "2026-10-31", 1}, // 16th birthday that day
		{"2010-11-01", "2026-10-31", 0}, // a day short
		{"1996-10-31", "2026-10-31", 2}, // 30
		{"1996-11-01", "2026-10-31", 1},
		{"1981-10-31", "2026-10-31", 3}, // 45
		{"1966-10-31", "2026-10-31", 4}, // 60
		{"1966-11-01", "2026-10-31", 3},
		{"2026-10-01", "2026-10-31", 0},
		{"1998-03-01", "2028-02-29", 1}, // 30 only on 1 March 2028
		{"1998-02-28", "2028-02-29", 2},
		{"2012-02-29", "2028-02-29", 1}, // 16 on its own birthday
		{"2012-03-01", "2028-02-29", 0},
	}
	for _, tt := range tests {
		if got := stats.BandOf(d(tt.birth), d(tt.on)); got != tt.band {
			t.Errorf("BandOf(%s, %s) = %s, want %s", tt.birth, tt.on, stats.AgeBands[got].Label, stats.AgeBands[tt.band].Label)
		}
	}
}

func TestCrossing(t *testing.T) {
	const a, b, other = "440106001", "440106002", "440305001"
	tests := []struct {
		name    string
		f       stats.FlowGroup
		unit    string
		in, out bool
	}{
		{"arrival", stats.FlowGroup{Kind: yipanqi.FlowArrived, To: a}, a, true, false},
		{"arrival seen from the county", stats.FlowGroup{Kind: yipanqi.FlowArrived, To: a}, "440106", true, false},
		{"arrival elsewhere", stats.FlowGroup{Kind: yipanqi.FlowArrived, To: other}, a, false, false},
		{"arrival without a destination stays at the residence", stats.FlowGroup{Kind: yipanqi.FlowArrived, From: a}, a, true, false},
		{"move out of the township", stats.FlowGroup{Kind: yipanqi.FlowMovedOn, From: a, To: b}, a, false, true},
		{"move into the township", stats.FlowGroup{Kind: yipanqi.FlowMovedOn, From: a, To: b}, b, true, false},
		{"move within the county", stats.FlowGroup{Kind: yipanqi.FlowMovedOn, From: a, To: b}, "440106", false, false},
		{"move out of the county", stats.FlowGroup{Kind: yipanqi.FlowMovedOn, From: a, To: other}, "440106", false, true},
		{"move within the province", stats.FlowGroup{Kind: yipanqi.FlowMovedOn, From: a, To: other}, "44", false, false},
		{"move to an unknown place", stats.FlowGroup{Kind: yipanqi.FlowMovedOn, From: a}, "44", false, true},
		{"left", stats.FlowGroup{Kind: yipanqi.FlowLeft, From: a, To: "360121"}, "44", false, true},
		{"returned", stats.FlowGroup{Kind: yipanqi.FlowReturned, From: a}, a, false, true},
		{"returned elsewhere", stats.FlowGroup{Kind: yipanqi.FlowReturned, From: other}, a, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, out := stats.Crossing(tt.f, tt.unit)
			if in != tt.in || out != tt.out {
				t.Errorf("Crossing(%+v, %s) = in %v out %v, want %v %v", tt.f, tt.unit, in, out, tt.in, tt.out)
			}
		})
	}
}

// sampleReport is a county report with two township rows, built from groups.
func sampleReport(t *testing.T) (*stats.Report, *stats.Tally) {
	t.Helper()
	tally := &stats.Tally{Unit: "440106", Month: stats.Month{Year: 2026, Month: 10},
		Population: []stats.PopGroup{
			{Code: "440106001", Sex: yipanqi.Male, Band: 1, Marital: yipanqi.Unmarried, People: 3},
			{Code: "440106001", Sex: yipanqi.Female, Band: 2, Marital: yipanqi.FirstMarried, People: 4},
			{Code: "440106002", Sex: yipanqi.Female, Band: 4, Marital: yipanqi.Widowed, People: 2},
			{Code: "440106002", Sex: yipanqi.Male, Band: 0, Marital: "", People: 1},
		},
		Flows: []stats.FlowGroup{
			{Kind: yipanqi.FlowArrived, To: "440106001", Events: 5},
			{Kind: yipanqi.FlowMovedOn, From: "440106001", To: "440106002", Events: 2},
			{Kind: yipanqi.FlowLeft, From: "440106002", Events: 1},
			{Kind: yipanqi.FlowMovedOn, From: "440305001", To: "440106002", Events: 1},
		}}
	names := map[string]string{"440106001": "五山街道", "440106002": "员村街道"}
	return stats.NewReport(tally, "广东省广州市天河区", func(c string) string { return names[c] }), tally
}

func TestNewReport(t *testing.T) {
	r, tally := sampleReport(t)
	if len(r.Rows) != 2 || r.Rows[0].Code != "440106001" || r.Rows[1].Name != "员村街道" {
		t.Fatalf("rows = %+v", r.Rows)
	}
	sumPeople := 0
	for _, g := range tally.Population {
		sumPeople += g.People
	}
	if r.Total.People != sumPeople || r.Rows[0].People+r.Rows[1].People != sumPeople {
		t.Errorf("people: total %d, rows %d+%d, groups %d", r.Total.People, r.Rows[0].People, r.Rows[1].People, sumPeople)
	}
	if r.Total.Male+r.Total.Female != r.Total.People || r.Total.Marital[stats.NumMarital-1] != 1 || r.Total.Age[4] != 2 {
		t.Errorf("total = %+v", r.Total.Counts)
	}
	// The move between the townships is each township's flow, not the county's.
	a, b := r.Rows[0].Counts, r.Rows[1].Counts
	if a.Inflow != 5 || a.Outflow != 2 || b.Inflow != 3 || b.Outflow != 1 {
		t.Errorf("township flows: A in %d out %d, B in %d out %d", a.Inflow, a.Outflow, b.Inflow, b.Outflow)
	}
	if r.Total.Inflow != 6 || r.Total.Outflow != 1 {
		t.Errorf("county flows: in %d out %d, want 6 and 1", r.Total.Inflow, r.Total.Outflow)
	}
}

func TestRender(t *testing.T) {
	r, _ := sampleReport(t)
	var b bytes.Buffer
	if err := r.Write(&b, stats.FormatTable); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	for _, want := range []string{"广东省广州市天河区 流动人口月报 2026年10月", "实时计算", "五山街道", "合计", "60岁及以上", "丧偶", "本月流入"} {
		if !strings.Contains(text, want) {
			t.Errorf("table lacks %q:\n%s", want, text)
		}
	}
	// Aligned: within a table every line has the same display width up to its last cell's
	// start, so the header and the total line end their first cells at the same column.
	lines := strings.Split(text, "\n")
	var head, total string
	for _, l := range lines {
		if strings.HasPrefix(l, "代码") && head == "" {
			head = l
		}
		if strings.HasPrefix(l, "440106 ") && strings.Contains(l, "合计") && total == "" {
			total = l
		}
	}
	if w1, w2 := displayCols(head), displayCols(total); w1 != w2 {
		t.Errorf("header and total line differ in width (%d, %d):\n%s\n%s", w1, w2, head, total)
	}

	b.Reset()
	if err := r.Write(&b, stats.FormatJSON); err != nil {
		t.Fatal(err)
	}
	var v struct {
		Unit   string `json:"unit"`
		Month  string `json:"month"`
		Source struct {
			Kind string `json:"kind"`
		} `json:"source"`
		Rows  []map[string]any `json:"rows"`
		Total struct {
			People  int            `json:"people"`
			Age     map[string]int `json:"age"`
			Marital map[string]int `json:"marital"`
		} `json:"total"`
	}
	if err := json.Unmarshal(b.Bytes(), &v); err != nil {
		t.Fatalf("json: %v\n%s", err, b.String())
	}
	if v.Unit != "440106" || v.Month != "2026-10" || v.Source.Kind != "live" || len(v.Rows) != 2 ||
		v.Total.People != r.Total.People || v.Total.Age["60+"] != r.Total.Age[4] || v.Total.Marital["widowed"] != r.Total.Marital[4] {
		t.Errorf("json = %+v", v)
	}
	if strings.Contains(b.String(), "id_number") || strings.Contains(b.String(), "\"name\": \"测试") {
		t.Errorf("json names a person")
	}

	b.Reset()
	if err := r.Write(&b, stats.FormatXLSX); err != nil {
		t.Fatal(err)
	}
	xlsxdim.Check(t, b.Bytes(), -1) // every sheet declares its real dimension
	f, err := excelize.OpenReader(&b)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.GetSheetList(); strings.Join(got, ",") != "性别与年龄,婚姻状况,流入与流出" {
		t.Errorf("sheets = %v", got)
	}
	rows, err := f.GetRows("流入与流出")
	if err != nil || len(rows) != 4 || rows[3][1] != "合计" || rows[1][3] != "5" {
		t.Errorf("flow sheet = %v, %v", rows, err)
	}
}

func displayCols(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x2E80 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

func TestMatrix(t *testing.T) {
	groups := []stats.OriginGroup{
		{Hukou: "3601", Residence: "4401", People: 5},
		{Hukou: "4451", Residence: "4401", People: 3},
		{Hukou: "4401", Residence: "4403", People: 2},
		{Hukou: "3601", Residence: "3602", People: 4},
		{Hukou: "4401", Residence: "3601", People: 1},
	}
	m := stats.NewMatrix(stats.Month{Year: 2026, Month: 10}, nil, groups, func(c string) string { return "" })
	total := 0
	for _, g := range groups {
		total += g.People
	}
	sum := 0
	for _, c := range m.Provinces {
		sum += c.People
	}
	if m.People != total || sum != total {
		t.Errorf("matrix people %d, cells %d, want %d", m.People, sum, total)
	}
	within := 0
	for _, c := range m.Cities {
		if c.Origin[:2] != c.Dest[:2] {
			t.Errorf("city cell across provinces: %+v", c)
		}
		within += c.People
	}
	if within != 3+2+4 {
		t.Errorf("city cells count %d people, want those with hukou and residence in one province", within)
	}
}
