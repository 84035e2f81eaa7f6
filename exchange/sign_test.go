package exchange_test

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/google/uuid"

	"yipanqi"
	"yipanqi/exchange"
)

func TestSignVerifyRoundTrip(t *testing.T) {
	f := newFixture(t)
	at := t0.Add(10 * day)
	e := mustSigned(t, f.a44, at)
	if e.KeyID != f.a44.ID || e.Sig == "" {
		t.Fatalf("Sign set KeyID=%q Sig=%q", e.KeyID, e.Sig)
	}
	if err := f.trust.Verify(e, "44"); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// Through the wire, in any formatting.
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := exchange.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.trust.Verify(got, "44"); err != nil {
		t.Fatalf("Verify after Encode/Decode: %v", err)
	}
	// The signature is the standard SM2 one with the default user id, over SigningBytes.
	msg, err := exchange.SigningBytes(got)
	if err != nil {
		t.Fatal(err)
	}
	sig := mustBase64(t, got.Sig)
	if !sm2.VerifyASN1WithSM2(f.a44.Public().SM2(), []byte("1234567812345678"), msg, sig) {
		t.Error("signature does not verify with gmsm and the default UID over SigningBytes")
	}
	var form map[string]any
	if err := json.Unmarshal(msg, &form); err != nil {
		t.Fatalf("signing bytes are not JSON: %v", err)
	}
	if _, ok := form["ypqsig"]; ok {
		t.Error("signing bytes include ypqsig")
	}
	if form["ypqkeyid"] != f.a44.ID {
		t.Errorf("signing bytes ypqkeyid = %v, want %s", form["ypqkeyid"], f.a44.ID)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	f := newFixture(t)
	at := t0.Add(10 * day)
	otherSig := mustSigned(t, f.a44, at).Sig
	tests := []struct {
		name   string
		tamper func(e *exchange.Envelope)
	}{
		{"data", func(e *exchange.Envelope) {
			e.Data = json.RawMessage(strings.Replace(string(e.Data), "张三", "李四", 1))
		}},
		{"data number", func(e *exchange.Envelope) {
			e.Data = json.RawMessage(strings.Replace(string(e.Data), `"age":36`, `"age":37`, 1))
		}},
		{"type", func(e *exchange.Envelope) { e.Type = exchange.EventType("verify.urgent", 1) }},
		{"type version", func(e *exchange.Envelope) { e.Type = exchange.EventType("verify.identity", 2) }},
		{"subject", func(e *exchange.Envelope) { e.Subject = uuid.Must(uuid.NewV7()).String() }},
		{"time", func(e *exchange.Envelope) { e.Time = e.Time.Add(time.Nanosecond) }},
		{"dest", func(e *exchange.Envelope) { e.Dest, e.Unit = "36", "360102" }},
		{"unit", func(e *exchange.Envelope) { e.Unit = "350103" }},
		{"id", func(e *exchange.Envelope) { e.ID = uuid.Must(uuid.NewV7()).String() }},
		{"replyto added", func(e *exchange.Envelope) { e.ReplyTo = strings.Repeat("0", 64) }},
		{"signature of another envelope", func(e *exchange.Envelope) { e.Sig = otherSig }},
		{"key id swapped to the other node key", func(e *exchange.Envelope) { e.KeyID = f.b44.ID; e.Time = t0.Add(310 * day) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustSigned(t, f.a44, at)
			tt.tamper(e)
			wantError(t, f.trust.Verify(e, "44"), yipanqi.EFORBIDDEN, "ypqsig")
		})
	}
}

func TestVerifyTamperedOnTheWire(t *testing.T) {
	f := newFixture(t)
	e := mustSigned(t, f.a44, t0.Add(day))
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	// An attacker re-encodes the same text with an escape: the meaning is the same, so the
	// signature still verifies; a changed character does not.
	same := strings.Replace(string(b), "张三", `\u5f20三`, 1)
	changed := strings.Replace(string(b), "张三", "张四", 1)
	got, err := exchange.Decode([]byte(same))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.trust.Verify(got, "44"); err != nil {
		t.Errorf("re-escaped but equal data: %v", err)
	}
	got, err = exchange.Decode([]byte(changed))
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, f.trust.Verify(got, "44"), yipanqi.EFORBIDDEN, "ypqsig")
}

func TestVerifyKeyNotOnList(t *testing.T) {
	f := newFixture(t)
	stranger := MustKey(t, "44")
	e := mustSigned(t, stranger, t0.Add(day))
	wantError(t, f.trust.Verify(e, "44"), yipanqi.EFORBIDDEN, "ypqkeyid")

	// A key that is on the list, but for another node than the source.
	e = newEnvelope(t, t0.Add(day))
	e.Source, e.Dest, e.Unit = exchange.NodeSource("35"), "44", "440103"
	if err := exchange.Sign(e, f.k35); err != nil {
		t.Fatal(err)
	}
	e.Source = exchange.NodeSource("44")
	wantError(t, f.trust.Verify(e, "44"), yipanqi.EFORBIDDEN, "ypqkeyid")
}

func TestVerifySenderMismatch(t *testing.T) {
	f := newFixture(t)
	e := mustSigned(t, f.a44, t0.Add(day))
	wantError(t, f.trust.Verify(e, "35"), yipanqi.EFORBIDDEN, "source")
	wantError(t, f.trust.Verify(e, ""), yipanqi.EFORBIDDEN, "source")
}

// TestVerifyRotation walks node 44 through its key change: a44 valid [t0, t0+365d), b44
// valid [t0+300d, t0+665d).
func TestVerifyRotation(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name string
		key  *exchange.PrivateKey
		at   time.Time
		ok   bool
	}{
		{"old key at its first instant", f.a44, t0, true},
		{"old key before it starts", f.a44, t0.Add(-time.Nanosecond), false},
		{"new key before it starts", f.b44, t0.Add(299 * day), false},
		{"new key at its first instant", f.b44, t0.Add(300 * day), true},
		{"old key during the overlap", f.a44, t0.Add(330 * day), true},
		{"new key during the overlap", f.b44, t0.Add(330 * day), true},
		{"old key in its last nanosecond", f.a44, t0.Add(365*day - time.Nanosecond), true},
		{"old key at its not_after", f.a44, t0.Add(365 * day), false},
		{"old key after its not_after", f.a44, t0.Add(400 * day), false},
		{"new key after the old one expired", f.b44, t0.Add(400 * day), true},
		{"new key after it expired", f.b44, t0.Add(665 * day), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustSigned(t, tt.key, tt.at)
			err := f.trust.Verify(e, "44")
			if tt.ok {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			wantError(t, err, yipanqi.EFORBIDDEN, "time")
		})
	}
}

func TestVerifyMalformed(t *testing.T) {
	f := newFixture(t)
	e := mustSigned(t, f.a44, t0.Add(day))
	e.Sig = "not base64!"
	wantError(t, f.trust.Verify(e, "44"), yipanqi.EINVALID, "ypqsig")
	e = mustSigned(t, f.a44, t0.Add(day))
	e.Source = "44"
	wantError(t, f.trust.Verify(e, "44"), yipanqi.EINVALID, "source")
}

func TestSignRefuses(t *testing.T) {
	k := MustKey(t, "35")
	e := newEnvelope(t, t0)
	wantError(t, exchange.Sign(e, k), yipanqi.EINVALID, "ypqkeyid")
	if e.KeyID != "" || e.Sig != "" {
		t.Errorf("a refused Sign left KeyID=%q Sig=%q", e.KeyID, e.Sig)
	}
	k44 := MustKey(t, "44")
	e = newEnvelope(t, t0)
	e.Subject = "not-a-case"
	wantError(t, exchange.Sign(e, k44), yipanqi.EINVALID, "subject")
	e = newEnvelope(t, t0)
	e.Data = json.RawMessage(`{"a":1.50}`)
	wantError(t, exchange.Sign(e, k44), yipanqi.EINVALID, "data")
	if e.KeyID != "" {
		t.Errorf("a refused Sign left KeyID=%q", e.KeyID)
	}
}

func TestHash(t *testing.T) {
	k := MustKey(t, "44")
	e := mustSigned(t, k, t0)
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	sum := sm3.Sum(b)
	if got, want := exchange.Hash(e), hex.EncodeToString(sum[:]); got != want {
		t.Errorf("Hash = %s, want SM3 of Encode = %s", got, want)
	}
	got, err := exchange.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if exchange.Hash(got) != exchange.Hash(e) {
		t.Error("Hash differs after Decode")
	}
	// SM2 signatures are randomised: the same content signed twice hashes differently,
	// which is why a reply names its request by Hash and not by content.
	again := *e
	if err := exchange.Sign(&again, k); err != nil {
		t.Fatal(err)
	}
	if exchange.Hash(&again) == exchange.Hash(e) {
		t.Error("two signatures gave the same Hash")
	}
	// A reply carries the request's Hash and decodes with it.
	reply := newEnvelope(t, t0.Add(time.Hour))
	reply.ReplyTo = exchange.Hash(e)
	if err := exchange.Sign(reply, k); err != nil {
		t.Fatal(err)
	}
	rb, err := reply.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if dec, err := exchange.Decode(rb); err != nil || dec.ReplyTo != exchange.Hash(e) {
		t.Errorf("reply decoded as %v, %v", dec, err)
	}
}

func mustBase64(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func benchFixture(b *testing.B) (*fixture, *exchange.Envelope) {
	f := newFixture(b)
	return f, mustSigned(b, f.a44, t0.Add(day))
}

func reportOps(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

func BenchmarkSign(b *testing.B) {
	f, e := benchFixture(b)
	for b.Loop() {
		if err := exchange.Sign(e, f.a44); err != nil {
			b.Fatal(err)
		}
	}
	reportOps(b)
}

func BenchmarkVerify(b *testing.B) {
	f, e := benchFixture(b)
	for b.Loop() {
		if err := f.trust.Verify(e, "44"); err != nil {
			b.Fatal(err)
		}
	}
	reportOps(b)
}

// BenchmarkDecodeVerify is what the consumer pays per message: strict decode, then verify.
func BenchmarkDecodeVerify(b *testing.B) {
	f, e := benchFixture(b)
	msg, err := e.Encode()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		got, err := exchange.Decode(msg)
		if err != nil {
			b.Fatal(err)
		}
		if err := f.trust.Verify(got, "44"); err != nil {
			b.Fatal(err)
		}
	}
	reportOps(b)
}

// BenchmarkSignEncode is what the sender pays per message.
func BenchmarkSignEncode(b *testing.B) {
	f, e := benchFixture(b)
	for b.Loop() {
		if err := exchange.Sign(e, f.a44); err != nil {
			b.Fatal(err)
		}
		if _, err := e.Encode(); err != nil {
			b.Fatal(err)
		}
	}
	reportOps(b)
}
