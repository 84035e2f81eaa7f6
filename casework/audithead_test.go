package casework_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/casework"
	"yipanqi/sqlstore"
	"yipanqi/sqlstore/storetest"
)

// TestAuditHeadPublished runs node 44 (Run: the sealer signs with 44's key, and the signed
// head is published) and node 43 over the embedded NATS server: 43 keeps 44's signed head,
// which checks out against the trust list alone, and which a later rewrite of 44's log —
// even one signed again with 44's key — no longer contains.
func TestAuditHeadPublished(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		w := newWorld(t)
		a := w.start(t, "44", newDSN(), run{tune: func(c *casework.NodeConfig) {
			c.AuditSeal = 5 * time.Millisecond
			c.AuditHead = 20 * time.Millisecond
		}})
		b := w.start(t, "43", newDSN(), both)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.node.Run(ctx) }()
		stopA := func() {
			if cancel != nil {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("node 44 run: %v", err)
				}
				cancel = nil
			}
		}
		defer stopA()

		for i := range 3 {
			if err := a.db.Audit(context.Background(), &yipanqi.AuditEntry{Actor: "zhang", Action: "person.view", Object: "o" + string(rune('0'+i))}); err != nil {
				t.Fatal(err)
			}
		}
		var heads []sqlstore.AuditHead
		deadline := time.Now().Add(20 * time.Second)
		for {
			var err error
			heads, err = b.db.PeerAuditHeads(context.Background(), "44")
			if err != nil {
				t.Fatal(err)
			}
			if len(heads) > 0 && heads[len(heads)-1].Seq >= 3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node 43 holds 44's heads %+v; want one covering the 3 entries written", heads)
			}
			time.Sleep(20 * time.Millisecond)
		}
		for i := range heads {
			if heads[i].Node != "44" {
				t.Fatalf("head kept as from %q", heads[i].Node)
			}
			if err := casework.VerifyAuditHead(w.trust, &heads[i]); err != nil {
				t.Fatalf("a kept head does not verify against the trust list: %v", err)
			}
		}
		stopA()

		opts := sqlstore.AuditVerifyOptions{CheckSig: casework.AuditChecker(w.trust), Strict: true, PeerHeads: heads}
		if r, err := a.db.VerifyAuditSigned(context.Background(), opts); err != nil || r.PeerHeads != len(heads) {
			t.Fatalf("44's log against 43's heads = %+v, %v; want it to pass", r, err)
		}
		log, err := a.db.AuditLog(context.Background(), "", 1000)
		if err != nil || len(log) < 3 {
			t.Fatalf("log %d, %v", len(log), err)
		}
		first := log[len(log)-1]
		if err := storetest.RewriteAuditChain(a.db, first.ID, w.keys["44"].AuditSigner()); err != nil {
			t.Fatal(err)
		}
		opts.PeerHeads = nil
		if _, err := a.db.VerifyAuditSigned(context.Background(), opts); err != nil {
			t.Fatalf("a rewrite signed with the key, without peer heads: %v; want it to pass", err)
		}
		opts.PeerHeads = heads
		_, err = a.db.VerifyAuditSigned(context.Background(), opts)
		if yipanqi.ErrorCode(err) != yipanqi.EINTERNAL || !strings.Contains(yipanqi.ErrorMessage(err), "对端收到的节点 44") &&
			!strings.Contains(yipanqi.ErrorMessage(err), "末尾的记录被删除") {
			t.Fatalf("44's rewritten log against 43's heads: %v; want EINTERNAL naming the head 43 received", err)
		}
	})
}

// TestVerifyAuditHead checks a head's signature against the trust list: the sender's key, at
// the head's time, over the head's own bytes.
func TestVerifyAuditHead(t *testing.T) {
	w := newKeys(t)
	k44 := w.keys["44"]
	h := sqlstore.AuditHead{Node: "44", Seq: 9, Hash: strings.Repeat("ab", 32), At: time.Now().UTC().Truncate(time.Microsecond), KeyID: k44.ID}
	sig, err := k44.AuditSigner().SignAuditHead(h.SigningBytes())
	if err != nil {
		t.Fatal(err)
	}
	h.Sig = sig
	if err := casework.VerifyAuditHead(w.trust, &h); err != nil {
		t.Fatalf("good head: %v", err)
	}
	changed := h
	changed.Seq = 8
	wantError(t, casework.VerifyAuditHead(w.trust, &changed), yipanqi.EFORBIDDEN, "sig")
	other := h
	other.Node = "43" // 44's key claimed for 43
	wantError(t, casework.VerifyAuditHead(w.trust, &other), yipanqi.EFORBIDDEN, "key_id")
	late := h
	late.At = time.Now().Add(400 * 24 * time.Hour)
	wantError(t, casework.VerifyAuditHead(w.trust, &late), yipanqi.EFORBIDDEN, "at")
	unsigned := h
	unsigned.Sig = ""
	wantError(t, casework.VerifyAuditHead(w.trust, &unsigned), yipanqi.EFORBIDDEN, "sig")
}

// TestAuditHeadForged sends node 43 a head of 44's chain signed with another node's key, in
// an envelope 44 signed: 43 dead-letters it, keeps nothing, and sends no rejection back.
func TestAuditHeadForged(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		w := newWorld(t)
		a := w.start(t, "44", newDSN(), both)
		b := w.start(t, "43", newDSN(), both)
		a.db.SetAuditSigner(w.keys["43"].AuditSigner())
		if err := a.db.Audit(context.Background(), &yipanqi.AuditEntry{Actor: "zhang", Action: "person.view"}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.db.SealAudit(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := a.node.PublishAuditHead(context.Background()); err != nil {
			t.Fatal(err)
		}
		dl := deadLetterWith(t, b, "密钥不在信任列表")
		if strings.Contains(dl.Reason, "zhang") {
			t.Fatalf("dead-letter reason %q carries the audit entry", dl.Reason)
		}
		if heads, err := b.db.PeerAuditHeads(context.Background(), ""); err != nil || len(heads) != 0 {
			t.Fatalf("43 kept %+v, %v; want no head", heads, err)
		}
		if dl.NoticeID != "" {
			t.Fatalf("43 sent rejection notice %s for an audit head; want none", dl.NoticeID)
		}
		a.db.SetAuditSigner(nil)
	})
}
