// Package web serves a node over HTTP: the signed-in web application (New: 工作台, cases,
// people, statistics, directory, …) with its JSON API and printable documents, and the
// operator's view (Handler): /healthz, /metrics (Prometheus text) and a plain Chinese status
// page with the node's case counts, exchange figures and dead-letter count. The status page is
// public: it shows counts, codes and times only — no dead-letter reason, message or subject
// (those are on the signed-in administrator's page, 系统管理 › 死信).
package web

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"yipanqi"
)

// Store is what the status page reads from a node's store; *sqlstore.DB has it.
type Store interface {
	// ListCases returns a page of cases in scope and how many match the filter.
	ListCases(ctx context.Context, scope yipanqi.Scope, f yipanqi.CaseFilter) ([]*yipanqi.Case, int, error)
	// ExchangeStats returns the outbox depth, the oldest unsent age and the dead letters' count.
	ExchangeStats(ctx context.Context, now time.Time) (yipanqi.ExchangeStats, error)
}

// CaseStates lists the states the page and the metrics count, in lifecycle order.
var CaseStates = []yipanqi.CaseState{
	yipanqi.CaseDrafted, yipanqi.CaseSent, yipanqi.CaseDelivered, yipanqi.CaseInProgress,
	yipanqi.CaseReplied, yipanqi.CaseClosed, yipanqi.CaseTransferred, yipanqi.CaseWithdrawn,
	yipanqi.CaseRejected,
}

// Node is one node as the status page and the metrics see it.
type Node struct {
	Code  string   // province code, e.g. "44"
	Name  string   // e.g. "广东"
	Store Store    // Required.
	Types []string // case types to count, e.g. the engine's; required for case counts
	// NATS reports whether the node's NATS connection is up; nil means "not checked".
	NATS func(ctx context.Context) error
	// InboxLag returns how many messages wait on the node's consumer (pending and delivered
	// but not acknowledged); nil means unknown.
	InboxLag func(ctx context.Context) (int64, error)
	Now      func() time.Time // default time.Now
	// CacheFor reuses a status for this long, so that a busy scraper and a reloading page
	// do not each count the cases again; default 2s, negative for never.
	CacheFor time.Duration

	mu     sync.Mutex
	cached *Status
}

// CaseCount is the number of cases of one type, direction and state.
type CaseCount struct {
	Type      string
	Direction yipanqi.Direction
	State     yipanqi.CaseState
	N         int
}

// Status is a snapshot of a node for the page and the metrics.
type Status struct {
	Code, Name string
	At         time.Time
	Cases      []CaseCount // non-zero counts only, by type, direction, state
	Exchange   yipanqi.ExchangeStats
	InboxLag   int64 // -1 when unknown
	StoreErr   error // the store could not be read; the figures from it are zero
	NATSErr    error // the NATS connection is down, or the consumer could not be asked
}

func (n *Node) now() time.Time {
	if n.Now != nil {
		return n.Now()
	}
	return time.Now()
}

// Status returns the node's status, from the cache when it is fresh. It never fails: what
// could not be read is reported in StoreErr and NATSErr.
func (n *Node) Status(ctx context.Context) *Status {
	ttl := n.CacheFor
	if ttl == 0 {
		ttl = 2 * time.Second
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cached != nil && ttl > 0 && n.now().Sub(n.cached.At) < ttl {
		return n.cached
	}
	s := n.collect(ctx)
	n.cached = s
	return s
}

func (n *Node) collect(ctx context.Context) *Status {
	now := n.now()
	s := &Status{Code: n.Code, Name: n.Name, At: now, InboxLag: -1}
	scope, err := yipanqi.NewScope(n.Code)
	if err != nil {
		s.StoreErr = err
		return s
	}
	s.Exchange, s.StoreErr = n.Store.ExchangeStats(ctx, now)
	if s.StoreErr == nil {
		s.Cases, s.StoreErr = n.countCases(ctx, scope)
	}
	if n.NATS != nil {
		s.NATSErr = n.NATS(ctx)
	}
	if n.InboxLag != nil && s.NATSErr == nil {
		if lag, err := n.InboxLag(ctx); err != nil {
			s.NATSErr = err
		} else {
			s.InboxLag = lag
		}
	}
	return s
}

// countCases counts the cases by type, direction and state. The store has no grouped count
// yet, so this asks for each (type, direction) total and, where it is not zero, for each
// state: a handful of index range counts per type.
func (n *Node) countCases(ctx context.Context, scope yipanqi.Scope) ([]CaseCount, error) {
	var out []CaseCount
	for _, typ := range n.Types {
		for _, dir := range []yipanqi.Direction{yipanqi.Outgoing, yipanqi.Incoming} {
			_, total, err := n.Store.ListCases(ctx, scope, yipanqi.CaseFilter{Type: typ, Direction: dir, Limit: 1})
			if err != nil || total == 0 {
				if err != nil {
					return nil, fmt.Errorf("status: count cases: %w", err)
				}
				continue
			}
			for _, st := range CaseStates {
				_, k, err := n.Store.ListCases(ctx, scope, yipanqi.CaseFilter{Type: typ, Direction: dir, State: st, Limit: 1})
				if err != nil {
					return nil, fmt.Errorf("status: count cases: %w", err)
				}
				if k > 0 {
					out = append(out, CaseCount{Type: typ, Direction: dir, State: st, N: k})
				}
			}
		}
	}
	return out, nil
}

// Health reports whether the store and NATS are reachable: nil, or an error whose message
// says which is not (Chinese, no personal data).
func (n *Node) Health(ctx context.Context) error {
	var problems []string
	if _, err := n.Store.ExchangeStats(ctx, n.now()); err != nil {
		problems = append(problems, "数据库不可用："+reason(err))
	}
	if n.NATS != nil {
		if err := n.NATS(ctx); err != nil {
			problems = append(problems, "NATS 不可用："+reason(err))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return yipanqi.Errorf(yipanqi.EINTERNAL, "%s", strings.Join(problems, "；"))
}

// reason is the text of err fit for an operator: the user message of an *Error, else the
// error's own text (internal errors here are connection errors, which hold no personal data).
func reason(err error) string {
	var e *yipanqi.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}

// Sum returns the number of cases matching the type, direction and state; an empty argument
// matches any.
func (s *Status) Sum(typ string, dir yipanqi.Direction, state yipanqi.CaseState) int {
	total := 0
	for _, c := range s.Cases {
		if (typ == "" || c.Type == typ) && (dir == "" || c.Direction == dir) && (state == "" || c.State == state) {
			total += c.N
		}
	}
	return total
}
