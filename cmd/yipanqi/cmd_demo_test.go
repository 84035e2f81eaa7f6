package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/demo"
	"yipanqi/sqlstore"
)

// syncBuffer is a bytes.Buffer safe to read while a command writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// realEnv is an Env on the real clock: the exchange engine's clock must agree with the store's.
func realEnv(stdout, stderr io.Writer) *Env {
	return &Env{Stdin: strings.NewReader(""), Stdout: stdout, Stderr: stderr,
		Getenv: func(string) string { return "" }, Now: time.Now}
}

// runDemoCmd runs "yipanqi demo" with args on the real clock and fails unless it exits 0.
func runDemoCmd(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut syncBuffer
	if code := Main(context.Background(), realEnv(&out, &errOut), append([]string{"demo"}, args...)); code != 0 {
		t.Fatalf("yipanqi demo %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out.String(), errOut.String())
	}
	return out.String()
}

// TestDemo builds the region twice in one directory: the first run registers everyone in all
// 11 nodes, the second finds them there and changes nothing.
func TestDemo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	line := regexp.MustCompile(`(?m)^  (\d\d) \S+\s+登记\s+(\d+) 人（本次 imported (\d+), updated (\d+), rejected (\d+)）`)
	args := []string{"--dir", dir, "--people", "40", "--seed", "7", "--rate", "5", "--for", "1s", "--http", "127.0.0.1:0"}

	out := runDemoCmd(t, args...)
	rows := line.FindAllStringSubmatch(out, -1)
	if len(rows) != 11 {
		t.Fatalf("first run: %d node lines, want 11:\n%s", len(rows), out)
	}
	for _, r := range rows {
		if r[2] != "40" || r[3] != "40" || r[5] != "0" {
			t.Errorf("first run, node %s: held %s, imported %s, rejected %s; want 40, 40, 0", r[1], r[2], r[3], r[5])
		}
	}

	out = runDemoCmd(t, args...)
	rows = line.FindAllStringSubmatch(out, -1)
	if len(rows) != 11 {
		t.Fatalf("second run: %d node lines, want 11:\n%s", len(rows), out)
	}
	// The walk-through's people (README, "Demo accounts") join node 44 after the first count.
	walk := len(demo.WalkPeople())
	for _, r := range rows {
		held := 40
		if r[1] == demo.WalkResidence[:2] {
			held += walk
		}
		if r[2] != strconv.Itoa(held) || r[3] != "0" || r[4] != "0" {
			t.Errorf("second run, node %s: held %s, imported %s, updated %s; want %d, 0, 0", r[1], r[2], r[3], r[4], held)
		}
	}
	if total := fmt.Sprintf("合计登记 %d 人", 440+walk); !strings.Contains(out, total) {
		t.Errorf("no %q in:\n%s", total, out)
	}
}

// summaryRow matches a province line of the demo's summary: code, name, then sent,
// delivered, replied, rejected, received, answered, dead letters, outbox.
var summaryRow = regexp.MustCompile(`(?m)^  (\d\d) \S+\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$`)

// TestDemoTraffic runs the region with traffic for a few seconds, looks at a status page
// while it runs, and then checks the summary against the stores: every case sent was
// delivered exactly once, to the node of the person's hukou, and answered at most once;
// nothing was dead-lettered.
func TestDemoTraffic(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main(context.Background(), realEnv(&out, &errOut), []string{"demo", "--dir", dir, "--people", "60",
			"--rate", "40", "--for", "4s", "--drain", "60s", "--http", "127.0.0.1:0"})
	}()

	// While it runs: the region's index and a node's page, health and metrics.
	addrRE := regexp.MustCompile(`区域总览：http://(\S+)/`)
	var addr string
	for deadline := time.Now().Add(2 * time.Minute); addr == ""; {
		if m := addrRE.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
			break
		}
		select {
		case code := <-done:
			t.Fatalf("demo exited %d before serving:\n%s\n%s", code, out.String(), errOut.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no address printed:\n%s", out.String())
		}
	}
	for _, c := range []struct{ path, want string }{
		{"/", "广东（44）"},
		{"/44/status/", "广东（44）节点状态"},
		{"/44/login", "登录"},
		{"/44/healthz", "ok"},
		{"/35/metrics", `yipanqi_up{node="35",part="store"} 1`},
	} {
		body := mustGet(t, "http://"+addr+c.path, http.StatusOK)
		if !strings.Contains(body, c.want) {
			t.Errorf("GET %s: no %q in:\n%s", c.path, c.want, body)
		}
	}

	var code int
	select {
	case code = <-done:
	case <-time.After(5 * time.Minute):
		t.Fatalf("demo did not end:\n%s", out.String())
	}
	if code != 0 {
		t.Fatalf("demo: exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	text := out.String()
	if !strings.Contains(text, "在途案件已全部送达并答复") {
		t.Errorf("demo did not settle:\n%s", text)
	}
	rows := summaryRow.FindAllStringSubmatch(text, -1)
	if len(rows) != 11 {
		t.Fatalf("%d summary rows, want 11:\n%s", len(rows), text)
	}
	type figures struct{ sent, delivered, replied, received, dead int }
	printed := map[string]figures{}
	totalSent := 0
	for _, r := range rows {
		n := make([]int, 9)
		for i := 2; i <= 9; i++ {
			n[i-1], _ = strconv.Atoi(r[i])
		}
		f := figures{sent: n[1], delivered: n[2], replied: n[3], received: n[5], dead: n[7]}
		printed[r[1]] = f
		totalSent += f.sent
		if f.delivered != f.sent || f.replied > f.delivered || f.dead != 0 || n[4] != 0 {
			t.Errorf("node %s: sent %d, delivered %d, replied %d, rejected %d, dead letters %d; want delivered = sent, replied ≤ delivered, none rejected or dead",
				r[1], f.sent, f.delivered, f.replied, n[4], f.dead)
		}
	}
	if totalSent == 0 {
		t.Fatalf("no case was sent:\n%s", text)
	}

	// The stores.
	ctx := context.Background()
	out2, in := map[string][]*yipanqi.Case{}, map[string][]*yipanqi.Case{}
	for _, code := range yipanqi.RegionCodes() {
		db, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(dir, code, "node.db"))
		if err != nil {
			t.Fatal(err)
		}
		out2[code] = allCases(t, db, code, yipanqi.Outgoing)
		in[code] = allCases(t, db, code, yipanqi.Incoming)
		if held, err := db.DirectoryVersions(ctx); err != nil || len(held) != 11 {
			t.Errorf("node %s holds %d provinces' directories (%v), want all 11", code, len(held), err)
		}
		st, err := db.ExchangeStats(ctx, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if st.DeadLetters != 0 || st.OutboxDepth != 0 {
			t.Errorf("node %s: %d dead letters, %d unsent; want none", code, st.DeadLetters, st.OutboxDepth)
		}
		db.Close()
		if p := printed[code]; p.sent != len(out2[code]) || p.received != len(in[code]) {
			t.Errorf("node %s: summary says sent %d received %d; store holds %d out, %d in",
				code, p.sent, p.received, len(out2[code]), len(in[code]))
		}
	}
	received := map[string]int{} // case id → how many incoming copies over the region
	for code, cs := range in {
		for _, c := range cs {
			received[c.ID]++
			if c.PeerNode == code {
				t.Errorf("incoming case %s at %s came from itself; the demo asks only other provinces", c.ID, code)
			}
		}
	}
	for code, cs := range out2 {
		for _, c := range cs {
			if n := received[c.ID]; n != 1 {
				t.Errorf("case %s from %s to %s: received %d times, want exactly once", c.ID, code, c.PeerUnit, n)
			}
			if c.Type == "directory.update" {
				// Each province's directory, sent to every other node at the first start:
				// a notice, closed once receipted.
				if c.State != yipanqi.CaseClosed {
					t.Errorf("directory update %s from %s: state %s, want closed", c.ID, code, c.State)
				}
				delete(received, c.ID)
				continue
			}
			if c.PeerNode != c.PeerUnit[:2] || c.PersonIDNumber == "" {
				t.Errorf("case %s: addressed to node %s unit %s, person given %t", c.ID, c.PeerNode, c.PeerUnit, c.PersonIDNumber != "")
			}
			if c.State != yipanqi.CaseReplied {
				t.Errorf("case %s from %s: state %s after the drain, want replied", c.ID, code, c.State)
			}
			delete(received, c.ID)
		}
	}
	if len(received) != 0 {
		t.Errorf("%d incoming cases have no outgoing case anywhere", len(received))
	}
}

// allCases lists every case of one direction a node holds.
func allCases(t *testing.T, db *sqlstore.DB, code string, dir yipanqi.Direction) []*yipanqi.Case {
	t.Helper()
	scope, err := yipanqi.NewScope(code)
	if err != nil {
		t.Fatal(err)
	}
	var all []*yipanqi.Case
	for off := 0; ; off += 1000 {
		page, _, err := db.ListCases(context.Background(), scope, yipanqi.CaseFilter{Direction: dir, Offset: off, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if len(page) < 1000 {
			return all
		}
	}
}

// mustGet fetches url and fails unless the status is want; it returns the body.
func mustGet(t *testing.T, url string, want int) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != want {
		t.Fatalf("GET %s: %d, want %d:\n%s", url, resp.StatusCode, want, body)
	}
	return string(body)
}

func TestDemoBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"demo", "--people", "0"},
		{"demo", "--people", "x"},
		{"demo", "--seed", "-1"},
		{"demo", "--rate", "-1"},
		{"demo", "--rate", "NaN"},
		{"demo", "--for", "soon"},
		{"demo", "--drain", "0s"},
		{"demo", "--nats-port", "4222"},
		{"demo", "extra"},
	} {
		code, _, errOut := runReg(t, args...)
		if code != 2 || !strings.Contains(errOut, "yipanqi demo:") {
			t.Errorf("yipanqi %s: exit %d, stderr %q; want exit 2 with a message", strings.Join(args, " "), code, errOut)
		}
	}
}
