package exchange

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"yipanqi"
	"yipanqi/exchange/natsname"
)

// Names on the NATS side. A message from node src to node dst of catalog type typ travels on
// subject ypq.<dst>.<src>.<typ> and is stored in dst's stream YPQ_<dst>, which dst reads
// through its durable pull consumer node-<dst>. See docs/transport.md; the names themselves
// are in package natsname, which the configuration writer uses without this package.
const (
	SubjectPrefix = natsname.SubjectPrefix
	// MsgIDHeader is the header JetStream deduplicates on; it carries the envelope id.
	MsgIDHeader = jetstream.MsgIDHeader
)

// Stream and consumer settings made by EnsureStreams.
const (
	// DuplicateWindow is how long JetStream remembers a message id. It only saves redundant
	// deliveries of a quickly retried publish: the inbox table's unique key is what makes a
	// case apply once.
	DuplicateWindow = 2 * time.Minute
	// DefaultAckWait is how long a delivered message may stay unacknowledged before
	// JetStream delivers it again, unless TransportConfig.AckWait says otherwise.
	DefaultAckWait = 30 * time.Second
	// MaxAckPending bounds the messages delivered to a node and not yet acknowledged.
	MaxAckPending = 1024
)

// StreamName is the JetStream stream holding the messages addressed to node.
func StreamName(node string) string { return natsname.Stream(node) }

// ConsumerName is the durable pull consumer through which node reads its stream.
func ConsumerName(node string) string { return natsname.Consumer(node) }

// InboxPrefix is the reply-subject prefix of node's connections. The server configuration
// lets a node subscribe only below it, so no node can read another's replies.
func InboxPrefix(node string) string { return natsname.InboxPrefix(node) }

// Subject is the subject of a message from src to dst of catalog type typ.
func Subject(dst, src, typ string) string {
	return SubjectPrefix + "." + dst + "." + src + "." + typ
}

// ParseSubject splits a subject made by Subject. The type may contain dots.
// Returns EINVALID if subj is not of the form ypq.<dst>.<src>.<type>.
func ParseSubject(subj string) (dst, src, typ string, err error) {
	parts := strings.SplitN(subj, ".", 4)
	if len(parts) != 4 || parts[0] != SubjectPrefix || parts[1] == "" || parts[2] == "" || !validType(parts[3]) {
		return "", "", "", yipanqi.Errorf(yipanqi.EINVALID, "消息主题 %q 格式错误，应为 ypq.<目的节点>.<来源节点>.<类型>", subj)
	}
	return parts[1], parts[2], parts[3], nil
}

// validNode reports whether code can be a node code on the wire: one subject token that is
// also safe in a stream name.
func validNode(code string) bool {
	if code == "" || len(code) > 16 {
		return false
	}
	for _, r := range code {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// validType reports whether typ is one or more dot-separated tokens without wildcards.
func validType(typ string) bool {
	if typ == "" {
		return false
	}
	for _, tok := range strings.Split(typ, ".") {
		if tok == "" || strings.ContainsAny(tok, "*> \t\r\n") {
			return false
		}
	}
	return true
}

// TransportConfig says how a node connects to the regional NATS.
type TransportConfig struct {
	// URL of the NATS server(s), comma-separated for a cluster. Required.
	URL string
	// Node is this node's code (e.g. "44"). Required.
	Node string
	// Name is the connection name shown by the server's monitoring; defaults to "yipanqi-<node>".
	Name string

	// CredsFile is a .creds file (user JWT and NKey seed) for a server in operator mode.
	CredsFile string
	// User and Password authenticate against users listed in the server configuration.
	User, Password string

	// CAFile, CertFile and KeyFile are PEM files: the CA that signed the server's certificate,
	// and this node's client certificate and key when the server asks for one.
	CAFile, CertFile, KeyFile string

	// ConnectWait is how long Connect keeps retrying an unreachable server; default 10s.
	ConnectWait time.Duration
	// PublishTimeout bounds the wait for a PubAck; default 10s.
	PublishTimeout time.Duration
	// MaxPending bounds the publishes waiting for their PubAck; default 512.
	MaxPending int
	// FetchBatch is how many messages Consume asks the server for at a time; default 256.
	FetchBatch int
	// RetryDelay says how long a message the handler failed stays away before it is
	// delivered again, given how often it has been delivered; default doubles from 1s to 1min.
	RetryDelay func(numDelivered uint64) time.Duration
	// AckWait is the consumers' ack wait set by EnsureStreams; default DefaultAckWait.
	AckWait time.Duration
	// Namespace, when set, prefixes the names this transport uses on the server, so that
	// several regions — or test runs — share one NATS cluster without seeing each other's
	// messages: subjects <ns>.ypq.<dst>.<src>.<type>, streams <ns>_YPQ_<node> (consumers
	// and reply inboxes keep their names: they live inside the stream and are random). One
	// token of letters, digits, '-' and '_'. Every node of a region and its administrator
	// use the same value; empty, the default, gives the names of docs/transport.md.
	// Delivery.Subject is always given without the namespace.
	Namespace string
	// Logger receives connection events and errors; default slog.Default().
	Logger *slog.Logger
}

// Transport is one node's connection to the regional NATS JetStream: it publishes messages to
// other nodes' streams and consumes its own. It is safe for concurrent use.
type Transport struct {
	cfg    TransportConfig
	node   string
	url    string // without credentials, for messages
	log    *slog.Logger
	nc     *nats.Conn
	js     jetstream.JetStream
	denied *denials
}

// Delivery is one message taken from the node's stream.
type Delivery struct {
	// Subject is the subject as stored; Dst, Src and Type are parsed from it and are empty
	// when it does not parse (the handler should dead-letter such a message).
	Subject, Src, Dst, Type string
	Body                    []byte
	// MsgID is the Nats-Msg-Id header: the envelope id the sender published under.
	MsgID string
	// NumDelivered counts deliveries of this message, 1 the first time.
	NumDelivered uint64
	// Seq is the message's sequence number in the stream.
	Seq uint64
}

// Outgoing is one message for PublishBatch.
type Outgoing struct {
	Dst, Type, MsgID string
	Body             []byte
}

// Result is the outcome of publishing one Outgoing.
type Result struct {
	// Seq is the sequence number the destination stream stored the message under.
	Seq uint64
	// Dup is true when the stream already held a message with this id (within
	// DuplicateWindow) and did not store it again.
	Dup bool
	// Err is nil when the message is stored.
	Err error
}

// Connect connects node cfg.Node to the NATS server at cfg.URL, retrying for cfg.ConnectWait
// (or until ctx ends) while the server is unreachable. Once connected, the connection
// reconnects by itself for as long as the Transport lives.
// Returns EINVALID for a bad configuration, EUNAUTHORIZED when the server rejects the
// credentials, and EINTERNAL naming the URL when the server stays unreachable.
func Connect(ctx context.Context, cfg TransportConfig) (*Transport, error) {
	if cfg.URL == "" {
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "url", "未配置 NATS 服务器地址")
	}
	if !validNode(cfg.Node) {
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "node", "节点代码 %q 无效", cfg.Node)
	}
	if cfg.CredsFile != "" && cfg.User != "" {
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "creds", "NATS 凭据文件与用户名/密码只能配置一种")
	}
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "tls", "TLS 客户端证书与私钥须同时配置")
	}
	if cfg.Namespace != "" && !validNode(cfg.Namespace) {
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "namespace", "命名空间 %q 无效：只能是字母、数字、- 与 _（至多 16 个字符）", cfg.Namespace)
	}
	if cfg.Name == "" {
		cfg.Name = "yipanqi-" + cfg.Node
	}
	if cfg.ConnectWait <= 0 {
		cfg.ConnectWait = 10 * time.Second
	}
	if cfg.PublishTimeout <= 0 {
		cfg.PublishTimeout = 10 * time.Second
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 512
	}
	if cfg.FetchBatch <= 0 {
		cfg.FetchBatch = 256
	}
	if cfg.RetryDelay == nil {
		cfg.RetryDelay = DefaultRetryDelay
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = DefaultAckWait
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	t := &Transport{
		cfg:    cfg,
		node:   cfg.Node,
		url:    redactURL(cfg.URL),
		log:    cfg.Logger.With("node", cfg.Node),
		denied: newDenials(),
	}

	opts := []nats.Option{
		nats.Name(cfg.Name),
		nats.CustomInboxPrefix(InboxPrefix(cfg.Node)),
		nats.Timeout(2 * time.Second),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500 * time.Millisecond),
		nats.ErrorHandler(t.asyncError),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				t.log.Warn("nats disconnected", "url", t.url, "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			t.log.Info("nats reconnected", "server", redactURL(nc.ConnectedUrl()))
		}),
	}
	if cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	}
	if cfg.User != "" {
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password))
	}
	if cfg.CAFile != "" {
		opts = append(opts, nats.RootCAs(cfg.CAFile))
	}
	if cfg.CertFile != "" {
		opts = append(opts, nats.ClientCert(cfg.CertFile, cfg.KeyFile))
	}

	deadline := time.Now().Add(cfg.ConnectWait)
	wait := 100 * time.Millisecond
	for {
		nc, err := nats.Connect(cfg.URL, opts...)
		if err == nil {
			t.nc = nc
			break
		}
		if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || errors.Is(err, nats.ErrAuthRevoked) {
			return nil, fmt.Errorf("exchange: connect %s: %w: %w",
				t.url, yipanqi.Errorf(yipanqi.EUNAUTHORIZED, "NATS 服务器 %s 拒绝了节点 %s 的凭据：%v", t.url, cfg.Node, err), err)
		}
		if !isRetryableConnectErr(err) || time.Now().Add(wait).After(deadline) {
			return nil, fmt.Errorf("exchange: connect %s: %w: %w",
				t.url, yipanqi.Errorf(yipanqi.EINTERNAL, "无法连接 NATS 服务器 %s：%v", t.url, err), err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("exchange: connect %s: %w: %w",
				t.url, yipanqi.Errorf(yipanqi.EINTERNAL, "无法连接 NATS 服务器 %s：%v", t.url, err), ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}

	js, err := jetstream.New(t.nc,
		jetstream.WithPublishAsyncMaxPending(cfg.MaxPending),
		jetstream.WithPublishAsyncTimeout(cfg.PublishTimeout),
		jetstream.WithDefaultTimeout(cfg.PublishTimeout),
	)
	if err != nil {
		t.nc.Close()
		return nil, fmt.Errorf("exchange: jetstream: %w", err)
	}
	t.js = js
	return t, nil
}

// isRetryableConnectErr tells an unreachable server (worth waiting for) from a configuration
// mistake such as an unreadable certificate file (not worth it).
func isRetryableConnectErr(err error) bool {
	if errors.Is(err, nats.ErrNoServers) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) {
		return true
	}
	// Refused and reset connections come back as *net.OpError (a Timeout() implementer) or
	// wrapped in ErrNoServers; anything else — TLS or file errors — is not transient.
	return false
}

// DefaultRetryDelay is the default TransportConfig.RetryDelay: 1s after the first delivery,
// doubling up to one minute.
func DefaultRetryDelay(numDelivered uint64) time.Duration {
	d := time.Second
	for i := uint64(1); i < numDelivered && d < time.Minute; i++ {
		d *= 2
	}
	return min(d, time.Minute)
}

// Node returns the node code the transport publishes as.
func (t *Transport) Node() string { return t.node }

// Namespace returns the transport's namespace, "" for none.
func (t *Transport) Namespace() string { return t.cfg.Namespace }

// StreamName is the stream holding the messages addressed to node in this transport's
// namespace: StreamName(node) without one.
func (t *Transport) StreamName(node string) string {
	if t.cfg.Namespace == "" {
		return StreamName(node)
	}
	return t.cfg.Namespace + "_" + StreamName(node)
}

// wire turns a subject made by Subject into the one used on the server.
func (t *Transport) wire(subject string) string {
	if t.cfg.Namespace == "" {
		return subject
	}
	return t.cfg.Namespace + "." + subject
}

// unwire is the inverse of wire; a subject outside the namespace is returned as it is.
func (t *Transport) unwire(subject string) string {
	if t.cfg.Namespace == "" {
		return subject
	}
	return strings.TrimPrefix(subject, t.cfg.Namespace+".")
}

// Conn returns the underlying NATS connection, for health checks and tests.
func (t *Transport) Conn() *nats.Conn { return t.nc }

// Close flushes what was published and closes the connection.
func (t *Transport) Close() {
	if t.nc.IsConnected() {
		if err := t.nc.FlushTimeout(2 * time.Second); err != nil {
			t.log.Warn("nats flush on close", "err", err)
		}
	}
	t.nc.Close()
}

// EnsureStreams creates or updates, for each node, its stream YPQ_<node> (in the namespace,
// if any) and its durable
// consumer node-<node>, with replicas copies (1 on a single server, 3 on a cluster). It is
// idempotent. A node's own credentials do not allow it: the region's administrator runs it.
// Returns EINVALID for a bad node code or replica count, EFORBIDDEN when the connection's
// user may not manage streams.
func (t *Transport) EnsureStreams(ctx context.Context, nodes []string, replicas int) error {
	if replicas < 1 || replicas > 5 {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "replicas", "副本数 %d 无效，应为 1 到 5", replicas)
	}
	for _, node := range nodes {
		if !validNode(node) {
			return yipanqi.FieldErrorf(yipanqi.EINVALID, "nodes", "节点代码 %q 无效", node)
		}
	}
	for _, node := range nodes {
		mark := t.denied.mark()
		actx, cancel := t.untilDenied(ctx, "$JS.API.", mark)
		stream, err := t.js.CreateOrUpdateStream(actx, jetstream.StreamConfig{
			Name:        t.StreamName(node),
			Description: "Yipanqi messages addressed to node " + node,
			Subjects:    []string{t.wire(SubjectPrefix + "." + node + ".>")},
			// Work-queue retention: a message stays until node's consumer acknowledges it
			// and no age, count or size limit ever removes an unread one.
			Retention:  jetstream.WorkQueuePolicy,
			Discard:    jetstream.DiscardNew,
			MaxMsgs:    -1,
			MaxBytes:   -1,
			MaxAge:     0,
			Storage:    jetstream.FileStorage,
			Replicas:   replicas,
			Duplicates: DuplicateWindow,
		})
		if err != nil {
			cancel()
			return t.apiErr("ensure stream "+t.StreamName(node), "创建或更新收件流 "+t.StreamName(node), "$JS.API.STREAM.", mark, err)
		}
		_, err = stream.CreateOrUpdateConsumer(actx, jetstream.ConsumerConfig{
			Durable:       ConsumerName(node),
			Description:   "Node " + node + " reads its messages",
			DeliverPolicy: jetstream.DeliverAllPolicy,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       t.cfg.AckWait,
			// The receiver dead-letters what it cannot process; NATS never gives up on a
			// message by itself.
			MaxDeliver:    -1,
			MaxAckPending: MaxAckPending,
		})
		cancel()
		if err != nil {
			return t.apiErr("ensure consumer "+ConsumerName(node), "创建或更新消费者 "+ConsumerName(node), "$JS.API.CONSUMER.", mark, err)
		}
	}
	return nil
}

// Publish sends body to node dst as message type typ under id msgID (the envelope id) and
// waits for the destination stream to store it. dup is true when the stream already had a
// message with this id within DuplicateWindow; that is success too.
// Returns EINVALID for a bad argument, ENOTFOUND when dst has no stream, EFORBIDDEN when the
// server refuses this node the subject.
func (t *Transport) Publish(ctx context.Context, dst, typ, msgID string, body []byte) (dup bool, err error) {
	res, err := t.PublishBatch(ctx, []Outgoing{{Dst: dst, Type: typ, MsgID: msgID, Body: body}})
	if err != nil {
		return false, err
	}
	return res[0].Dup, res[0].Err
}

// PublishBatch publishes out asynchronously, keeping at most MaxPending publishes waiting
// for their PubAck, and returns one Result per message in the same order. Each Result has
// its own error; the error returned is non-nil only when ctx ended first (the unfinished
// Results then hold ctx's error too — those messages may or may not be stored).
func (t *Transport) PublishBatch(ctx context.Context, out []Outgoing) ([]Result, error) {
	res := make([]Result, len(out))
	futures := make([]jetstream.PubAckFuture, len(out))
	subjects := make([]string, len(out))
	marks := make([]uint64, len(out))
	next := 0 // first future not yet waited for
	wait := func(i int) error {
		if futures[i] == nil {
			return nil
		}
		res[i] = t.awaitAck(ctx, subjects[i], marks[i], futures[i])
		return ctx.Err()
	}
	for i, o := range out {
		if err := validOutgoing(o); err != nil {
			res[i].Err = err
			continue
		}
		for i-next >= t.cfg.MaxPending {
			if err := wait(next); err != nil {
				return t.abandon(res, futures, next, err), err
			}
			next++
		}
		subjects[i] = t.wire(Subject(o.Dst, t.node, o.Type))
		marks[i] = t.denied.mark()
		msg := &nats.Msg{Subject: subjects[i], Data: o.Body, Header: nats.Header{}}
		msg.Header.Set(MsgIDHeader, o.MsgID)
		f, err := t.js.PublishMsgAsync(msg)
		if err != nil {
			res[i].Err = t.publishErr(subjects[i], o.Dst, marks[i], err)
			continue
		}
		futures[i] = f
	}
	for ; next < len(out); next++ {
		if err := wait(next); err != nil {
			return t.abandon(res, futures, next, err), err
		}
	}
	return res, nil
}

func (t *Transport) abandon(res []Result, futures []jetstream.PubAckFuture, from int, err error) []Result {
	for i := from; i < len(res); i++ {
		if futures[i] != nil && res[i] == (Result{}) {
			res[i].Err = err
		}
	}
	return res
}

func validOutgoing(o Outgoing) error {
	switch {
	case !validNode(o.Dst):
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "dst", "目的节点代码 %q 无效", o.Dst)
	case !validType(o.Type):
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "type", "消息类型 %q 无效", o.Type)
	case o.MsgID == "":
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "id", "消息编号为空")
	}
	return nil
}

// awaitAck waits for one PubAck. A permission violation for the subject ends the wait at
// once: the server answers it with an asynchronous -ERR, never on the reply subject.
func (t *Transport) awaitAck(ctx context.Context, subject string, mark uint64, f jetstream.PubAckFuture) Result {
	dst, _, _, _ := ParseSubject(t.unwire(subject))
	for {
		notify := t.denied.changed()
		if err := t.denied.find(subject, mark); err != nil {
			return Result{Err: t.publishErr(subject, dst, mark, err)}
		}
		select {
		case ack := <-f.Ok():
			return Result{Seq: ack.Sequence, Dup: ack.Duplicate}
		case err := <-f.Err():
			return Result{Err: t.publishErr(subject, dst, mark, err)}
		case <-notify:
		case <-ctx.Done():
			return Result{Err: fmt.Errorf("exchange: publish %s: %w", subject, ctx.Err())}
		}
	}
}

func (t *Transport) publishErr(subject, dst string, mark uint64, err error) error {
	if denied := t.denied.find(subject, mark); denied != nil {
		return fmt.Errorf("exchange: publish %s: %w: %w", subject,
			yipanqi.Errorf(yipanqi.EFORBIDDEN, "NATS 服务器不允许节点 %s 发布到 %s：权限不足", t.node, subject), denied)
	}
	if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) {
		return fmt.Errorf("exchange: publish %s: %w: %w", subject,
			yipanqi.Errorf(yipanqi.ENOTFOUND, "目的节点 %s 没有收件流 %s（区域管理员尚未创建，或 NATS 服务器暂不可用）", dst, t.StreamName(dst)), err)
	}
	return fmt.Errorf("exchange: publish %s: %w", subject, err)
}

// apiErr classifies the error of a JetStream API call whose subject starts with prefix; op
// names the call for logs, what for the user.
func (t *Transport) apiErr(op, what, prefix string, mark uint64, err error) error {
	if denied := t.denied.findPrefix(prefix, mark); denied != nil {
		return fmt.Errorf("exchange: %s: %w: %w", op,
			yipanqi.Errorf(yipanqi.EFORBIDDEN, "NATS 服务器不允许节点 %s %s：权限不足", t.node, what), denied)
	}
	if errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("exchange: %s: %w: %w", op,
			yipanqi.Errorf(yipanqi.ENOTFOUND, "无法%s：收件流或消费者不存在，请区域管理员先创建", what), err)
	}
	return fmt.Errorf("exchange: %s: %w", op, err)
}

// untilDenied returns a context that also ends when the server reports a permission
// violation for a subject starting with prefix after mark: a refused request is otherwise
// only noticed when it times out.
func (t *Transport) untilDenied(ctx context.Context, prefix string, mark uint64) (context.Context, context.CancelFunc) {
	actx, cancel := context.WithCancel(ctx)
	go func() {
		for {
			notify := t.denied.changed()
			if t.denied.findPrefix(prefix, mark) != nil {
				cancel()
				return
			}
			select {
			case <-notify:
			case <-actx.Done():
				return
			}
		}
	}()
	return actx, cancel
}

// Consume reads the node's stream through its durable consumer until ctx ends, calling
// handle for each message, one at a time. When handle returns nil the message is
// acknowledged; otherwise it is negatively acknowledged and delivered again after
// RetryDelay. A message may be delivered more than once (after a crash, a lost ack or an
// expired ack wait): handle must be idempotent, keyed on MsgID. Several Consume calls, in one
// process or in several, share the work of one consumer.
// Returns nil when ctx ends; ENOTFOUND when the stream or consumer does not exist,
// EFORBIDDEN when the server refuses access to it; another error when the consumer is
// deleted while in use (the caller may call Consume again).
func (t *Transport) Consume(ctx context.Context, handle func(ctx context.Context, m Delivery) error) error {
	stream, name := t.StreamName(t.node), ConsumerName(t.node)
	var cons jetstream.Consumer
	wait := 100 * time.Millisecond
	for {
		mark := t.denied.mark()
		infoSubject := "$JS.API.CONSUMER.INFO." + stream + "." + name
		actx, cancel := t.untilDenied(ctx, infoSubject, mark)
		c, err := t.js.Consumer(actx, stream, name)
		cancel()
		if err == nil {
			cons = c
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		err = t.apiErr("consumer "+name, "读取收件流 "+stream+"（消费者 "+name+"）", infoSubject, mark, err)
		switch yipanqi.ErrorCode(err) {
		case yipanqi.ENOTFOUND, yipanqi.EFORBIDDEN:
			return err
		}
		// The server may be restarting or JetStream not yet ready; wait for it.
		t.log.Warn("nats consumer not reachable, retrying", "consumer", name, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}

	it, err := cons.Messages(jetstream.PullMaxMessages(t.cfg.FetchBatch))
	if err != nil {
		return fmt.Errorf("exchange: consume %s: %w", name, err)
	}
	defer t.release(it)
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) || errors.Is(err, jetstream.ErrConsumerDeleted) {
				return fmt.Errorf("exchange: consume %s: %w", name, err)
			}
			t.log.Warn("nats consume", "consumer", name, "err", err)
			continue
		}
		d := t.delivery(msg)
		if herr := handle(ctx, d); herr == nil {
			err = msg.Ack()
		} else if ctx.Err() != nil {
			// Shutting down: let another consumer have it at once.
			err = msg.Nak()
		} else {
			err = msg.NakWithDelay(t.cfg.RetryDelay(d.NumDelivered))
		}
		if err != nil {
			// The message comes back after the ack wait; the handler's idempotence absorbs it.
			t.log.Warn("nats ack", "subject", d.Subject, "msg_id", d.MsgID, "err", err)
		}
	}
}

// release stops the iterator and hands back the messages it had fetched but not yet given
// to the handler, so that they are redelivered now rather than after the ack wait.
func (t *Transport) release(it jetstream.MessagesContext) {
	it.Drain()
	for range t.cfg.FetchBatch + 1 {
		msg, err := it.Next(jetstream.NextMaxWait(100 * time.Millisecond))
		if err != nil {
			return
		}
		if err := msg.Nak(); err != nil {
			return
		}
	}
}

func (t *Transport) delivery(msg jetstream.Msg) Delivery {
	d := Delivery{Subject: t.unwire(msg.Subject()), Body: msg.Data(), MsgID: msg.Headers().Get(MsgIDHeader)}
	if dst, src, typ, err := ParseSubject(d.Subject); err == nil {
		d.Dst, d.Src, d.Type = dst, src, typ
	}
	if md, err := msg.Metadata(); err == nil {
		d.NumDelivered = md.NumDelivered
		d.Seq = md.Sequence.Stream
	}
	return d
}

// asyncError receives the server's asynchronous errors. Permission violations are kept so
// that the call that caused one can report it instead of timing out.
func (t *Transport) asyncError(_ *nats.Conn, sub *nats.Subscription, err error) {
	if errors.Is(err, nats.ErrPermissionViolation) {
		t.denied.add(err)
		t.log.Warn("nats permission violation", "err", err)
		return
	}
	if sub != nil {
		t.log.Warn("nats async error", "subject", sub.Subject, "err", err)
		return
	}
	t.log.Warn("nats async error", "err", err)
}

// denials remembers the latest permission violations the server reported. The protocol
// carries the refused subject only in the error text, quoted; that is the one place where
// this package reads an error's text.
type denials struct {
	mu     sync.Mutex
	seq    uint64
	recent []denial
	notify chan struct{}
}

type denial struct {
	seq uint64
	err error
}

const maxDenials = 64

func newDenials() *denials { return &denials{notify: make(chan struct{})} }

func (d *denials) add(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seq++
	d.recent = append(d.recent, denial{d.seq, err})
	if len(d.recent) > maxDenials {
		d.recent = d.recent[len(d.recent)-maxDenials:]
	}
	close(d.notify)
	d.notify = make(chan struct{})
}

// mark returns a position: find and findPrefix consider only violations reported after it.
func (d *denials) mark() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.seq
}

// changed returns a channel closed at the next violation.
func (d *denials) changed() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.notify
}

func (d *denials) find(subject string, since uint64) error {
	return d.match(`"`+subject+`"`, since)
}

func (d *denials) findPrefix(prefix string, since uint64) error {
	return d.match(`"`+prefix, since)
}

func (d *denials) match(needle string, since uint64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := len(d.recent) - 1; i >= 0 && d.recent[i].seq > since; i-- {
		if strings.Contains(d.recent[i].err.Error(), needle) {
			return d.recent[i].err
		}
	}
	return nil
}

// redactURL removes any user information from a comma-separated list of server URLs.
func redactURL(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if u, err := url.Parse(p); err == nil && u.User != nil {
			u.User = nil
			p = u.String()
		}
		parts[i] = p
	}
	return strings.Join(parts, ",")
}
