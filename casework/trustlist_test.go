package casework_test

import (
	"context"
	"strings"
	"testing"

	"yipanqi"
	"yipanqi/casework"
	"yipanqi/exchange"
	"yipanqi/sqlstore"
	"yipanqi/sqlstore/storetest"
)

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

// TestTrustListRollback: a node refuses a trust list of a lower version than the one it took
// before, and one of the same version with other content; the same issue again, and a higher
// version, are taken (exchange.CheckTrustUpdate). What it took is kept in the store, so a
// restart does not forget it.
func TestTrustListRollback(t *testing.T) {
	f := newFixture(t)
	v6, v7, v7other, v8 := f.issue(t, 6, false), f.issue(t, 7, false), f.issue(t, 7, true), f.issue(t, 8, false)
	eachDB(t, func(t *testing.T, newDSN func() string) {
		ctx := context.Background()
		dsn := newDSN()
		db := storetest.Open(t, dsn)
		accept := func(tl *exchange.TrustList) error { return casework.AcceptTrustList(ctx, db, "44", tl) }
		if err := accept(v7); err != nil {
			t.Fatal(err)
		}
		if err := accept(v7); err != nil {
			t.Fatalf("the same issue again: %v", err)
		}
		err := accept(v6)
		wantError(t, err, yipanqi.EFORBIDDEN, "version")
		if msg := yipanqi.ErrorMessage(err); !strings.Contains(msg, "第 7 版") || !strings.Contains(msg, "第 6 版") {
			t.Errorf("message %q does not name both versions", msg)
		}
		wantError(t, accept(v7other), yipanqi.EFORBIDDEN, "version")
		if err := accept(v8); err != nil {
			t.Fatal(err)
		}
		// A restart: the same database opened again still knows version 8.
		db2, err := sqlstore.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db2.Close()
		if v, d, err := casework.AcceptedTrust(ctx, db2); err != nil || v != 8 || d != v8.Digest() {
			t.Fatalf("accepted = %d %s %v, want 8", v, d, err)
		}
		wantError(t, casework.AcceptTrustList(ctx, db2, "44", v7), yipanqi.EFORBIDDEN, "version")
	})
}
