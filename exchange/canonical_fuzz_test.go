package exchange_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"yipanqi"
	"yipanqi/exchange"
)

// FuzzCanonicalize: any bytes as the JSON a signature covers. No panic; a refusal only as
// EINVALID; an accepted document's canonical form is valid JSON with the same value, and is
// its own canonical form (canonical(canonical(x)) == canonical(x)).
func FuzzCanonicalize(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `null`, `true`, `0`, `-0`, `1e21`, `1E-7`, `123456789012345678901234567890`,
		`{"b":1,"a":[1,2,{"c":"\u00e9\ud83d\ude00"}],"€":null}`,
		`{"a":"\u0000\u001f\"\\/","\u20ac":1.5e+300}`,
		` { "z" : [ 0.000001 , 1e-7 , 100 ] } `,
		`{"a":1,"a":2}`, `{"a":"\ud800"}`, `[1,]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := exchange.Canonicalize(b)
		if err != nil {
			if yipanqi.ErrorCode(err) != yipanqi.EINVALID {
				t.Fatalf("Canonicalize: %v", err)
			}
			return
		}
		if !json.Valid(c) {
			t.Fatalf("canonical form %q of %q is not JSON", c, b)
		}
		again, err := exchange.Canonicalize(c)
		if err != nil {
			t.Fatalf("canonical form %q refused: %v", c, err)
		}
		if !bytes.Equal(again, c) {
			t.Fatalf("canonical(canonical(%q)) = %q, canonical = %q", b, again, c)
		}
		var v1, v2 any
		if json.Unmarshal(b, &v1) == nil {
			if err := json.Unmarshal(c, &v2); err != nil || !reflect.DeepEqual(v1, v2) {
				t.Fatalf("canonical form %q of %q has another value: %v / %v", c, b, v1, v2)
			}
		}
	})
}
