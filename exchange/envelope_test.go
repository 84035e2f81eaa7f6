package exchange_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"yipanqi"
	"yipanqi/exchange"
)

// wire returns a valid signed envelope as a map of raw members, for tests to spoil.
func wire(tb testing.TB) map[string]json.RawMessage {
	tb.Helper()
	k := MustKey(tb, "44")
	e := mustSigned(tb, k, t0.Add(time.Hour+123456789))
	e.ReplyTo = strings.Repeat("ab", 32)
	if err := exchange.Sign(e, k); err != nil {
		tb.Fatal(err)
	}
	b, err := e.Encode()
	if err != nil {
		tb.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatal(err)
	}
	return m
}

func marshal(tb testing.TB, m map[string]json.RawMessage) []byte {
	tb.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestDecodeValid(t *testing.T) {
	m := wire(t)
	b := marshal(t, m)
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, b, "", "\t"); err != nil {
		t.Fatal(err)
	}
	for _, input := range [][]byte{b, pretty.Bytes()} {
		e, err := exchange.Decode(input)
		if err != nil {
			t.Fatalf("Decode: %v\n%s", err, input)
		}
		if e.Source != "ypq:node:44" || e.Dest != "35" || e.Unit != "350102" || e.ReplyTo == "" {
			t.Errorf("decoded %+v", e)
		}
		if e.Time.Location() != time.UTC || e.Time.Nanosecond() != 123456789 {
			t.Errorf("time = %v, want UTC with nanoseconds kept", e.Time)
		}
		var data map[string]any
		if err := json.Unmarshal(e.Data, &data); err != nil || data["reason"] == nil {
			t.Errorf("data = %s (%v)", e.Data, err)
		}
	}
}

func TestDecodeAcceptsShortTimeForms(t *testing.T) {
	for _, ts := range []string{"2026-03-01T08:00:00Z", "2026-03-01T08:00:00.5Z", "2026-03-01T08:00:00.000000001Z"} {
		m := wire(t)
		m["time"] = json.RawMessage(strconv.Quote(ts))
		e, err := exchange.Decode(marshal(t, m))
		if err != nil {
			t.Fatalf("time %s: %v", ts, err)
		}
		want, _ := time.Parse(time.RFC3339Nano, ts)
		if !e.Time.Equal(want) {
			t.Errorf("time %s decoded as %v", ts, e.Time)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	set := func(name, raw string) func(m map[string]json.RawMessage) {
		return func(m map[string]json.RawMessage) { m[name] = json.RawMessage(raw) }
	}
	drop := func(name string) func(m map[string]json.RawMessage) {
		return func(m map[string]json.RawMessage) { delete(m, name) }
	}
	str := strconv.Quote
	deep := strings.Repeat(`{"a":`, 70) + "1" + strings.Repeat("}", 70)
	var wide strings.Builder // big enough that duplicates are found by the map, not the scan
	for i := range 40 {
		fmt.Fprintf(&wide, `"k%d":%d,`, i, i)
	}
	wideDup := "{" + wide.String() + `"k3":0}`
	wideDupEarly := `{"k3":0,` + wide.String() + `"z":1}`
	tests := []struct {
		name  string
		edit  func(m map[string]json.RawMessage)
		field string
	}{
		{"unknown attribute", set("foo", `"x"`), "foo"},
		{"unknown extension", set("ypqextra", `"x"`), "ypqextra"},
		{"specversion 0.3", set("specversion", str("0.3")), "specversion"},
		{"specversion as number", set("specversion", `1.0`), "specversion"},
		{"id UUIDv4", set("id", str(uuid.NewString())), "id"},
		{"id upper case", set("id", str(strings.ToUpper(uuid.Must(uuid.NewV7()).String()))), "id"},
		{"id urn form", set("id", str("urn:uuid:"+uuid.Must(uuid.NewV7()).String())), "id"},
		{"id as number", set("id", `7`), "id"},
		{"source bare code", set("source", str("44")), "source"},
		{"source three digits", set("source", str("ypq:node:440")), "source"},
		{"type without version", set("type", str("cn.ypq.verify.identity")), "type"},
		{"type foreign", set("type", str("com.example.thing.v1")), "type"},
		{"type upper case", set("type", str("cn.ypq.Verify.identity.v1")), "type"},
		{"subject not a uuid", set("subject", str("case-1")), "subject"},
		{"time without zone", set("time", str("2026-03-01T08:00:00")), "time"},
		{"time with offset", set("time", str("2026-03-01T08:00:00+08:00")), "time"},
		{"time impossible date", set("time", str("2026-02-30T08:00:00Z")), "time"},
		{"time ten fraction digits", set("time", str("2026-03-01T08:00:00.1234567890Z")), "time"},
		{"time lower-case z", set("time", str("2026-03-01T08:00:00z")), "time"},
		{"time as number", set("time", `1767225600`), "time"},
		{"datacontenttype other", set("datacontenttype", str("text/plain")), "datacontenttype"},
		{"ypqdest not a node", set("ypqdest", str("3")), "ypqdest"},
		{"ypqunit odd length", set("ypqunit", str("35010")), "ypqunit"},
		{"ypqunit outside dest", set("ypqunit", str("440103")), "ypqunit"},
		{"ypqreplyto short", set("ypqreplyto", str("abcd")), "ypqreplyto"},
		{"ypqreplyto null", set("ypqreplyto", `null`), "ypqreplyto"},
		{"ypqkeyid bad", set("ypqkeyid", str("key1")), "ypqkeyid"},
		{"ypqkeyid region", set("ypqkeyid", str("region-0123abcd")), "ypqkeyid"},
		{"ypqsig not base64", set("ypqsig", str("!!!")), "ypqsig"},
		{"ypqsig empty", set("ypqsig", str("")), "ypqsig"},
		{"data string", set("data", str("{}")), "data"},
		{"data array", set("data", `[1]`), "data"},
		{"data null", set("data", `null`), "data"},
		{"data number not canonical", set("data", `{"a":1.0}`), "data"},
		{"data exponent not canonical", set("data", `{"a":1E3}`), "data"},
		{"data negative zero", set("data", `{"a":-0}`), "data"},
		{"data integer beyond 2^53", set("data", `{"id":440103199001011234}`), "data"},
		{"data number out of range", set("data", `{"a":1e400}`), "data"},
		{"data lone surrogate", set("data", `{"a":"\ud800"}`), "data"},
		{"data lone low surrogate", set("data", `{"a":"\udc00x"}`), "data"},
		{"data two low surrogates", set("data", `{"a":"\udc00\udc00"}`), "data"},
		{"data two high surrogates", set("data", `{"a":"\udbff\ud800"}`), "data"},
		{"data duplicate member", set("data", `{"a":1,"b":{"c":1,"c":2}}`), "data"},
		{"data too deep", set("data", deep), "data"},
		{"data wide object with a late duplicate", set("data", wideDup), "data"},
		{"data wide object with an early duplicate", set("data", wideDupEarly), "data"},
	}
	for _, name := range []string{"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "ypqdest", "ypqunit", "ypqkeyid", "ypqsig", "data"} {
		tests = append(tests, struct {
			name  string
			edit  func(m map[string]json.RawMessage)
			field string
		}{"missing " + name, drop(name), name})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := wire(t)
			tt.edit(m)
			_, err := exchange.Decode(marshal(t, m))
			wantError(t, err, yipanqi.EINVALID, tt.field)
		})
	}
}

// TestDecodeRejectsText covers what a map cannot express: duplicates, syntax, encoding, size.
func TestDecodeRejectsText(t *testing.T) {
	good := marshal(t, wire(t))
	id := `"id":`
	tests := []struct {
		name  string
		input []byte
		field string
	}{
		{"duplicate id", bytes.Replace(good, []byte(id), []byte(`"id":"x",`+id), 1), "id"},
		{"duplicate id via escape", bytes.Replace(good, []byte(id), []byte(`"\u0069d":"x",`+id), 1), "id"},
		{"trailing garbage", append(append([]byte(nil), good...), "{}"...), ""},
		{"not json", []byte("hello"), ""},
		{"array", []byte(`[1,2]`), ""},
		{"empty", nil, ""},
		{"truncated", good[:len(good)-1], ""},
		{"invalid utf-8 in data", bytes.Replace(good, []byte("张三"), []byte{0xff, 0xfe}, 1), "data"},
		{"control character in data", bytes.Replace(good, []byte("张三"), []byte{'\t'}, 1), "data"},
		{"oversize", append(bytes.Repeat([]byte(" "), exchange.MaxEnvelopeSize), good...), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := exchange.Decode(tt.input)
			wantError(t, err, yipanqi.EINVALID, tt.field)
		})
	}
}

func TestDecodeJustUnderMaxSize(t *testing.T) {
	good := marshal(t, wire(t))
	pad := exchange.MaxEnvelopeSize - len(good)
	if _, err := exchange.Decode(append(bytes.Repeat([]byte(" "), pad), good...)); err != nil {
		t.Fatalf("envelope of exactly MaxEnvelopeSize bytes: %v", err)
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	k := MustKey(t, "44")
	e := mustSigned(t, k, t0.Add(1500*time.Millisecond))
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := exchange.Decode(b)
	if err != nil {
		t.Fatalf("Decode(Encode): %v\n%s", err, b)
	}
	canon, err := exchange.Canonicalize(e.Data)
	if err != nil {
		t.Fatal(err)
	}
	want := *e
	want.Data = canon
	if !envelopesEqual(got, &want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, &want)
	}
	b2, err := got.Encode()
	if err != nil || !bytes.Equal(b, b2) {
		t.Errorf("Encode is not stable: %v\n%s\n%s", err, b, b2)
	}
}

func TestEncodeRefusesInvalid(t *testing.T) {
	k := MustKey(t, "44")
	tests := []struct {
		name  string
		edit  func(e *exchange.Envelope)
		field string
	}{
		{"unsigned", func(e *exchange.Envelope) { e.Sig = "" }, "ypqsig"},
		{"no key id", func(e *exchange.Envelope) { e.KeyID = "" }, "ypqkeyid"},
		{"no id", func(e *exchange.Envelope) { e.ID = "" }, "id"},
		{"zero time", func(e *exchange.Envelope) { e.Time = time.Time{} }, "time"},
		{"year 10000", func(e *exchange.Envelope) { e.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "time"},
		{"data not an object", func(e *exchange.Envelope) { e.Data = json.RawMessage(`[]`) }, "data"},
		{"data not json", func(e *exchange.Envelope) { e.Data = json.RawMessage(`{`) }, "data"},
		{"no data", func(e *exchange.Envelope) { e.Data = nil }, "data"},
		{"oversize", func(e *exchange.Envelope) {
			e.Data = json.RawMessage(`{"a":"` + strings.Repeat("x", exchange.MaxEnvelopeSize) + `"}`)
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustSigned(t, k, t0)
			tt.edit(e)
			_, err := e.Encode()
			wantError(t, err, yipanqi.EINVALID, tt.field)
		})
	}
}

func TestNodeSource(t *testing.T) {
	for _, code := range []string{"44", "35", "50", "53"} {
		got, err := exchange.NodeOf(exchange.NodeSource(code))
		if err != nil || got != code {
			t.Errorf("NodeOf(NodeSource(%q)) = %q, %v", code, got, err)
		}
	}
	for _, bad := range []string{"", "44", "ypq:node:", "ypq:node:4", "ypq:node:04", "ypq:node:region", "urn:ypq:node:44"} {
		_, err := exchange.NodeOf(bad)
		wantError(t, err, yipanqi.EINVALID, "source")
	}
}

func TestEventType(t *testing.T) {
	for _, tt := range []struct {
		catalog string
		version int
	}{{"verify.identity", 1}, {"cert.check", 2}, {"directory.update", 10}, {"receipt", 1}} {
		typ := exchange.EventType(tt.catalog, tt.version)
		c, v, err := exchange.ParseEventType(typ)
		if err != nil || c != tt.catalog || v != tt.version {
			t.Errorf("ParseEventType(%q) = %q, %d, %v", typ, c, v, err)
		}
	}
	for _, bad := range []string{"", "cn.ypq.v1", "cn.ypq.verify.identity", "cn.ypq.verify.identity.v0", "cn.ypq.verify..identity.v1",
		"cn.ypq.verify.identity.v01", "cn.ypq.1verify.v1", "cn.ypq.verify-identity.v1", "cn.ypq.verify.identity.v12345"} {
		_, _, err := exchange.ParseEventType(bad)
		wantError(t, err, yipanqi.EINVALID, "type")
	}
}

func TestCanonicalize(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"sorted and compact", "{ \"b\" : 1,\n \"a\" : {\"d\":[true, null, \"x\"], \"c\":\"\\u00e9\\/\"} }", `{"a":{"c":"é/","d":[true,null,"x"]},"b":1}`},
		{"utf-16 order", "{\"\ue000\":1,\"\U0001F600\":2,\"a\":3}", "{\"a\":3,\"\U0001F600\":2,\"\ue000\":1}"},
		{"escapes", `{"s":"\u001f\u000a\t\"\\\u2028<>&"}`, "{\"s\":\"\\u001f\\n\\t\\\"\\\\\u2028<>&\"}"},
		{"surrogate pair", `{"s":"\ud83d\ude00"}`, "{\"s\":\"\U0001F600\"}"},
		{"numbers", `{"a":[0,-1,0.5,1e+21,1e-7,123456789012345680000,9007199254740991]}`, `{"a":[0,-1,0.5,1e+21,1e-7,123456789012345680000,9007199254740991]}`},
		{"empty", `{"a":{},"b":[]}`, `{"a":{},"b":[]}`},
		{"wide", `{"k9":9,"k8":8,"k7":7,"k6":6,"k5":5,"k4":4,"k3":3,"k2":2,"k1":1,"k0":0,"j9":9,"j8":8,"j7":7,"j6":6,"j5":5,"j4":4,"j3":3,"j2":2,"j1":1,"j0":0}`,
			`{"j0":0,"j1":1,"j2":2,"j3":3,"j4":4,"j5":5,"j6":6,"j7":7,"j8":8,"j9":9,"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := exchange.Canonicalize([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			again, err := exchange.Canonicalize(got)
			if err != nil || !bytes.Equal(again, got) {
				t.Errorf("canonical form is not a fixed point: %s, %v", again, err)
			}
		})
	}
}

// TestCanonicalNumbersFromGo checks that whatever float64 a Go sender marshals is accepted
// unchanged: encoding/json writes numbers as RFC 8785 does.
func TestCanonicalNumbersFromGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		var f float64
		switch i % 4 {
		case 0:
			f = math.Float64frombits(rng.Uint64())
		case 1:
			f = float64(rng.Int64N(1<<53)) - 1<<52
		case 2:
			f = rng.Float64() * math.Pow(10, float64(rng.IntN(60)-30))
		default:
			f = float64(rng.IntN(100000)) / 100
		}
		if math.IsNaN(f) || math.IsInf(f, 0) || f == 0 {
			continue
		}
		num, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		in := []byte(`{"n":` + string(num) + `}`)
		got, err := exchange.Canonicalize(in)
		if err != nil || !bytes.Equal(got, in) {
			t.Fatalf("%v marshalled as %s: got %s, %v", f, num, got, err)
		}
	}
}

func envelopesEqual(a, b *exchange.Envelope) bool {
	return a.ID == b.ID && a.Source == b.Source && a.Type == b.Type && a.Subject == b.Subject &&
		a.Time.Equal(b.Time) && a.Dest == b.Dest && a.Unit == b.Unit && a.ReplyTo == b.ReplyTo &&
		a.KeyID == b.KeyID && a.Sig == b.Sig && bytes.Equal(a.Data, b.Data)
}

func FuzzDecode(f *testing.F) {
	good := marshal(f, wire(f))
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"data":{"a":[1,"\ud83d\ude00",{"b":null}]}}`))
	f.Add(bytes.Replace(good, []byte(`"data":{`), []byte(`"data":{"x":1e+21,"y":"\u0000",`), 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := exchange.Decode(b)
		if err != nil {
			if yipanqi.ErrorCode(err) != yipanqi.EINVALID {
				t.Fatalf("Decode error code %s: %v", yipanqi.ErrorCode(err), err)
			}
			return
		}
		out, err := e.Encode()
		if err != nil {
			t.Fatalf("Encode of a decoded envelope: %v", err)
		}
		again, err := exchange.Decode(out)
		if err != nil {
			t.Fatalf("Decode(Encode(Decode(x))): %v\n%s", err, out)
		}
		if !envelopesEqual(e, again) {
			t.Fatalf("round trip changed the envelope:\n%+v\n%+v", e, again)
		}
		if exchange.Hash(e) != exchange.Hash(again) {
			t.Fatal("round trip changed the hash")
		}
	})
}
