package storetest

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"

	"yipanqi"
	"yipanqi/sqlstore"
)

// TestSigner is an SM2 audit signer for tests, with the check a verifier holding its public
// key makes (what exchange's key and trust list do, without the exchange package).
type TestSigner struct {
	ID  string
	key *sm2.PrivateKey
}

// NewTestSigner returns a fresh SM2 key with the key id id (e.g. "44-0000abcd").
func NewTestSigner(tb testing.TB, id string) *TestSigner {
	tb.Helper()
	k, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return &TestSigner{ID: id, key: k}
}

func (s *TestSigner) AuditKeyID() string { return s.ID }

func (s *TestSigner) SignAuditHead(msg []byte) (string, error) {
	sig, err := s.key.Sign(rand.Reader, msg, sm2.DefaultSM2SignerOpts)
	return base64.StdEncoding.EncodeToString(sig), err
}

// Check verifies a head's signature with the signer's public key.
func (s *TestSigner) Check(h *sqlstore.AuditHead) error {
	sig, err := base64.StdEncoding.DecodeString(h.Sig)
	if h.KeyID != s.ID || err != nil || !sm2.VerifyASN1WithSM2(&s.key.PublicKey, nil, h.SigningBytes(), sig) {
		return yipanqi.FieldErrorf(yipanqi.EFORBIDDEN, "sig", "签名无效")
	}
	return nil
}

// RewriteAuditChain does what someone who can write the database (and, with signer, holds
// the node's key) can do to hide an entry: it deletes the sealed entry removeID, renumbers
// and rehashes the chain after it, moves the chain head, and recomputes the seal rows to
// match — keeping their old signatures when signer is nil, signing them anew otherwise.
func RewriteAuditChain(db *sqlstore.DB, removeID int64, signer sqlstore.AuditSigner) error {
	log, err := db.AuditLog(ctx(), "", 1_000_000)
	if err != nil {
		return err
	}
	slices.Reverse(log) // oldest first: one writer, so the seal order is the id order
	seals, err := db.AuditSeals(ctx())
	if err != nil {
		return err
	}
	var removedSeq int64
	for i, e := range log {
		if e.ID == removeID {
			removedSeq = int64(i + 1)
		}
	}
	if removedSeq == 0 {
		return fmt.Errorf("entry %d is not in the log", removeID)
	}
	if err := Tamper(db, "DELETE FROM audit_log WHERE id = ?", removeID); err != nil {
		return err
	}
	prev := ""
	hashAt := map[int64]string{}
	var seq int64
	for _, e := range log {
		if e.ID == removeID || e.Hash == "" {
			continue
		}
		seq++
		e.PrevHash = prev
		e.Hash = sqlstore.AuditHash(e)
		prev = e.Hash
		hashAt[seq] = e.Hash
		if err := Tamper(db, "UPDATE audit_log SET seal_seq = ?, prev_hash = ?, hash = ? WHERE id = ?", seq, e.PrevHash, e.Hash, e.ID); err != nil {
			return err
		}
	}
	if err := Tamper(db, "UPDATE audit_head SET seal_seq = ?, hash = ? WHERE id = 1", seq, prev); err != nil {
		return err
	}
	for _, h := range seals { // in seq order: each moves down into a free number
		newSeq := h.Seq
		if h.Seq >= removedSeq {
			newSeq--
		}
		if newSeq == 0 {
			if err := Tamper(db, "DELETE FROM audit_seals WHERE seq = ?", h.Seq); err != nil {
				return err
			}
			continue
		}
		nh := h
		nh.Seq, nh.Hash = newSeq, hashAt[newSeq]
		if signer != nil && h.Sig != "" {
			nh.KeyID = signer.AuditKeyID()
			if nh.Sig, err = signer.SignAuditHead(nh.SigningBytes()); err != nil {
				return err
			}
		}
		if err := Tamper(db, "UPDATE audit_seals SET seq = ?, hash = ?, key_id = ?, sig = ? WHERE seq = ?",
			nh.Seq, nh.Hash, nh.KeyID, nh.Sig, h.Seq); err != nil {
			return err
		}
	}
	return nil
}

// testAuditSignedHeads checks the signed heads of the audit chain (docs/personal-data.md,
// "Audit log"): a rewrite without the key fails on a signature, one with the key is caught by
// a head a peer received, and heads sealed without the key are reported as unsigned.
func testAuditSignedHeads(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	strict := func(s *TestSigner, peer ...sqlstore.AuditHead) sqlstore.AuditVerifyOptions {
		return sqlstore.AuditVerifyOptions{CheckSig: s.Check, Strict: true, PeerHeads: peer}
	}
	wantErr := func(t *testing.T, err error, want string) {
		t.Helper()
		if yipanqi.ErrorCode(err) != yipanqi.EINTERNAL || !strings.Contains(yipanqi.ErrorMessage(err), want) {
			t.Fatalf("verify: %v; want EINTERNAL saying %q", err, want)
		}
	}
	t.Run("EachSealSigned", func(t *testing.T) {
		db := open(t)
		now := time.Date(2026, 3, 2, 9, 10, 0, 0, time.UTC)
		db.Now = func() time.Time { return now }
		s := NewTestSigner(t, "44-0000abcd")
		db.SetAuditSigner(s)
		writeUnsealed(t, db, 5)
		mustSeal(t, db, 5)
		now = now.Add(time.Hour)
		writeUnsealed(t, db, 3)
		mustSeal(t, db, 3)
		seals, err := db.AuditSeals(ctx())
		if err != nil || len(seals) != 2 || seals[0].Seq != 5 || seals[1].Seq != 8 || !seals[0].Signed() || !seals[1].Signed() ||
			seals[1].KeyID != s.ID {
			t.Fatalf("seals = %+v, %v; want two signed, at 5 and 8, by %s", seals, err, s.ID)
		}
		// Within one hour a sealer keeps only its newest row: the newest head covers the rest.
		now = now.Add(10 * time.Minute)
		writeUnsealed(t, db, 1)
		mustSeal(t, db, 1)
		now = now.Add(10 * time.Minute)
		writeUnsealed(t, db, 1)
		mustSeal(t, db, 1)
		seals, err = db.AuditSeals(ctx())
		if err != nil || len(seals) != 2 || seals[0].Seq != 5 || seals[1].Seq != 10 {
			t.Fatalf("seals after two more in the same hour = %+v, %v; want 5 and 10", seals, err)
		}
		writeUnsealed(t, db, 2)
		mustSeal(t, db, 2)
		r, err := db.VerifyAuditSigned(ctx(), strict(s))
		if err != nil || r.Checked != 12 || r.Seals != 2 || r.Signed != 2 || r.Unsigned != 0 {
			t.Fatalf("strict verify = %+v, %v; want 12 entries, 2 signed seals, none unsigned", r, err)
		}
		if h, err := db.LatestAuditHead(ctx()); err != nil || h.Seq != 12 || s.Check(&h) != nil {
			t.Fatalf("latest head = %+v, %v; want seq 12, signed", h, err)
		}
	})
	t.Run("RewriteWithoutKey", func(t *testing.T) {
		// Finding 17: delete a row, recompute the SHA-256 chain and the seal rows. The hash
		// chain alone no longer shows it; the signatures do.
		db := open(t)
		s := NewTestSigner(t, "44-0000abcd")
		db.SetAuditSigner(s)
		written := writeUnsealed(t, db, 5)
		mustSeal(t, db, 5)
		writeUnsealed(t, db, 5)
		mustSeal(t, db, 5)
		db.SetAuditSigner(nil)
		if err := RewriteAuditChain(db, written[2].ID, nil); err != nil {
			t.Fatal(err)
		}
		if n, err := db.VerifyAudit(ctx()); err != nil || n != 9 {
			t.Fatalf("hash-only verify after the rewrite = %d, %v; want 9 entries passing (what the signatures add)", n, err)
		}
		_, err := db.VerifyAuditSigned(ctx(), strict(s))
		wantErr(t, err, "签名未通过核验")
		// Dropping the signatures instead leaves nothing covered: strict refuses.
		if err := Tamper(db, "UPDATE audit_seals SET key_id = '', sig = ''"); err != nil {
			t.Fatal(err)
		}
		_, err = db.VerifyAuditSigned(ctx(), strict(s))
		wantErr(t, err, "最后 9 条记录没有已签名的链头覆盖")
		r, err := db.VerifyAuditSigned(ctx(), sqlstore.AuditVerifyOptions{CheckSig: s.Check})
		if err != nil || r.Unsigned != 9 || r.Signed != 0 {
			t.Fatalf("non-strict verify = %+v, %v; want it to pass reporting 9 unsigned entries", r, err)
		}
	})
	t.Run("RewriteWithKeyCaughtByPeerHead", func(t *testing.T) {
		db, peer := open(t), open(t)
		s := NewTestSigner(t, "44-0000abcd")
		db.SetAuditSigner(s)
		written := writeUnsealed(t, db, 6)
		mustSeal(t, db, 6)
		head, err := db.LatestAuditHead(ctx())
		if err != nil {
			t.Fatal(err)
		}
		head.Node = "44"
		if err := peer.InTx(ctx(), func(tx *sqlstore.Tx) error {
			added, conflict, err := tx.AddPeerAuditHead(ctx(), &head, "m1")
			if err == nil && (!added || conflict) {
				err = fmt.Errorf("added %v conflict %v; want a new head", added, conflict)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		writeUnsealed(t, db, 2)
		mustSeal(t, db, 2)
		peerHeads, err := peer.PeerAuditHeads(ctx(), "44")
		if err != nil || len(peerHeads) != 1 {
			t.Fatalf("peer heads = %+v, %v", peerHeads, err)
		}
		if r, err := db.VerifyAuditSigned(ctx(), strict(s, peerHeads...)); err != nil || r.PeerHeads != 1 {
			t.Fatalf("verify with the peer's head before any rewrite = %+v, %v", r, err)
		}
		// The key holder (say, after restoring a backup) rewrites and signs again: the
		// signatures pass, the peer's head does not.
		db.SetAuditSigner(nil)
		if err := RewriteAuditChain(db, written[1].ID, s); err != nil {
			t.Fatal(err)
		}
		if _, err := db.VerifyAuditSigned(ctx(), strict(s)); err != nil {
			t.Fatalf("strict verify of a rewrite signed with the key: %v; want it to pass (only a peer's head shows it)", err)
		}
		_, err = db.VerifyAuditSigned(ctx(), strict(s, peerHeads...))
		wantErr(t, err, "与对端收到的节点 44 的链头不符")

		// Removing the newest entries instead: the peer's head lies beyond the chain.
		db2 := open(t)
		db2.SetAuditSigner(s)
		written = writeUnsealed(t, db2, 3)
		mustSeal(t, db2, 3)
		h2, err := db2.LatestAuditHead(ctx())
		if err != nil {
			t.Fatal(err)
		}
		h2.Node = "44"
		db2.SetAuditSigner(nil)
		if err := RewriteAuditChain(db2, written[2].ID, s); err != nil {
			t.Fatal(err)
		}
		_, err = db2.VerifyAuditSigned(ctx(), strict(s, h2))
		wantErr(t, err, "末尾的记录被删除")
	})
	t.Run("UnsignedSealsThenSigned", func(t *testing.T) {
		// A process without the key (a command, or a node before signed heads) seals
		// unsigned; the node's signing sealer later signs the head it left.
		db := open(t)
		s := NewTestSigner(t, "44-0000abcd")
		writeUnsealed(t, db, 4)
		mustSeal(t, db, 4)
		r, err := db.VerifyAuditSigned(ctx(), sqlstore.AuditVerifyOptions{CheckSig: s.Check})
		if err != nil || r.Seals != 1 || r.Signed != 0 || r.Unsigned != 4 {
			t.Fatalf("verify of unsigned seals = %+v, %v; want them reported: 1 seal, 4 entries unsigned", r, err)
		}
		_, err = db.VerifyAuditSigned(ctx(), strict(s))
		wantErr(t, err, "最后 4 条记录没有已签名的链头覆盖")
		db.SetAuditSigner(s)
		mustSeal(t, db, 0)
		seals, err := db.AuditSeals(ctx())
		if err != nil || len(seals) != 1 || seals[0].Seq != 4 || !seals[0].Signed() {
			t.Fatalf("seals after a signing sealer ran = %+v, %v; want the head at 4 signed", seals, err)
		}
		if r, err := db.VerifyAuditSigned(ctx(), strict(s)); err != nil || r.Unsigned != 0 {
			t.Fatalf("strict verify after signing = %+v, %v", r, err)
		}
		mustSeal(t, db, 0) // nothing new: no further row
		if seals, _ := db.AuditSeals(ctx()); len(seals) != 1 {
			t.Fatalf("seals after an idle round = %+v; want still one", seals)
		}
	})
	t.Run("SignerRefusesOverRewrite", func(t *testing.T) {
		db := open(t)
		s := NewTestSigner(t, "44-0000abcd")
		db.SetAuditSigner(s)
		written := writeUnsealed(t, db, 4)
		mustSeal(t, db, 4)
		if err := RewriteAuditChain(db, written[0].ID, nil); err != nil {
			t.Fatal(err)
		}
		writeUnsealed(t, db, 1)
		_, err := db.SealAudit(ctx())
		if yipanqi.ErrorCode(err) != yipanqi.EINTERNAL || !strings.Contains(yipanqi.ErrorMessage(err), "拒绝签名") {
			t.Fatalf("seal after the chain was rewritten under the signer: %v; want a refusal to sign", err)
		}
		if n, err := db.UnsealedAudit(ctx()); err != nil || n != 1 {
			t.Fatalf("unsealed after the refusal = %d, %v; want the new entry left waiting", n, err)
		}
		db.SetAuditSigner(nil) // Close seals it, unsigned
	})
	t.Run("PeerHeadsKept", func(t *testing.T) {
		db := open(t)
		h := sqlstore.AuditHead{Node: "45", Seq: 7, Hash: strings.Repeat("a", 64), At: db.Now().UTC(), KeyID: "45-0000abcd", Sig: "c2ln"}
		add := func(h sqlstore.AuditHead) (added, conflict bool) {
			t.Helper()
			if err := db.InTx(ctx(), func(tx *sqlstore.Tx) error {
				var err error
				added, conflict, err = tx.AddPeerAuditHead(ctx(), &h, "m")
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return added, conflict
		}
		if a, c := add(h); !a || c {
			t.Fatalf("first head: added %v conflict %v", a, c)
		}
		if a, c := add(h); a || c {
			t.Fatalf("same head again: added %v conflict %v; want neither", a, c)
		}
		other := h
		other.Hash = strings.Repeat("b", 64)
		if a, c := add(other); !a || !c {
			t.Fatalf("other hash at the same seq: added %v conflict %v; want both", a, c)
		}
		heads, err := db.PeerAuditHeads(ctx(), "45")
		if err != nil || len(heads) != 2 || heads[0].Node != "45" || heads[0].Seq != 7 {
			t.Fatalf("peer heads = %+v, %v", heads, err)
		}
		if heads, _ := db.PeerAuditHeads(ctx(), "46"); len(heads) != 0 {
			t.Fatalf("heads of 46 = %+v; want none", heads)
		}
		if err := db.InTx(ctx(), func(tx *sqlstore.Tx) error {
			_, _, err := tx.AddPeerAuditHead(ctx(), &sqlstore.AuditHead{Node: "45", Seq: 1, Hash: "x"}, "m")
			return err
		}); yipanqi.ErrorCode(err) != yipanqi.EINVALID {
			t.Fatalf("unsigned head: %v; want EINVALID", err)
		}
	})
}
