package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"yipanqi"
	"yipanqi/sqlstore"
)

// TestAuditVerify imports people (which audits), verifies the chain, then changes one sealed
// entry behind the store's back: verify must fail and name that entry.
func TestAuditVerify(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		dir := t.TempDir()
		file := genFile(t, dir, "p.csv", "44", 20, 1)
		mustRun(t, 0, "", "import", "people", "--db", dsn, file)
		mustRun(t, 0, "", "export", "people", "--db", dsn, "-o", dir+"/out.csv")
		out, _ := mustRun(t, 0, "", "audit", "verify", "--db", dsn)
		var n int
		if _, err := fmt.Sscanf(out, "审计日志完整：已校验 %d 条记录", &n); err != nil || n < 2 {
			t.Fatalf("verify said %q (%v), want a count of at least 2", out, err)
		}

		db, err := sqlstore.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		log, err := db.AuditLog(context.Background(), "", 100)
		if err != nil || len(log) < 2 {
			t.Fatalf("audit log: %d entries, %v", len(log), err)
		}
		victim := log[len(log)-2] // the second entry written
		if err := db.ExecRaw(context.Background(), "UPDATE audit_log SET reason = 'changed' WHERE id = ?", victim.ID); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runReg(t, "audit", "verify", "--db", dsn)
		want := fmt.Sprintf("第 %d 条记录", victim.ID)
		if code != 1 || !strings.Contains(errOut, want) {
			t.Fatalf("verify after tampering: exit %d, stdout %q, stderr %q; want exit 1 naming %q", code, out, errOut, want)
		}
	})
}

// TestAuditLog lists the log with ID numbers masked, and the listing is itself audited.
func TestAuditLog(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		mustRun(t, 0, "", "migrate", "--db", dsn)
		db, err := sqlstore.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		id := "440106199001011234"
		if err := db.Audit(context.Background(), &yipanqi.AuditEntry{Actor: "zhang", OrgUnit: "440106001", Action: "person.view", Object: id}); err != nil {
			t.Fatal(err)
		}
		out, _ := mustRun(t, 0, "", "audit", "log", "--db", dsn)
		if strings.Contains(out, id) || !strings.Contains(out, "440106********1234") {
			t.Fatalf("audit log shows %q; want the lookup of %s masked", out, id)
		}
		log, err := db.AuditLog(context.Background(), "", 1)
		if err != nil || len(log) != 1 || log[0].Action != "audit.view" {
			t.Fatalf("newest entry after listing: %+v, %v; want audit.view", log, err)
		}
		if code, _, errOut := runReg(t, "audit", "log", "--db", dsn, "--limit", "0"); code != 2 || !strings.Contains(errOut, "--limit") {
			t.Fatalf("--limit 0: exit %d, %q", code, errOut)
		}
	})
}
