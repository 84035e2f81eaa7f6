package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"yipanqi"
	"yipanqi/sqlstore"
	"yipanqi/sqlstore/storetest"
)

// assessFixture is a SQLite store with two townships' cases of March 2026: in 440106001 an
// identity check answered in 3 working days, in 440106002 one still open and overdue at
// assessNow; and a county supervisor.
func assessFixture(t *testing.T) (dsn string) {
	t.Helper()
	dsn = storetest.SQLiteDSN(t)
	db, err := sqlstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	recv := time.Date(2026, 3, 2, 10, 0, 0, 0, yipanqi.Shanghai)
	db.Now = func() time.Time { return recv }
	due := time.Date(2026, 3, 23, 23, 59, 59, 0, yipanqi.Shanghai)
	var ids []string
	for _, unit := range []string{"440106001", "440106002"} {
		c := &yipanqi.Case{Type: "verify.identity", Direction: yipanqi.Incoming, OrgUnit: unit, State: yipanqi.CaseDelivered,
			ReceivedAt: recv, DueAt: due}
		if err := db.CreateCase(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	db.Now = func() time.Time { return recv.AddDate(0, 0, 3) }
	if err := db.InTx(context.Background(), func(tx *sqlstore.Tx) error {
		_, err := tx.SetCaseState(context.Background(), ids[0], yipanqi.Incoming, yipanqi.CaseReplied)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.UpsertOrgUnits(context.Background(), []yipanqi.OrgUnit{{Code: "440106", Name: "天河区", Level: yipanqi.LevelCounty, Active: true}}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateUser(context.Background(), &yipanqi.User{Username: "sup", OrgUnit: "440106", Role: yipanqi.RoleCountySupervisor}); err != nil {
		t.Fatal(err)
	}
	return dsn
}

var assessNow = time.Date(2026, 4, 15, 9, 0, 0, 0, yipanqi.Shanghai)

func TestAssessCLI(t *testing.T) {
	dsn := assessFixture(t)
	code, out, errOut := cliRun(t, assessNow, nil, "assess", "--db", dsn, "--period", "2026-Q1", "--unit", "440106")
	if code != 0 {
		t.Fatalf("assess: exit %d, %s", code, errOut)
	}
	// The replied township: 60 + 25 + 10 + 5 = 100; the overdue one loses the on-time
	// weight and one point.
	for _, want := range []string{"区域协作考核 440106（2026年第1季度）", "总分", "440106001", "440106002", "1/2", "100", "74"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}

	code, out, errOut = cliRun(t, assessNow, nil, "assess", "--db", dsn, "--period", "2026-03", "--unit", "440106", "--format", "json")
	var rep struct {
		Rows []struct {
			Unit    string
			Name    string
			Figures struct {
				Received int64 `json:"received"`
				Overdue  int64 `json:"still_overdue"`
			}
			Score struct{ Total float64 }
		}
	}
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Rows) != 3 || rep.Rows[0].Figures.Received != 2 || rep.Rows[0].Figures.Overdue != 1 {
		t.Fatalf("json: exit %d %s\n%s", code, errOut, out)
	}

	// A manual deduction by the county, then the workbook shows it.
	code, out, errOut = cliRun(t, assessNow, nil, "assess", "adjust", "--db", dsn, "--as", "sup", "--unit", "440106002",
		"--period", "2026-Q1", "--points", "-4", "--reason", "逾期未反馈")
	if code != 0 || !strings.Contains(out, "已录入 440106002 2026-Q1 -4 分") {
		t.Fatalf("adjust: exit %d %q %q", code, out, errOut)
	}
	xlsx := filepath.Join(t.TempDir(), "r.xlsx")
	if code, _, errOut := cliRun(t, assessNow, nil, "assess", "--db", dsn, "--period", "2026-Q1", "--unit", "440106", "--format", "xlsx", "-o", xlsx); code != 0 {
		t.Fatalf("xlsx: exit %d %s", code, errOut)
	}
	f, err := excelize.OpenFile(xlsx)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := f.GetRows(f.GetSheetName(0))
	if err != nil || len(rows) != 5 || rows[4][2] != "440106002" || rows[4][12] != "-4" || rows[4][13] != "70" {
		t.Fatalf("workbook rows = %q, %v", rows, err)
	}
}

func TestAssessCLIErrors(t *testing.T) {
	dsn := assessFixture(t)
	bad := filepath.Join(t.TempDir(), "bad.toml")
	if err := os.WriteFile(bad, []byte("base = 60\nfull = 100\n[weights]\non_time_rate = 30\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"malformed period", []string{"--period", "2026-Q7", "--unit", "440106"}, "--period"},
		{"future period", []string{"--period", "2026-Q3", "--unit", "440106"}, "尚未开始"},
		{"unknown unit", []string{"--period", "2026-Q1", "--unit", "449999"}, "--unit“449999”不是已知的行政区划代码"},
		{"bad unit", []string{"--period", "2026-Q1", "--unit", "44x"}, "--unit“44x”无效"},
		{"rules", []string{"--period", "2026-Q1", "--unit", "440106", "--rules", bad}, "第 2 行（full）：权重不一致"},
		{"format", []string{"--period", "2026-Q1", "--unit", "440106", "--format", "pdf"}, "--format"},
		{"adjust self", []string{"adjust", "--as", "sup", "--unit", "440106", "--period", "2026-Q1", "--points", "3", "--reason", "x"}, "只有上级单位"},
		{"adjust reason", []string{"adjust", "--as", "sup", "--unit", "440106001", "--period", "2026-Q1", "--points", "3"}, "须说明理由"},
		{"adjust NaN", []string{"adjust", "--as", "sup", "--unit", "440106001", "--period", "2026-Q1", "--points", "NaN", "--reason", "x"}, "--points“NaN”无效"},
		{"adjust Inf", []string{"adjust", "--as", "sup", "--unit", "440106001", "--period", "2026-Q1", "--points", "-Inf", "--reason", "x"}, "--points“-Inf”无效"},
	} {
		args := append([]string{"assess", "--db", dsn}, tt.args...)
		if tt.args[0] == "adjust" {
			args = append([]string{"assess", "adjust", "--db", dsn}, tt.args[1:]...)
		}
		code, _, errOut := cliRun(t, assessNow, nil, args...)
		if code != 2 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit 2 naming %q", tt.name, code, errOut, tt.want)
		}
	}
}
