package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/sqlstore"
)

// TestServeFlowNotices: a township register imported before the node starts (the import has
// no exchange engine) gets its move notices from serve — one per flow event with a hometown
// to tell, each once.
func TestServeFlowNotices(t *testing.T) {
	dir := t.TempDir()
	conf := writeConf(t, dir, serveConf(serveKeys(t, dir)))
	dsn := "sqlite:" + filepath.Join(dir, "data", "node.db")
	csv := filepath.Join(dir, "people.csv")
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"migrate", "--db", dsn},
		{"gen", "people", "--province", "44", "--count", "40", "--seed", "3", "-o", csv},
		{"import", "people", "--db", dsn, csv},
	} {
		if code, out, errOut := cliRun(t, time.Time{}, nil, args...); code != 0 {
			t.Fatalf("yipanqi %v: exit %d\n%s\n%s", args, code, out, errOut)
		}
	}
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	scope, err := yipanqi.NewScope("44")
	if err != nil {
		t.Fatal(err)
	}
	reader := yipanqi.NewContextWithUser(ctx, &yipanqi.User{Username: "test", OrgUnit: "44"})
	flows, err := db.FlowsAfter(reader, scope, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, f := range flows {
		if yipanqi.ValidDivisionCode(f.HukouCode) && len(f.HukouCode) >= 6 {
			want++
		}
	}
	notices := func() int {
		t.Helper()
		_, n, err := db.ListCases(reader, scope, yipanqi.CaseFilter{Type: "move.notice", Direction: yipanqi.Outgoing, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if want == 0 || notices() != 0 {
		t.Fatalf("before serve: %d flows to announce, %d notices", want, notices())
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() { done <- Main(runCtx, realEnv(&out, &errOut), []string{"serve", "--config", conf}) }()
	started := regexp.MustCompile(`网页 http://\S+/ `)
	deadline := time.Now().Add(time.Minute)
	for notices() < want || !started.MatchString(out.String()) {
		select {
		case code := <-done:
			t.Fatalf("serve exited %d:\n%s\n%s", code, out.String(), errOut.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a minute of serve: %d move notices of %d\n%s\n%s", notices(), want, out.String(), errOut.String())
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exit %d\n%s", code, errOut.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("serve did not stop")
	}
	// Each flow once: a notice per flow event, none twice (the notice's id derives from it).
	if n := notices(); n != want {
		t.Errorf("%d move notices for %d flow events", n, want)
	}
}
