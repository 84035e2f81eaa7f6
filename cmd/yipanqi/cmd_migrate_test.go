package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"yipanqi/sqlstore"
	"yipanqi/sqlstore/storetest"
)

// runMigrateCLI runs Main with args and the environment variables vars, returning the exit status,
// stdout and stderr.
func runMigrateCLI(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	return cliRun(t, time.Time{}, vars, args...)
}

func TestMigrateCommand(t *testing.T) {
	dsns := storetest.DSNs(t)
	if _, ok := dsns["postgres"]; !ok {
		t.Log("PostgreSQL half skipped: " + storetest.PostgresEnv + " is empty")
	}
	for name, dsn := range dsns {
		t.Run(name, func(t *testing.T) {
			migrations, err := sqlstore.Migrations(name)
			if err != nil {
				t.Fatal(err)
			}
			var want strings.Builder
			for _, m := range migrations {
				want.WriteString("已应用迁移 " + m + "\n")
			}
			code, out, errOut := runMigrateCLI(t, nil, "migrate", "--db", dsn)
			if code != 0 || out != want.String() {
				t.Fatalf("first migrate: exit %d, stdout %q, stderr %q; want 0 and %q", code, out, errOut, want.String())
			}
			code, out, errOut = runMigrateCLI(t, nil, "migrate", "--db", dsn)
			upToDate := "数据库已是最新（共 " + strconv.Itoa(len(migrations)) + " 个迁移）\n"
			if code != 0 || out != upToDate {
				t.Fatalf("second migrate: exit %d, stdout %q, stderr %q; want 0 and %q", code, out, errOut, upToDate)
			}
			// The store that other commands open is the migrated one.
			db, err := openStore(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if n, err := db.MigrationCount(context.Background()); err != nil || n != len(migrations) {
				t.Fatalf("migrations recorded: %d (%v), want %d", n, err, len(migrations))
			}
		})
	}
}

func TestMigrateDefaultDB(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "node.db")
	code, out, errOut := runMigrateCLI(t, map[string]string{"YIPANQI_DB": "sqlite:" + path}, "migrate")
	if code != 0 || !strings.HasPrefix(out, "已应用迁移 ") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("YIPANQI_DB was not used: %v", err)
	}
}

func TestMigrateErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "absent", "node.db")
	tests := []struct {
		name      string
		args      []string
		wantCode  int
		stderrHas []string
		stderrNot string
	}{
		{"unknown scheme", []string{"migrate", "--db", "mysql://x"}, 1, []string{"--db", "sqlite:文件路径"}, ""},
		{"file cannot be opened", []string{"migrate", "--db", "sqlite:" + missing}, 1, []string{"无法连接数据库", missing}, ""},
		{"postgres does not answer", []string{"migrate", "--db", "postgres://u:hunter2pw@127.0.0.1:1/node"}, 1,
			[]string{"无法连接数据库", "127.0.0.1:1"}, "hunter2pw"},
		{"stray argument", []string{"migrate", "now"}, 2, []string{"migrate 不接受参数“now”"}, ""},
		{"unknown flag", []string{"migrate", "--force"}, 2, []string{"参数有误"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runMigrateCLI(t, nil, tt.args...)
			if code != tt.wantCode || out != "" {
				t.Fatalf("exit %d stdout %q, want exit %d and no output (stderr %q)", code, out, tt.wantCode, errOut)
			}
			for _, s := range tt.stderrHas {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr %q does not contain %q", errOut, s)
				}
			}
			if tt.stderrNot != "" && strings.Contains(errOut, tt.stderrNot) {
				t.Errorf("stderr %q shows %q", errOut, tt.stderrNot)
			}
		})
	}
}
