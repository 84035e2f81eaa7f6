package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"yipanqi"
	"yipanqi/casework"
	"yipanqi/demo"
	"yipanqi/division"
	"yipanqi/exchange"
	"yipanqi/sqlstore"
	"yipanqi/sqlstore/storetest"
)

// machineNATS is the stand-alone NATS server of the development machine and of CI. The test
// only connects to it; it never starts a server on this port.
const machineNATS = "nats://127.0.0.1:4222"

// testNamespacePrefix starts the namespace of every run of TestServeProcesses, so that a run
// can recognise the streams an earlier, crashed run left behind.
const testNamespacePrefix = "ypqt"

// TestServeProcesses runs nodes 44, 43 and 45 as separate `yipanqi serve` processes against
// the machine's NATS server, each on its own database (a PostgreSQL schema when
// YIPANQI_TEST_POSTGRES is set — then 44 runs as two replicas on one database — else a SQLite
// file). The test process creates cases the honest way: it opens a node's store and calls
// exchange's SendMany with that node's key, so the case and its outbox row commit in the
// store and the serve process's relay publishes them; it answers what a node received the same
// way (Reply). Mid-traffic it kills 43 with SIGKILL, keeps sending — 43's outgoing cases wait
// in its outbox, its incoming ones in its stream — and restarts it. When every case has its
// receipt and its answer, the stores must show each case exactly once at each end.
func TestServeProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs three serve processes; skipped with -short")
	}
	if c, err := net.DialTimeout("tcp", "127.0.0.1:4222", time.Second); err != nil {
		t.Skipf("no NATS server at %s (CI runs one; start nats-server -js to run this test): %v", machineNATS, err)
	} else {
		c.Close()
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("the go command is not on PATH, so the test cannot build the binary: %v", err)
	}
	ctx := context.Background()
	dir := t.TempDir()
	bin := filepath.Join(dir, "yipanqi")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	codes := []string{"44", "43", "45"}
	names := map[string]string{"44": "广东", "43": "湖南", "45": "广西"}
	keys, err := demo.MakeKeys(filepath.Join(dir, "keys"), codes, names, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ns := machineNamespace(t)
	admin, err := exchange.Connect(ctx, exchange.TransportConfig{URL: machineNATS, Node: "region", Namespace: ns,
		ConnectWait: 2 * time.Second, AckWait: 3 * time.Second, Logger: quietLog})
	if err != nil {
		t.Skipf("cannot connect to the NATS server at %s: %v", machineNATS, err)
	}
	t.Cleanup(admin.Close)
	js, err := jetstream.New(admin.Conn())
	if err != nil {
		t.Fatal(err)
	}
	removeLeftovers(t, js)
	// A short ack wait: messages the killed process had fetched come back soon.
	if err := admin.EnsureStreams(ctx, codes, 1); err != nil {
		t.Fatalf("streams on %s (is JetStream enabled?): %v", machineNATS, err)
	}
	t.Cleanup(func() {
		for _, code := range codes {
			if err := js.DeleteStream(context.Background(), admin.StreamName(code)); err != nil {
				t.Errorf("delete stream %s: %v", admin.StreamName(code), err)
			}
		}
	})

	postgres := os.Getenv(storetest.PostgresEnv) != ""
	nodes := map[string]*procNode{}
	for _, code := range codes {
		n := &procNode{code: code, dir: filepath.Join(dir, code)}
		if postgres {
			n.dsn = storetest.PostgresDSN(t)
		} else {
			n.dsn = storetest.SQLiteDSN(t)
		}
		n.conf = writeProcConf(t, n, names[code], ns, filepath.Join(dir, "keys"))
		nodes[code] = n
	}
	// Start every process before the test opens a store: serve migrates it and loads the org units.
	for _, code := range codes {
		nodes[code].procs = append(nodes[code].procs, startServe(t, bin, nodes[code]))
	}
	if postgres {
		// A second replica of 44 on the same database: relays and consumers share the work.
		nodes["44"].procs = append(nodes["44"].procs, startServe(t, bin, nodes["44"]))
	}
	for _, code := range codes {
		nodes[code].open(t, ns, keys)
	}
	tree, err := division.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range codes {
		if nodes[code].units, err = tree.Counties(code); err != nil {
			t.Fatal(err)
		}
	}

	rctx, stopReplies := context.WithCancel(ctx)
	var replyErr = make(chan error, len(codes))
	var rwg sync.WaitGroup
	for _, code := range codes {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			if err := nodes[code].replyLoop(rctx); err != nil {
				replyErr <- err
			}
		}()
	}
	t.Cleanup(func() { stopReplies(); rwg.Wait() })

	tr := &traffic{nodes: nodes, codes: codes}
	const total = 300
	// Phase 1: traffic until 43 has taken in some of it, then kill -9 43 mid-traffic.
	n43 := nodes["43"]
	checkProc(t, 60*time.Second, "43 receives its first 30 cases", tr.round, func() bool {
		return n43.count(t, yipanqi.Incoming, "") >= 30
	})
	// A burst to and from 43 that commits at once, so that 43 dies while its consumers take
	// in cases and its relay publishes its own.
	tr.send(t, "44", "43", 24)
	tr.send(t, "43", "45", 24)
	n43.procs[0].kill(t)
	killedAt := n43.count(t, yipanqi.Incoming, "")
	t.Logf("killed 43 (SIGKILL) with %d of the %d cases sent to it received; %d cases sent in all",
		killedAt, tr.sentTo("43"), len(tr.cases))

	// Phase 2: keep sending while 43 is down, until its stream holds messages for it and its
	// outbox holds its own new cases.
	waiting := func() uint64 {
		info, err := js.Stream(ctx, admin.StreamName("43"))
		if err != nil {
			t.Fatal(err)
		}
		return info.CachedInfo().State.Msgs
	}
	checkProc(t, 60*time.Second, "messages for 43 wait in its stream and its cases in its outbox", tr.round, func() bool {
		st, err := n43.db.ExchangeStats(ctx, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return len(tr.cases) >= 2*total/3 && st.OutboxDepth > 0 && waiting() > 0
	})
	// Nothing takes in what arrives for 43 now. (Not compared with the count at the kill: a
	// commit the killed process had sent may still finish on the database server after it.)
	had, before := n43.count(t, yipanqi.Incoming, ""), waiting()
	checkProc(t, 30*time.Second, "more messages for 43 in its stream", tr.round, func() bool { return waiting() > before })
	if got := n43.count(t, yipanqi.Incoming, ""); got != had {
		t.Fatalf("43 took in %d cases while it was down (had %d)", got, had)
	}
	st43, _ := n43.db.ExchangeStats(ctx, time.Now())
	t.Logf("while 43 was down: %d cases sent in all, %d messages waiting in 43's stream, %d in its outbox",
		len(tr.cases), waiting(), st43.OutboxDepth)

	// Phase 3: restart 43 and send the rest.
	n43.procs[0] = startServe(t, bin, n43)
	for len(tr.cases) < total {
		tr.round(t)
	}

	// Every case receipted and answered, every outbox empty.
	deadline := 90 * time.Second
	checkProc(t, deadline, "every case receipted and answered, every outbox empty", nil, func() bool {
		select {
		case err := <-replyErr:
			t.Fatalf("reply loop: %v", err)
		default:
		}
		for _, code := range codes {
			n := nodes[code]
			if n.count(t, yipanqi.Outgoing, yipanqi.CaseReplied) != tr.sentBy(code) {
				return false
			}
			if st, err := n.db.ExchangeStats(ctx, time.Now()); err != nil || st.OutboxDepth != 0 {
				return false
			}
		}
		return true
	})
	for _, code := range codes {
		for _, p := range nodes[code].procs {
			if p.exited() {
				t.Fatalf("serve %s exited on its own:\n%s\n%s", code, p.out.String(), p.errOut.String())
			}
		}
	}
	checkInvariant(t, nodes, codes, tr.cases)
}

// quietLog keeps the test transports' reconnect warnings out of the output.
var quietLog = slog.New(slog.DiscardHandler)

// machineNamespace returns a namespace of its own for this run on the shared server.
func machineNamespace(t *testing.T) string {
	t.Helper()
	b := make([]byte, 5)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return testNamespacePrefix + hex.EncodeToString(b)
}

// removeLeftovers deletes the streams of earlier runs that died before their cleanup: those
// of a test namespace created more than ten minutes ago (a run in progress elsewhere on the
// machine is younger than that and keeps its streams).
func removeLeftovers(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	ctx := context.Background()
	list := js.ListStreams(ctx)
	var old []string
	for info := range list.Info() {
		if strings.HasPrefix(info.Config.Name, testNamespacePrefix) && time.Since(info.Created) > 10*time.Minute {
			old = append(old, info.Config.Name)
		}
	}
	if err := list.Err(); err != nil {
		t.Fatalf("list streams on %s: %v", machineNATS, err)
	}
	for _, name := range old {
		if err := js.DeleteStream(ctx, name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Fatalf("delete leftover stream %s: %v", name, err)
		}
		t.Logf("deleted leftover stream %s", name)
	}
}

// procNode is one node of the test: its configuration, its serve processes, and the test's
// own handle on its store.
type procNode struct {
	code, dir, dsn, conf string
	procs                []*serveProc
	db                   *sqlstore.DB
	engine               *casework.Node // sends and replies for the test; never runs a relay or consumer
	scope                yipanqi.Scope
	units                []division.Division
}

func writeProcConf(t *testing.T, n *procNode, name, ns, keys string) string {
	t.Helper()
	if err := os.MkdirAll(n.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// A short lease: rows the killed relay had claimed are published again after it.
	text := fmt.Sprintf(`[node]
code = %q
name = %q
data_dir = %q

[store]
dsn = %q

[nats]
url = %q
namespace = %q
ensure_streams = false

[exchange]
lease = "3s"

[keys]
key_file = %q
region_public_key = %q
trust_list = %q

[http]
listen = "127.0.0.1:0"
public_url = "https://ypq.example"
`, n.code, name, n.dir, n.dsn, machineNATS, ns, filepath.Join(keys, "node-"+n.code+".key.pem"),
		filepath.Join(keys, "region.pub.pem"), filepath.Join(keys, "trust.json"))
	path := filepath.Join(n.dir, "node.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// open gives the test its own handle on the node's store and an engine to send and reply with.
func (n *procNode) open(t *testing.T, ns string, keys *demo.Keys) {
	t.Helper()
	n.db = storetest.Open(t, n.dsn)
	tr, err := exchange.Connect(context.Background(), exchange.TransportConfig{URL: machineNATS, Node: n.code,
		Namespace: ns, Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.Close)
	if n.engine, err = casework.NewNode(casework.NodeConfig{Code: n.code, Store: n.db, Transport: tr,
		Key: keys.Nodes[n.code], Trust: keys.Trust, Logger: quietLog}); err != nil {
		t.Fatal(err)
	}
	n.scope = storetest.MustScope(t, n.code)
}

// count counts the node's cases of a direction and state ("" for any).
func (n *procNode) count(t *testing.T, dir yipanqi.Direction, state yipanqi.CaseState) int {
	t.Helper()
	// The test's traffic only: registering its people also sends their move.notices.
	_, total, err := n.db.ListCases(context.Background(), n.scope, yipanqi.CaseFilter{Type: "verify.identity", Direction: dir, State: state, Limit: 1})
	if err != nil {
		t.Fatalf("count cases at %s: %v", n.code, err)
	}
	return total
}

// replyLoop answers, as the hometown would, every case the node received, until ctx ends.
// While the node's process is down it still answers what the node had received: the reply
// commits in the store and waits in the outbox.
func (n *procNode) replyLoop(ctx context.Context) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		list, _, err := n.db.ListCases(ctx, n.scope, yipanqi.CaseFilter{Direction: yipanqi.Incoming,
			State: yipanqi.CaseDelivered, Limit: 100})
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("list at %s: %w", n.code, err)
		}
		for _, c := range list {
			if err := n.engine.Reply(ctx, c.ID, "confirmed", json.RawMessage(`{}`)); err != nil && ctx.Err() == nil {
				return fmt.Errorf("reply to %s at %s: %w", c.ID, n.code, err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// sentCase is one case the test sent.
type sentCase struct{ id, from, to string }

// traffic sends rounds of cases between every ordered pair of nodes.
type traffic struct {
	nodes map[string]*procNode
	codes []string
	cases []sentCase
}

// perPair is how many cases one round sends from each node to each other node.
const perPair = 2

// round sends perPair cases from every node to every other node.
func (tr *traffic) round(t *testing.T) {
	t.Helper()
	for _, from := range tr.codes {
		for _, to := range tr.codes {
			if from != to {
				tr.send(t, from, to, perPair)
			}
		}
	}
}

// send sends n cases from node from to node to in one SendMany, each addressed to a
// different county of the receiver.
func (tr *traffic) send(t *testing.T, from, to string, n int) {
	t.Helper()
	a, b := tr.nodes[from], tr.nodes[to]
	var batch []casework.NewCase
	var people []*yipanqi.Person
	for range n {
		i := len(tr.cases) + len(batch)
		birth := yipanqi.Date{Year: 1970 + i%40, Month: time.Month(1 + i%12), Day: 1 + i%28}
		unit := b.units[i%len(b.units)].Code
		id := storetest.IDNumber(unit, birth, i)
		fields, _ := json.Marshal(map[string]any{"id_number": id, "reason": "核实户籍地址"})
		batch = append(batch, casework.NewCase{Fields: fields, Case: &yipanqi.Case{Type: "verify.identity",
			OrgUnit: a.units[i%len(a.units)].Code, PeerNode: to, PeerUnit: unit}})
		// The residence sends only about the people its registry holds.
		p := storetest.NewPerson(i, a.units[i%len(a.units)].Code)
		p.IDNumber, p.HukouCode = id, unit
		people = append(people, p)
	}
	storetest.MustImport(t, a.db, people...)
	if err := a.engine.SendMany(context.Background(), batch); err != nil {
		t.Fatalf("send %s → %s: %v", from, to, err)
	}
	for _, nc := range batch {
		tr.cases = append(tr.cases, sentCase{id: nc.Case.ID, from: from, to: to})
	}
}

func (tr *traffic) sentBy(code string) int {
	n := 0
	for _, c := range tr.cases {
		if c.from == code {
			n++
		}
	}
	return n
}

func (tr *traffic) sentTo(code string) int {
	n := 0
	for _, c := range tr.cases {
		if c.to == code {
			n++
		}
	}
	return n
}

// checkProc polls cond until it holds or timeout passes, calling step (if any) between polls
// — a round of traffic, so that the condition is waited for while traffic flows.
func checkProc(t *testing.T, timeout time.Duration, what string, step func(*testing.T), cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, what)
		}
		if step != nil {
			step(t)
		} else {
			<-tick.C
		}
	}
}

// checkInvariant checks, against the stores, that every case was delivered exactly once:
// each node holds exactly the cases sent to it and by it; each case is at its receiver once,
// replied, with one request and one reply in each log and one receipt each way; no dead
// letter; every audit chain intact.
func checkInvariant(t *testing.T, nodes map[string]*procNode, codes []string, cases []sentCase) {
	t.Helper()
	ctx := context.Background()
	to, by := map[string]int{}, map[string]int{}
	for _, c := range cases {
		to[c.to]++
		by[c.from]++
	}
	for _, code := range codes {
		n := nodes[code]
		if in, out := n.count(t, yipanqi.Incoming, ""), n.count(t, yipanqi.Outgoing, ""); in != to[code] || out != by[code] {
			t.Fatalf("%s holds %d incoming and %d outgoing cases, want %d and %d", code, in, out, to[code], by[code])
		}
		if got := n.count(t, yipanqi.Incoming, yipanqi.CaseReplied); got != to[code] {
			t.Fatalf("%s answered %d of its %d incoming cases", code, got, to[code])
		}
		st, err := n.db.ExchangeStats(ctx, time.Now())
		if err != nil || st.DeadLetters != 0 || st.OutboxDepth != 0 {
			t.Fatalf("%s: %+v, %v; want no dead letter and an empty outbox", code, st, err)
		}
		if _, err := n.db.VerifyAudit(ctx); err != nil {
			t.Fatalf("audit chain at %s: %v", code, err)
		}
	}
	// Request and reply, and a receipt for each, logged once each way at both ends.
	want := fmt.Sprint(map[string]int{"in:receipt": 1, "in:verify.identity": 1, "out:receipt": 1, "out:verify.identity": 1})
	for _, c := range cases {
		for _, side := range []struct {
			n   *procNode
			dir yipanqi.Direction
		}{{nodes[c.from], yipanqi.Outgoing}, {nodes[c.to], yipanqi.Incoming}} {
			got, err := side.n.db.FindCase(ctx, side.n.scope, c.id)
			if err != nil {
				t.Fatalf("case %s (%s → %s) at %s: %v", c.id, c.from, c.to, side.n.code, err)
			}
			if got.Direction != side.dir || got.State != yipanqi.CaseReplied || got.ReceivedAt.IsZero() {
				t.Fatalf("case %s at %s: %s, state %s, received %v; want %s, replied, with its receipt",
					c.id, side.n.code, got.Direction, got.State, got.ReceivedAt, side.dir)
			}
			msgs, err := side.n.db.CaseMessages(ctx, side.n.scope, c.id)
			if err != nil {
				t.Fatal(err)
			}
			m := map[string]int{}
			for _, x := range msgs {
				typ := x.Type
				if typ == casework.TypeReceipts {
					typ = casework.TypeReceipt // a batch receipt, shared with the other cases of its batch
				}
				m[string(x.Direction)+":"+typ]++
			}
			if fmt.Sprint(m) != want {
				t.Fatalf("log of case %s at %s: %v, want %v", c.id, side.n.code, m, want)
			}
		}
	}
	t.Logf("invariant holds for %d cases (%d messages logged on each side): 44 sent %d, received %d; 43 sent %d, received %d; 45 sent %d, received %d",
		len(cases), 4*len(cases), by["44"], to["44"], by["43"], to["43"], by["45"], to["45"])
}

// serveProc is one running `yipanqi serve` process.
type serveProc struct {
	cmd         *exec.Cmd
	out, errOut *syncBuffer
	done        chan struct{}
	waitErr     error
}

// startServe starts a serve process on the node's configuration, waits until it says it has
// started, and stops it when the test ends.
func startServe(t *testing.T, bin string, n *procNode) *serveProc {
	t.Helper()
	p := &serveProc{out: &syncBuffer{}, errOut: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, "serve", "--config", n.conf)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.errOut
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start serve %s: %v", n.code, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.stop(t) })
	checkProc(t, 60*time.Second, "serve "+n.code+" starts", nil, func() bool {
		if p.exited() {
			t.Fatalf("serve %s exited: %v\n%s\n%s", n.code, p.waitErr, p.out.String(), p.errOut.String())
		}
		return strings.Contains(p.out.String(), "已启动")
	})
	return p
}

func (p *serveProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill stops the process with SIGKILL — no cleanup of any kind — and waits for it.
func (p *serveProc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill serve: %v", err)
	}
	<-p.done
}

// stop stops the process as an operator would (SIGTERM), or with SIGKILL if it has not
// stopped after 20 s.
func (p *serveProc) stop(t *testing.T) {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Errorf("serve did not stop on SIGTERM within 20 s; killing it\n%s", p.errOut.String())
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
}
