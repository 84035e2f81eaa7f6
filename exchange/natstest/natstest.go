// Package natstest runs NATS servers with JetStream inside the test process: one server
// (RunServer), the same server stopped and started again on its port and store
// (RestartServer), and a three-server JetStream cluster on loopback (RunCluster).
//
// Every server listens on a free loopback port, keeps its store under t.TempDir() and is shut
// down by t.Cleanup.
package natstest

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// readyTimeout bounds how long a test waits for a server to accept clients or for a cluster
// to elect its JetStream leader.
const readyTimeout = 20 * time.Second

// RunServer starts a standalone nats-server with JetStream on a free loopback port, its
// store in a fresh t.TempDir(), and shuts it down when the test ends. Clients connect to
// s.ClientURL().
func RunServer(t testing.TB) *server.Server {
	t.Helper()
	opts := baseOptions(t.TempDir())
	opts.Port = -1
	return start(t, opts)
}

// RestartServer shuts s down and starts a new server with the same port and JetStream store
// directory, as a fault test needs: what was stored before the stop must be there after it.
// The old server's clients reconnect to the new one by themselves.
func RestartServer(t testing.TB, s *server.Server) *server.Server {
	t.Helper()
	return StopServer(t, s).Restart(t)
}

// Stopped is a server that StopServer shut down, remembered so that it can be started again.
type Stopped struct {
	Port     int
	StoreDir string
}

// StopServer shuts s down, waits until it has stopped, and returns what Restart needs to start
// it again — for a test that does something while the server is down.
func StopServer(t testing.TB, s *server.Server) Stopped {
	t.Helper()
	addr, ok := s.Addr().(*net.TCPAddr)
	if !ok {
		t.Fatalf("natstest: server is not listening (stopped already?)")
	}
	storeDir := s.StoreDir()
	// The server reports the directory it made below the one it was given.
	if filepath.Base(storeDir) == "jetstream" {
		storeDir = filepath.Dir(storeDir)
	}
	shutdown(s)
	return Stopped{Port: addr.Port, StoreDir: storeDir}
}

// Restart starts a server on the stopped one's port and store directory and shuts it down
// when the test ends.
func (st Stopped) Restart(t testing.TB) *server.Server {
	t.Helper()
	opts := baseOptions(st.StoreDir)
	opts.Port = st.Port
	return start(t, opts)
}

func shutdown(s *server.Server) {
	s.Shutdown()
	s.WaitForShutdown()
}

// RunCluster starts n servers (n ≥ 3 for replicated streams) forming one JetStream cluster
// on loopback ports, waits until the cluster has a JetStream meta leader, and shuts every
// server down when the test ends. A client may connect to any of them; ClientURLs lists them
// all, comma-separated, as nats.Connect accepts.
func RunCluster(t testing.TB, n int) []*server.Server {
	t.Helper()
	if n < 1 {
		t.Fatalf("natstest: cluster of %d servers", n)
	}
	ports := make([]int, n)
	for i := range ports {
		ports[i] = FreePort(t)
	}
	routes := make([]string, n)
	for i, p := range ports {
		routes[i] = "nats-route://127.0.0.1:" + strconv.Itoa(p)
	}
	servers := make([]*server.Server, n)
	for i := range servers {
		opts := baseOptions(t.TempDir())
		opts.Port = -1
		opts.ServerName = fmt.Sprintf("ypq-test-%d", i+1)
		opts.Cluster.Name = "ypq-test"
		opts.Cluster.Host = "127.0.0.1"
		opts.Cluster.Port = ports[i]
		opts.Routes = server.RoutesFromStr(strings.Join(routes, ","))
		servers[i] = start(t, opts)
	}
	deadline := time.Now().Add(readyTimeout)
	for {
		// Ready means: one meta leader, every server current, and the leader seeing every
		// peer online with its stats — the test for stream placement, without which creating
		// an R3 stream right away fails with "no suitable peers for placement".
		leaders, current, online := 0, 0, 0
		for _, s := range servers {
			if s.JetStreamIsLeader() {
				leaders++
				online = len(s.JetStreamClusterPeers())
			}
			if s.JetStreamIsCurrent() {
				current++
			}
		}
		if leaders == 1 && current == n && online == n {
			return servers
		}
		if time.Now().After(deadline) {
			t.Fatalf("natstest: cluster of %d has no JetStream leader after %v", n, readyTimeout)
		}
		// Polling interval, not a wait for an event we could observe otherwise.
		<-time.After(20 * time.Millisecond)
	}
}

// ClientURLs returns the client URLs of servers, comma-separated.
func ClientURLs(servers []*server.Server) string {
	urls := make([]string, len(servers))
	for i, s := range servers {
		urls[i] = s.ClientURL()
	}
	return strings.Join(urls, ",")
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago. Another process may
// take it before the caller binds it; the window is small enough for tests.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("natstest: find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func baseOptions(storeDir string) *server.Options {
	return &server.Options{
		Host:      "127.0.0.1",
		JetStream: true,
		StoreDir:  storeDir,
		NoLog:     true,
		NoSigs:    true,
		// Keep the server's memory and disk reservation small: the machine is shared.
		JetStreamMaxMemory: 64 << 20,
		JetStreamMaxStore:  1 << 30,
	}
}

func start(t testing.TB, opts *server.Options) *server.Server {
	t.Helper()
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("natstest: new server: %v", err)
	}
	go s.Start()
	t.Cleanup(func() { shutdown(s) })
	if !s.ReadyForConnections(readyTimeout) {
		t.Fatalf("natstest: server on port %d not ready after %v", opts.Port, readyTimeout)
	}
	return s
}
