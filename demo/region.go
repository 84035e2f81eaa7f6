// Package demo runs the whole Pan-PRD region on one machine: one embedded NATS JetStream
// server, the 11 provincial nodes each with its own SQLite store, keys and a signed trust
// list, a synthetic population per province, and live exchange traffic — identity checks
// (verify.identity) from the province where a person lives to the province of the person's
// hukou, answered after a short simulated working delay — with a status page per node.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"yipanqi"
	"yipanqi/casework"
	"yipanqi/directory"
	"yipanqi/division"
	"yipanqi/exchange"
	"yipanqi/internal/natsembed"
	"yipanqi/sla"
	"yipanqi/sqlstore"
	"yipanqi/web"
)

// Config says how to run the demo.
type Config struct {
	Dir  string         // data directory: DIR/nats, DIR/keys, DIR/<code>/node.db. Required.
	Tree *division.Tree // the administrative divisions. Required.
	// Populate, if set, fills the store of node code (dsn "sqlite:DIR/<code>/node.db") with
	// its population before the node starts. The command imports a generated register
	// through the township import.
	Populate func(ctx context.Context, code, dsn string) error

	Rate  float64       // new cases per second over the whole region; 0 sends none
	For   time.Duration // how long to send; 0 until ctx ends
	Drain time.Duration // how long at most to wait for cases in flight once sending stops; default 30s

	// ReplyDelay is the simulated working time before the hometown answers: a uniform draw
	// in [ReplyDelay[0], ReplyDelay[1]]; default 0.2s to 2s.
	ReplyDelay [2]time.Duration

	HTTP     string        // listen address of the status pages, "" for none; e.g. 127.0.0.1:8044
	NATSPort int           // port of the embedded NATS server; 0 picks a free one
	Progress time.Duration // interval of the progress line on Out; 0 means 10s, negative none
	Out      io.Writer     // where addresses, progress and the summary go; default io.Discard
	Logger   *slog.Logger  // the engines' log; default warnings and errors to stderr
	Now      func() time.Time
}

// Node is one province's node in the demo.
type Node struct {
	Code, Name string
	DB         *sqlstore.DB
	Transport  *exchange.Transport
	Engine     *casework.Node
	Status     *web.Node
	App        *web.App // the web application, served under /<code>/

	scope   yipanqi.Scope
	targets []target // people it holds whose hometown is another node

	// Counted from the engine's events during this run.
	sent, received, receipts, replied, replySent, deadLetters atomic.Int64
}

// Region is the running demo.
type Region struct {
	cfg    Config
	Nodes  []*Node // in the order of yipanqi.RegionCodes
	byCode map[string]*Node
	NATS   *server.Server
	Keys   *Keys
	// HTTPAddr is the status pages' address once listening, "" when there is no HTTP server.
	HTTPAddr string

	admin   *exchange.Transport
	httpLn  net.Listener // opened before the nodes, so that each knows its public address
	httpSrv *http.Server
	ctx     context.Context // the engines' context
	stop    context.CancelFunc
	wg      sync.WaitGroup
	replies *replier
	runErr  chan error
	// manual are the townships of the demo accounts: the simulated staff leave their cases
	// for a person to answer.
	manual map[string]bool
	// Accounts are the demo accounts by node code.
	Accounts map[string][]Account
}

// caseTypes is the table the demo's engines use.
var caseTypes = casework.DefaultCaseTypes()

// Start builds and starts the region: keys and trust list, the embedded NATS server and its
// streams, each node's store (populated, given its org units) and engine, the replier and the
// HTTP server. Close stops it.
func Start(ctx context.Context, cfg Config) (r *Region, err error) {
	if cfg.Dir == "" || cfg.Tree == nil {
		return nil, errors.New("demo: Dir and Tree are required")
	}
	if cfg.Drain <= 0 {
		cfg.Drain = 30 * time.Second
	}
	if cfg.ReplyDelay == [2]time.Duration{} {
		cfg.ReplyDelay = [2]time.Duration{200 * time.Millisecond, 2 * time.Second}
	}
	if cfg.Progress == 0 {
		cfg.Progress = 10 * time.Second
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	codes := yipanqi.RegionCodes()
	names := map[string]string{}
	for _, code := range codes {
		names[code] = yipanqi.ProvinceName(code)
	}

	rctx, stop := context.WithCancel(context.Background())
	r = &Region{cfg: cfg, byCode: map[string]*Node{}, ctx: rctx, stop: stop, runErr: make(chan error, len(codes)),
		manual: map[string]bool{}, Accounts: map[string][]Account{}}
	started := r // a failed Start returns a nil Region: close what it started
	defer func() {
		if err != nil {
			started.Close()
		}
	}()

	// Populations first: an import holds its store's write lock, and nothing else runs yet.
	for _, code := range codes {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Join(cfg.Dir, code), 0o700); err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		if cfg.Populate != nil {
			if err := cfg.Populate(ctx, code, nodeDSN(cfg.Dir, code)); err != nil {
				return nil, err
			}
		}
	}

	if r.Keys, err = MakeKeys(filepath.Join(cfg.Dir, "keys"), codes, names, cfg.Now()); err != nil {
		return nil, err
	}
	if r.NATS, err = natsembed.Start(natsembed.Options{Port: cfg.NATSPort, StoreDir: filepath.Join(cfg.Dir, "nats"),
		Name: "yipanqi-demo"}); err != nil {
		return nil, err
	}
	url := r.NATS.ClientURL()
	if r.admin, err = exchange.Connect(ctx, exchange.TransportConfig{URL: url, Node: "region", Logger: cfg.Logger}); err != nil {
		return nil, err
	}
	if err := r.admin.EnsureStreams(ctx, codes, 1); err != nil {
		return nil, err
	}
	r.replies = newReplier(r)
	if cfg.HTTP != "" {
		if r.httpLn, err = net.Listen("tcp", cfg.HTTP); err != nil {
			return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "http", "状态页无法监听 %s：%v", cfg.HTTP, err)
		}
		r.HTTPAddr = r.httpLn.Addr().String()
	}

	for _, code := range codes {
		n, err := r.openNode(ctx, code, names[code], url)
		if err != nil {
			return nil, fmt.Errorf("demo: node %s: %w", code, err)
		}
		r.Nodes = append(r.Nodes, n)
		r.byCode[code] = n
	}
	// The demo accounts (one password hash for all: they share the documented password) and
	// the walk-through's people, before the engines and the simulated staff start.
	hash, err := web.HashPassword(DemoPassword)
	if err != nil {
		return nil, err
	}
	for _, n := range r.Nodes {
		if r.Accounts[n.Code], err = r.makeAccounts(ctx, n, hash); err != nil {
			return nil, err
		}
	}
	if n := r.byCode[WalkResidence[:2]]; n != nil && r.byCode[WalkHometown[:2]] != nil {
		if err := addWalkPeople(ctx, n.DB, cfg.Now()); err != nil {
			return nil, fmt.Errorf("demo: walk-through people: %w", err)
		}
	}
	for _, n := range r.Nodes {
		if err := r.loadTargets(ctx, n); err != nil {
			return nil, fmt.Errorf("demo: node %s: %w", n.Code, err)
		}
	}
	if err := r.dropClashes(ctx); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	// Each province's own directory (fictional offices on the real divisions), seeded once;
	// the others' come over the exchange as directory.update once the engines run.
	publish, err := r.seedDirectories(ctx, codes)
	if err != nil {
		return nil, err
	}
	clock, err := sla.New(sla.Config{Interval: 10 * time.Second, Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	// Engines start only when every node is there: a request may be answered at once.
	for _, n := range r.Nodes {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			if err := n.Engine.Run(r.ctx); err != nil {
				r.runErr <- fmt.Errorf("demo: node %s: %w", n.Code, err)
			}
		}()
		// Beside each engine: the deadline clock and the directory applier.
		r.wg.Go(func() {
			_ = sla.Run(r.ctx, n.DB, clock, func(err error) { cfg.Logger.Warn("demo: sla", "node", n.Code, "err", err) })
		})
		r.wg.Go(func() { _ = n.Engine.RunDirectoryApplier(r.ctx, 2*time.Second) })
	}
	for _, n := range publish {
		if err := n.Engine.PublishDirectory(ctx); err != nil {
			return nil, fmt.Errorf("demo: node %s: publish directory: %w", n.Code, err)
		}
	}
	r.replies.start()
	// Cases a previous run received and did not answer get their answer now.
	for _, n := range r.Nodes {
		if err := r.replies.resume(ctx, n); err != nil {
			return nil, err
		}
	}
	if cfg.HTTP != "" {
		if err := r.serveHTTP(); err != nil {
			return nil, err
		}
		printAccounts(cfg.Out, r.HTTPAddr, r.Nodes, r.Accounts)
	}
	return r, nil
}

// seedDirectories gives each node that has none its province's demo directory, and returns
// the nodes that must publish theirs: those that seeded now, and all of them while some node
// still lacks another province's (a run stopped before the updates arrived). Publishing
// again is harmless: a node keeps a version it holds already.
func (r *Region) seedDirectories(ctx context.Context, codes []string) ([]*Node, error) {
	var publish []*Node
	complete := true
	for _, n := range r.Nodes {
		_, err := n.DB.DirectoryVersion(ctx, n.Code)
		if yipanqi.ErrorCode(err) == yipanqi.ENOTFOUND {
			entries, err := directory.Seed(r.cfg.Tree, n.Code, directory.SeedOptions{})
			if err != nil {
				return nil, fmt.Errorf("demo: node %s: directory: %w", n.Code, err)
			}
			v := yipanqi.DirectoryVersion{Province: n.Code, Version: 1, UpdatedAt: r.cfg.Now()}
			if err := n.DB.ReplaceProvinceDirectory(ctx, v, entries); err != nil {
				return nil, fmt.Errorf("demo: node %s: directory: %w", n.Code, err)
			}
			publish = append(publish, n)
		} else if err != nil {
			return nil, fmt.Errorf("demo: node %s: directory: %w", n.Code, err)
		}
		held, err := n.DB.DirectoryVersions(ctx)
		if err != nil {
			return nil, err
		}
		if len(held) < len(codes) {
			complete = false
		}
	}
	if !complete {
		return r.Nodes, nil
	}
	return publish, nil
}

func nodeDSN(dir, code string) string { return "sqlite:" + filepath.Join(dir, code, "node.db") }

// openNode opens a node's store, gives it its org units, connects its transport and makes
// its engine and status page.
func (r *Region) openNode(ctx context.Context, code, name, url string) (*Node, error) {
	db, err := sqlstore.Open(ctx, nodeDSN(r.cfg.Dir, code))
	if err != nil {
		return nil, err
	}
	n := &Node{Code: code, Name: name, DB: db}
	if n.scope, err = yipanqi.NewScope(code); err != nil {
		db.Close()
		return nil, err
	}
	if err := r.orgUnits(ctx, n); err != nil {
		db.Close()
		return nil, err
	}
	if n.Transport, err = exchange.Connect(ctx, exchange.TransportConfig{URL: url, Node: code, Logger: r.cfg.Logger}); err != nil {
		db.Close()
		return nil, err
	}
	n.Engine, err = casework.NewNode(casework.NodeConfig{
		Code: code, Store: db, Transport: n.Transport, Key: r.Keys.Nodes[code], Trust: r.Keys.Trust,
		Types: caseTypes, Now: r.cfg.Now, Logger: r.cfg.Logger, OnEvent: func(ev casework.Event) { r.onEvent(n, ev) },
		RelayPoll: 100 * time.Millisecond,
	})
	if err != nil {
		n.close()
		return nil, err
	}
	health, lag, err := web.NATSProbes(n.Transport)
	if err != nil {
		n.close()
		return nil, err
	}
	n.Status = &web.Node{Code: code, Name: name, Store: db, Types: typeNames(), NATS: health, InboxLag: lag, Now: r.cfg.Now}
	n.App, err = web.New(web.Config{Code: code, Name: name, BasePath: "/" + code, Store: db, Node: n.Engine,
		Divisions: r.cfg.Tree, Status: n.Status, Now: r.cfg.Now, Logger: r.cfg.Logger, Trust: r.Keys.Trust, KeyID: r.Keys.Nodes[code].ID,
		PublicURL: r.publicURL(code), Key: r.Keys.Nodes[code]})
	if err != nil {
		n.close()
		return nil, err
	}
	return n, nil
}

func (n *Node) close() {
	if n.Transport != nil {
		n.Transport.Close()
	}
	n.DB.Close()
}

func typeNames() []string {
	var out []string
	for name := range caseTypes {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// orgUnits gives the node an org unit for its province and every city, county and township
// in it (division.Tree.ProvinceUnits, which yipanqi serve uses too). It is skipped when the
// last of them is already there.
func (r *Region) orgUnits(ctx context.Context, n *Node) error {
	units, err := r.cfg.Tree.ProvinceUnits(n.Code)
	if err != nil {
		return err
	}
	if _, err := n.DB.OrgUnit(ctx, units[len(units)-1].Code); err == nil {
		return nil
	}
	return n.DB.UpsertOrgUnits(ctx, units)
}

// serveHTTP serves handler on the listener opened before the nodes.
func (r *Region) serveHTTP() error {
	mux := r.handler()
	r.httpSrv = web.NewServer(mux, web.DefaultServerTimeouts)
	go func() { _ = r.httpSrv.Serve(r.httpLn) }()
	return nil
}

// handler serves the region's public overview at "/" (with the security headers of the
// nodes' pages: web.SecureHeaders) and each node's web application (with its status page at
// /<code>/status/) under "/<code>/".
func (r *Region) handler() *http.ServeMux {
	mux := http.NewServeMux()
	var nodes []*web.Node
	for _, n := range r.Nodes {
		nodes = append(nodes, n.Status)
		mux.Handle("/"+n.Code+"/", http.StripPrefix("/"+n.Code, n.App))
	}
	mux.Handle("/", web.SecureHeaders(web.Index("一盘棋 · 泛珠三角区域演示", nodes)))
	return mux
}

// publicURL is the public address of node code's application in the demo: the demo's own
// HTTP address (127.0.0.1 for an unspecified host) and /<code>; "" without an HTTP server.
func (r *Region) publicURL(code string) string {
	if r.HTTPAddr == "" {
		return ""
	}
	host, port, err := net.SplitHostPort(r.HTTPAddr)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/" + code
}

// Close stops the HTTP server, the replier, the engines, the transports, the NATS server and
// the stores, in that order.
func (r *Region) Close() {
	if r.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = r.httpSrv.Shutdown(ctx)
		cancel()
	} else if r.httpLn != nil { // Start failed before serving
		r.httpLn.Close()
	}
	r.stop()
	if r.replies != nil {
		r.replies.wait()
	}
	r.wg.Wait()
	for _, n := range r.Nodes {
		n.close()
	}
	if r.admin != nil {
		r.admin.Close()
	}
	if r.NATS != nil {
		natsembed.Shutdown(r.NATS)
	}
}

// onEvent counts the engine's events and hands received requests to the replier.
func (r *Region) onEvent(n *Node, ev casework.Event) {
	switch ev.Kind {
	case casework.EventSent:
		n.sent.Add(1)
	case casework.EventReceived:
		n.received.Add(1)
		r.replies.schedule(n, ev.CaseID)
	case casework.EventReceipt:
		n.receipts.Add(1)
	case casework.EventReplied:
		n.replied.Add(1)
	case casework.EventReplySent:
		n.replySent.Add(1)
	case casework.EventDeadLetter:
		n.deadLetters.Add(1)
	}
}
