package exchange_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"yipanqi"
	"yipanqi/exchange"
	"yipanqi/exchange/natstest"
)

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

// region starts an embedded server and creates the streams of nodes on it through an admin
// connection.
func region(tb testing.TB, nodes ...string) (*server.Server, *exchange.Transport) {
	tb.Helper()
	s := natstest.RunServer(tb)
	admin := mustConnect(tb, s.ClientURL(), "admin")
	if err := admin.EnsureStreams(context.Background(), nodes, 1); err != nil {
		tb.Fatalf("ensure streams: %v", err)
	}
	return s, admin
}

// sink collects deliveries from Consume calls.
type sink struct {
	mu  sync.Mutex
	got []exchange.Delivery
	by  map[string]int // deliveries per consumer label
}

func (k *sink) add(label string, d exchange.Delivery) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.got = append(k.got, d)
	if k.by == nil {
		k.by = map[string]int{}
	}
	k.by[label]++
}

func (k *sink) snapshot() []exchange.Delivery {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]exchange.Delivery(nil), k.got...)
}

func (k *sink) ids() []string {
	var ids []string
	for _, d := range k.snapshot() {
		ids = append(ids, d.MsgID)
	}
	return ids
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

// streamMsgs returns how many messages node's stream holds (unacknowledged ones, with
// work-queue retention).
func streamMsgs(tb testing.TB, admin *exchange.Transport, node string) uint64 {
	tb.Helper()
	js, err := jetstream.New(admin.Conn())
	if err != nil {
		tb.Fatal(err)
	}
	st, err := js.Stream(context.Background(), exchange.StreamName(node))
	if err != nil {
		tb.Fatalf("stream %s: %v", node, err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		tb.Fatalf("stream info %s: %v", node, err)
	}
	return info.State.Msgs
}

func mustPublish(tb testing.TB, tr *exchange.Transport, dst, typ, id, body string) {
	tb.Helper()
	dup, err := tr.Publish(context.Background(), dst, typ, id, []byte(body))
	if err != nil {
		tb.Fatalf("publish %s: %v", id, err)
	}
	if dup {
		tb.Fatalf("publish %s: reported duplicate", id)
	}
}

func TestPublishConsumeAck(t *testing.T) {
	_, admin := region(t, "44", "35")
	n44 := mustConnect(t, admin.Conn().ConnectedUrl(), "44")
	n35 := mustConnect(t, admin.Conn().ConnectedUrl(), "35")

	sent := []struct{ typ, id, body string }{
		{"verify.identity", "m1", `{"a":1}`},
		{"cert.check", "m2", `{"b":2}`},
		{"move.notice", "m3", `{"c":3}`},
	}
	for _, m := range sent {
		mustPublish(t, n44, "35", m.typ, m.id, m.body)
	}
	var got sink
	consume(t, n35, func(_ context.Context, d exchange.Delivery) error {
		got.add("35", d)
		return nil
	})
	checkFor(t, 10*time.Second, "three deliveries", func() bool { return len(got.snapshot()) == 3 })

	for i, d := range got.snapshot() {
		want := sent[i]
		if d.Src != "44" || d.Dst != "35" || d.Type != want.typ || d.MsgID != want.id || string(d.Body) != want.body {
			t.Errorf("delivery %d = %+v, want src 44 dst 35 type %s id %s body %s", i, d, want.typ, want.id, want.body)
		}
		if d.Subject != "ypq.35.44."+want.typ || d.NumDelivered != 1 {
			t.Errorf("delivery %d: subject %q delivered %d times", i, d.Subject, d.NumDelivered)
		}
	}
	// Work-queue retention: acknowledged messages leave the stream.
	checkFor(t, 10*time.Second, "stream YPQ_35 empty after acks", func() bool { return streamMsgs(t, admin, "35") == 0 })
	if n := streamMsgs(t, admin, "44"); n != 0 {
		t.Errorf("YPQ_44 holds %d messages, want 0", n)
	}
}

func TestNakRedelivers(t *testing.T) {
	_, admin := region(t, "35")
	n44 := mustConnect(t, admin.Conn().ConnectedUrl(), "44")
	n35 := mustConnect(t, admin.Conn().ConnectedUrl(), "35")
	mustPublish(t, n44, "35", "verify.urgent", "flaky", "x")

	var got sink
	consume(t, n35, func(_ context.Context, d exchange.Delivery) error {
		got.add("35", d)
		if d.NumDelivered < 3 {
			return errors.New("database busy")
		}
		return nil
	})
	checkFor(t, 10*time.Second, "third delivery", func() bool { return len(got.snapshot()) == 3 })
	for i, d := range got.snapshot() {
		if d.MsgID != "flaky" || d.NumDelivered != uint64(i+1) {
			t.Errorf("delivery %d: id %s, NumDelivered %d", i, d.MsgID, d.NumDelivered)
		}
	}
	checkFor(t, 10*time.Second, "acked after the third delivery", func() bool { return streamMsgs(t, admin, "35") == 0 })
}

func TestDuplicateDeliveredOnce(t *testing.T) {
	_, admin := region(t, "35")
	n44 := mustConnect(t, admin.Conn().ConnectedUrl(), "44")
	n35 := mustConnect(t, admin.Conn().ConnectedUrl(), "35")

	ctx := context.Background()
	for i, wantDup := range []bool{false, true, true} {
		dup, err := n44.Publish(ctx, "35", "verify.identity", "same-id", []byte(fmt.Sprint("attempt ", i)))
		if err != nil || dup != wantDup {
			t.Fatalf("publish %d: dup %v err %v, want dup %v", i, dup, err, wantDup)
		}
	}
	res, err := n44.PublishBatch(ctx, []exchange.Outgoing{
		{Dst: "35", Type: "verify.identity", MsgID: "same-id", Body: []byte("batch")},
		{Dst: "35", Type: "verify.identity", MsgID: "sentinel", Body: []byte("last")},
	})
	if err != nil || res[0].Err != nil || !res[0].Dup || res[1].Err != nil || res[1].Dup {
		t.Fatalf("batch: %+v, %v; want first dup, second stored", res, err)
	}

	var got sink
	consume(t, n35, func(_ context.Context, d exchange.Delivery) error {
		got.add("35", d)
		return nil
	})
	// The stream keeps order: once the sentinel arrives, any stored duplicate has arrived too.
	checkFor(t, 10*time.Second, "sentinel delivered", func() bool {
		ids := got.ids()
		return len(ids) > 0 && ids[len(ids)-1] == "sentinel"
	})
	if ids := got.ids(); strings.Join(ids, ",") != "same-id,sentinel" {
		t.Errorf("delivered %v, want [same-id sentinel]", ids)
	}
	if body := string(got.snapshot()[0].Body); body != "attempt 0" {
		t.Errorf("stored body %q, want the first attempt's", body)
	}
}

func TestPublishedWhileConsumerStopped(t *testing.T) {
	_, admin := region(t, "35")
	n44 := mustConnect(t, admin.Conn().ConnectedUrl(), "44")
	n35 := mustConnect(t, admin.Conn().ConnectedUrl(), "35")

	var got sink
	stop := consume(t, n35, func(_ context.Context, d exchange.Delivery) error {
		got.add("first", d)
		return nil
	})
	mustPublish(t, n44, "35", "move.notice", "before", "")
	checkFor(t, 10*time.Second, "first message", func() bool { return len(got.snapshot()) == 1 })
	stop()

	var out []exchange.Outgoing
	for i := range 20 {
		out = append(out, exchange.Outgoing{Dst: "35", Type: "move.notice", MsgID: fmt.Sprint("while-", i)})
	}
	res, err := n44.PublishBatch(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil || r.Dup {
			t.Fatalf("publish %d: %+v", i, r)
		}
	}
	if n := streamMsgs(t, admin, "35"); n != 20 {
		t.Fatalf("stream holds %d messages while nobody consumes, want 20", n)
	}
	consume(t, n35, func(_ context.Context, d exchange.Delivery) error {
		got.add("second", d)
		return nil
	})
	checkFor(t, 10*time.Second, "all 21 messages", func() bool { return len(got.snapshot()) == 21 })
	for i, id := range got.ids()[1:] {
		if want := fmt.Sprint("while-", i); id != want {
			t.Errorf("message %d is %s, want %s", i+1, id, want)
		}
	}
}

func TestServerRestart(t *testing.T) {
	s, _ := region(t, "35")
	url := s.ClientURL()
	n44 := mustConnect(t, url, "44")
	n35 := mustConnect(t, url, "35")
	// A short ack wait, so that a message whose ack or nak is lost in the restart comes back
	// quickly.
	admin := mustConnect(t, url, "admin", func(c *exchange.TransportConfig) { c.AckWait = time.Second })
	if err := admin.EnsureStreams(context.Background(), []string{"35"}, 1); err != nil {
		t.Fatal(err)
	}

	// Stored, never delivered: the consumer is not running yet.
	mustPublish(t, n44, "35", "verify.identity", "stored-1", "")
	mustPublish(t, n44, "35", "verify.identity", "stored-2", "")

	s = natstest.RestartServer(t, s)
	checkFor(t, 15*time.Second, "clients reconnected", func() bool {
		return n44.Conn().IsConnected() && n35.Conn().IsConnected()
	})

	var got sink
	hold := make(chan struct{})
	consume(t, n35, func(ctx context.Context, d exchange.Delivery) error {
		got.add("35", d)
		if d.MsgID == "held" && d.NumDelivered == 1 {
			// Delivered but not acknowledged when the server stops.
			select {
			case <-hold:
			case <-ctx.Done():
			}
			return errors.New("store unavailable")
		}
		return nil
	})
	checkFor(t, 15*time.Second, "stored messages after restart", func() bool { return len(got.snapshot()) == 2 })

	mustPublish(t, n44, "35", "verify.identity", "held", "")
	checkFor(t, 10*time.Second, "held message delivered", func() bool { return len(got.snapshot()) == 3 })

	// Stop the server while "held" is unacknowledged, and publish while it is down: the
	// client keeps the message in its reconnect buffer.
	down := natstest.StopServer(t, s)
	checkFor(t, 10*time.Second, "clients see the server down", func() bool { return !n44.Conn().IsConnected() })
	sentWhileDown := make(chan error, 1)
	go func() {
		_, err := n44.Publish(context.Background(), "35", "verify.identity", "sent-while-down", nil)
		sentWhileDown <- err
	}()
	close(hold)
	down.Restart(t)
	if err := <-sentWhileDown; err != nil {
		t.Fatalf("publish across the restart: %v", err)
	}

	checkFor(t, 20*time.Second, "held and sent-while-down delivered after restart", func() bool {
		var held, sent bool
		for _, d := range got.snapshot() {
			held = held || d.MsgID == "held" && d.NumDelivered > 1
			sent = sent || d.MsgID == "sent-while-down"
		}
		return held && sent
	})
	checkFor(t, 10*time.Second, "stream empty", func() bool { return streamMsgs(t, admin, "35") == 0 })
	t.Logf("deliveries across the restart: %v", got.ids())
}

func TestConsumersShareDurable(t *testing.T) {
	_, admin := region(t, "35")
	url := admin.Conn().ConnectedUrl()
	n44 := mustConnect(t, url, "44")
	small := func(c *exchange.TransportConfig) { c.FetchBatch = 10 }
	a := mustConnect(t, url, "35", small)
	b := mustConnect(t, url, "35", small)

	var got sink
	for label, tr := range map[string]*exchange.Transport{"a": a, "b": b} {
		consume(t, tr, func(_ context.Context, d exchange.Delivery) error {
			got.add(label, d)
			return nil
		})
	}
	// Publish once both consumers have a pull request waiting, so that both take part.
	js, err := jetstream.New(admin.Conn())
	if err != nil {
		t.Fatal(err)
	}
	checkFor(t, 10*time.Second, "two waiting pull requests", func() bool {
		c, err := js.Consumer(context.Background(), exchange.StreamName("35"), exchange.ConsumerName("35"))
		if err != nil {
			return false
		}
		info, err := c.Info(context.Background())
		return err == nil && info.NumWaiting >= 2
	})

	const n = 500
	out := make([]exchange.Outgoing, n)
	for i := range out {
		out[i] = exchange.Outgoing{Dst: "35", Type: "cert.check", MsgID: fmt.Sprint("w", i), Body: []byte("x")}
	}
	if _, err := n44.PublishBatch(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 20*time.Second, "all messages processed", func() bool { return len(got.snapshot()) >= n })
	checkFor(t, 10*time.Second, "stream empty", func() bool { return streamMsgs(t, admin, "35") == 0 })

	seen := map[string]int{}
	for _, d := range got.snapshot() {
		seen[d.MsgID]++
		if d.NumDelivered != 1 {
			t.Errorf("%s delivered %d times", d.MsgID, d.NumDelivered)
		}
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("%s processed %d times", id, c)
		}
	}
	if len(seen) != n {
		t.Errorf("%d distinct messages, want %d", len(seen), n)
	}
	got.mu.Lock()
	split := fmt.Sprint(got.by)
	shared := got.by["a"] > 0 && got.by["b"] > 0
	got.mu.Unlock()
	if !shared {
		t.Errorf("one consumer did all the work: %s", split)
	}
	t.Logf("work split: %s", split)
}

func TestPublishErrors(t *testing.T) {
	_, admin := region(t, "35")
	n44 := mustConnect(t, admin.Conn().ConnectedUrl(), "44")
	tests := []struct {
		name           string
		dst, typ, id   string
		code, errField string
	}{
		{"empty destination", "", "verify.identity", "x", yipanqi.EINVALID, "dst"},
		{"wildcard destination", "*", "verify.identity", "x", yipanqi.EINVALID, "dst"},
		{"dotted destination", "3.5", "verify.identity", "x", yipanqi.EINVALID, "dst"},
		{"empty type", "35", "", "x", yipanqi.EINVALID, "type"},
		{"wildcard type", "35", "verify.>", "x", yipanqi.EINVALID, "type"},
		{"empty token in type", "35", "verify..identity", "x", yipanqi.EINVALID, "type"},
		{"no message id", "35", "verify.identity", "", yipanqi.EINVALID, "id"},
		{"no stream for destination", "99", "verify.identity", "x", yipanqi.ENOTFOUND, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := n44.Publish(ctx, tt.dst, tt.typ, tt.id, nil)
			if yipanqi.ErrorCode(err) != tt.code || yipanqi.ErrorField(err) != tt.errField {
				t.Fatalf("err = %v, want code %s field %q", err, tt.code, tt.errField)
			}
			t.Logf("%s", yipanqi.ErrorMessage(err))
		})
	}
}

func TestConsumeWithoutStream(t *testing.T) {
	s, _ := region(t, "35")
	n99 := mustConnect(t, s.ClientURL(), "99")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := n99.Consume(ctx, func(context.Context, exchange.Delivery) error { return nil })
	if yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
		t.Fatalf("consume without a stream: %v, want ENOTFOUND", err)
	}
}

func TestEnsureStreamsIdempotent(t *testing.T) {
	_, admin := region(t, "44", "35")
	ctx := context.Background()
	if err := admin.EnsureStreams(ctx, []string{"44", "35", "36"}, 1); err != nil {
		t.Fatalf("second EnsureStreams: %v", err)
	}
	for _, tt := range []struct {
		name     string
		nodes    []string
		replicas int
	}{
		{"bad node", []string{"4>4"}, 1},
		{"zero replicas", []string{"44"}, 0},
		{"too many replicas", []string{"44"}, 7},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := admin.EnsureStreams(ctx, tt.nodes, tt.replicas); yipanqi.ErrorCode(err) != yipanqi.EINVALID {
				t.Fatalf("err = %v, want EINVALID", err)
			}
		})
	}
	js, err := jetstream.New(admin.Conn())
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, "YPQ_36")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := info.Config
	if c.Retention != jetstream.WorkQueuePolicy || c.Storage != jetstream.FileStorage || c.Duplicates != exchange.DuplicateWindow ||
		c.MaxAge != 0 || c.MaxMsgs != -1 || c.MaxBytes != -1 || len(c.Subjects) != 1 || c.Subjects[0] != "ypq.36.>" {
		t.Errorf("stream config %+v", c)
	}
	cons, err := st.Consumer(ctx, "node-36")
	if err != nil {
		t.Fatal(err)
	}
	cc := cons.CachedInfo().Config
	if cc.AckPolicy != jetstream.AckExplicitPolicy || cc.MaxDeliver != -1 || cc.MaxAckPending != exchange.MaxAckPending ||
		cc.AckWait != exchange.DefaultAckWait || cc.Durable != "node-36" {
		t.Errorf("consumer config %+v", cc)
	}
}

func TestConnectUnreachable(t *testing.T) {
	url := fmt.Sprintf("nats://user:secret@127.0.0.1:%d", natstest.FreePort(t))
	_, err := exchange.Connect(context.Background(), exchange.TransportConfig{
		URL: url, Node: "44", ConnectWait: 300 * time.Millisecond, Logger: quietLogger,
	})
	msg := yipanqi.ErrorMessage(err)
	if yipanqi.ErrorCode(err) != yipanqi.EINTERNAL || !strings.Contains(msg, "无法连接 NATS 服务器 nats://127.0.0.1:") {
		t.Fatalf("err = %v, want EINTERNAL naming the URL", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("error shows the password: %v", err)
	}
	t.Logf("%s", msg)
}

func TestConnectConfig(t *testing.T) {
	for _, tt := range []struct {
		name  string
		cfg   exchange.TransportConfig
		field string
	}{
		{"no url", exchange.TransportConfig{Node: "44"}, "url"},
		{"no node", exchange.TransportConfig{URL: "nats://127.0.0.1:1"}, "node"},
		{"bad node", exchange.TransportConfig{URL: "nats://127.0.0.1:1", Node: "4.4"}, "node"},
		{"creds and password", exchange.TransportConfig{URL: "nats://127.0.0.1:1", Node: "44", CredsFile: "x.creds", User: "u"}, "creds"},
		{"cert without key", exchange.TransportConfig{URL: "nats://127.0.0.1:1", Node: "44", CertFile: "c.pem"}, "tls"},
		{"bad namespace", exchange.TransportConfig{URL: "nats://127.0.0.1:1", Node: "44", Namespace: "a.b"}, "namespace"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := exchange.Connect(context.Background(), tt.cfg)
			if yipanqi.ErrorCode(err) != yipanqi.EINVALID || yipanqi.ErrorField(err) != tt.field {
				t.Fatalf("err = %v, want EINVALID field %s", err, tt.field)
			}
		})
	}
}

func TestParseSubject(t *testing.T) {
	for _, tt := range []struct {
		subj, dst, src, typ string
		ok                  bool
	}{
		{"ypq.35.44.verify.identity", "35", "44", "verify.identity", true},
		{"ypq.35.44.cert.reissue.v2", "35", "44", "cert.reissue.v2", true},
		{"ypq.35.44.care", "35", "44", "care", true},
		{"ypq.35.44", "", "", "", false},
		{"ypq.35.44.", "", "", "", false},
		{"xyz.35.44.verify.identity", "", "", "", false},
		{"ypq..44.verify.identity", "", "", "", false},
	} {
		t.Run(tt.subj, func(t *testing.T) {
			dst, src, typ, err := exchange.ParseSubject(tt.subj)
			if (err == nil) != tt.ok || dst != tt.dst || src != tt.src || typ != tt.typ {
				t.Fatalf("= %q %q %q %v", dst, src, typ, err)
			}
			if tt.ok && exchange.Subject(dst, src, typ) != tt.subj {
				t.Fatalf("Subject does not round-trip")
			}
		})
	}
}

func TestDefaultRetryDelay(t *testing.T) {
	for _, tt := range []struct {
		n    uint64
		want time.Duration
	}{{0, time.Second}, {1, time.Second}, {2, 2 * time.Second}, {4, 8 * time.Second}, {7, time.Minute}, {1000, time.Minute}} {
		if got := exchange.DefaultRetryDelay(tt.n); got != tt.want {
			t.Errorf("DefaultRetryDelay(%d) = %v, want %v", tt.n, got, tt.want)
		}
	}
}

// TestNamespace: two regions on one server, one with a namespace and one without, publish
// under the same message id to the same node code; each consumer sees only its region's
// message, under the subject without the namespace.
func TestNamespace(t *testing.T) {
	s := natstest.RunServer(t)
	ns := func(c *exchange.TransportConfig) { c.Namespace = "t1" }
	plainAdmin := mustConnect(t, s.ClientURL(), "admin")
	nsAdmin := mustConnect(t, s.ClientURL(), "admin", ns)
	if err := plainAdmin.EnsureStreams(context.Background(), []string{"35"}, 1); err != nil {
		t.Fatal(err)
	}
	if err := nsAdmin.EnsureStreams(context.Background(), []string{"35"}, 1); err != nil {
		t.Fatal(err)
	}
	if got := nsAdmin.StreamName("35"); got != "t1_YPQ_35" {
		t.Errorf("namespaced stream name %q, want t1_YPQ_35", got)
	}
	if got := plainAdmin.StreamName("35"); got != exchange.StreamName("35") {
		t.Errorf("stream name without namespace %q, want %q", got, exchange.StreamName("35"))
	}
	mustPublish(t, mustConnect(t, s.ClientURL(), "44"), "35", "verify.identity", "same-id", "plain")
	mustPublish(t, mustConnect(t, s.ClientURL(), "44", ns), "35", "verify.identity", "same-id", "namespaced")
	if n := streamMsgs(t, plainAdmin, "35"); n != 1 {
		t.Errorf("YPQ_35 holds %d messages, want 1", n)
	}

	var plain, spaced sink
	consume(t, mustConnect(t, s.ClientURL(), "35"), func(_ context.Context, d exchange.Delivery) error {
		plain.add("plain", d)
		return nil
	})
	consume(t, mustConnect(t, s.ClientURL(), "35", ns), func(_ context.Context, d exchange.Delivery) error {
		spaced.add("t1", d)
		return nil
	})
	checkFor(t, 10*time.Second, "one delivery in each region", func() bool {
		return len(plain.snapshot()) == 1 && len(spaced.snapshot()) == 1
	})
	for _, c := range []struct {
		got  exchange.Delivery
		body string
	}{{plain.snapshot()[0], "plain"}, {spaced.snapshot()[0], "namespaced"}} {
		if string(c.got.Body) != c.body || c.got.Subject != "ypq.35.44.verify.identity" || c.got.Src != "44" || c.got.Dst != "35" {
			t.Errorf("delivery %q on %q (src %s dst %s), want %q on ypq.35.44.verify.identity", c.got.Body, c.got.Subject,
				c.got.Src, c.got.Dst, c.body)
		}
	}
	// A node of the namespace publishing to a node whose stream exists only outside it.
	_, err := mustConnect(t, s.ClientURL(), "35", ns).Publish(context.Background(), "44", "receipt", "x", []byte("x"))
	if yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND || !strings.Contains(yipanqi.ErrorMessage(err), "t1_YPQ_44") {
		t.Errorf("publish to a node without a stream in the namespace: %v, want ENOTFOUND naming t1_YPQ_44", err)
	}
}

func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("a three-server cluster takes a few seconds to form; skipped with -short")
	}
	servers := natstest.RunCluster(t, 3)
	url := natstest.ClientURLs(servers)
	admin := mustConnect(t, url, "admin")
	if err := admin.EnsureStreams(context.Background(), []string{"35"}, 3); err != nil {
		t.Fatalf("replicated streams: %v", err)
	}
	n44 := mustConnect(t, servers[0].ClientURL(), "44")
	n35 := mustConnect(t, servers[2].ClientURL(), "35")
	mustPublish(t, n44, "35", "verify.identity", "c1", "clustered")
	var got sink
	consume(t, n35, func(_ context.Context, d exchange.Delivery) error {
		got.add("35", d)
		return nil
	})
	checkFor(t, 15*time.Second, "delivery on the cluster", func() bool { return len(got.snapshot()) == 1 })
	if d := got.snapshot()[0]; d.MsgID != "c1" || string(d.Body) != "clustered" {
		t.Errorf("delivery %+v", d)
	}
}

// BenchmarkTransportRaw measures publish+consume throughput of 1 KiB messages on the
// embedded server: the raw baseline for the end-to-end exchange benchmark.
func BenchmarkTransportRaw(b *testing.B) {
	_, admin := region(b, "35")
	url := admin.Conn().ConnectedUrl()
	n44 := mustConnect(b, url, "44")
	n35 := mustConnect(b, url, "35")
	body := bytes.Repeat([]byte("x"), 1024)

	var mu sync.Mutex
	received := 0
	all := make(chan struct{})
	b.ResetTimer()
	start := time.Now()
	consume(b, n35, func(_ context.Context, d exchange.Delivery) error {
		mu.Lock()
		received++
		if received == b.N {
			close(all)
		}
		mu.Unlock()
		return nil
	})
	const chunk = 1000
	for lo := 0; lo < b.N; lo += chunk {
		out := make([]exchange.Outgoing, 0, chunk)
		for i := lo; i < min(lo+chunk, b.N); i++ {
			out = append(out, exchange.Outgoing{Dst: "35", Type: "verify.identity", MsgID: fmt.Sprint("b", i), Body: body})
		}
		res, err := n44.PublishBatch(context.Background(), out)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
	publishedIn := time.Since(start)
	select {
	case <-all:
	case <-time.After(time.Minute):
		b.Fatalf("received %d of %d", received, b.N)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(b.N)/publishedIn.Seconds(), "pub-msgs/s")
}
