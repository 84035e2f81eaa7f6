package exchange_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/exchange"
	"yipanqi/sqlstore/storetest"
)

// BenchmarkExchangeEndToEnd measures the exchange engine: b.N verify.identity cases created
// at node 44 (four senders), each committed in 43's inbox with its case, and its signed
// receipt committed back at 44. It reports cases/s, the p50/p99 latency from Send to the
// receipt committed at the sender, and the ratio to a raw publish+consume of b.N messages of
// the same size on the same server in the same run (raw-msgs/s).
//
//	YIPANQI_TEST_POSTGRES=… go test -run X -bench ExchangeEndToEnd -benchtime 5000x ./exchange/
func BenchmarkExchangeEndToEnd(b *testing.B) {
	dbs := map[string]func(testing.TB) string{
		"sqlite":   func(tb testing.TB) string { return storetest.SQLiteDSN(tb) },
		"postgres": func(tb testing.TB) string { return storetest.PostgresDSN(tb) },
	}
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			if name == "postgres" && os.Getenv(storetest.PostgresEnv) == "" {
				b.Skip("PostgreSQL run skipped: set " + storetest.PostgresEnv)
			}
			benchExchange(b, dbs[name])
		})
	}
}

func benchExchange(b *testing.B, newDSN func(testing.TB) string) {
	w := newWorld(b)
	var mu sync.Mutex
	receipts := map[string]time.Time{}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(receipts)
	}
	a := w.start(b, "44", newDSN(b), run{relay: true, consumer: true, tune: func(c *exchange.NodeConfig) {
		c.OnEvent = func(ev exchange.Event) {
			if ev.Kind != exchange.EventReceipt {
				return
			}
			mu.Lock()
			receipts[ev.CaseID] = time.Now()
			mu.Unlock()
		}
	}})
	w.start(b, "43", newDSN(b), both)

	// The size of one request envelope, for the raw baseline.
	probe := a.send(b, 0, "verify.identity", unit43)
	msgs, err := a.db.CaseMessages(context.Background(), a.scope(b), probe.ID)
	if err != nil || len(msgs) == 0 {
		b.Fatalf("probe message: %v", err)
	}
	size := len(msgs[0].Body)
	checkFor(b, 30*time.Second, "probe receipt", func() bool { return count() == 1 })
	raw := rawRate(b, w, size, b.N)

	starts := make(map[string]time.Time, b.N)
	var smu sync.Mutex
	b.ResetTimer()
	start := time.Now()
	const senders = 4
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := s; i < b.N; i += senders {
				c := &yipanqi.Case{Type: "verify.identity", OrgUnit: unit44a, PeerNode: "43", PeerUnit: unit43}
				t0 := time.Now()
				if err := a.node.Send(context.Background(), c, fieldsFor(i+1)); err != nil {
					b.Errorf("send: %v", err)
					return
				}
				smu.Lock()
				starts[c.ID] = t0
				smu.Unlock()
			}
		}()
	}
	wg.Wait()
	checkFor(b, 5*time.Minute, "every receipt at 44", func() bool { return count() == b.N+1 })
	elapsed := time.Since(start)
	b.StopTimer()
	lat := make([]time.Duration, 0, b.N)
	mu.Lock()
	for id, t0 := range starts {
		lat = append(lat, receipts[id].Sub(t0))
	}
	mu.Unlock()
	slices.Sort(lat)
	rate := float64(b.N) / elapsed.Seconds()
	b.ReportMetric(rate, "cases/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(raw, "raw-msgs/s")
	b.ReportMetric(rate/raw, "ratio")
	b.Logf("%d cases, envelope %d bytes: %.0f cases/s, p50 %v, p99 %v; raw %.0f msgs/s; ratio %.3f",
		b.N, size, rate, lat[len(lat)/2], lat[len(lat)*99/100], raw, rate/raw)
}

// rawRate publishes n messages of size bytes from one node to another over the same server
// (streams of their own) and returns how many per second arrived at a plain consumer.
func rawRate(b *testing.B, w *world, size, n int) float64 {
	if err := w.admin.EnsureStreams(context.Background(), []string{"99"}, 1); err != nil {
		b.Fatal(err)
	}
	pub := mustConnect(b, w.url, "98")
	sub := mustConnect(b, w.url, "99")
	body := make([]byte, size)
	for i := range body {
		body[i] = 'x'
	}
	var mu sync.Mutex
	got := 0
	all := make(chan struct{})
	start := time.Now()
	stop := consume(b, sub, func(context.Context, exchange.Delivery) error {
		mu.Lock()
		defer mu.Unlock()
		got++
		if got == n {
			close(all)
		}
		return nil
	})
	defer stop()
	const chunk = 1000
	for lo := 0; lo < n; lo += chunk {
		out := make([]exchange.Outgoing, 0, chunk)
		for i := lo; i < min(lo+chunk, n); i++ {
			out = append(out, exchange.Outgoing{Dst: "99", Type: "verify.identity", MsgID: fmt.Sprint("raw", i), Body: body})
		}
		mustPublishAll(b, pub, out)
	}
	select {
	case <-all:
	case <-time.After(time.Minute):
		b.Fatalf("raw: received %d of %d", got, n)
	}
	return float64(n) / time.Since(start).Seconds()
}
