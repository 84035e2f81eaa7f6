package web

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric descriptions. Labels are node codes, case types, directions and states: never
// anything about a person.
var (
	descUp = prometheus.NewDesc("yipanqi_up",
		"1 when the part named by the label (store, nats) is reachable.", []string{"node", "part"}, nil)
	descOutbox = prometheus.NewDesc("yipanqi_outbox_depth",
		"Messages in the outbox not yet published.", []string{"node"}, nil)
	descOldest = prometheus.NewDesc("yipanqi_outbox_oldest_unsent_seconds",
		"Age of the oldest unpublished outbox message, 0 when there is none.", []string{"node"}, nil)
	descInbox = prometheus.NewDesc("yipanqi_inbox_lag_messages",
		"Messages waiting on the node's JetStream consumer: pending plus delivered and not acknowledged.", []string{"node"}, nil)
	descDead = prometheus.NewDesc("yipanqi_dead_letters",
		"Dead letters kept (received messages that could not be processed).", []string{"node"}, nil)
	descCases = prometheus.NewDesc("yipanqi_cases",
		"Cases held, by type, direction (in, out) and state.", []string{"node", "type", "direction", "state"}, nil)
)

// collector exports a node's Status as Prometheus gauges at each scrape.
type collector struct{ n *Node }

// NewCollector returns a Prometheus collector of the node's figures; register it on a
// registry of the node's own.
func NewCollector(n *Node) prometheus.Collector { return collector{n} }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descOutbox, descOldest, descInbox, descDead, descCases} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s := c.n.Status(ctx)
	g := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	up := func(err error) float64 {
		if err != nil {
			return 0
		}
		return 1
	}
	g(descUp, up(s.StoreErr), s.Code, "store")
	g(descUp, up(s.NATSErr), s.Code, "nats")
	if s.StoreErr == nil {
		g(descOutbox, float64(s.Exchange.OutboxDepth), s.Code)
		g(descOldest, s.Exchange.OldestUnsentAge.Seconds(), s.Code)
		g(descDead, float64(s.Exchange.DeadLetters), s.Code)
		for _, cc := range s.Cases {
			g(descCases, float64(cc.N), s.Code, cc.Type, string(cc.Direction), string(cc.State))
		}
	}
	if s.InboxLag >= 0 {
		g(descInbox, float64(s.InboxLag), s.Code)
	}
}
