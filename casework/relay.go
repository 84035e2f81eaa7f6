package casework

import (
	"context"
	"fmt"
	"time"

	"yipanqi/exchange"
)

// RelayStats counts what this node's relay did since it started.
type RelayStats struct {
	Published  int64 // stored by the destination stream for the first time
	Duplicates int64 // the stream already had the id (a re-publish after a crash or a lost ack)
	Failed     int64 // publishes that failed and were scheduled again
}

// RelayStats returns the relay's counters.
func (n *Node) RelayStats() RelayStats {
	return RelayStats{Published: n.published.Load(), Duplicates: n.duplicates.Load(), Failed: n.failed.Load()}
}

// RunRelay publishes the outbox until ctx ends, and returns nil then. Each round claims up to
// RelayBatch due rows (leased for Lease), publishes them with one PublishBatch (one round
// trip per MaxPending messages, not per message), and schedules each failed one again after
// Backoff. The stored ones are marked sent in the transaction that claims the next round
// when there is one at once (a full batch, or a wake-up already waiting), so that a busy
// relay commits once per round, not twice; otherwise they are marked at once, and the relay
// waits until Send, Reply or the consumer enqueues something in this process, or RelayPoll
// passes (for rows of other replicas and retries). Rows published but not yet marked stay
// claimed, as they would if the relay died between publish and mark: after the lease another
// relay publishes them again and JetStream's duplicate window or the receiver's inbox absorbs
// the copy. Store errors are logged and retried after RelayPoll: the rows stay in the outbox.
func (n *Node) RunRelay(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	var pending []int64 // published, not yet marked sent
	var pendingAt time.Time
	defer func() {
		if len(pending) == 0 {
			return
		}
		// Stopping: mark what was published, if the store lets us in a moment.
		mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := n.db.MarkSent(mctx, pending, pendingAt); err != nil {
			n.log.Warn("outbox relay: mark sent", "rows", len(pending), "err", err)
		}
	}()
	for {
		k, sent, err := n.relayRound(ctx, pending, pendingAt)
		if err == nil {
			pending, pendingAt = sent, n.now()
		}
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			n.log.Warn("outbox relay", "err", err)
		}
		if err == nil && k == n.cfg.RelayBatch {
			continue
		}
		if len(pending) > 0 {
			select {
			case <-n.wake:
				continue // more to publish: its claim marks these
			default:
			}
			if err := n.db.MarkSent(ctx, pending, pendingAt); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				// Published but not marked: kept, marked with the next claim.
				n.log.Warn("outbox relay", "err", fmt.Errorf("outbox relay: mark %d sent: %w", len(pending), err))
			} else {
				pending = nil
			}
		}
		timer.Reset(n.cfg.RelayPoll)
		select {
		case <-ctx.Done():
			return nil
		case <-n.wake:
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// RelayOnce runs one round of the relay, marks what it published, and returns how many rows
// it claimed.
func (n *Node) RelayOnce(ctx context.Context) (int, error) {
	k, sent, err := n.relayRound(ctx, nil, time.Time{})
	if err != nil {
		return 0, err
	}
	if err := n.db.MarkSent(ctx, sent, n.now()); err != nil {
		// Published but not marked: the rows come back after the lease and are published
		// again, which JetStream's duplicate window or the receiver's inbox absorbs.
		return k, fmt.Errorf("outbox relay: mark %d sent: %w", len(sent), err)
	}
	return k, nil
}

// relayRound marks the rows of mark sent at markAt, claims due rows in the same transaction,
// publishes them, and returns how many it claimed and the ids of those the stream stored,
// for the caller to mark sent. On an error nothing was marked.
func (n *Node) relayRound(ctx context.Context, mark []int64, markAt time.Time) (int, []int64, error) {
	items, err := n.db.MarkSentAndClaim(ctx, mark, markAt, n.cfg.RelayBatch, n.now(), n.cfg.Lease)
	if err != nil || len(items) == 0 {
		return 0, nil, err
	}
	out := make([]exchange.Outgoing, 0, len(items))
	idx := make([]int, 0, len(items)) // out[i] is items[idx[i]]
	var sent []int64
	for i, it := range items {
		dst, _, typ, err := exchange.ParseSubject(it.Subject)
		if err != nil {
			// Cannot happen for rows the engine wrote; keep the row and say so.
			n.fail(ctx, it.ID, it.Attempts, err)
			continue
		}
		out = append(out, exchange.Outgoing{Dst: dst, Type: typ, MsgID: it.MessageID, Body: it.Body})
		idx = append(idx, i)
	}
	res, perr := n.tr.PublishBatch(ctx, out)
	if perr != nil && ctx.Err() != nil {
		// Stopping: what was not confirmed stays claimed until the lease ends, then another
		// relay publishes it again; JetStream or the receiver's inbox absorbs a double.
		return len(items), nil, nil
	}
	for i, r := range res {
		it := items[idx[i]]
		switch {
		case r.Err != nil:
			n.fail(ctx, it.ID, it.Attempts, r.Err)
		case r.Dup:
			n.duplicates.Add(1)
			sent = append(sent, it.ID)
		default:
			n.published.Add(1)
			sent = append(sent, it.ID)
		}
	}
	return len(items), sent, nil
}

func (n *Node) fail(ctx context.Context, id int64, attempts int, cause error) {
	n.failed.Add(1)
	next := n.now().Add(n.cfg.Backoff(attempts + 1))
	if err := n.db.MarkFailed(ctx, id, cause.Error(), next); err != nil {
		n.log.Warn("outbox relay: mark failed", "outbox_id", id, "err", err)
	}
}
