package demo

import "testing"

// TestPublicURL: each demo node's public address (its certificates' QR codes) is the demo's
// own HTTP address and the node's path, a reachable host for an unspecified one.
func TestPublicURL(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8044": "http://127.0.0.1:8044/44",
		"0.0.0.0:8044":   "http://127.0.0.1:8044/44",
		"[::]:8044":      "http://127.0.0.1:8044/44",
		"[::1]:9000":     "http://[::1]:9000/44",
		"":               "",
	} {
		r := &Region{HTTPAddr: addr}
		if got := r.publicURL("44"); got != want {
			t.Errorf("HTTPAddr %q: public URL %q, want %q", addr, got, want)
		}
	}
}
