package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/sqlstore"
	"yipanqi/web"
)

// cliRunStdin is cliRun with stdin.
func cliRunStdin(tb testing.TB, stdin string, args ...string) (int, string, string) {
	tb.Helper()
	var stdout, stderr bytes.Buffer
	env := &Env{Stdin: strings.NewReader(stdin), Stdout: &stdout, Stderr: &stderr,
		Getenv: func(string) string { return "" }, Now: time.Now}
	code := Main(context.Background(), env, args)
	return code, stdout.String(), stderr.String()
}

func TestUserAdd(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "node.db")
	db, err := sqlstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.UpsertOrgUnits(context.Background(), []yipanqi.OrgUnit{{Code: "440106", Name: "天河区", Active: true},
		{Code: "440106001", Name: "五山街道", ParentCode: "440106", Active: true}}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	code, out, errOut := cliRunStdin(t, "a-good-password\n", "user", "add", "--db", dsn, "--username", "wushan-worker",
		"--unit", "440106001", "--role", "township_worker", "--name", "五山街道工作人员")
	if code != 0 || !strings.Contains(out, "已新增用户 wushan-worker") {
		t.Fatalf("user add: %d %q %q", code, out, errOut)
	}
	tests := []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"no username", "a-good-password\n", []string{"--unit", "440106001", "--role", "township_worker"}, "--username：缺少用户名"},
		{"bad username", "a-good-password\n", []string{"--username", "张三", "--unit", "440106001", "--role", "township_worker"}, "--username：“张三”无效"},
		{"taken", "a-good-password\n", []string{"--username", "wushan-worker", "--unit", "440106001", "--role", "township_worker"}, "--username：用户名“wushan-worker”已被使用"},
		{"bad role", "a-good-password\n", []string{"--username", "x-worker", "--unit", "440106001", "--role", "boss"}, "--role：“boss”不是角色"},
		{"unknown unit", "a-good-password\n", []string{"--username", "x-worker", "--unit", "440106002", "--role", "township_worker"}, "--unit：机构“440106002”不在本节点"},
		{"bad unit", "a-good-password\n", []string{"--username", "x-worker", "--unit", "4401x", "--role", "township_worker"}, "--unit：“4401x”不是"},
		{"short password", "short\n", []string{"--username", "x-worker", "--unit", "440106001", "--role", "township_worker"}, "--password-file：密码至少 8 个字符"},
		{"no password", "", []string{"--username", "x-worker", "--unit", "440106001", "--role", "township_worker"}, "--password-file：没有读到密码"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := cliRunStdin(t, tt.stdin, append([]string{"user", "add", "--db", dsn}, tt.args...)...)
			if code != 2 || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, errOut, tt.want)
			}
		})
	}

	db, err = sqlstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	u, err := db.UserByName(context.Background(), "wushan-worker")
	if err != nil {
		t.Fatal(err)
	}
	if u.OrgUnit != "440106001" || u.Role != yipanqi.RoleTownshipWorker || u.DisplayName != "五山街道工作人员" || !web.CheckPassword(u.PasswordHash, "a-good-password") {
		t.Fatalf("stored user %+v", u)
	}
	if _, err := db.UserByName(context.Background(), "x-worker"); yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
		t.Fatalf("a refused add stored a user: %v", err)
	}

	code, out, errOut = cliRunStdin(t, "another-password\n", "user", "passwd", "--db", dsn, "--username", "wushan-worker")
	if code != 0 || !strings.Contains(out, "已重设") {
		t.Fatalf("user passwd: %d %q %q", code, out, errOut)
	}
	u, _ = db.UserByName(context.Background(), "wushan-worker")
	if !web.CheckPassword(u.PasswordHash, "another-password") {
		t.Fatal("password not changed")
	}
	code, out, _ = cliRunStdin(t, "", "user", "list", "--db", dsn, "--unit", "440106")
	if code != 0 || !strings.Contains(out, "wushan-worker") {
		t.Fatalf("user list: %d %q", code, out)
	}
}
