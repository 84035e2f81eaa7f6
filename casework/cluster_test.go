package casework_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"yipanqi"
	"yipanqi/casework"
	"yipanqi/exchange"
	"yipanqi/exchange/natstest"
	"yipanqi/sqlstore/storetest"
)

// TestExchangeClusterServerDown runs nodes 44 and 43 on a three-server JetStream cluster,
// their streams and consumers with 3 replicas and every client given all three URLs, sends
// cases both ways, stops one server mid-traffic for good, keeps sending, and checks that
// every case arrived exactly once. Three variants: the server 44's connection is on (its
// clients must fail over to another server); the leader of 43's stream (the stream and its
// consumer elect a new leader while messages are being published to it and read from it); a
// server that leads neither stream (the streams keep their leaders and lose one replica).
func TestExchangeClusterServerDown(t *testing.T) {
	if testing.Short() {
		t.Skip("a three-server cluster takes a few seconds to form; skipped with -short")
	}
	for _, victim := range []string{"connected", "leader", "non-leader"} {
		t.Run(victim, func(t *testing.T) {
			servers := natstest.RunCluster(t, 3)
			w := clusterWorld(t, servers)
			a := w.start(t, "44", storetest.SQLiteDSN(t), both)
			b := w.start(t, "43", storetest.SQLiteDSN(t), both)

			var to43, to44 []*yipanqi.Case
			round := func() {
				for range 5 {
					to43 = append(to43, a.send(t, len(to43), "verify.identity", unit43))
					to44 = append(to44, sendTo44(t, b, len(to44)))
				}
			}
			// Traffic until 43 has taken in some of it; then a burst that commits at once, so
			// that the server goes while the relays publish it and the consumers read it.
			deadline := time.Now().Add(30 * time.Second)
			for b.countCases(t, yipanqi.Incoming, "") < 30 {
				if time.Now().After(deadline) {
					t.Fatal("43 received fewer than 30 cases in 30 s")
				}
				round()
			}
			to43 = append(to43, burst(t, a, len(to43), 40, "43", unit44a, unit43)...)
			to44 = append(to44, burst(t, b, len(to44), 40, "44", unit43, unit44b)...)
			s := pickVictim(t, servers, victim, a, b)
			natstest.StopServer(t, s)
			t.Logf("stopped %s (%s) after %d cases each way, 43 holding %d of them", s.Name(), victim, len(to43),
				b.countCases(t, yipanqi.Incoming, ""))
			for len(to43) < 150 {
				round()
			}
			waitReceipts(t, a, len(to43), 60*time.Second)
			waitReceipts(t, b, len(to44), 60*time.Second)
			checkExactlyOnce(t, a, b, to43)
			checkExactlyOnce(t, b, a, to44)
			t.Logf("exactly once: %d cases 44 → 43 and %d cases 43 → 44 with one server of three down", len(to43), len(to44))
		})
	}
}

// clusterWorld is newWorld on a cluster: an admin connection to all servers creates the
// streams of 44 and 43 with 3 replicas, and the nodes connect with all three URLs.
func clusterWorld(tb testing.TB, servers []*server.Server) *world {
	tb.Helper()
	w := newKeys(tb)
	w.url = natstest.ClientURLs(servers)
	w.admin = mustConnect(tb, w.url, "admin")
	if err := w.admin.EnsureStreams(context.Background(), []string{"44", "43"}, 3); err != nil {
		tb.Fatalf("replicated streams: %v", err)
	}
	return w
}

// newKeys is a world without a server yet: the keys of 44 and 43 and their trust list.
func newKeys(tb testing.TB) *world {
	tb.Helper()
	w := &world{keys: map[string]*exchange.PrivateKey{}, clock: &testClock{}}
	now := time.Now()
	var nodes []exchange.TrustedNode
	for _, code := range []string{"44", "43"} {
		k := MustKey(tb, code)
		w.keys[code] = k
		nodes = append(nodes, exchange.TrustedNode{Code: code, Name: "节点" + code,
			Keys: []exchange.TrustedKey{MustTrustKey(tb, k, now.Add(-30*day), now.Add(365*day))}})
	}
	tl, err := exchange.NewTrustList(1, now.Add(-day), now.Add(30*day), nodes)
	if err != nil {
		tb.Fatal(err)
	}
	w.trust = tl
	return w
}

// sendTo44 sends a verify.identity case numbered i from 43's unit to 44's second unit.
func sendTo44(tb testing.TB, b *peer, i int) *yipanqi.Case {
	tb.Helper()
	c := &yipanqi.Case{Type: "verify.identity", OrgUnit: unit43, PeerNode: "44", PeerUnit: unit44b}
	if err := b.node.Send(context.Background(), c, fieldsFrom43(i)); err != nil {
		tb.Fatalf("send %d from 43: %v", i, err)
	}
	return c
}

// burst sends n cases from p to node dst in one SendMany, numbered from first.
func burst(tb testing.TB, p *peer, first, n int, dst, from, to string) []*yipanqi.Case {
	tb.Helper()
	batch := make([]casework.NewCase, n)
	out := make([]*yipanqi.Case, n)
	for i := range batch {
		out[i] = &yipanqi.Case{Type: "verify.identity", OrgUnit: from, PeerNode: dst, PeerUnit: to}
		batch[i] = casework.NewCase{Case: out[i], Fields: fieldsFor(first + i)}
		if p.code == "43" {
			batch[i].Fields = fieldsFrom43(first + i)
		}
	}
	if err := p.node.SendMany(context.Background(), batch); err != nil {
		tb.Fatalf("burst from %s: %v", p.code, err)
	}
	return out
}

// pickVictim returns the server to stop: "connected", the one 44's transport is connected
// to; "leader", the leader of 43's stream; "non-leader", one that leads neither node's
// stream, preferring one no client is on.
func pickVictim(t *testing.T, servers []*server.Server, how string, peers ...*peer) *server.Server {
	t.Helper()
	onIt := func(s *server.Server) (n int) {
		for _, p := range peers {
			if p.tr.Conn().ConnectedServerName() == s.Name() {
				n++
			}
		}
		return n
	}
	leads := func(s *server.Server) bool {
		for _, code := range []string{"44", "43"} {
			if s.JetStreamIsStreamLeader(globalAccount, exchange.StreamName(code)) {
				return true
			}
		}
		return false
	}
	var pick *server.Server
	for _, s := range servers {
		switch how {
		case "connected":
			if peers[0].tr.Conn().ConnectedServerName() == s.Name() {
				pick = s
			}
		case "leader":
			if s.JetStreamIsStreamLeader(globalAccount, exchange.StreamName("43")) {
				pick = s
			}
		case "non-leader":
			if !leads(s) && (pick == nil || onIt(s) < onIt(pick)) {
				pick = s
			}
		}
	}
	if pick == nil {
		t.Fatalf("no server to stop as %q", how)
	}
	t.Logf("victim %s: leads a node's stream %v, meta leader %v, clients of the nodes on it %d",
		pick.Name(), leads(pick), pick.JetStreamIsLeader(), onIt(pick))
	return pick
}

// globalAccount is the account of clients of a server without accounts configured.
const globalAccount = server.DEFAULT_GLOBAL_ACCOUNT
