package web

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"yipanqi"
	"yipanqi/exchange"
)

// natsTimeout bounds one question to the NATS server from the page or a scrape.
const natsTimeout = 2 * time.Second

// NATSProbes returns the Node.NATS and Node.InboxLag functions for a node's transport: the
// connection's state, and the messages waiting on the node's durable consumer — not yet
// delivered (NumPending) plus delivered and not yet acknowledged (NumAckPending), from
// JetStream's consumer info, which a node's credentials allow it to ask for.
func NATSProbes(tr *exchange.Transport) (health func(context.Context) error, lag func(context.Context) (int64, error), err error) {
	js, err := jetstream.New(tr.Conn())
	if err != nil {
		return nil, nil, fmt.Errorf("web: jetstream: %w", err)
	}
	node := tr.Node()
	health = func(context.Context) error {
		if nc := tr.Conn(); !nc.IsConnected() {
			return yipanqi.Errorf(yipanqi.EINTERNAL, "与 NATS 服务器的连接状态为 %s", nc.Status())
		}
		return nil
	}
	lag = func(ctx context.Context) (int64, error) {
		ctx, cancel := context.WithTimeout(ctx, natsTimeout)
		defer cancel()
		c, err := js.Consumer(ctx, tr.StreamName(node), exchange.ConsumerName(node))
		if err != nil {
			return 0, yipanqi.Errorf(yipanqi.EINTERNAL, "无法读取收件消费者 %s 的状态：%v", exchange.ConsumerName(node), err)
		}
		info := c.CachedInfo()
		return int64(info.NumPending) + int64(info.NumAckPending), nil
	}
	return health, lag, nil
}
