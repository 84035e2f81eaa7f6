package exchange_test

import (
	"bytes"
	"encoding/hex"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"

	"yipanqi"
	"yipanqi/exchange"
)

func TestGenerateKeyID(t *testing.T) {
	for _, node := range []string{"44", "53", exchange.RegionNode} {
		k := MustKey(t, node)
		der, err := smx509.MarshalPKIXPublicKey(k.Public().SM2())
		if err != nil {
			t.Fatal(err)
		}
		sum := sm3.Sum(der)
		if want := node + "-" + hex.EncodeToString(sum[:])[:8]; k.ID != want || k.Node != node {
			t.Errorf("key for %s: ID %q Node %q, want ID %q", node, k.ID, k.Node, want)
		}
		if id, err := exchange.KeyID(node, k.Public().SM2()); err != nil || id != k.ID {
			t.Errorf("KeyID = %q, %v; want %q", id, err, k.ID)
		}
	}
	for _, bad := range []string{"", "4", "044", "REGION", "region2", "ab"} {
		_, err := exchange.GenerateKey(bad)
		wantError(t, err, yipanqi.EINVALID, "node")
	}
}

func TestKeyPEMRoundTrip(t *testing.T) {
	k := MustKey(t, "44")
	privPEM, err := k.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	k2, err := exchange.ParsePrivateKeyPEM(privPEM)
	if err != nil {
		t.Fatalf("ParsePrivateKeyPEM: %v\n%s", err, privPEM)
	}
	if k2.ID != k.ID || k2.Node != "44" || !k2.SM2().Equal(k.SM2()) {
		t.Errorf("private key round trip: %s/%s", k2.ID, k2.Node)
	}

	pub := k.Public()
	pub.NotBefore, pub.NotAfter = t0, t0.Add(365*day)
	pubPEM, err := pub.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	for _, node := range []string{"", "44"} {
		p, err := exchange.ParsePublicKeyPEM(pubPEM, node)
		if err != nil {
			t.Fatalf("ParsePublicKeyPEM(node %q): %v", node, err)
		}
		if p.ID != k.ID || p.Node != "44" || !p.NotBefore.Equal(t0) || !p.NotAfter.Equal(t0.Add(365*day)) || !p.SM2().Equal(pub.SM2()) {
			t.Errorf("public key round trip: %+v", p)
		}
	}

	// The files stay plain PKCS#8 / SPKI PEM for other tools: the attribute lines sit
	// outside the PEM block.
	for _, tt := range []struct {
		data  []byte
		typ   string
		parse func([]byte) (any, error)
	}{
		{privPEM, "PRIVATE KEY", smx509.ParsePKCS8PrivateKey},
		{pubPEM, "PUBLIC KEY", smx509.ParsePKIXPublicKey},
	} {
		block, _ := pem.Decode(tt.data)
		if block == nil || block.Type != tt.typ || len(block.Headers) != 0 {
			t.Fatalf("not a plain %s PEM block:\n%s", tt.typ, tt.data)
		}
		if _, err := tt.parse(block.Bytes); err != nil {
			t.Errorf("%s: %v", tt.typ, err)
		}
	}
}

func TestParseKeyPEMRejects(t *testing.T) {
	k := MustKey(t, "44")
	privPEM, err := k.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err := k.Public().MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	other := MustKey(t, "44")
	otherPub, err := other.Public().MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	block := func(b []byte) []byte { return b[bytes.Index(b, []byte("-----BEGIN")):] }

	privTests := []struct {
		name string
		data []byte
	}{
		{"no Node line", block(privPEM)},
		{"Key-Id edited", []byte(strings.Replace(string(privPEM), k.ID, other.ID, 1))},
		{"Node edited", []byte(strings.Replace(string(privPEM), "Node: 44", "Node: 35", 1))},
		{"public key given", pubPEM},
		{"garbage", []byte("not a key")},
		{"two blocks", append(append([]byte(nil), privPEM...), block(privPEM)...)},
	}
	for _, tt := range privTests {
		t.Run("private "+tt.name, func(t *testing.T) {
			if _, err := exchange.ParsePrivateKeyPEM(tt.data); yipanqi.ErrorCode(err) != yipanqi.EINVALID {
				t.Errorf("got %v, want EINVALID", err)
			}
		})
	}
	pubTests := []struct {
		name string
		data []byte
		node string
	}{
		{"no Node line, no node given", block(pubPEM), ""},
		{"node differs from file", pubPEM, "35"},
		{"Key-Id of another key", []byte(strings.Replace(string(otherPub), other.ID, k.ID, 1)), ""},
		{"private key given", privPEM, "44"},
		{"bad Not-Before", []byte("Not-Before: tomorrow\n" + string(block(pubPEM))), "44"},
	}
	for _, tt := range pubTests {
		t.Run("public "+tt.name, func(t *testing.T) {
			if _, err := exchange.ParsePublicKeyPEM(tt.data, tt.node); yipanqi.ErrorCode(err) != yipanqi.EINVALID {
				t.Errorf("got %v, want EINVALID", err)
			}
		})
	}
	// A bare SPKI block is accepted when the caller names the node.
	if p, err := exchange.ParsePublicKeyPEM(block(pubPEM), "44"); err != nil || p.ID != k.ID {
		t.Errorf("bare public key: %v, %v", p, err)
	}
}

func TestWriteKeyPair(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	k := MustKey(t, "44")
	files, err := exchange.WriteKeyPair(dir, k.ID, k, t0, t0.Add(365*day))
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(files.Private)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v, want 0600", st.Mode().Perm())
	}
	loaded, err := exchange.LoadPrivateKey(files.Private)
	if err != nil || loaded.ID != k.ID {
		t.Fatalf("LoadPrivateKey: %v, %v", loaded, err)
	}
	pub, err := exchange.LoadPublicKey(files.Public, "")
	if err != nil || pub.ID != k.ID || !pub.NotAfter.Equal(t0.Add(365*day)) {
		t.Fatalf("LoadPublicKey: %+v, %v", pub, err)
	}
	// A private key the group or others may read is refused, as ssh does, naming the file
	// and the fix; once it is 0600 again it loads.
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o620} {
		if err := os.Chmod(files.Private, mode); err != nil {
			t.Fatal(err)
		}
		_, err := exchange.LoadPrivateKey(files.Private)
		if msg := yipanqi.ErrorMessage(err); yipanqi.ErrorCode(err) != yipanqi.EINVALID ||
			!strings.Contains(msg, files.Private) || !strings.Contains(msg, "chmod 600") {
			t.Errorf("private key of mode %04o: %v, want EINVALID naming the file and chmod 600", mode, err)
		}
	}
	if err := os.Chmod(files.Private, 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := exchange.LoadPrivateKey(files.Private); err != nil {
		t.Errorf("private key of mode 0400: %v", err)
	}
	_ = os.Chmod(files.Private, 0o600)

	// Never overwrites, and leaves the existing files as they were.
	before, err := os.ReadFile(files.Private)
	if err != nil {
		t.Fatal(err)
	}
	_, err = exchange.WriteKeyPair(dir, k.ID, MustKey(t, "44"), t0, t0.Add(day))
	if yipanqi.ErrorCode(err) != yipanqi.ECONFLICT {
		t.Fatalf("second WriteKeyPair: %v, want ECONFLICT", err)
	}
	after, err := os.ReadFile(files.Private)
	if err != nil || !bytes.Equal(before, after) {
		t.Error("the existing private key changed")
	}

	// Only the public half present: still refused, and no private key is left behind.
	dir2 := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir2, "x.pub.pem"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := exchange.WriteKeyPair(dir2, "x", k, t0, t0.Add(day)); yipanqi.ErrorCode(err) != yipanqi.ECONFLICT {
		t.Fatalf("got %v, want ECONFLICT", err)
	}
	if _, err := os.Stat(filepath.Join(dir2, "x.key.pem")); !os.IsNotExist(err) {
		t.Errorf("a private key was written although the public file existed: %v", err)
	}

	if _, err := exchange.LoadPrivateKey(filepath.Join(dir, "missing.key.pem")); yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
		t.Errorf("missing file: %v, want ENOTFOUND", err)
	}
}
