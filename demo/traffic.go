package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"yipanqi"
	"yipanqi/sqlstore"
)

// target is a person a node may ask about: someone it holds whose hometown is another node.
type target struct {
	idNumber, name, hukouCode, hukouAddress, residenceCode string
}

// maxTargets bounds the people per node the traffic draws from; enough for variety.
const maxTargets = 5000

// loadTargets reads the people node n holds whose hukou province is another node of the
// region: the people it would ask their hometown about.
func (r *Region) loadTargets(ctx context.Context, n *Node) error {
	// Reading the registry is audited; the demo's traffic reads it as itself.
	ctx = yipanqi.NewContextWithUser(ctx, &yipanqi.User{Username: "system:demo", OrgUnit: n.Code})
	for off := 0; len(n.targets) < maxTargets; off += 1000 {
		page, _, err := n.DB.ListPeople(ctx, n.scope, yipanqi.PersonFilter{Offset: off, Limit: 1000})
		if err != nil {
			return err
		}
		for _, p := range page {
			home := p.HukouCode[:2]
			if r.manual[p.HukouCode[:min(len(p.HukouCode), 9)]] {
				continue // a demo account's township: its cases are a person's to answer
			}
			if _, ok := r.byCode[home]; ok && home != n.Code && len(n.targets) < maxTargets {
				n.targets = append(n.targets, target{p.IDNumber, p.Name, p.HukouCode, p.HukouAddress, p.ResidenceCode})
			}
		}
		if len(page) < 1000 {
			return nil
		}
	}
	return nil
}

// dropClashes drops the targets whose ID number the hometown node's registry also holds. Each
// node's register is generated on its own, so now and then two provinces' made-up people share
// a number; a real number is one person's. The hometown would refuse a case about "its own
// resident" from another node (docs/workflows.md, Who may send about whom), so the traffic
// leaves such people out.
func (r *Region) dropClashes(ctx context.Context) error {
	byHome := map[string][]string{}
	for _, n := range r.Nodes {
		for _, t := range n.targets {
			home := t.hukouCode[:2]
			byHome[home] = append(byHome[home], t.idNumber)
		}
	}
	clash := map[string]bool{}
	for home, ids := range byHome {
		h := r.byCode[home]
		if h == nil {
			continue
		}
		err := h.DB.InTx(ctx, func(tx *sqlstore.Tx) error {
			held, err := tx.RegistryPeople(ctx, ids)
			for id := range held {
				clash[id] = true
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	if len(clash) == 0 {
		return nil
	}
	for _, n := range r.Nodes {
		kept := n.targets[:0]
		for _, t := range n.targets {
			if !clash[t.idNumber] {
				kept = append(kept, t)
			}
		}
		n.targets = kept
	}
	return nil
}

// Traffic sends verify.identity cases at cfg.Rate per second over the region until ctx
// ends, and returns how many it sent. Each picks, over all nodes, a person a node holds whose
// hometown is another node, and asks the hometown unit (the hukou county or township) to
// confirm the person's identity and hukou address. The sender is the person's residence
// township.
func (r *Region) Traffic(ctx context.Context) (int64, error) {
	var pool []*Node
	total := 0
	for _, n := range r.Nodes {
		if len(n.targets) > 0 {
			pool = append(pool, n)
			total += len(n.targets)
		}
	}
	if r.cfg.Rate <= 0 || total == 0 {
		<-ctx.Done()
		return 0, nil
	}
	rng := rand.New(rand.NewPCG(uint64(r.cfg.Now().UnixNano()), 7))
	pick := func() (*Node, target) {
		i := rng.IntN(total)
		for _, n := range pool {
			if i < len(n.targets) {
				return n, n.targets[i]
			}
			i -= len(n.targets)
		}
		panic("unreachable")
	}
	tick := max(time.Duration(float64(time.Second)/r.cfg.Rate), 5*time.Millisecond)
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	start := time.Now()
	var sent int64
	for {
		select {
		case <-ctx.Done():
			return sent, nil
		case err := <-r.runErr:
			return sent, err
		case <-ticker.C:
		}
		// As many as the rate allows by now: a slow send is caught up, not lost.
		due := int64(time.Since(start).Seconds() * r.cfg.Rate)
		for ; sent < due && ctx.Err() == nil; sent++ {
			n, t := pick()
			if err := r.send(ctx, n, t); err != nil {
				if ctx.Err() != nil {
					return sent, nil
				}
				return sent, err
			}
		}
	}
}

// send opens one verify.identity case from node n about person t.
func (r *Region) send(ctx context.Context, n *Node, t target) error {
	unit := t.residenceCode
	if len(unit) > 9 {
		unit = unit[:9]
	}
	fields, err := requestFields(t)
	if err != nil {
		return err
	}
	c := &yipanqi.Case{Type: "verify.identity", OrgUnit: unit, PeerNode: t.hukouCode[:2], PeerUnit: t.hukouCode}
	return n.Engine.Send(ctx, c, fields)
}

// replier answers the requests nodes receive, each after a simulated working delay.
type replier struct {
	r       *Region
	jobs    chan replyJob
	pending atomic.Int64 // scheduled and not yet answered (or given up)
	failed  atomic.Int64
	wg      sync.WaitGroup
	mu      sync.Mutex
	rng     *rand.Rand
	reasons []yipanqi.Option // the catalog's not_found reasons
}

type replyJob struct {
	n      *Node
	caseID string
}

func newReplier(r *Region) *replier {
	return &replier{r: r, jobs: make(chan replyJob, 4096), rng: rand.New(rand.NewPCG(uint64(r.cfg.Now().UnixNano()), 11)),
		reasons: notFoundReasons()}
}

// replyWorkers answer in parallel: each reply is a signed message and a store transaction.
const replyWorkers = 4

func (rp *replier) start() {
	for range replyWorkers {
		rp.wg.Add(1)
		go func() {
			defer rp.wg.Done()
			for {
				select {
				case <-rp.r.ctx.Done():
					return
				case j := <-rp.jobs:
					rp.answer(j)
					rp.pending.Add(-1)
				}
			}
		}()
	}
}

func (rp *replier) wait() { rp.wg.Wait() }

func (rp *replier) draw(f func(*rand.Rand) time.Duration) time.Duration {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return f(rp.rng)
}

// schedule answers the incoming case after the working delay.
func (rp *replier) schedule(n *Node, caseID string) {
	lo, hi := rp.r.cfg.ReplyDelay[0], rp.r.cfg.ReplyDelay[1]
	d := rp.draw(func(g *rand.Rand) time.Duration {
		if hi <= lo {
			return lo
		}
		return lo + time.Duration(g.Int64N(int64(hi-lo)))
	})
	rp.pending.Add(1)
	time.AfterFunc(d, func() {
		select {
		case rp.jobs <- replyJob{n, caseID}:
		case <-rp.r.ctx.Done():
			rp.pending.Add(-1)
		}
	})
}

// resume schedules answers to the cases node n received in an earlier run and did not answer.
func (rp *replier) resume(ctx context.Context, n *Node) error {
	// One page: the head of the backlog. The rest waits for the next start, so that a huge
	// backlog cannot flood the replier.
	page, _, err := n.DB.ListCases(ctx, n.scope, yipanqi.CaseFilter{Direction: yipanqi.Incoming,
		State: yipanqi.CaseDelivered, Limit: 1000})
	if err != nil {
		return err
	}
	for _, c := range page {
		rp.schedule(n, c.ID)
	}
	return nil
}

// notFoundReasons are the reasons the catalog lets a hometown give when it cannot find the
// person (the reply not_found of verify.identity), in catalog order.
func notFoundReasons() []yipanqi.Option {
	t, err := yipanqi.Catalog().Type("verify.identity")
	if err != nil {
		panic("demo: " + err.Error()) // the catalog's tests rule it out
	}
	if r := t.Reply("not_found"); r != nil {
		return r.ReasonOptions
	}
	panic("demo: verify.identity has no not_found reply")
}

// otherReasonTexts explain a not_found reason of 其他 (reason_text).
var otherReasonTexts = []string{
	"户籍信息与来函所列姓名不一致，无法确认为同一人",
	"该户籍地址所在村（社区）已撤并，底册正在移交",
}

// replyFor is the answer to a request with fields req for roll in [0, 100): 85% confirmed,
// 10% corrected (the hukou address, a field of the request, as the catalog's corrected reply
// requires) and 5% not found, with each of the catalog's reasons in turn (其他 with its
// text).
func replyFor(roll int, reasons []yipanqi.Option, req map[string]string) (reply string, fields json.RawMessage, err error) {
	var f any
	switch {
	case roll < 85:
		reply, f = "confirmed", map[string]string{"note": "经核，身份及户籍地址属实"}
	case roll < 95:
		reply, f = "corrected", map[string]any{
			"corrected": map[string]string{"hukou_address": correctAddress(req["hukou_address"])},
			"note":      "户籍地址门牌号有误，已按户籍底册更正",
		}
	default:
		reason := reasons[roll%len(reasons)].Value
		nf := map[string]string{"reason": reason}
		if reason == yipanqi.OtherReason {
			nf[yipanqi.ReasonTextField] = otherReasonTexts[roll%len(otherReasonTexts)]
		}
		reply, f = "not_found", nf
	}
	fields, err = json.Marshal(f)
	return reply, fields, err
}

// requestFields are the fields of the verify.identity request about t.
func requestFields(t target) (json.RawMessage, error) {
	return json.Marshal(map[string]string{
		"id_number": t.idNumber, "name": t.name, "hukou_code": t.hukouCode, "hukou_address": t.hukouAddress,
	})
}

// answer replies to one incoming case: mostly confirmed, some corrected, a few not found.
func (rp *replier) answer(j replyJob) {
	ctx := rp.r.ctx
	c, err := j.n.DB.FindCase(ctx, j.n.scope, j.caseID)
	if err != nil {
		rp.fail(j, err)
		return
	}
	if c.State != yipanqi.CaseDelivered && c.State != yipanqi.CaseInProgress {
		return // answered already (a resumed case the engine saw again)
	}
	if rp.r.manual[c.OrgUnit] {
		return // a demo account's township: a person answers it
	}
	var req map[string]string
	_ = json.Unmarshal(c.Data, &req) // fields the demo sent itself; a missing one just stays ""
	roll := rp.draw(func(g *rand.Rand) time.Duration { return time.Duration(g.IntN(100)) })
	reply, raw, err := replyFor(int(roll), rp.reasons, req)
	if err == nil {
		err = j.n.Engine.Reply(ctx, j.caseID, reply, raw)
	}
	if err != nil && yipanqi.ErrorCode(err) != yipanqi.ECONFLICT {
		rp.fail(j, err)
	}
}

func (rp *replier) fail(j replyJob, err error) {
	if errors.Is(err, context.Canceled) || rp.r.ctx.Err() != nil {
		return
	}
	rp.failed.Add(1)
	// Only the case id and the error code: no personal data in logs.
	rp.r.cfg.Logger.Warn("demo: reply failed", "node", j.n.Code, "case", j.caseID, "code", yipanqi.ErrorCode(err),
		"err", fmt.Sprint(yipanqi.ErrorMessage(err)))
}

var houseNumber = regexp.MustCompile(`(\d+)号$`)

// correctAddress is the hometown's "corrected" address: the house number one higher.
func correctAddress(addr string) string {
	if m := houseNumber.FindStringSubmatchIndex(addr); m != nil {
		k, _ := strconv.Atoi(addr[m[2]:m[3]])
		return addr[:m[2]] + strconv.Itoa(k+1) + "号"
	}
	return addr + "（以户籍底册为准）"
}
