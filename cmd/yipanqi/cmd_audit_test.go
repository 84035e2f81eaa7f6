package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/demo"
	"yipanqi/exchange"
	"yipanqi/sqlstore"
	"yipanqi/sqlstore/storetest"
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

// TestAuditVerifySigned: entries sealed without the key are reported as unsigned (strict
// refuses them) until verify --key signs the head; a row deleted and the chain and seals
// recomputed then fails on the seal's signature; and a rewrite signed again with the key is
// caught by the heads a peer received (audit heads → verify --peer-heads, or --peer-db).
func TestAuditVerifySigned(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		dir := t.TempDir()
		keys := filepath.Join(dir, "keys")
		if _, err := demo.MakeKeys(keys, []string{"44", "35"}, map[string]string{"44": "广东", "35": "福建"}, regNow); err != nil {
			t.Fatal(err)
		}
		trust := []string{"--trust", filepath.Join(keys, "trust.json"), "--region-pub", filepath.Join(keys, "region.pub.pem")}
		keyFile := filepath.Join(keys, "node-44.key.pem")
		ctx := context.Background()
		mustRun(t, 0, "", "migrate", "--db", dsn)
		db, err := sqlstore.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		db.Now = func() time.Time { return regNow }
		write := func(n int) {
			for i := range n {
				if err := db.Audit(ctx, &yipanqi.AuditEntry{Actor: "zhang", Action: "person.view", Object: fmt.Sprint("o", i)}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := db.SealAudit(ctx); err != nil { // a process without the key
				t.Fatal(err)
			}
		}
		write(4)
		verify := func(args ...string) (int, string, string) {
			return runReg(t, append([]string{"audit", "verify", "--db", dsn}, args...)...)
		}
		out, _ := mustRun(t, 0, "", append([]string{"audit", "verify", "--db", dsn}, trust...)...)
		if !strings.Contains(out, "最后 4 条记录没有已签名的链头覆盖") {
			t.Fatalf("verify of unsigned seals said %q; want them reported", out)
		}
		if code, out, errOut := verify(append(trust, "--strict")...); code != 1 || !strings.Contains(errOut, "没有已签名的链头覆盖") {
			t.Fatalf("strict verify of unsigned seals: exit %d, %q, %q; want 1", code, out, errOut)
		}
		out, _ = mustRun(t, 0, "", append([]string{"audit", "verify", "--db", dsn, "--key", keyFile, "--strict"}, trust...)...)
		if !strings.Contains(out, "已校验 4 条") || !strings.Contains(out, "已签名 1 个（签名已按信任列表核验）") {
			t.Fatalf("strict verify with the key said %q", out)
		}

		// A peer received the signed head (the exchange path is tested in exchange).
		peerDSN := storetest.SQLiteDSN(t)
		peer, err := sqlstore.Open(ctx, peerDSN)
		if err != nil {
			t.Fatal(err)
		}
		head, err := db.LatestAuditHead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		head.Node = "44"
		if err := peer.InTx(ctx, func(tx *sqlstore.Tx) error {
			_, _, err := tx.AddPeerAuditHead(ctx, &head, "m1")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		peer.Close()
		headsFile := filepath.Join(dir, "heads.json")
		mustRun(t, 0, "", "audit", "heads", "--db", peerDSN, "--from", "44", "-o", headsFile)
		out, _ = mustRun(t, 0, "", append([]string{"audit", "verify", "--db", dsn, "--strict", "--peer-heads", headsFile}, trust...)...)
		if !strings.Contains(out, "对端收到的链头：1 个") {
			t.Fatalf("verify with the peer's heads said %q", out)
		}

		log, err := db.AuditLog(ctx, "", 100)
		if err != nil || len(log) != 4 {
			t.Fatalf("log: %d, %v", len(log), err)
		}
		victim := log[len(log)-2]
		signer, err := exchange.LoadPrivateKey(keyFile)
		if err != nil {
			t.Fatal(err)
		}
		// Without the key: the chain is recomputed, the old signatures no longer fit.
		if err := storetest.RewriteAuditChain(db, victim.ID, nil); err != nil {
			t.Fatal(err)
		}
		mustRun(t, 0, "", "audit", "verify", "--db", dsn) // the hash chain alone passes
		if code, out, errOut := verify(trust...); code != 1 || !strings.Contains(errOut, "签名未通过核验") {
			t.Fatalf("verify after a keyless rewrite: exit %d, %q, %q; want 1 on the signature", code, out, errOut)
		}
		// With the key (re-signed): only the peer's head shows it, by file or by database.
		if err := storetest.Tamper(db, "UPDATE audit_seals SET key_id = '', sig = ''"); err != nil {
			t.Fatal(err)
		}
		seals, err := db.AuditSeals(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range seals {
			h.KeyID = signer.ID
			if h.Sig, err = signer.AuditSigner().SignAuditHead(h.SigningBytes()); err != nil {
				t.Fatal(err)
			}
			if err := storetest.Tamper(db, "UPDATE audit_seals SET key_id = ?, sig = ? WHERE seq = ?", h.KeyID, h.Sig, h.Seq); err != nil {
				t.Fatal(err)
			}
		}
		mustRun(t, 0, "", append([]string{"audit", "verify", "--db", dsn, "--strict"}, trust...)...)
		for _, peerArgs := range [][]string{{"--peer-heads", headsFile}, {"--peer-db", peerDSN}} {
			code, out, errOut := verify(append(append([]string{"--strict"}, trust...), peerArgs...)...)
			if code != 1 || !strings.Contains(errOut, "对端收到") {
				t.Fatalf("verify %v after a rewrite signed with the key: exit %d, %q, %q; want 1 naming the peer's head", peerArgs, code, out, errOut)
			}
		}
		if code, _, errOut := verify("--strict"); code != 2 || !strings.Contains(errOut, "--trust") {
			t.Fatalf("--strict without --trust: exit %d, %q; want a usage error", code, errOut)
		}
	})
}
