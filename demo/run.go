package demo

import (
	"context"
	"fmt"
	"io"
	"time"

	"yipanqi"
)

// NodeSummary is one node's figures, read from its store (so they include earlier runs in
// the same directory) plus what it sent in this run.
type NodeSummary struct {
	Code, Name  string
	SentNow     int64 // cases it opened in this run
	Sent        int   // outgoing cases
	Delivered   int   // outgoing cases the addressee received (receipted or answered)
	Replied     int   // outgoing cases answered
	Rejected    int   // outgoing cases the addressee refused
	Received    int   // incoming cases
	Answered    int   // incoming cases it answered
	DeadLetters int
	Outbox      int // messages not yet published
}

// Summary is the region's figures at the end of a run.
type Summary struct {
	Ran      time.Duration
	Settled  bool // every case in flight arrived and was answered before the drain limit
	Nodes    []NodeSummary
	Total    NodeSummary
	Failures int64 // replies the replier could not send
}

// count returns how many of node n's cases of direction dir are in one of the states (any
// state when none is given).
func (n *Node) count(ctx context.Context, dir yipanqi.Direction, states ...yipanqi.CaseState) (int, error) {
	if len(states) == 0 {
		_, k, err := n.DB.ListCases(ctx, n.scope, yipanqi.CaseFilter{Direction: dir, Limit: 1})
		return k, err
	}
	total := 0
	for _, st := range states {
		_, k, err := n.DB.ListCases(ctx, n.scope, yipanqi.CaseFilter{Direction: dir, State: st, Limit: 1})
		if err != nil {
			return 0, err
		}
		total += k
	}
	return total, nil
}

// Summary reads every node's figures from its store.
func (r *Region) Summary(ctx context.Context) (*Summary, error) {
	s := &Summary{Failures: r.replies.failed.Load()}
	for _, n := range r.Nodes {
		ns := NodeSummary{Code: n.Code, Name: n.Name, SentNow: n.sent.Load()}
		var err error
		out, in := yipanqi.Outgoing, yipanqi.Incoming
		for _, f := range []struct {
			dst    *int
			dir    yipanqi.Direction
			states []yipanqi.CaseState
		}{
			{&ns.Sent, out, nil},
			{&ns.Delivered, out, []yipanqi.CaseState{yipanqi.CaseDelivered, yipanqi.CaseInProgress, yipanqi.CaseReplied, yipanqi.CaseClosed}},
			{&ns.Replied, out, []yipanqi.CaseState{yipanqi.CaseReplied, yipanqi.CaseClosed}},
			{&ns.Rejected, out, []yipanqi.CaseState{yipanqi.CaseRejected}},
			{&ns.Received, in, nil},
			{&ns.Answered, in, []yipanqi.CaseState{yipanqi.CaseReplied, yipanqi.CaseClosed}},
		} {
			if *f.dst, err = n.count(ctx, f.dir, f.states...); err != nil {
				return nil, fmt.Errorf("demo summary %s: %w", n.Code, err)
			}
		}
		st, err := n.DB.ExchangeStats(ctx, r.cfg.Now())
		if err != nil {
			return nil, fmt.Errorf("demo summary %s: %w", n.Code, err)
		}
		ns.DeadLetters, ns.Outbox = st.DeadLetters, st.OutboxDepth
		s.Nodes = append(s.Nodes, ns)
		t := &s.Total
		t.SentNow += ns.SentNow
		t.Sent += ns.Sent
		t.Delivered += ns.Delivered
		t.Replied += ns.Replied
		t.Rejected += ns.Rejected
		t.Received += ns.Received
		t.Answered += ns.Answered
		t.DeadLetters += ns.DeadLetters
		t.Outbox += ns.Outbox
	}
	return s, nil
}

// settled reports whether nothing is in flight: every outbox is empty, every outgoing case
// was received and answered, every incoming case answered, no answer is waiting, and every
// node holds every province's directory.
func (r *Region) settled(ctx context.Context) (bool, error) {
	if r.replies.pending.Load() > 0 {
		return false, nil
	}
	for _, n := range r.Nodes {
		st, err := n.DB.ExchangeStats(ctx, r.cfg.Now())
		if err != nil {
			return false, err
		}
		if st.OutboxDepth > 0 {
			return false, nil
		}
		k, err := n.count(ctx, yipanqi.Outgoing, yipanqi.CaseSent, yipanqi.CaseDelivered, yipanqi.CaseInProgress)
		if err != nil || k > 0 {
			return false, err
		}
		if k, err = n.count(ctx, yipanqi.Incoming, yipanqi.CaseDelivered, yipanqi.CaseInProgress); err != nil || k > 0 {
			return false, err
		}
		// Every province's directory has arrived and been applied.
		if held, err := n.DB.DirectoryVersions(ctx); err != nil || len(held) < len(r.Nodes) {
			return false, err
		}
	}
	return true, nil
}

// Drain waits, at most limit, until nothing is in flight (see settled), and reports whether
// that happened. It polls the stores; it returns false at once when ctx ends.
func (r *Region) Drain(ctx context.Context, limit time.Duration) bool {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	for {
		if ok, err := r.settled(ctx); err == nil && ok {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-deadline.C:
			return false
		case <-poll.C:
		}
	}
}

// Run starts the region, prints where to look, sends traffic for cfg.For (or until ctx
// ends), waits for the cases in flight (at most cfg.Drain; not after an interrupt), prints
// the summary on cfg.Out and returns it.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	r, err := Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	cfg = r.cfg
	r.printAddresses(cfg.Out)

	sendCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if cfg.For > 0 {
		sendCtx, cancel = context.WithTimeout(ctx, cfg.For)
		defer cancel()
	}
	if cfg.Progress > 0 {
		go r.progress(sendCtx, cfg.Out, cfg.Progress)
	}
	start := time.Now()
	if _, err := r.Traffic(sendCtx); err != nil {
		return nil, err
	}
	ran := time.Since(start)
	settled := false
	if ctx.Err() == nil {
		fmt.Fprintf(cfg.Out, "停止发送，等待在途案件送达与答复（最多 %s）……\n", cfg.Drain)
		settled = r.Drain(ctx, cfg.Drain)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	s, err := r.Summary(sctx)
	if err != nil {
		return nil, err
	}
	s.Ran, s.Settled = ran, settled
	s.Write(cfg.Out)
	return s, nil
}

func (r *Region) printAddresses(w io.Writer) {
	fmt.Fprintf(w, "NATS JetStream（内嵌）：%s，存储 %s/nats\n", r.NATS.ClientURL(), r.cfg.Dir)
	if r.HTTPAddr != "" {
		fmt.Fprintf(w, "区域总览：http://%s/\n", r.HTTPAddr)
		for _, n := range r.Nodes {
			fmt.Fprintf(w, "  %s %-4s 网页 http://%s/%s/   状态页 /%s/status/   指标 /%s/metrics   健康 /%s/healthz\n",
				n.Code, n.Name, r.HTTPAddr, n.Code, n.Code, n.Code, n.Code)
		}
	}
	people := 0
	for _, n := range r.Nodes {
		people += len(n.targets)
	}
	if r.cfg.Rate > 0 {
		how := "按 Ctrl-C 停止"
		if r.cfg.For > 0 {
			how = "运行 " + r.cfg.For.String()
		}
		fmt.Fprintf(w, "开始发送身份住址核实（verify.identity）：每秒 %g 件，在 %d 名跨省流动人口中抽取，%s。\n",
			r.cfg.Rate, people, how)
	}
}

// progress prints a line of this run's figures every interval until ctx ends.
func (r *Region) progress(ctx context.Context, w io.Writer, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	start := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var sent, receipts, replied, dead int64
		for _, n := range r.Nodes {
			sent += n.sent.Load()
			receipts += n.receipts.Load()
			replied += n.replied.Load()
			dead += n.deadLetters.Load()
		}
		fmt.Fprintf(w, "[%s] 本次已发 %d 件，已送达 %d，已答复 %d，死信 %d\n",
			time.Since(start).Round(time.Second), sent, receipts, replied, dead)
	}
}

// Write prints the summary as a table.
func (s *Summary) Write(w io.Writer) {
	fmt.Fprintf(w, "\n演示结束：发送 %s，本次发出 %d 件。", s.Ran.Round(time.Second), s.Total.SentNow)
	if s.Settled {
		fmt.Fprintln(w, "在途案件已全部送达并答复。")
	} else {
		fmt.Fprintln(w, "仍有案件在途（下次启动会继续处理）。")
	}
	fmt.Fprintln(w, "各省累计（含本目录以往运行）：")
	// Labels are 11 columns wide on a terminal: a Chinese character takes two.
	fmt.Fprintln(w, "  省份           发出    送达  已答复    退回    收到  已办复    死信  待发")
	row := func(label string, ns NodeSummary) {
		fmt.Fprintf(w, "  %s %6d  %6d  %6d  %6d  %6d  %6d  %6d  %4d\n", label,
			ns.Sent, ns.Delivered, ns.Replied, ns.Rejected, ns.Received, ns.Answered, ns.DeadLetters, ns.Outbox)
	}
	for _, ns := range s.Nodes {
		row(ns.Code+" "+pad(ns.Name, 4), ns)
	}
	row("合计       ", s.Total)
	if s.Failures > 0 {
		fmt.Fprintf(w, "  答复失败 %d 次（见日志）。\n", s.Failures)
	}
}

// pad pads a Chinese name to n characters with full-width spaces, for the table.
func pad(s string, n int) string {
	for k := len([]rune(s)); k < n; k++ {
		s += "　"
	}
	return s
}
