package exchange_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestWireLinksNoStore: the wire layer, and the deploy tools, link no store. Package exchange
// (and what it imports) names neither sqlstore, the case engine (casework), pgx nor SQLite;
// nothing under deploy/ links pgx or SQLite; and the NATS configuration writer
// ypq-natsconf needs only the names of package natsname, not the transport or SM2.
func TestWireLinksNoStore(t *testing.T) {
	store := []string{"yipanqi/sqlstore/...", "yipanqi/casework/...", "github.com/jackc/pgx/...", "modernc.org/sqlite/..."}
	for _, c := range []struct {
		pkg    string
		banned []string // import paths; "p/..." is p and every package below it
	}{
		{"yipanqi/exchange", store},
		{"yipanqi/exchange/natsname", []string{"yipanqi/..."}},
		{"yipanqi/deploy/...", store},
		{"yipanqi/deploy/nats/cmd/ypq-natsconf",
			append([]string{"yipanqi/exchange", "github.com/emmansun/gmsm/...", "github.com/nats-io/nats.go/..."}, store...)},
	} {
		deps := goListDeps(t, c.pkg)
		for _, b := range c.banned {
			for _, dep := range deps {
				if dep != c.pkg && matches(b, dep) {
					t.Errorf("%s links %s", c.pkg, dep)
					break
				}
			}
		}
	}
}

// matches reports whether import path dep is pattern: the same path, or below p for "p/...".
func matches(pattern, dep string) bool {
	if p, ok := strings.CutSuffix(pattern, "/..."); ok {
		return dep == p || strings.HasPrefix(dep, p+"/")
	}
	return dep == pattern
}

// goListDeps returns what pkg (a pattern) imports, directly or not, without tests.
func goListDeps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "list", "-deps", pkg).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, ee.Stderr)
		}
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatalf("go list -deps %s: nothing listed", pkg)
	}
	return deps
}
