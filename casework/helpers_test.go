package casework_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/exchange"
)

// t0 is the start of the test keys' validity.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// MustKey generates a key for node.
func MustKey(tb testing.TB, node string) *exchange.PrivateKey {
	tb.Helper()
	k, err := exchange.GenerateKey(node)
	if err != nil {
		tb.Fatalf("GenerateKey(%q): %v", node, err)
	}
	return k
}

// MustTrustKey returns the trust list entry for k valid in [nb, na).
func MustTrustKey(tb testing.TB, k *exchange.PrivateKey, nb, na time.Time) exchange.TrustedKey {
	tb.Helper()
	tk, err := exchange.TrustKey(k.Public(), nb, na)
	if err != nil {
		tb.Fatalf("TrustKey: %v", err)
	}
	return tk
}

// fixture is a region with node 44 rotating from key a44 to b44 and node 35 with one key.
type fixture struct {
	region   *exchange.PrivateKey
	a44, b44 *exchange.PrivateKey
	k35      *exchange.PrivateKey
	trust    *exchange.TrustList
	doc      []byte // the signed trust list
}

// Validity: a44 [t0, t0+365d), b44 [t0+300d, t0+665d) — 65 days of overlap — and k35
// [t0, t0+365d).
func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	f := &fixture{
		region: MustKey(tb, exchange.RegionNode),
		a44:    MustKey(tb, "44"),
		b44:    MustKey(tb, "44"),
		k35:    MustKey(tb, "35"),
	}
	nodes := []exchange.TrustedNode{
		{Code: "44", Name: "广东", Keys: []exchange.TrustedKey{
			MustTrustKey(tb, f.a44, t0, t0.Add(365*day)),
			MustTrustKey(tb, f.b44, t0.Add(300*day), t0.Add(665*day)),
		}},
		{Code: "35", Name: "福建", Keys: []exchange.TrustedKey{
			MustTrustKey(tb, f.k35, t0, t0.Add(365*day)),
		}},
	}
	tl, err := exchange.NewTrustList(7, t0, t0.Add(1000*day), nodes)
	if err != nil {
		tb.Fatalf("NewTrustList: %v", err)
	}
	f.doc, err = tl.Sign(f.region)
	if err != nil {
		tb.Fatalf("TrustList.Sign: %v", err)
	}
	f.trust, err = exchange.ParseTrustList(f.doc, f.region.Public(), t0)
	if err != nil {
		tb.Fatalf("ParseTrustList: %v", err)
	}
	return f
}

// wantError fails unless err is a *yipanqi.Error with the given code and field and a
// non-empty message.
func wantError(tb testing.TB, err error, code, field string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("got no error, want %s on field %q", code, field)
	}
	if got := yipanqi.ErrorCode(err); got != code {
		tb.Fatalf("code = %s, want %s (error: %v)", got, code, err)
	}
	if got := yipanqi.ErrorField(err); got != field {
		tb.Fatalf("field = %q, want %q (error: %v)", got, field, err)
	}
	if yipanqi.ErrorMessage(err) == "" {
		tb.Fatalf("empty message: %v", err)
	}
}

// quietLogger keeps the expected reconnect warnings out of test output.
var quietLogger = slog.New(slog.DiscardHandler)

// mustConnect connects node to url with fast retries, closing the transport when the test ends.
func mustConnect(tb testing.TB, url, node string, tune ...func(*exchange.TransportConfig)) *exchange.Transport {
	tb.Helper()
	cfg := exchange.TransportConfig{
		URL:        url,
		Node:       node,
		RetryDelay: func(uint64) time.Duration { return 10 * time.Millisecond },
		Logger:     quietLogger,
	}
	for _, f := range tune {
		f(&cfg)
	}
	tr, err := exchange.Connect(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("connect %s: %v", node, err)
	}
	tb.Cleanup(tr.Close)
	return tr
}

// consume runs tr.Consume in the background until the test ends or the returned stop is
// called; stop waits for Consume to return and fails the test if it returned an error.
func consume(tb testing.TB, tr *exchange.Transport, handle func(context.Context, exchange.Delivery) error) (stop func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Consume(ctx, handle) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				tb.Errorf("consume %s: %v", tr.Node(), err)
			}
		})
	}
	tb.Cleanup(stop)
	return stop
}

// checkFor polls cond until it holds or the deadline passes.
func checkFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("after %v: %s", timeout, what)
		}
		<-tick.C
	}
}
