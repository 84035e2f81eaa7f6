package exchange_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"

	"yipanqi"
	"yipanqi/exchange"
)

func TestTrustListRoundTrip(t *testing.T) {
	f := newFixture(t)
	tl := f.trust
	if tl.Version != 7 || !tl.IssuedAt.Equal(t0) || !tl.NextUpdate.Equal(t0.Add(1000*day)) {
		t.Errorf("header: version %d issued %v next %v", tl.Version, tl.IssuedAt, tl.NextUpdate)
	}
	n, ok := tl.Node("44")
	if !ok || n.Name != "广东" || len(n.Keys) != 2 || n.Keys[0].ID != f.a44.ID || n.Keys[1].ID != f.b44.ID {
		t.Errorf("node 44: %+v", n)
	}
	if !n.Keys[1].NotBefore.Equal(t0.Add(300 * day)) {
		t.Errorf("b44 not_before = %v", n.Keys[1].NotBefore)
	}
	if _, ok := tl.Node("36"); ok {
		t.Error("node 36 found")
	}
	// Every key on the list verifies messages of its node.
	for _, k := range []*exchange.PrivateKey{f.a44, f.b44} {
		if err := tl.Verify(mustSigned(t, k, t0.Add(330*day)), "44"); err != nil {
			t.Errorf("%s: %v", k.ID, err)
		}
	}
}

func TestTrustListSignatureSurvivesReformatting(t *testing.T) {
	f := newFixture(t)
	var compact bytes.Buffer
	if err := json.Compact(&compact, f.doc); err != nil {
		t.Fatal(err)
	}
	if _, err := exchange.ParseTrustList(compact.Bytes(), f.region.Public(), t0); err != nil {
		t.Fatalf("compacted list: %v", err)
	}
}

func TestTrustListRejected(t *testing.T) {
	f := newFixture(t)
	otherRegion := MustKey(t, exchange.RegionNode)
	byOther, err := f.trust.Sign(otherRegion)
	if err != nil {
		t.Fatal(err)
	}
	var noSig map[string]json.RawMessage
	if err := json.Unmarshal(f.doc, &noSig); err != nil {
		t.Fatal(err)
	}
	delete(noSig, "signature")
	unsigned, _ := json.Marshal(noSig)

	tests := []struct {
		name  string
		doc   []byte
		pub   *exchange.PublicKey
		now   time.Time
		code  string
		field string
	}{
		{"checked with another region key", f.doc, otherRegion.Public(), t0, yipanqi.EFORBIDDEN, "signature"},
		{"signed by another region key", byOther, f.region.Public(), t0, yipanqi.EFORBIDDEN, "signature"},
		{"node name changed", []byte(strings.Replace(string(f.doc), "福建", "福建省", 1)), f.region.Public(), t0, yipanqi.EFORBIDDEN, "signature"},
		{"validity extended", []byte(strings.Replace(string(f.doc), "2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z", 1)), f.region.Public(), t0, yipanqi.EFORBIDDEN, "signature"},
		{"no signature", unsigned, f.region.Public(), t0, yipanqi.EFORBIDDEN, "signature"},
		{"expired", f.doc, f.region.Public(), t0.Add(1000 * day), yipanqi.EFORBIDDEN, "next_update"},
		{"not json", []byte("{"), f.region.Public(), t0, yipanqi.EINVALID, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := exchange.ParseTrustList(tt.doc, tt.pub, tt.now)
			wantError(t, err, tt.code, tt.field)
		})
	}
	if !bytes.Contains(f.doc, []byte("2027-01-01T00:00:00Z")) {
		t.Fatal("the validity-extended case edits nothing; the fixture changed")
	}
}

// TestTrustListContentCheckedAfterSignature signs documents the API would never produce and
// checks that their content is still refused.
func TestTrustListContentCheckedAfterSignature(t *testing.T) {
	f := newFixture(t)
	var doc map[string]any
	if err := json.Unmarshal(f.doc, &doc); err != nil {
		t.Fatal(err)
	}
	delete(doc, "signature")
	tests := []struct {
		name  string
		edit  func(d map[string]any)
		field string
	}{
		{"unknown member", func(d map[string]any) { d["extra"] = 1 }, ""},
		{"version zero", func(d map[string]any) { d["version"] = 0 }, "version"},
		{"next_update before issued_at", func(d map[string]any) { d["next_update"] = "2025-01-01T00:00:00Z" }, "next_update"},
		{"time with offset", func(d map[string]any) { d["issued_at"] = "2026-01-01T08:00:00+08:00" }, "issued_at"},
		{"key id of another key", func(d map[string]any) {
			keys := d["nodes"].([]any)[0].(map[string]any)["keys"].([]any)
			keys[0].(map[string]any)["id"] = "35-00000000"
		}, "nodes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d map[string]any
			b, _ := json.Marshal(doc)
			if err := json.Unmarshal(b, &d); err != nil {
				t.Fatal(err)
			}
			tt.edit(d)
			signed := signDoc(t, f.region, d)
			_, err := exchange.ParseTrustList(signed, f.region.Public(), t0)
			wantError(t, err, yipanqi.EINVALID, tt.field)
		})
	}
}

// signDoc signs d as the region would, using gmsm directly on the canonical form.
func signDoc(tb testing.TB, region *exchange.PrivateKey, d map[string]any) []byte {
	tb.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		tb.Fatal(err)
	}
	msg, err := exchange.Canonicalize(b)
	if err != nil {
		tb.Fatal(err)
	}
	sig, err := region.SM2().Sign(rand.Reader, msg, sm2.DefaultSM2SignerOpts)
	if err != nil {
		tb.Fatal(err)
	}
	d["signature"] = map[string]any{"key_id": region.ID, "value": base64.StdEncoding.EncodeToString(sig)}
	out, err := json.Marshal(d)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func TestNewTrustListRejects(t *testing.T) {
	a := MustKey(t, "44")
	b := MustKey(t, "44")
	ka := MustTrustKey(t, a, t0, t0.Add(day))
	kb := MustTrustKey(t, b, t0, t0.Add(day))
	node := func(code, name string, keys ...exchange.TrustedKey) exchange.TrustedNode {
		return exchange.TrustedNode{Code: code, Name: name, Keys: keys}
	}
	tests := []struct {
		name    string
		version int64
		next    time.Time
		nodes   []exchange.TrustedNode
		field   string
	}{
		{"version 0", 0, t0.Add(day), []exchange.TrustedNode{node("44", "广东", ka)}, "version"},
		{"next_update = issued_at", 1, t0, []exchange.TrustedNode{node("44", "广东", ka)}, "next_update"},
		{"no nodes", 1, t0.Add(day), nil, "nodes"},
		{"bad node code", 1, t0.Add(day), []exchange.TrustedNode{node("4", "广东", ka)}, "nodes"},
		{"region as a node", 1, t0.Add(day), []exchange.TrustedNode{node("region", "区域", ka)}, "nodes"},
		{"duplicate node", 1, t0.Add(day), []exchange.TrustedNode{node("44", "广东", ka), node("44", "广东", kb)}, "nodes"},
		{"no name", 1, t0.Add(day), []exchange.TrustedNode{node("44", " ", ka)}, "nodes"},
		{"no keys", 1, t0.Add(day), []exchange.TrustedNode{node("44", "广东")}, "nodes"},
		{"duplicate key", 1, t0.Add(day), []exchange.TrustedNode{node("44", "广东", ka, ka)}, "nodes"},
		{"key under the wrong node", 1, t0.Add(day), []exchange.TrustedNode{node("35", "福建", ka)}, "nodes"},
		{"empty validity", 1, t0.Add(day), []exchange.TrustedNode{node("44", "广东", MustTrustKey(t, a, t0, t0))}, "nodes"},
		{"bad pem", 1, t0.Add(day), []exchange.TrustedNode{node("44", "广东", exchange.TrustedKey{ID: a.ID, PublicKeyPEM: "x", NotBefore: t0, NotAfter: t0.Add(day)})}, "nodes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := exchange.NewTrustList(tt.version, t0, tt.next, tt.nodes)
			wantError(t, err, yipanqi.EINVALID, tt.field)
		})
	}
}

func TestTrustListSignNeedsRegionKey(t *testing.T) {
	f := newFixture(t)
	if _, err := f.trust.Sign(f.a44); yipanqi.ErrorCode(err) != yipanqi.EINVALID {
		t.Errorf("signed with a node key: %v", err)
	}
}

func TestLoadTrustList(t *testing.T) {
	f := newFixture(t)
	path := filepath.Join(t.TempDir(), "trust.json")
	if err := exchange.WriteTrustList(path, f.doc); err != nil {
		t.Fatal(err)
	}
	tl, err := exchange.LoadTrustList(path, f.region.Public(), t0.Add(day))
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.Verify(mustSigned(t, f.a44, t0.Add(day)), "44"); err != nil {
		t.Errorf("Verify with the loaded list: %v", err)
	}
	if err := tl.Current(t0.Add(999 * day)); err != nil {
		t.Errorf("Current before next_update: %v", err)
	}
	wantError(t, tl.Current(t0.Add(1000*day)), yipanqi.EFORBIDDEN, "next_update")

	// Overwriting keeps one whole file.
	if err := exchange.WriteTrustList(path, f.doc); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil || len(entries) != 1 {
		t.Errorf("directory after rewrite: %v, %v", entries, err)
	}
	_, err = exchange.LoadTrustList(filepath.Join(t.TempDir(), "none.json"), f.region.Public(), t0)
	if yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
		t.Errorf("missing file: %v", err)
	}
}

// issue returns the fixture's list as issue version, optionally without node 35 (other
// content), signed and parsed back as a node would read it.
func (f *fixture) issue(tb testing.TB, version int64, without35 bool) *exchange.TrustList {
	tb.Helper()
	var nodes []exchange.TrustedNode
	for _, n := range f.trust.Nodes {
		if without35 && n.Code == "35" {
			continue
		}
		nodes = append(nodes, n)
	}
	tl, err := exchange.NewTrustList(version, t0, t0.Add(1000*day), nodes)
	if err != nil {
		tb.Fatal(err)
	}
	doc, err := tl.Sign(f.region)
	if err != nil {
		tb.Fatal(err)
	}
	back, err := exchange.ParseTrustList(doc, f.region.Public(), t0)
	if err != nil {
		tb.Fatal(err)
	}
	return back
}

// TestCheckTrustUpdate: a node refuses a trust list of a lower version than the one it took
// before, and one of the same version with other content; the same issue again, and a higher
// version, are taken. casework.TestTrustListRollback checks the same through the store.
func TestCheckTrustUpdate(t *testing.T) {
	f := newFixture(t)
	v6, v7, v7other := f.issue(t, 6, false), f.issue(t, 7, false), f.issue(t, 7, true)
	if v7.Digest() != f.trust.Digest() || v7.Digest() == v7other.Digest() {
		t.Fatal("digest does not tell issues apart")
	}
	// Without a store.
	if err := exchange.CheckTrustUpdate(0, "", v6); err != nil {
		t.Errorf("first list: %v", err)
	}
	wantError(t, exchange.CheckTrustUpdate(7, v7.Digest(), v6), yipanqi.EFORBIDDEN, "version")
	wantError(t, exchange.CheckTrustUpdate(7, v7.Digest(), v7other), yipanqi.EFORBIDDEN, "version")
	if err := exchange.CheckTrustUpdate(7, v7.Digest(), v7); err != nil {
		t.Errorf("same issue: %v", err)
	}
}
