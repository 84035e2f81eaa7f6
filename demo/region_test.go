package demo

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestOverviewSecurityHeaders: the region's public overview at "/" carries the security
// headers of the nodes' pages — a content security policy that loads nothing and allows
// only the page's own inlined stylesheet (by its hash), no framing, no MIME sniffing, the
// referrer kept to the same origin.
func TestOverviewSecurityHeaders(t *testing.T) {
	srv := httptest.NewServer((&Region{}).handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "泛珠三角区域演示") {
		t.Fatalf("overview: %d\n%s", resp.StatusCode, body)
	}
	h := resp.Header
	for name, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
		"Referrer-Policy": "same-origin"} {
		if got := h.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "form-action 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "script-src") {
		t.Errorf("Content-Security-Policy %q allows inline code or scripts", csp)
	}
	_, rest, _ := strings.Cut(string(body), "<style>")
	css, _, ok := strings.Cut(rest, "</style>")
	if !ok {
		t.Fatalf("no stylesheet on the overview:\n%s", body)
	}
	sum := sha256.Sum256([]byte(css))
	if hash := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, hash) {
		t.Errorf("Content-Security-Policy %q does not allow the page's stylesheet %s", csp, hash)
	}
}
