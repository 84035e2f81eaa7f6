package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/sqlstore"
	"yipanqi/sqlstore/storetest"
)

func TestMeetingCLI(t *testing.T) {
	now := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	code, out, _ := cliRun(t, now, nil, "meeting", "rotation", "--from", "2026", "--years", "3")
	if code != 0 || out != "2026\t44\t广东\n2027\t35\t福建\n2028\t36\t江西\n" {
		t.Fatalf("rotation: %d %q", code, out)
	}
	code, out, _ = cliRun(t, now, map[string]string{"YIPANQI_MEETING_FIRST_YEAR": "2025"}, "meeting", "rotation", "--from", "2026", "--years", "1")
	if code != 0 || out != "2026\t35\t福建\n" {
		t.Fatalf("rotation from 2025: %d %q", code, out)
	}
	if code, _, errOut := cliRun(t, now, nil, "meeting", "rotation", "--order", "44,35"); code != 2 || !strings.Contains(errOut, "全部 11 个省份") {
		t.Fatalf("bad order: %d %q", code, errOut)
	}

	dsn := storetest.SQLiteDSN(t)
	db, err := sqlstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.UpsertOrgUnits(context.Background(), []yipanqi.OrgUnit{{Code: "44", Name: "广东省", Level: yipanqi.LevelProvince, Active: true}}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateUser(context.Background(), &yipanqi.User{Username: "gd", OrgUnit: "44", Role: yipanqi.RoleProvinceAdmin}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	code, out, errOut := cliRun(t, now, nil, "meeting", "add", "--db", dsn, "--as", "gd", "--year", "2026", "--date", "2026-11-20",
		"--agenda", "服务均等化", "--decision", "统一查验口径|44|36")
	if code != 0 || !strings.Contains(out, "2026年泛珠三角区域联席会议（广东召集），决议 1 项") {
		t.Fatalf("add: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := cliRun(t, now, nil, "meeting", "add", "--db", dsn, "--as", "gd", "--year", "2026", "--date", "2025-11-20", "--agenda", "x"); code != 2 || !strings.Contains(errOut, "会议日期须在 2026 年内") {
		t.Fatalf("bad date: %d %q", code, errOut)
	}
	code, out, _ = cliRun(t, now, nil, "meeting", "list", "--db", dsn)
	if code != 0 || !strings.Contains(out, "决议 1（编号 1）：统一查验口径 —— 广东牵头，与江西会商；未跟进") {
		t.Fatalf("list: %d %q", code, out)
	}
}
