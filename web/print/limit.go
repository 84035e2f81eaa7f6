package print

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// Limiter is a token bucket per client: each client may make Burst requests at once and one
// more every Every after that. It remembers at most MaxClients clients; when full it first
// forgets those whose bucket has refilled (they are as if new), then the oldest-touched one.
type Limiter struct {
	burst      float64
	every      time.Duration
	maxClients int
	now        func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was computed
}

// Default limits of the public verification page: 20 at once, one more every 3 s.
const (
	DefaultVerifyBurst = 20
	DefaultVerifyEvery = 3 * time.Second
	defaultMaxClients  = 10000
)

// NewLimiter returns a limiter of burst requests at once and one more every every, on the
// clock now (nil: time.Now).
func NewLimiter(burst int, every time.Duration, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{burst: float64(burst), every: every, maxClients: defaultMaxClients, now: now, buckets: map[string]*bucket{}}
}

// Allow takes a token for client. When there is none it returns false and how long until the
// next one.
func (l *Limiter) Allow(client string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[client]
	if !ok {
		l.makeRoom(now)
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[client] = b
	}
	b.refill(now, l)
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) * float64(l.every))
	}
	b.tokens--
	return true, 0
}

func (b *bucket) refill(now time.Time, l *Limiter) {
	if d := now.Sub(b.at); d > 0 {
		b.tokens += float64(d) / float64(l.every)
		if b.tokens > l.burst {
			b.tokens = l.burst
		}
		b.at = now
	}
}

// makeRoom drops remembered clients when the limiter is full.
func (l *Limiter) makeRoom(now time.Time) {
	if len(l.buckets) < l.maxClients {
		return
	}
	var oldest string
	var oldestAt time.Time
	for k, b := range l.buckets {
		b.refill(now, l)
		if b.tokens >= l.burst {
			delete(l.buckets, k)
		} else if oldest == "" || b.at.Before(oldestAt) {
			oldest, oldestAt = k, b.at
		}
	}
	if len(l.buckets) >= l.maxClients {
		delete(l.buckets, oldest)
	}
}

// ClientAddr is the address a request is limited by: the IP of the TCP peer (headers such as
// X-Forwarded-For are not trusted).
func ClientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
