package main

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"yipanqi"
	"yipanqi/division"
	"yipanqi/sqlstore"
	"yipanqi/sqlstore/storetest"
	"yipanqi/stats"
)

// runStatsCLI runs Main at the statistics fixture's clock (mid-August 2025).
func runStatsCLI(t testing.TB, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
		Getenv: func(string) string { return "" }, Now: func() time.Time { return storetest.StatsNow }}
	code := Main(context.Background(), env, args)
	return code, stdout.String(), stderr.String()
}

func mustStats(t testing.TB, want int, args ...string) (string, string) {
	t.Helper()
	code, out, errOut := runStatsCLI(t, args...)
	if code != want {
		t.Fatalf("yipanqi %s\nexit %d, stdout %q, stderr %q; want exit %d", strings.Join(args, " "), code, out, errOut, want)
	}
	return out, errOut
}

// statsJSON is the part of the JSON report the tests read.
type statsJSON struct {
	Unit     string `json:"unit"`
	UnitName string `json:"unit_name"`
	Month    string `json:"month"`
	Source   struct {
		Kind string `json:"kind"`
	} `json:"source"`
	Rows  []statsJSONCounts `json:"rows"`
	Total statsJSONCounts   `json:"total"`
}

type statsJSONCounts struct {
	Code    string         `json:"code"`
	People  int            `json:"people"`
	Male    int            `json:"male"`
	Female  int            `json:"female"`
	Age     map[string]int `json:"age"`
	Marital map[string]int `json:"marital"`
	Inflow  int            `json:"inflow"`
	Outflow int            `json:"outflow"`
}

// counts turns the JSON form back into stats.Counts to compare with the fixture's model.
func (c statsJSONCounts) counts() stats.Counts {
	out := stats.Counts{People: c.People, Male: c.Male, Female: c.Female, Inflow: c.Inflow, Outflow: c.Outflow}
	for i, b := range stats.AgeBands {
		out.Age[i] = c.Age[b.Key]
	}
	for i, s := range stats.MaritalKeys {
		k := string(s)
		if s == "" {
			k = "unknown"
		}
		out.Marital[i] = c.Marital[k]
	}
	return out
}

func statsReportJSON(t *testing.T, dsn, unit, month string) statsJSON {
	t.Helper()
	out, _ := mustStats(t, 0, "stats", "--db", dsn, "--month", month, "--unit", unit, "--format", "json")
	var r statsJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("stats json: %v\n%s", err, out)
	}
	return r
}

func TestStatsReport(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		fx := storetest.NewStatsFixture(t, storetest.Open(t, dsn))
		june := stats.Month{Year: 2025, Month: 6}

		out, _ := mustStats(t, 0, "stats", "--db", dsn, "--month", "2025-06", "--unit", "440106")
		want := fx.Expect("440106", june)
		for _, s := range []string{"广东省广州市天河区 流动人口月报 2025年6月", "数据来源：实时计算", "五山街道", "员村街道"} {
			if !strings.Contains(out, s) {
				t.Errorf("table lacks %q:\n%s", s, out)
			}
		}
		totalLine := ""
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "440106 ") {
				totalLine = l
				break
			}
		}
		if f := strings.Fields(totalLine); len(f) < 5 || f[1] != "合计" || f[2] != strconv.Itoa(want.People) ||
			f[3] != strconv.Itoa(want.Male) || f[4] != strconv.Itoa(want.Female) {
			t.Errorf("total line %q, want 合计 %d people, %d male, %d female", totalLine, want.People, want.Male, want.Female)
		}

		// JSON at every level: the figures of the model, and rows that sum to the total.
		for _, unit := range []string{"44", "4401", "440106", "440106001"} {
			r := statsReportJSON(t, dsn, unit, "2025-06")
			if r.Unit != unit || r.Month != "2025-06" || r.Source.Kind != "live" {
				t.Errorf("report head %+v", r)
			}
			if got, want := r.Total.counts(), fx.Expect(unit, june); got != want {
				t.Errorf("%s total\n got %+v\nwant %+v", unit, got, want)
			}
			sum := 0
			for _, row := range r.Rows {
				sum += row.People
				if got, want := row.counts(), fx.Expect(row.Code, june); got != want {
					t.Errorf("%s row %s\n got %+v\nwant %+v", unit, row.Code, got, want)
				}
			}
			if sum != r.Total.People {
				t.Errorf("%s rows sum to %d, total %d", unit, sum, r.Total.People)
			}
		}

		// Every run is on record: who, which unit, which month.
		db := storetest.Open(t, dsn)
		log, err := db.AuditLog(context.Background(), "440106001", 5)
		if err != nil || len(log) == 0 || log[0].Action != "stats.report" || log[0].Reason != "2025-06" || log[0].Actor == "" {
			t.Errorf("audit after a report: %+v, %v", log, err)
		}

		// xlsx: one sheet per table.
		path := filepath.Join(t.TempDir(), "report.xlsx")
		mustStats(t, 0, "stats", "--db", dsn, "--month", "2025-06", "--unit", "44", "--format", "xlsx", "-o", path)
		f, err := excelize.OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rows, err := f.GetRows("性别与年龄")
		if err != nil || len(f.GetSheetList()) != 4 || len(rows) < 2 || rows[len(rows)-1][1] != "合计" ||
			rows[len(rows)-1][2] != strconv.Itoa(fx.Expect("44", june).People) {
			t.Errorf("xlsx sheets %v, rows %v, %v", f.GetSheetList(), rows, err)
		}
	})
}

// TestStatsExchange: the report's exchange table counts the cases of the month — sent,
// received, replied on time, still overdue — after the sweep the command runs itself, in
// table, JSON and xlsx.
func TestStatsExchange(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := storetest.Open(t, dsn)
		now := storetest.StatsNow // 2025-08-15 18:00 China time
		db.Now = func() time.Time { return now }
		const unit = "440106001"
		made := map[string]int{}
		mk := func(c *yipanqi.Case) *yipanqi.Case {
			t.Helper()
			c.Type, c.OrgUnit, c.PeerNode, c.PeerUnit = "verify.identity", unit, "36", "360121"
			if err := db.CreateCase(ctx, c); err != nil {
				t.Fatal(err)
			}
			return c
		}
		received := now.Add(-72 * time.Hour)
		for i := 0; i < 4; i++ {
			c := mk(&yipanqi.Case{Direction: yipanqi.Incoming, State: yipanqi.CaseDelivered, ReceivedAt: received, DueAt: now.Add(240 * time.Hour)})
			made["received"]++
			if i%2 == 0 {
				if err := db.InTx(ctx, func(tx *sqlstore.Tx) error {
					_, err := tx.SetCaseState(ctx, c.ID, yipanqi.Incoming, yipanqi.CaseReplied)
					return err
				}); err != nil {
					t.Fatal(err)
				}
				made["on_time"]++
			}
		}
		mk(&yipanqi.Case{Direction: yipanqi.Incoming, State: yipanqi.CaseDelivered, ReceivedAt: received, DueAt: now.Add(-time.Hour)})
		made["received"]++
		made["overdue"]++
		for i := 0; i < 3; i++ {
			state := yipanqi.CaseSent
			if i == 0 {
				state = yipanqi.CaseDrafted // not sent: not counted
			} else {
				made["sent"]++
			}
			mk(&yipanqi.Case{Direction: yipanqi.Outgoing, State: state})
		}

		out, _ := mustStats(t, 0, "stats", "--db", dsn, "--month", "2025-08", "--unit", "440106", "--format", "json")
		var r struct {
			Exchange struct {
				Rows  []map[string]any `json:"rows"`
				Total map[string]any   `json:"total"`
			} `json:"exchange"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		tot := r.Exchange.Total
		for key, metric := range map[string]string{"sent": "sent", "received": "received", "replied_on_time": "on_time", "still_overdue": "overdue"} {
			if got, _ := tot[key].(float64); int(got) != made[metric] {
				t.Errorf("exchange total %s = %v, want %d (%s)", key, tot[key], made[metric], out)
			}
		}
		if len(r.Exchange.Rows) != 1 || r.Exchange.Rows[0]["type"] != "verify.identity" || r.Exchange.Rows[0]["label"] != "身份住址核实" {
			t.Errorf("exchange rows %v", r.Exchange.Rows)
		}
		if tot["median_reply_days"] == nil || tot["replied_late"].(float64) != 0 {
			t.Errorf("median %v, late %v", tot["median_reply_days"], tot["replied_late"])
		}

		table, _ := mustStats(t, 0, "stats", "--db", dsn, "--month", "2025-08", "--unit", "440106")
		for _, s := range []string{"四、交换量与办理时效", "身份住址核实", "仍超期未答复"} {
			if !strings.Contains(table, s) {
				t.Errorf("table lacks %q:\n%s", s, table)
			}
		}
		path := filepath.Join(t.TempDir(), "report.xlsx")
		mustStats(t, 0, "stats", "--db", dsn, "--month", "2025-08", "--unit", "440106", "--format", "xlsx", "-o", path)
		f, err := excelize.OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rows, err := f.GetRows("交换量与办理时效")
		if err != nil || len(rows) != 3 || rows[2][1] != "合计" || rows[2][2] != strconv.Itoa(made["sent"]) || rows[2][3] != strconv.Itoa(made["received"]) {
			t.Errorf("xlsx exchange sheet %v, %v", rows, err)
		}
	})
}

func TestStatsSnapshot(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		db := storetest.Open(t, dsn)
		fx := storetest.NewStatsFixture(t, db)
		june := stats.Month{Year: 2025, Month: 6}

		mustStats(t, 2, "stats", "snapshot", "--db", dsn, "--month", "2025-08") // not over yet
		out, _ := mustStats(t, 0, "stats", "snapshot", "--db", dsn, "--month", "2025-06")
		if !strings.Contains(out, "月度快照已生成") {
			t.Errorf("snapshot said %q", out)
		}
		_, errOut := mustStats(t, 1, "stats", "snapshot", "--db", dsn, "--month", "2025-06")
		if !strings.Contains(errOut, "--replace") {
			t.Errorf("second snapshot: %q, want a hint at --replace", errOut)
		}
		before := statsReportJSON(t, dsn, "440106", "2025-06")
		if before.Source.Kind != "snapshot" || before.Total.counts() != fx.Expect("440106", june) {
			t.Fatalf("report after the snapshot: %+v", before)
		}
		text, _ := mustStats(t, 0, "stats", "--db", dsn, "--month", "2025-06", "--unit", "440106")
		if !strings.Contains(text, "月度快照 生成于 2025-08-15 18:00:00") {
			t.Errorf("table does not name the snapshot:\n%s", text)
		}

		// A late arrival dated June: the snapshot report stays, the live figures (July, which
		// has no snapshot, counts the person present at its end) change.
		julyBefore := statsReportJSON(t, dsn, "440106", "2025-07")
		p := storetest.NewPerson(950, "440106001")
		p.ArrivedOn = yipanqi.Date{Year: 2025, Month: 6, Day: 5}
		storetest.MustImport(t, db, p)
		after := statsReportJSON(t, dsn, "440106", "2025-06")
		if after.Total.counts() != before.Total.counts() {
			t.Errorf("snapshot report changed: %+v → %+v", before.Total, after.Total)
		}
		julyAfter := statsReportJSON(t, dsn, "440106", "2025-07")
		if julyAfter.Source.Kind != "live" || julyAfter.Total.People != julyBefore.Total.People+1 {
			t.Errorf("live July: %d people before, %d after the late arrival", julyBefore.Total.People, julyAfter.Total.People)
		}
		mustStats(t, 0, "stats", "snapshot", "--db", dsn, "--month", "2025-06", "--replace")
		if r := statsReportJSON(t, dsn, "440106", "2025-06"); r.Total.People != before.Total.People+1 {
			t.Errorf("replaced snapshot: %d people, want %d", r.Total.People, before.Total.People+1)
		}
	})
}

func TestStatsMatrix(t *testing.T) {
	dsnA, dsnB := storetest.SQLiteDSN(t), storetest.SQLiteDSN(t)
	storetest.NewStatsFixture(t, storetest.Open(t, dsnA))
	dbB := storetest.Open(t, dsnB)
	var guangxi []*yipanqi.Person
	for i := 0; i < 7; i++ {
		p := storetest.NewPerson(500+i, "450103001")
		if i%2 == 0 {
			p.HukouCode = "450821" // within Guangxi: a city → city cell
		}
		guangxi = append(guangxi, p)
	}
	storetest.MustImport(t, dbB, guangxi...)

	out, _ := mustStats(t, 0, "stats", "matrix", "--db", dsnA, "--db", dsnB, "--month", "2025-07", "--format", "json")
	var m struct {
		People    int          `json:"people"`
		Provinces []stats.Cell `json:"provinces"`
		Cities    []stats.Cell `json:"cities"`
		Sources   []struct {
			Units []string `json:"units"`
		} `json:"sources"`
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("matrix json: %v\n%s", err, out)
	}
	// The matrix counts everyone each node's reports count.
	want := 0
	for _, dsn := range []string{dsnA, dsnB} {
		for _, unit := range []string{"44", "45"} {
			want += statsReportJSON(t, dsn, unit, "2025-07").Total.People
		}
	}
	sum := 0
	for _, c := range m.Provinces {
		sum += c.People
	}
	if m.People != want || sum != want || len(m.Sources) != 2 {
		t.Errorf("matrix: %d people, cells %d, %d sources; reports count %d", m.People, sum, len(m.Sources), want)
	}
	found := false
	for _, c := range m.Cities {
		if c.Origin == "4508" && c.Dest == "4501" && c.People == 4 && c.DestName == "南宁市" {
			found = true
		}
	}
	if !found {
		t.Errorf("no 贵港市 → 南宁市 cell for the Guangxi node: %+v", m.Cities)
	}
	text, _ := mustStats(t, 0, "stats", "matrix", "--db", dsnA, "--db", dsnB, "--month", "2025-07")
	if !strings.Contains(text, "省际流向") || !strings.Contains(text, "省内市际流向") || !strings.Contains(text, "实时计算") {
		t.Errorf("matrix table:\n%s", text)
	}
}

func TestStatsBadArguments(t *testing.T) {
	dsn := storetest.SQLiteDSN(t)
	tests := []struct {
		name  string
		args  []string
		names string // what the message must name
	}{
		{"month 13", []string{"--month", "2026-13", "--unit", "44"}, "--month"},
		{"month with a slash", []string{"--month", "2026/10", "--unit", "44"}, "--month"},
		{"future month", []string{"--month", "2025-09", "--unit", "44"}, "--month"},
		{"no month", []string{"--unit", "44"}, "--month"},
		{"unknown unit", []string{"--month", "2025-06", "--unit", "449999"}, "449999"},
		{"malformed unit", []string{"--month", "2025-06", "--unit", "44a"}, "--unit"},
		{"bad format", []string{"--month", "2025-06", "--unit", "44", "--format", "pdf"}, "--format"},
		{"xlsx to the terminal", []string{"--month", "2025-06", "--unit", "44", "--format", "xlsx"}, "-o"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"stats", "--db", dsn}, tt.args...)
			_, errOut := mustStats(t, 2, args...)
			if !strings.Contains(errOut, tt.names) {
				t.Errorf("stderr %q does not name %s", errOut, tt.names)
			}
		})
	}
	_, errOut := mustStats(t, 2, "stats", "--db", dsn, "--month", "2025-09", "--unit", "44")
	if !strings.Contains(errOut, "未来") {
		t.Errorf("future month: %q", errOut)
	}
	_, errOut = mustStats(t, 2, "stats", "--db", dsn, "--month", "2025-06", "--unit", "449999")
	if !strings.Contains(errOut, "不是已知的行政区划代码") {
		t.Errorf("unknown unit: %q", errOut)
	}
	mustStats(t, 2, "stats", "matrix", "--db", dsn, "--month", "2026/10")
	mustStats(t, 2, "stats", "snapshot", "--db", dsn, "--month", "2026-13")
}

// BenchmarkStats measures the province report on a registry of YIPANQI_BENCH_ROWS people
// (default 1,000,000) spread over Guangdong's townships: computed live, a snapshot taken, and
// the report read from the snapshot; also a county's report live. The import is not timed.
//
//	YIPANQI_TEST_POSTGRES=… go test -run - -bench Stats -benchtime 1x ./cmd/yipanqi
func BenchmarkStats(b *testing.B) {
	rows := 1_000_000
	if v := os.Getenv("YIPANQI_BENCH_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("YIPANQI_BENCH_ROWS: %v", err)
		}
		rows = n
	}
	tree, err := division.Load()
	if err != nil {
		b.Fatal(err)
	}
	var townships []string
	counties, err := tree.Counties("44")
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range counties {
		kids, err := tree.Children(c.Code)
		if err != nil {
			b.Fatal(err)
		}
		for _, k := range kids {
			townships = append(townships, k.Code)
		}
	}
	dsns := storetest.DSNs(b)
	for _, name := range slices.Sorted(maps.Keys(dsns)) {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			db := storetest.Open(b, dsns[name])
			db.Now = func() time.Time { return storetest.StatsNow }
			start := time.Now()
			im, err := db.BeginPeopleImport(ctx, "bench", "bench.csv")
			if err != nil {
				b.Fatal(err)
			}
			statuses := stats.MaritalKeys[:len(stats.MaritalKeys)-1]
			for i := 0; i < rows; i++ {
				p := storetest.NewPerson(i, townships[i*7919%len(townships)])
				p.MaritalStatus = statuses[i%len(statuses)]
				p.BirthDate = yipanqi.Date{Year: 1950 + i%70, Month: time.Month(1 + i%12), Day: 1 + i%28}
				p.ArrivedOn = yipanqi.Date{Year: 2020 + i%6, Month: time.Month(1 + i%12), Day: 1 + i%28}
				if err := im.Add(i+1, p); err != nil {
					b.Fatal(err)
				}
			}
			if _, _, err := im.Commit(ctx); err != nil {
				b.Fatal(err)
			}
			b.Logf("%s: imported %d people in %v", name, rows, time.Since(start).Round(time.Second))
			june := stats.Month{Year: 2025, Month: 6}
			province, county := storetest.MustScope(b, "44"), storetest.MustScope(b, "440106")
			timed := func(label string, fn func() (int, error)) {
				b.Helper()
				t0 := time.Now()
				n, err := fn()
				if err != nil {
					b.Fatalf("%s: %v", label, err)
				}
				d := time.Since(t0)
				b.ReportMetric(d.Seconds(), label+"-s")
				b.Logf("%s %s: %v (result %d)", name, label, d.Round(time.Millisecond), n)
			}
			report := func(fn func() (*stats.Tally, error)) func() (int, error) {
				return func() (int, error) {
					t, err := fn()
					if err != nil {
						return 0, err
					}
					return stats.NewReport(t, "", func(string) string { return "" }).Total.People, nil
				}
			}
			for i := 0; i < b.N; i++ {
				timed("live-province", report(func() (*stats.Tally, error) { return db.LiveStats(ctx, province, june) }))
				timed("live-county", report(func() (*stats.Tally, error) { return db.LiveStats(ctx, county, june) }))
				timed("snapshot-take", func() (int, error) {
					s, err := db.TakeStatsSnapshot(ctx, june, "bench", true)
					if err != nil {
						return 0, err
					}
					return s.People, nil
				})
				timed("snapshot-province", report(func() (*stats.Tally, error) { return db.SnapshotStats(ctx, province, june) }))
				timed("snapshot-county", report(func() (*stats.Tally, error) { return db.SnapshotStats(ctx, county, june) }))
				timed("origins-live", func() (int, error) {
					g, _, err := db.StatsOrigins(ctx, storetest.MustScope(b, "44"), stats.Month{Year: 2025, Month: 7})
					return len(g), err
				})
			}
		})
	}
}
