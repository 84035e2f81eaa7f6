package casework_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"yipanqi"
	"yipanqi/casework"
	"yipanqi/exchange"
	"yipanqi/exchange/natstest"
	"yipanqi/sqlstore"
	"yipanqi/sqlstore/storetest"
)

// Units of the two test nodes. 439999 is a valid division code in 43 that node 43 does not hold.
const (
	unit44a  = "440106"
	unit44b  = "440305"
	unit43   = "430102"
	unknown3 = "439999"
)

// eachDB runs fn on SQLite and, when YIPANQI_TEST_POSTGRES is set, on PostgreSQL; newDSN
// gives a fresh empty database each call.
func eachDB(t *testing.T, fn func(t *testing.T, newDSN func() string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, func() string { return storetest.SQLiteDSN(t) }) })
	t.Run("postgres", func(t *testing.T) {
		if os.Getenv(storetest.PostgresEnv) == "" {
			t.Skip("PostgreSQL run skipped: set " + storetest.PostgresEnv + " to a DSN such as postgres://postgres@127.0.0.1:5432/test")
		}
		fn(t, func() string { return storetest.PostgresDSN(t) })
	})
}

// testClock is the real clock plus an offset a test may advance (to pass a lease).
type testClock struct{ off atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *testClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// world is one embedded NATS server with the streams of nodes 44 and 43, their keys and the
// trust list.
type world struct {
	srv   *server.Server
	url   string
	admin *exchange.Transport
	keys  map[string]*exchange.PrivateKey
	trust *exchange.TrustList
	clock *testClock
}

func newWorld(tb testing.TB) *world {
	tb.Helper()
	w := newKeys(tb)
	w.srv = natstest.RunServer(tb)
	w.url = w.srv.ClientURL()
	w.admin = mustConnect(tb, w.url, "admin")
	if err := w.admin.EnsureStreams(context.Background(), []string{"44", "43"}, 1); err != nil {
		tb.Fatalf("ensure streams: %v", err)
	}
	return w
}

// events records a node's events.
type events struct {
	mu  sync.Mutex
	all []casework.Event
}

func (e *events) add(ev casework.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

func (e *events) count(kind casework.EventKind) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.all {
		if ev.Kind == kind {
			n++
		}
	}
	return n
}

func (e *events) find(kind casework.EventKind) []casework.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []casework.Event
	for _, ev := range e.all {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

// peer is one running replica of a node.
type peer struct {
	code   string
	node   *casework.Node
	db     *sqlstore.DB
	tr     *exchange.Transport
	events *events
	cancel context.CancelFunc
	done   sync.WaitGroup
}

// run says what a peer runs.
type run struct {
	relay, consumer bool
	tune            func(*casework.NodeConfig)
}

var (
	both    = run{relay: true, consumer: true}
	noRelay = run{consumer: true}
)

// start opens the store at dsn (migrating it), gives it the node's org units, connects the
// node's transport and starts what r asks for; the test's end stops it.
func (w *world) start(tb testing.TB, code, dsn string, r run) *peer {
	tb.Helper()
	db := storetest.Open(tb, dsn)
	units := map[string][]yipanqi.OrgUnit{
		"44": {{Code: unit44a, Name: "越秀区", Active: true}, {Code: unit44b, Name: "南山区", Active: true}},
		"43": {{Code: unit43, Name: "芙蓉区", Active: true}},
	}
	if err := db.UpsertOrgUnits(context.Background(), units[code]); err != nil {
		tb.Fatal(err)
	}
	switch code {
	case "44":
		storetest.MustImport(tb, db, registeredPeople()...)
	case "43":
		people := make([]*yipanqi.Person, registered)
		for i := range people {
			people[i] = storetest.NewPerson(i, unit43+"001")
			people[i].IDNumber, people[i].HukouCode = idFrom43(i), "44"
		}
		storetest.MustImport(tb, db, people...)
	}
	tr := mustConnect(tb, w.url, code, func(c *exchange.TransportConfig) { c.PublishTimeout = 2 * time.Second })
	ev := &events{}
	cfg := casework.NodeConfig{
		Code: code, Store: db, Transport: tr, Key: w.keys[code], Trust: w.trust,
		Now: w.clock.Now, Logger: quietLogger, OnEvent: ev.add,
		RelayPoll: 20 * time.Millisecond,
		Backoff: func(n int) time.Duration {
			return min(20*time.Millisecond<<min(n, 6), 500*time.Millisecond)
		},
	}
	if r.tune != nil {
		r.tune(&cfg)
	}
	node, err := casework.NewNode(cfg)
	if err != nil {
		tb.Fatalf("new node %s: %v", code, err)
	}
	p := &peer{code: code, node: node, db: db, tr: tr, events: ev}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	goRun := func(name string, f func(context.Context) error) {
		p.done.Add(1)
		go func() {
			defer p.done.Done()
			if err := f(ctx); err != nil {
				tb.Errorf("node %s %s: %v", code, name, err)
			}
		}()
	}
	if r.relay {
		goRun("relay", node.RunRelay)
	}
	if r.consumer {
		goRun("consumer", node.RunConsumer)
	}
	tb.Cleanup(p.stop)
	return p
}

// stop stops what the peer runs and waits for it.
func (p *peer) stop() {
	p.cancel()
	p.done.Wait()
}

// send sends a verify.identity case numbered i from unit44a to unit.
func (p *peer) send(tb testing.TB, i int, typ, unit string) *yipanqi.Case {
	tb.Helper()
	c := &yipanqi.Case{Type: typ, OrgUnit: unit44a, PeerNode: unit[:2], PeerUnit: unit}
	fields := fieldsFor(i)
	if unit[:2] == p.code {
		fields = localFieldsFor(i)
	}
	if err := p.node.Send(context.Background(), c, fields); err != nil {
		tb.Fatalf("send %d: %v", i, err)
	}
	return c
}

// registered is how many people fieldsFor names, in turn: node 44's registry holds them all
// (world.start), living in unit44a with their hukou in 43, since the residence sends only
// about the people its registry holds (docs/workflows.md).
const registered = 64

// idFor is the ID number of the person of case i.
func idFor(i int) string {
	i %= registered
	birth := yipanqi.Date{Year: 1980 + i%30, Month: time.Month(1 + i%12), Day: 1 + i%28}
	return storetest.IDNumber(unit43, birth, i)
}

// localIDFor is the ID number of the person of a case i between two units of node 44: a
// migrant within the province, hukou in 44.
func localIDFor(i int) string {
	i %= registered
	birth := yipanqi.Date{Year: 1980 + i%30, Month: time.Month(1 + i%12), Day: 1 + i%28}
	return storetest.IDNumber(unit44b, birth, i)
}

// registeredPeople are the people fieldsFor and localFieldsFor name, as node 44's registry
// holds them.
func registeredPeople() []*yipanqi.Person {
	out := make([]*yipanqi.Person, 0, 2*registered)
	for i := range registered {
		p := storetest.NewPerson(i, unit44a+"001")
		p.IDNumber, p.HukouCode, p.HukouAddress = idFor(i), "43", "湖南省"
		q := storetest.NewPerson(i, unit44a+"001")
		q.IDNumber, q.HukouCode, q.HukouAddress = localIDFor(i), "44", "广东省"
		out = append(out, p, q)
	}
	return out
}

// idFrom43 is the ID number of the person of a case i that node 43 sends to 44: someone
// living in 43 with their hukou in 44, whom 43's registry holds (world.start).
func idFrom43(i int) string {
	i %= registered
	birth := yipanqi.Date{Year: 1980 + i%30, Month: time.Month(1 + i%12), Day: 1 + i%28}
	return storetest.IDNumber("440104", birth, i)
}

// fieldsFrom43 is fieldsFor for a case node 43 sends to 44.
func fieldsFrom43(i int) json.RawMessage {
	b, _ := json.Marshal(map[string]any{
		"id_number": idFrom43(i),
		"reason":    fmt.Sprintf("核实户籍地址（第 %d 件）", i),
	})
	return b
}

// localFieldsFor is fieldsFor for a case between two units of node 44.
func localFieldsFor(i int) json.RawMessage {
	b, _ := json.Marshal(map[string]any{
		"id_number": localIDFor(i),
		"reason":    fmt.Sprintf("核实户籍地址（第 %d 件）", i),
	})
	return b
}

func fieldsFor(i int) json.RawMessage {
	b, _ := json.Marshal(map[string]any{
		"id_number": idFor(i),
		"reason":    fmt.Sprintf("核实户籍地址（第 %d 件）", i),
	})
	return b
}

func (p *peer) scope(tb testing.TB) yipanqi.Scope { return storetest.MustScope(tb, p.code) }

// countCases counts the cases of a direction (and state, if not "") the node holds.
func (p *peer) countCases(tb testing.TB, dir yipanqi.Direction, state yipanqi.CaseState) int {
	tb.Helper()
	_, n, err := p.db.ListCases(context.Background(), p.scope(tb), yipanqi.CaseFilter{Direction: dir, State: state, Limit: 1})
	if err != nil {
		tb.Fatalf("list cases at %s: %v", p.code, err)
	}
	return n
}

// messagesByKind counts a case's logged messages as "in:receipt", "out:verify.identity", …
// (a batch receipt counts as "receipt")
func (p *peer) messagesByKind(tb testing.TB, caseID string) map[string]int {
	tb.Helper()
	msgs, err := p.db.CaseMessages(context.Background(), p.scope(tb), caseID)
	if err != nil {
		tb.Fatalf("messages of %s at %s: %v", caseID, p.code, err)
	}
	m := map[string]int{}
	for _, x := range msgs {
		typ := x.Type
		if typ == casework.TypeReceipts {
			// A batch receipt, shared with the other cases it receipts, is the case's receipt.
			typ = casework.TypeReceipt
		}
		m[string(x.Direction)+":"+typ]++
	}
	return m
}

// auditCount counts the audit entries about object with the action.
func (p *peer) auditCount(tb testing.TB, object, action string) int {
	tb.Helper()
	log, err := p.db.AuditLog(context.Background(), object, 1000)
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for _, e := range log {
		if e.Action == action {
			n++
		}
	}
	return n
}

// waitReceipts waits until n outgoing cases at a are delivered or replied.
func waitReceipts(tb testing.TB, a *peer, n int, timeout time.Duration) {
	tb.Helper()
	checkFor(tb, timeout, fmt.Sprintf("%d receipts at %s", n, a.code), func() bool {
		return a.countCases(tb, yipanqi.Outgoing, yipanqi.CaseDelivered)+a.countCases(tb, yipanqi.Outgoing, yipanqi.CaseReplied) >= n
	})
}

// checkExactlyOnce checks the promise for cases sent from a to b: each case is at b exactly
// once (one case, one request logged, one receipt sent, one audit entry), and at a its
// receipt is recorded once (received_at and due_at set, one receipt logged); b holds no
// other incoming case.
func checkExactlyOnce(t *testing.T, a, b *peer, cases []*yipanqi.Case) {
	t.Helper()
	if got := b.countCases(t, yipanqi.Incoming, ""); got != len(cases) {
		t.Fatalf("%s holds %d incoming cases, want %d", b.code, got, len(cases))
	}
	for _, c := range cases {
		got, err := a.db.FindCase(context.Background(), a.scope(t), c.ID)
		if err != nil {
			t.Fatalf("case %s at %s: %v", c.ID, a.code, err)
		}
		if got.State != yipanqi.CaseDelivered || got.ReceivedAt.IsZero() || got.DueAt.IsZero() {
			t.Fatalf("case at sender = state %s received %v due %v", got.State, got.ReceivedAt, got.DueAt)
		}
		if m := a.messagesByKind(t, c.ID); m["out:"+c.Type] != 1 || m["in:receipt"] != 1 || len(m) != 2 {
			t.Fatalf("sender's log of %s = %v, want one request out and one receipt in", c.ID, m)
		}
		if m := b.messagesByKind(t, c.ID); m["in:"+c.Type] != 1 || m["out:receipt"] != 1 || len(m) != 2 {
			t.Fatalf("receiver's log of %s = %v, want one request in and one receipt out", c.ID, m)
		}
		if n := b.auditCount(t, c.ID, "case.received"); n != 1 {
			t.Fatalf("receiver audited case %s %d times", c.ID, n)
		}
		if n := a.auditCount(t, c.ID, "case.receipt"); n != 1 {
			t.Fatalf("sender recorded the receipt of %s %d times", c.ID, n)
		}
	}
	for _, p := range []*peer{a, b} {
		if _, err := p.db.VerifyAudit(context.Background()); err != nil {
			t.Fatalf("audit chain at %s: %v", p.code, err)
		}
		if dl, err := p.db.DeadLetters(context.Background(), 10); err != nil || len(dl) != 0 {
			t.Fatalf("dead letters at %s: %v (%v)", p.code, dl, err)
		}
	}
}

func sendMany(tb testing.TB, a *peer, n int) []*yipanqi.Case {
	tb.Helper()
	cases := make([]*yipanqi.Case, n)
	for i := range cases {
		cases[i] = a.send(tb, i, "verify.identity", unit43)
	}
	return cases
}

// outboxBodies returns the envelopes waiting in a's outbox as PublishBatch input.
func outboxBodies(tb testing.TB, a *peer, now time.Time) []exchange.Outgoing {
	tb.Helper()
	items, err := a.db.ClaimOutbox(context.Background(), 10000, now, time.Minute)
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]exchange.Outgoing, len(items))
	for i, it := range items {
		dst, _, typ, err := exchange.ParseSubject(it.Subject)
		if err != nil {
			tb.Fatal(err)
		}
		out[i] = exchange.Outgoing{Dst: dst, Type: typ, MsgID: it.MessageID, Body: it.Body}
	}
	return out
}

func mustPublishAll(tb testing.TB, tr *exchange.Transport, out []exchange.Outgoing) []exchange.Result {
	tb.Helper()
	res, err := tr.PublishBatch(context.Background(), out)
	if err != nil {
		tb.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			tb.Fatalf("publish: %v", r.Err)
		}
	}
	return res
}

// deadLetterWith waits for a dead letter at p whose reason contains want, and returns it.
func deadLetterWith(tb testing.TB, p *peer, want string) *yipanqi.DeadLetter {
	tb.Helper()
	var found *yipanqi.DeadLetter
	checkFor(tb, 15*time.Second, "dead letter containing "+want+" at "+p.code, func() bool {
		list, err := p.db.DeadLetters(context.Background(), 100)
		if err != nil {
			tb.Fatal(err)
		}
		for _, d := range list {
			if strings.Contains(d.Reason, want) {
				found = d
				return true
			}
		}
		return false
	})
	return found
}

// register puts the people with the ID numbers in p's registry, living in p's first unit
// with their hukou at hukou: a residence sends only about the people its registry holds.
func register(tb testing.TB, p *peer, hukou string, ids ...string) {
	tb.Helper()
	residence := map[string]string{"44": unit44a + "001", "43": unit43 + "001"}[p.code]
	people := make([]*yipanqi.Person, len(ids))
	for i, id := range ids {
		people[i] = storetest.NewPerson(500+i, residence)
		people[i].IDNumber, people[i].HukouCode = id, hukou
	}
	storetest.MustImport(tb, p.db, people...)
}
