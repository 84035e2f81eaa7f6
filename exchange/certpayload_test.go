package exchange_test

import (
	"crypto/rand"
	"encoding/base64"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm2"

	"yipanqi"
	"yipanqi/exchange"
)

func examplePayload() exchange.CertPayload {
	return exchange.CertPayload{Number: "440106001-2026-000017-K7QX2M", MaskedName: "张*明",
		IssuedOn: yipanqi.Date{Year: 2026, Month: 3, Day: 2}, ValidUntil: yipanqi.Date{Year: 2029, Month: 3, Day: 1},
		SignedOn: yipanqi.Date{Year: 2026, Month: 3, Day: 2}}
}

// TestCertPayload: a payload signed with a key on the trust list verifies and states what
// was signed; a changed byte, another node's key, a key not valid on the signing day, or an
// unmasked name do not.
func TestCertPayload(t *testing.T) {
	f := newFixture(t) // a44 valid [t0, t0+365d); t0 is in 2026
	c := examplePayload()
	c.SignedOn = yipanqi.DateOf(t0.Add(10 * day).In(shanghaiTZ))
	p, err := exchange.SignCertPayload(f.a44, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) > 300 {
		t.Errorf("payload of %d characters; want a compact one", len(p))
	}
	got, err := f.trust.VerifyCertPayload(p)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	c.KeyID = f.a44.ID
	if *got != c {
		t.Errorf("verified payload = %+v, want %+v", *got, c)
	}
	if _, err := exchange.VerifyCertPayloadKey(f.a44.Public(), p); err != nil {
		t.Errorf("verify with the key alone: %v", err)
	}
	wantError(t, func() error { _, err := exchange.VerifyCertPayloadKey(f.b44.Public(), p); return err }(), yipanqi.EFORBIDDEN, "p")

	// Tampering: another valid-until date in the body, the signature kept.
	parts := strings.Split(p, ".")
	body, _ := base64.RawURLEncoding.DecodeString(parts[1])
	forged := strings.Replace(string(body), "|20290301|", "|20390301|", 1)
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(forged)) + "." + parts[2]
	_, err = f.trust.VerifyCertPayload(tampered)
	wantError(t, err, yipanqi.EFORBIDDEN, "p")

	// A key the list does not hold for the node (35's key claiming a 44 id is caught by the
	// id; an unknown key), and a key outside its validity on the signing day.
	stranger := MustKey(t, "44")
	ps, err := exchange.SignCertPayload(stranger, c)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.trust.VerifyCertPayload(ps)
	wantError(t, err, yipanqi.EFORBIDDEN, "p")
	late := c
	late.SignedOn = yipanqi.DateOf(t0.Add(400 * day).In(shanghaiTZ)) // a44 expired at t0+365d
	pl, err := exchange.SignCertPayload(f.a44, late)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.trust.VerifyCertPayload(pl)
	wantError(t, err, yipanqi.EFORBIDDEN, "p")

	// What may not be signed, and what is not a payload.
	full := c
	full.MaskedName = "张小明"
	_, err = exchange.SignCertPayload(f.a44, full)
	wantError(t, err, yipanqi.EINVALID, "masked_name")
	foreign := c
	foreign.Number = "350102001-2026-000001-ABCDEF" // a unit of node 35
	_, err = exchange.SignCertPayload(f.a44, foreign)
	wantError(t, err, yipanqi.EINVALID, "number")
	// Node 35 signing a number of node 44's units: refused by the list although 35's key is on it.
	p35, err := exchange.SignCertPayload(f.k35, exchange.CertPayload{Number: "350102001-2026-000001-ABCDEF",
		MaskedName: c.MaskedName, IssuedOn: c.IssuedOn, ValidUntil: c.ValidUntil, SignedOn: c.SignedOn})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.trust.VerifyCertPayload(p35); err != nil {
		t.Fatalf("node 35's own certificate: %v", err)
	}
	// Signed by hand (SignCertPayload refuses it), with a good signature.
	b44 := "440106001-2026-000001-ABCDEF|张*明|20260302|20290301|20260111|" + f.k35.ID
	sig44, err := f.k35.SM2().Sign(rand.Reader, []byte(exchange.CertPayloadDomain+b44), sm2.DefaultSM2SignerOpts)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	_, err = f.trust.VerifyCertPayload("1." + enc.EncodeToString([]byte(b44)) + "." + enc.EncodeToString(sig44))
	wantError(t, err, yipanqi.EFORBIDDEN, "p")
	if err != nil && !strings.Contains(yipanqi.ErrorMessage(err), "不属于该节点") {
		t.Errorf("node 35 vouching for 44's number: %v; want refused for the issuer", err)
	}
	seen := c
	seen.Number = "GD2019-00077"
	_, err = exchange.SignCertPayload(f.a44, seen)
	wantError(t, err, yipanqi.EINVALID, "number")
	for _, bad := range []string{"", "1.x", "2." + parts[1] + "." + parts[2], "1.%%%." + parts[2], strings.Repeat("A", 700)} {
		_, err := f.trust.VerifyCertPayload(bad)
		wantError(t, err, yipanqi.EINVALID, "p")
	}
}

// TestCertPayloadDocExample parses the worked example of docs/certificates.md and verifies
// it with the key printed there: the documented format is the one the code reads.
func TestCertPayloadDocExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/certificates.md")
	if err != nil {
		t.Fatal(err)
	}
	block := func(lang string) string {
		m := regexp.MustCompile("(?s)```" + lang + "\n(.*?)```").FindSubmatch(doc)
		if m == nil {
			t.Fatalf("docs/certificates.md has no ```%s block", lang)
		}
		return string(m[1])
	}
	pub, err := exchange.ParsePublicKeyPEM([]byte(block("pem")), "")
	if err != nil {
		t.Fatalf("the example's key: %v", err)
	}
	p := strings.TrimSpace(block("payload"))
	got, err := exchange.VerifyCertPayloadKey(pub, p)
	if err != nil {
		t.Fatalf("the example payload does not verify: %v", err)
	}
	body := strings.TrimSpace(block("body"))
	f := strings.Split(body, "|")
	if len(f) != 6 || got.Number != f[0] || got.MaskedName != f[1] || got.KeyID != f[5] || got.KeyID != pub.ID ||
		strings.ReplaceAll(got.IssuedOn.String(), "-", "") != f[2] || strings.ReplaceAll(got.ValidUntil.String(), "-", "") != f[3] ||
		strings.ReplaceAll(got.SignedOn.String(), "-", "") != f[4] {
		t.Errorf("the example payload states %+v; the doc says %s", *got, body)
	}
	_, msg, _, err := exchange.ParseCertPayload(p)
	if err != nil || string(msg) != exchange.CertPayloadDomain+body {
		t.Errorf("signed message = %q (%v), want the domain and the documented body", msg, err)
	}
}

var shanghaiTZ = yipanqi.Shanghai
