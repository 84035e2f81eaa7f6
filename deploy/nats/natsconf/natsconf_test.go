package natsconf_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/bcrypt"

	"yipanqi"
	"yipanqi/deploy/nats/natsconf"
	"yipanqi/exchange"
)

const (
	sampleConf    = "../yipanqi.conf"
	demoPasswords = "../demo-passwords.txt"
)

func readDemoPasswords(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(demoPasswords)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pw, err := natsconf.ReadPasswords(f)
	if err != nil {
		t.Fatal(err)
	}
	return pw
}

var userHash = regexp.MustCompile(`user: "([^"]+)"[,\s]*password: "([^"]+)"`)

// TestSampleIsGenerated checks that deploy/nats/yipanqi.conf is exactly what the generator
// writes for the 11 nodes, with hashes of the demo passwords.
func TestSampleIsGenerated(t *testing.T) {
	sample, err := os.ReadFile(sampleConf)
	if err != nil {
		t.Fatal(err)
	}
	pw := readDemoPasswords(t)
	hashes := map[string]string{}
	for _, m := range userHash.FindAllStringSubmatch(string(sample), -1) {
		user, hash := m[1], m[2]
		if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw[user])); err != nil {
			t.Errorf("user %s: hash does not match the demo password: %v", user, err)
		}
		hashes[user] = hash
	}
	if len(hashes) != 12 {
		t.Fatalf("sample has %d users, want the region administrator and 11 nodes", len(hashes))
	}
	c := natsconf.Config{
		ServerName: natsconf.DefaultServerName,
		Listen:     natsconf.DefaultListen,
		StoreDir:   natsconf.DefaultStoreDir,
		AdminHash:  hashes[natsconf.AdminUser],
	}
	for _, code := range yipanqi.RegionCodes() {
		c.Nodes = append(c.Nodes, natsconf.Node{Code: code, Hash: hashes[natsconf.NodeUser(code)]})
	}
	var b bytes.Buffer
	if err := natsconf.Generate(&b, c); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), sample) {
		t.Errorf("%s differs from the generator's output; regenerate it:\n"+
			"go run ./deploy/nats/cmd/ypq-natsconf -passwords deploy/nats/demo-passwords.txt -out deploy/nats/yipanqi.conf", sampleConf)
	}
}

// TestSampleParses loads the sample with nats-server's own configuration parser and checks
// the permissions it ends up with.
func TestSampleParses(t *testing.T) {
	opts, err := server.ProcessConfigFile(sampleConf)
	if err != nil {
		t.Fatalf("nats-server rejects the sample: %v", err)
	}
	if !opts.JetStream {
		t.Error("JetStream is off")
	}
	users := map[string]*server.User{}
	for _, u := range opts.Users {
		users[u.Username] = u
		if u.Account == nil || u.Account.Name != "YPQ" {
			t.Errorf("user %s not in account YPQ", u.Username)
		}
	}
	if admin := users[natsconf.AdminUser]; admin == nil || admin.Permissions != nil {
		t.Errorf("region administrator missing or restricted: %+v", admin)
	}
	for _, code := range yipanqi.RegionCodes() {
		u := users[natsconf.NodeUser(code)]
		if u == nil || u.Permissions == nil || u.Permissions.Publish == nil || u.Permissions.Subscribe == nil {
			t.Errorf("node %s: user or permissions missing", code)
			continue
		}
		want := natsconf.NodePermissions(code)
		p := u.Permissions
		if !slices.Equal(p.Publish.Allow, want.Publish) || len(p.Publish.Deny) != 0 {
			t.Errorf("node %s publish allow %v, want %v", code, p.Publish.Allow, want.Publish)
		}
		if !slices.Equal(p.Subscribe.Allow, want.Subscribe) || len(p.Subscribe.Deny) != 0 {
			t.Errorf("node %s subscribe allow %v, want %v", code, p.Subscribe.Allow, want.Subscribe)
		}
	}
}

func TestGenerateRejects(t *testing.T) {
	hash, err := natsconf.HashPassword("a-good-password")
	if err != nil {
		t.Fatal(err)
	}
	good := func() natsconf.Config {
		return natsconf.Config{ServerName: "s", Listen: "127.0.0.1:4222", StoreDir: "/tmp/x", AdminHash: hash,
			Nodes: []natsconf.Node{{Code: "44", Hash: hash}}}
	}
	if err := natsconf.Generate(&bytes.Buffer{}, good()); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for _, tt := range []struct {
		name   string
		change func(*natsconf.Config)
	}{
		{"plain admin password", func(c *natsconf.Config) { c.AdminHash = "secret" }},
		{"plain node password", func(c *natsconf.Config) { c.Nodes[0].Hash = "ypq-demo-44" }},
		{"repeated node", func(c *natsconf.Config) { c.Nodes = append(c.Nodes, c.Nodes[0]) }},
		{"wildcard node", func(c *natsconf.Config) { c.Nodes[0].Code = "*" }},
		{"no store dir", func(c *natsconf.Config) { c.StoreDir = "" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := good()
			tt.change(&c)
			if err := natsconf.Generate(&bytes.Buffer{}, c); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if _, err := natsconf.HashPassword("short"); err == nil {
		t.Error("HashPassword accepted a 5-character password")
	}
}

func TestReadPasswords(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		want     map[string]string
		ok       bool
	}{
		{"lines and comments", "# c\n\nregion pw-1\n node44  pw-2 \n", map[string]string{"region": "pw-1", "node44": "pw-2"}, true},
		{"missing password", "region\n", nil, false},
		{"repeated user", "a x\na y\n", nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := natsconf.ReadPasswords(strings.NewReader(tt.in))
			if (err == nil) != tt.ok || fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("= %v, %v", got, err)
			}
		})
	}
}

// natsServerBinary finds the machine's nats-server.
func natsServerBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nats-server"); err == nil {
		return "/usr/sbin/nats-server"
	}
	t.Skip("no nats-server binary on PATH or at /usr/sbin/nats-server: the sample configuration cannot be tried on a real server here")
	return ""
}

// lockedBuffer collects a process's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startRealServer runs the machine's nats-server with the sample configuration on a free
// loopback port and a temporary store, and returns its URL. Flags move the listener; the
// store directory is substituted in a copy of the file, because nats-server refuses -sd
// when the file sets store_dir.
func startRealServer(t *testing.T) string {
	t.Helper()
	bin := natsServerBinary(t)
	sample, err := os.ReadFile(sampleConf)
	if err != nil {
		t.Fatal(err)
	}
	storeLine := fmt.Sprintf("store_dir: %q", natsconf.DefaultStoreDir)
	if n := strings.Count(string(sample), storeLine); n != 1 {
		t.Fatalf("sample has %d lines %s, want 1", n, storeLine)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "yipanqi.conf")
	text := strings.Replace(string(sample), storeLine, fmt.Sprintf("store_dir: %q", filepath.Join(dir, "store")), 1)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	var out lockedBuffer
	cmd := exec.Command(bin, "-c", conf, "-a", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Errorf("kill nats-server: %v", err)
		}
		<-exited
		if t.Failed() {
			t.Logf("nats-server output:\n%s", out.String())
		}
	})
	addr := "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("nats-server exited: %v\n%s", err, out.String())
		case <-tick.C:
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nats-server not listening on %s after 20s:\n%s", addr, out.String())
		}
	}
	version, _ := exec.Command(bin, "--version").Output()
	t.Logf("%s with %s on %s", strings.TrimSpace(string(version)), sampleConf, addr)
	return "nats://" + addr
}

func connectAs(t *testing.T, url, node, user, password string) *exchange.Transport {
	t.Helper()
	tr, err := exchange.Connect(context.Background(), exchange.TransportConfig{
		URL: url, Node: node, User: user, Password: password, ConnectWait: 5 * time.Second,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("connect %s as %s: %v", node, user, err)
	}
	t.Cleanup(tr.Close)
	return tr
}

// rawConn is a plain NATS connection with a user's credentials, for trying what the
// Transport never does; it collects the server's asynchronous errors.
type rawConn struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	errs chan error
}

func rawConnect(t *testing.T, url, user, password, inboxPrefix string) *rawConn {
	t.Helper()
	r := &rawConn{errs: make(chan error, 64)}
	nc, err := nats.Connect(url, nats.UserInfo(user, password), nats.CustomInboxPrefix(inboxPrefix),
		nats.PermissionErrOnSubscribe(true),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case r.errs <- err:
			default:
			}
		}))
	if err != nil {
		t.Fatalf("raw connect %s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	r.nc = nc
	if r.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	return r
}

// denied waits for the server's permission violation naming subject.
func (r *rawConn) denied(t *testing.T, subject string) error {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case err := <-r.errs:
			if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), `"`+subject+`"`) {
				return err
			}
		case <-timeout:
			t.Fatalf("no permission violation for %s", subject)
			return nil
		}
	}
}

// TestRealServerPermissions starts the machine's nats-server with the sample configuration
// and shows what a node may and may not do.
func TestRealServerPermissions(t *testing.T) {
	url := startRealServer(t)
	pw := readDemoPasswords(t)
	ctx := context.Background()

	admin := connectAs(t, url, "region", natsconf.AdminUser, pw[natsconf.AdminUser])
	if err := admin.EnsureStreams(ctx, yipanqi.RegionCodes(), 1); err != nil {
		t.Fatalf("region administrator creates the streams: %v", err)
	}
	adminJS, err := jetstream.New(admin.Conn())
	if err != nil {
		t.Fatal(err)
	}
	streamMsgs := func(node string) uint64 {
		st, err := adminJS.Stream(ctx, exchange.StreamName(node))
		if err != nil {
			t.Fatalf("stream %s: %v", node, err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Msgs
	}

	n44 := connectAs(t, url, "44", "node44", pw["node44"])
	n35 := connectAs(t, url, "35", "node35", pw["node35"])

	// node44 may publish as itself to node 35.
	if dup, err := n44.Publish(ctx, "35", "verify.identity", "real-1", []byte(`{"q":1}`)); err != nil || dup {
		t.Fatalf("node44 publishes to ypq.35.44.verify.identity: dup %v, %v", dup, err)
	}

	// node44 may not read node 35's stream, in any way, while the message waits there.
	r44 := rawConnect(t, url, "node44", pw["node44"], exchange.InboxPrefix("44"))
	t.Run("node44 cannot use node35's consumer", func(t *testing.T) {
		short, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if _, err := r44.js.Consumer(short, "YPQ_35", "node-35"); err == nil {
			t.Fatal("consumer info for YPQ_35 granted to node44")
		}
		t.Logf("consumer info: %v", r44.denied(t, "$JS.API.CONSUMER.INFO.YPQ_35.node-35"))

		msg, err := r44.nc.Request("$JS.API.CONSUMER.MSG.NEXT.YPQ_35.node-35", []byte(`{"batch":1,"expires":500000000}`), 2*time.Second)
		if err == nil {
			t.Fatalf("node44 obtained %q from node35's consumer", msg.Data)
		}
		t.Logf("fetch: %v", r44.denied(t, "$JS.API.CONSUMER.MSG.NEXT.YPQ_35.node-35"))

		// A Transport configured as node 35 with node44's credentials is refused too.
		spy := connectAs(t, url, "35", "node44", pw["node44"])
		ctx10, cancel10 := context.WithTimeout(ctx, 10*time.Second)
		defer cancel10()
		err = spy.Consume(ctx10, func(_ context.Context, d exchange.Delivery) error {
			t.Errorf("node44 obtained %s from node35's stream", d.MsgID)
			return errors.New("stolen")
		})
		if yipanqi.ErrorCode(err) != yipanqi.EFORBIDDEN {
			t.Fatalf("Transport consume of YPQ_35 as node44: %v, want EFORBIDDEN", err)
		}
		t.Logf("Transport: %s (%v)", yipanqi.ErrorMessage(err), err)
	})
	for _, subj := range []string{"ypq.35.>", "ypq.>", "_INBOX_35.>", "_INBOX.>", "$JS.ACK.YPQ_35.>"} {
		t.Run("node44 cannot subscribe to "+subj, func(t *testing.T) {
			sub, err := r44.nc.SubscribeSync(subj)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Unsubscribe()
			msg, err := sub.NextMsg(2 * time.Second)
			if !errors.Is(err, nats.ErrPermissionViolation) {
				t.Fatalf("subscribe %s: msg %v, err %v; want a permission violation", subj, msg, err)
			}
			t.Logf("subscribe: %v", err)
		})
	}

	// node35 gets the message, first delivery: nobody else had it.
	var mu sync.Mutex
	var got []exchange.Delivery
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- n35.Consume(cctx, func(_ context.Context, d exchange.Delivery) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, d)
			return nil
		})
	}()
	waitFor(t, "node35 receives real-1", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 1
	})
	stop()
	if err := <-done; err != nil {
		t.Fatalf("node35 consume: %v", err)
	}
	if d := got[0]; d.MsgID != "real-1" || d.Src != "44" || d.Type != "verify.identity" || d.NumDelivered != 1 {
		t.Errorf("node35 got %+v", d)
	}
	waitFor(t, "node35's ack removes the message", func() bool { return streamMsgs("35") == 0 })

	t.Run("node44 cannot publish as node43", func(t *testing.T) {
		short, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if _, err := r44.js.Publish(short, "ypq.35.43.verify.identity", []byte("forged")); err == nil {
			t.Fatal("stored")
		}
		t.Logf("raw publish: %v", r44.denied(t, "ypq.35.43.verify.identity"))

		// A Transport configured as node 43 with node44's credentials says so clearly.
		forged := connectAs(t, url, "43", "node44", pw["node44"])
		_, err := forged.Publish(ctx, "35", "verify.identity", "forged-1", []byte("forged"))
		if yipanqi.ErrorCode(err) != yipanqi.EFORBIDDEN {
			t.Fatalf("Transport publish as 43: %v, want EFORBIDDEN", err)
		}
		t.Logf("Transport: %s (%v)", yipanqi.ErrorMessage(err), err)
		if n := streamMsgs("35"); n != 0 {
			t.Errorf("YPQ_35 holds %d messages after the forgeries", n)
		}
	})

	t.Run("node44 cannot manage streams", func(t *testing.T) {
		short, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := r44.js.DeleteStream(short, "YPQ_35"); err == nil {
			t.Fatal("node44 deleted YPQ_35")
		}
		t.Logf("delete stream: %v", r44.denied(t, "$JS.API.STREAM.DELETE.YPQ_35"))
		if _, err := adminJS.Stream(ctx, "YPQ_35"); err != nil {
			t.Fatalf("YPQ_35 after node44's attempt: %v", err)
		}

		err := n44.EnsureStreams(ctx, []string{"44"}, 1)
		if yipanqi.ErrorCode(err) != yipanqi.EFORBIDDEN {
			t.Fatalf("EnsureStreams as node44: %v, want EFORBIDDEN", err)
		}
		t.Logf("EnsureStreams: %s (%v)", yipanqi.ErrorMessage(err), err)
	})

	t.Run("wrong password", func(t *testing.T) {
		_, err := exchange.Connect(ctx, exchange.TransportConfig{URL: url, Node: "44", User: "node44", Password: "ypq-demo-35"})
		if yipanqi.ErrorCode(err) != yipanqi.EUNAUTHORIZED {
			t.Fatalf("connect with node35's password as node44: %v, want EUNAUTHORIZED", err)
		}
		t.Logf("%s", yipanqi.ErrorMessage(err))
	})

	// node44's own permissions are enough to consume and acknowledge its stream.
	t.Run("node44 consumes its own stream", func(t *testing.T) {
		if _, err := n35.Publish(ctx, "44", "verify.identity", "reply-1", []byte(`{"a":"confirmed"}`)); err != nil {
			t.Fatalf("node35 publishes to 44: %v", err)
		}
		cctx, stop := context.WithCancel(ctx)
		defer stop()
		recv := make(chan exchange.Delivery, 1)
		done := make(chan error, 1)
		go func() {
			done <- n44.Consume(cctx, func(_ context.Context, d exchange.Delivery) error {
				select {
				case recv <- d:
				default:
				}
				return nil
			})
		}()
		select {
		case d := <-recv:
			if d.MsgID != "reply-1" || d.Src != "35" || d.Dst != "44" {
				t.Errorf("node44 got %+v", d)
			}
		case err := <-done:
			t.Fatalf("node44 consume ended: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatal("node44 received nothing")
		}
		waitFor(t, "node44's ack removes the message", func() bool { return streamMsgs("44") == 0 })
		stop()
		if err := <-done; err != nil {
			t.Fatalf("node44 consume: %v", err)
		}
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 10s: %s", what)
		}
		<-tick.C
	}
}
