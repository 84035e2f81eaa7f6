package exchange

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"yipanqi"
)

// ConsumeBatch is Consume for handlers that commit several messages at once: it reads the
// node's stream through its durable consumer until ctx ends and calls handle with the
// messages that have arrived — at least one, at most limit (default FetchBatch) — without
// waiting for more: at a low rate a batch holds one message and adds no delay, under load it
// holds what came in while the previous batch was being handled. handle returns one error
// per delivery, in order: nil acknowledges the message, an error delivers it again after
// RetryDelay. Acknowledgements are sent only after handle returns, that is after the batch's
// transaction committed. Errors and the duty of idempotence are as for Consume; several
// ConsumeBatch and Consume calls share the work of one consumer.
func (t *Transport) ConsumeBatch(ctx context.Context, limit int, handle func(ctx context.Context, ds []Delivery) []error) error {
	if limit <= 0 {
		limit = t.cfg.FetchBatch
	}
	cons, err := t.durable(ctx)
	if err != nil || cons == nil {
		return err
	}
	name := ConsumerName(t.node)
	it, err := cons.Messages(jetstream.PullMaxMessages(t.cfg.FetchBatch))
	if err != nil {
		return fmt.Errorf("exchange: consume %s: %w", name, err)
	}

	// A reader moves messages from the iterator, which only blocks, to a channel the batch
	// loop can drain without waiting.
	rctx, stopReader := context.WithCancel(ctx)
	msgs := make(chan jetstream.Msg, limit)
	fatal := make(chan error, 1)
	var reader sync.WaitGroup
	reader.Add(1)
	go func() {
		defer reader.Done()
		for {
			msg, err := it.Next(jetstream.NextContext(rctx))
			if err != nil {
				if rctx.Err() != nil {
					return
				}
				if errors.Is(err, jetstream.ErrMsgIteratorClosed) || errors.Is(err, jetstream.ErrConsumerDeleted) {
					fatal <- fmt.Errorf("exchange: consume %s: %w", name, err)
					return
				}
				t.log.Warn("nats consume", "consumer", name, "err", err)
				continue
			}
			select {
			case msgs <- msg:
			case <-rctx.Done():
				_ = msg.Nak()
				return
			}
		}
	}()
	defer func() {
		stopReader()
		reader.Wait()
		// Hand back what was fetched but not handled, so that it is redelivered now rather
		// than after the ack wait.
		for {
			select {
			case msg := <-msgs:
				_ = msg.Nak()
			default:
				t.release(it)
				return
			}
		}
	}()

	batch := make([]jetstream.Msg, 0, limit)
	ds := make([]Delivery, 0, limit)
	for {
		batch, ds = batch[:0], ds[:0]
		select {
		case <-ctx.Done():
			return nil
		case err := <-fatal:
			return err
		case msg := <-msgs:
			batch = append(batch, msg)
		}
	more:
		for len(batch) < limit {
			select {
			case msg := <-msgs:
				batch = append(batch, msg)
			default:
				break more
			}
		}
		for _, msg := range batch {
			ds = append(ds, t.delivery(msg))
		}
		errs := handle(ctx, ds)
		for i, msg := range batch {
			var herr error
			if i < len(errs) {
				herr = errs[i]
			} else {
				herr = errors.New("exchange: handler returned no result for the message")
			}
			var err error
			switch {
			case herr == nil:
				err = msg.Ack()
			case ctx.Err() != nil:
				// Shutting down: let another consumer have it at once.
				err = msg.Nak()
			default:
				err = msg.NakWithDelay(t.cfg.RetryDelay(ds[i].NumDelivered))
			}
			if err != nil {
				// The message comes back after the ack wait; the handler's idempotence absorbs it.
				t.log.Warn("nats ack", "subject", ds[i].Subject, "msg_id", ds[i].MsgID, "err", err)
			}
		}
	}
}

// durable looks up the node's durable consumer, waiting while the server is unreachable. It
// returns nil, nil when ctx ends first; ENOTFOUND or EFORBIDDEN as Consume does.
func (t *Transport) durable(ctx context.Context) (jetstream.Consumer, error) {
	stream, name := t.StreamName(t.node), ConsumerName(t.node)
	wait := 100 * time.Millisecond
	for {
		mark := t.denied.mark()
		infoSubject := "$JS.API.CONSUMER.INFO." + stream + "." + name
		actx, cancel := t.untilDenied(ctx, infoSubject, mark)
		c, err := t.js.Consumer(actx, stream, name)
		cancel()
		if err == nil {
			return c, nil
		}
		if ctx.Err() != nil {
			return nil, nil
		}
		err = t.apiErr("consumer "+name, "读取收件流 "+stream+"（消费者 "+name+"）", infoSubject, mark, err)
		switch yipanqi.ErrorCode(err) {
		case yipanqi.ENOTFOUND, yipanqi.EFORBIDDEN:
			return nil, err
		}
		// The server may be restarting or JetStream not yet ready; wait for it.
		t.log.Warn("nats consumer not reachable, retrying", "consumer", name, "err", err)
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}
