package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/nats-io/nats-server/v2/server"

	"yipanqi"
	"yipanqi/assess"
	"yipanqi/calendar"
	"yipanqi/casework"
	"yipanqi/exchange"
	"yipanqi/internal/natsembed"
	"yipanqi/meeting"
	"yipanqi/sla"
	"yipanqi/sqlstore"
	"yipanqi/web"
)

const serveUsage = `用法：
  yipanqi serve --config node.toml [--nats-url URL] [--nats-creds FILE]
  --nats-url    区域 NATS 集群地址（可用逗号分隔多个），覆盖配置文件中的 [nats]，不再使用内嵌服务器
  --nats-creds  本节点的 NATS 凭据文件（.creds），覆盖配置文件中的 nats.creds
运行一个省级节点：数据库、与区域 NATS 的消息交换（发件箱转发与收件处理），以及
网页应用（/，工作人员登录后使用）、状态页（/status/）、健康检查（/healthz）与监控指标（/metrics）。
网页用户用 yipanqi user add 新增。配置文件格式见
deploy/node.sample.toml 与 docs/serve.md。按 Ctrl-C 或发送 SIGTERM 平稳停止。`

// serveConfig is the node's TOML configuration (deploy/node.sample.toml). Relative paths
// are taken from the configuration file's directory.
type serveConfig struct {
	Node struct {
		Code     string `toml:"code"`
		Name     string `toml:"name"`
		DataDir  string `toml:"data_dir"`
		OrgUnits string `toml:"org_units"`
	} `toml:"node"`
	Store struct {
		DSN string `toml:"dsn"`
	} `toml:"store"`
	NATS struct {
		Embedded      bool     `toml:"embedded"`
		Listen        string   `toml:"listen"`
		URL           string   `toml:"url"`
		Creds         string   `toml:"creds"`
		User          string   `toml:"user"`
		PasswordFile  string   `toml:"password_file"`
		CAFile        string   `toml:"ca_file"`
		CertFile      string   `toml:"cert_file"`
		KeyFile       string   `toml:"key_file"`
		EnsureStreams *bool    `toml:"ensure_streams"`
		Nodes         []string `toml:"nodes"`
		Replicas      int      `toml:"replicas"`
		Namespace     string   `toml:"namespace"`
		ConnectWait   string   `toml:"connect_wait"`
	} `toml:"nats"`
	Exchange struct {
		Lease string `toml:"lease"`
	} `toml:"exchange"`
	// Calendar: a holiday override file (docs/calendar.md) for a year the built-in data
	// lacks, or a correction; every replica of a node must read the same file.
	Calendar struct {
		HolidaysFile string `toml:"holidays_file"`
	} `toml:"calendar"`
	// SLA: how often the deadline clock sweeps (reminders, overdue, escalation; docs/sla.md).
	SLA struct {
		Interval string `toml:"interval"`
	} `toml:"sla"`
	// Retention: the days a case is kept after it ended before it is anonymised, once a day
	// (docs/retention.md); default 1095, 0 turns it off.
	Retention struct {
		Days *int `toml:"days"`
	} `toml:"retention"`
	// Assess: the scoring rules of the assessment (docs/assessment.md); default the sample's.
	Assess struct {
		Rules string `toml:"rules"`
	} `toml:"assess"`
	// Meetings: the convening rotation of the joint meetings (docs/meetings.md); default the
	// plan's order from 2026.
	Meetings struct {
		Order     []string `toml:"order"`
		FirstYear int      `toml:"first_year"`
	} `toml:"meetings"`
	Keys struct {
		KeyFile         string `toml:"key_file"`
		RegionPublicKey string `toml:"region_public_key"`
		TrustList       string `toml:"trust_list"`
	} `toml:"keys"`
	HTTP struct {
		Listen string `toml:"listen"`
		// SecureCookies marks the sign-in cookies Secure: set it when the node is reached
		// over HTTPS (a TLS-terminating proxy in front).
		SecureCookies bool `toml:"secure_cookies"`
		// PublicURL is the address the public reaches the node at (the certificate QR code).
		PublicURL string `toml:"public_url"`
	} `toml:"http"`
}

// defaultHTTPListen is where the status page listens when http.listen is not set.
const defaultHTTPListen = "127.0.0.1:8044"

// Values of node.org_units.
const (
	// orgUnitsProvince: at every start, upsert the province and its cities, counties and
	// townships from the division data (division.Tree.ProvinceUnits).
	orgUnitsProvince = "province"
	// orgUnitsNone: leave org_units as they are; an administrator loads them.
	orgUnitsNone = "none"
)

// confError is the one-line error about a configuration key: "FILE:KEY：message".
func confError(file, key string, err error) error {
	// Not an *Error: a file-system or driver error, whose text names no person.
	msg := err.Error()
	var e *yipanqi.Error
	if errors.As(err, &e) {
		msg = e.Message
	}
	where := file
	if key != "" {
		where += ":" + key
	}
	return yipanqi.FieldErrorf(yipanqi.EINVALID, key, "%s：%s", where, msg)
}

func confErrorf(file, key, format string, args ...any) error {
	return confError(file, key, yipanqi.Errorf(yipanqi.EINVALID, format, args...))
}

// natsOverride is what the command line says of NATS, over the configuration file.
type natsOverride struct {
	url, creds string
}

// apply puts the command-line NATS settings over the file's: a URL means a real server, so
// the embedded one and its listen address are dropped.
func (o natsOverride) apply(c *serveConfig) {
	if o.url != "" {
		c.NATS.URL, c.NATS.Embedded, c.NATS.Listen = o.url, false, ""
	}
	if o.creds != "" {
		c.NATS.Creds = o.creds
	}
}

// loadServeConfig reads and checks the configuration file: TOML syntax, unknown keys,
// required values, with the command line's NATS settings applied before the checks. Paths in
// the file are made absolute from the file's directory.
func loadServeConfig(path string, o natsOverride) (*serveConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, yipanqi.Errorf(yipanqi.ENOTFOUND, "配置文件 %s 不存在", path)
		}
		return nil, yipanqi.Errorf(yipanqi.EINVALID, "无法读取配置文件 %s：%v", path, err)
	}
	var c serveConfig
	md, err := toml.Decode(string(data), &c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, yipanqi.Errorf(yipanqi.EINVALID, "%s:%d：TOML 格式错误：%s", path, pe.Position.Line, pe.Message)
		}
		return nil, yipanqi.Errorf(yipanqi.EINVALID, "%s：TOML 格式错误：%v", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, confErrorf(path, keys[0], "未知的配置项（拼写错误？）%s", unknownTail(keys))
	}
	dir := filepath.Dir(path)
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	for _, p := range []*string{&c.Node.DataDir, &c.NATS.Creds, &c.NATS.PasswordFile, &c.NATS.CAFile,
		&c.NATS.CertFile, &c.NATS.KeyFile, &c.Keys.KeyFile, &c.Keys.RegionPublicKey, &c.Keys.TrustList} {
		abs(p)
	}
	if strings.HasPrefix(c.Store.DSN, "sqlite:") {
		p := strings.TrimPrefix(c.Store.DSN, "sqlite:")
		abs(&p)
		c.Store.DSN = "sqlite:" + p
	}
	o.apply(&c) // after the file's paths: a path on the command line is the caller's own

	switch {
	case c.Node.Code == "":
		return nil, confErrorf(path, "node.code", "缺少本节点的两位省级代码，如 code = \"44\"")
	case len(c.Node.Code) != 2 || !yipanqi.ValidDivisionCode(c.Node.Code):
		return nil, confErrorf(path, "node.code", "“%s”不是两位省级代码", c.Node.Code)
	case c.Node.Name == "":
		return nil, confErrorf(path, "node.name", "缺少节点名称，如 name = \"广东\"")
	case c.Store.DSN == "" && c.Node.DataDir == "":
		return nil, confErrorf(path, "store.dsn", "缺少数据库地址（或设置 node.data_dir，使用其中的 SQLite 文件 node.db）")
	case c.NATS.Embedded && c.NATS.URL != "":
		return nil, confErrorf(path, "nats.url", "embedded = true 时不能再设置 url：二者只能选一")
	case !c.NATS.Embedded && c.NATS.URL == "":
		return nil, confErrorf(path, "nats.url", "缺少 NATS 服务器地址（或设置 embedded = true 使用内嵌服务器）")
	case c.NATS.Embedded && c.Node.DataDir == "":
		return nil, confErrorf(path, "node.data_dir", "内嵌 NATS 需要数据目录存放 JetStream 数据")
	case !c.NATS.Embedded && c.NATS.Listen != "":
		return nil, confErrorf(path, "nats.listen", "listen 只用于内嵌服务器（embedded = true）")
	case c.Keys.KeyFile == "":
		return nil, confErrorf(path, "keys.key_file", "缺少本节点的签名私钥文件")
	case c.Keys.RegionPublicKey == "":
		return nil, confErrorf(path, "keys.region_public_key", "缺少区域公钥文件（用于核验信任列表）")
	case c.Keys.TrustList == "":
		return nil, confErrorf(path, "keys.trust_list", "缺少信任列表文件")
	case c.Node.OrgUnits != "" && c.Node.OrgUnits != orgUnitsProvince && c.Node.OrgUnits != orgUnitsNone:
		return nil, confErrorf(path, "node.org_units", "“%s”无效：应为 \"province\"（按区划数据载入本省的市、县、乡镇）或 \"none\"", c.Node.OrgUnits)
	case c.HTTP.PublicURL == "":
		return nil, confErrorf(path, "http.public_url", "缺少对外网址（婚育证明二维码的核验地址），如 public_url = \"https://ypq.gd.example.gov.cn\"")
	case c.NATS.Replicas < 0 || c.NATS.Replicas > 5:
		return nil, confErrorf(path, "nats.replicas", "副本数 %d 无效，应为 1 到 5（单台服务器 1，集群 3）", c.NATS.Replicas)
	}
	if err := web.CheckPublicURL(c.HTTP.PublicURL); err != nil {
		return nil, confError(path, "http.public_url", err)
	}
	if c.Node.OrgUnits == "" {
		c.Node.OrgUnits = orgUnitsProvince
	}
	if c.NATS.Replicas == 0 {
		c.NATS.Replicas = 1
	}
	if c.Store.DSN == "" {
		c.Store.DSN = "sqlite:" + filepath.Join(c.Node.DataDir, "node.db")
	}
	if c.HTTP.Listen == "" {
		c.HTTP.Listen = defaultHTTPListen
	}
	if c.NATS.Embedded && c.NATS.Listen != "" {
		if _, port, err := net.SplitHostPort(c.NATS.Listen); err != nil {
			return nil, confErrorf(path, "nats.listen", "“%s”不是“主机:端口”形式的地址", c.NATS.Listen)
		} else if port == "4222" {
			return nil, confErrorf(path, "nats.listen", "内嵌服务器不用 4222 端口（留给独立的 NATS 服务器）")
		}
	}
	return &c, nil
}

func unknownTail(keys []string) string {
	if len(keys) == 1 {
		return ""
	}
	return "；另有 " + strings.Join(keys[1:], ", ")
}

// runServe runs one node until ctx ends.
func runServe(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfgPath := fs.String("config", "", "")
	var o natsOverride
	fs.StringVar(&o.url, "nats-url", "", "")
	fs.StringVar(&o.creds, "nats-creds", "", "")
	rest, err := regParseFlags(fs, args, serveUsage)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError("多余的参数“%s”\n%s", strings.Join(rest, " "), serveUsage)
	}
	if *cfgPath == "" {
		return usageError("缺少 --config（节点配置文件）\n%s", serveUsage)
	}
	c, err := loadServeConfig(*cfgPath, o)
	if err != nil {
		return exitCode(2, err)
	}
	file := *cfgPath
	logger := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	now := env.Now()

	// Keys and trust first: they are cheap to check and the commonest mistake.
	key, err := exchange.LoadPrivateKey(c.Keys.KeyFile)
	if err != nil {
		return confError(file, "keys.key_file", err)
	}
	if key.Node != c.Node.Code {
		return confErrorf(file, "keys.key_file", "密钥 %s 属于节点 %s，不是本节点 %s", key.ID, key.Node, c.Node.Code)
	}
	regionPub, err := exchange.LoadPublicKey(c.Keys.RegionPublicKey, exchange.RegionNode)
	if err != nil {
		return confError(file, "keys.region_public_key", err)
	}
	trust, err := exchange.LoadTrustList(c.Keys.TrustList, regionPub, now)
	if err != nil {
		return confError(file, "keys.trust_list", err)
	}
	tn, ok := trust.Node(c.Node.Code)
	if !ok {
		return confErrorf(file, "keys.trust_list", "信任列表（版本 %d）中没有本节点 %s", trust.Version, c.Node.Code)
	}
	if !hasKey(tn, key.ID) {
		return confErrorf(file, "keys.key_file", "密钥 %s 不在信任列表（版本 %d）的节点 %s 之下，其他节点不会接受它的签名",
			key.ID, trust.Version, c.Node.Code)
	}
	// The node's other secrets, like its key, must be its user's alone.
	for _, s := range []struct{ key, path, what string }{{"nats.creds", c.NATS.Creds, "NATS 凭据文件"},
		{"nats.password_file", c.NATS.PasswordFile, "NATS 密码文件"}, {"nats.key_file", c.NATS.KeyFile, "NATS TLS 私钥文件"}} {
		if s.path == "" {
			continue
		}
		if err := exchange.CheckSecretFileMode(s.path, s.what); err != nil {
			return confError(file, s.key, err)
		}
	}

	if c.Node.DataDir != "" {
		if err := os.MkdirAll(c.Node.DataDir, 0o700); err != nil {
			return confError(file, "node.data_dir", err)
		}
	}
	var lease time.Duration
	if c.Exchange.Lease != "" {
		if lease, err = time.ParseDuration(c.Exchange.Lease); err != nil || lease < time.Second {
			return exitCode(2, confErrorf(file, "exchange.lease", "“%s”不是不短于 1s 的时长，如 1m", c.Exchange.Lease))
		}
	}
	db, err := sqlstore.Open(ctx, c.Store.DSN)
	if err != nil {
		return confError(file, "store.dsn", err)
	}
	defer db.Close()
	// A trust list lower than the one this node took before is a rollback: refused.
	if err := casework.AcceptTrustList(ctx, db, c.Node.Code, trust); err != nil {
		return confError(file, "keys.trust_list", err)
	}
	units := "机构由管理员维护"
	if c.Node.OrgUnits == orgUnitsProvince {
		n, err := loadOrgUnits(ctx, env, db, c.Node.Code)
		if err != nil {
			return confError(file, "node.org_units", err)
		}
		units = fmt.Sprintf("机构 %d 个（按区划数据）", n)
	}

	url := c.NATS.URL
	var ns *server.Server
	if c.NATS.Embedded {
		o := natsembed.Options{StoreDir: filepath.Join(c.Node.DataDir, "nats"), Name: "yipanqi-" + c.Node.Code}
		if c.NATS.Listen != "" {
			host, port, _ := net.SplitHostPort(c.NATS.Listen)
			o.Host = host
			if o.Port, err = strconv.Atoi(port); err != nil {
				return confErrorf(file, "nats.listen", "端口“%s”无效", port)
			}
		}
		if ns, err = natsembed.Start(o); err != nil {
			return confError(file, "nats.listen", err)
		}
		defer natsembed.Shutdown(ns)
		url = ns.ClientURL()
	}
	tcfg := exchange.TransportConfig{URL: url, Node: c.Node.Code, CredsFile: c.NATS.Creds, User: c.NATS.User,
		CAFile: c.NATS.CAFile, CertFile: c.NATS.CertFile, KeyFile: c.NATS.KeyFile, Namespace: c.NATS.Namespace, Logger: logger}
	if c.NATS.ConnectWait != "" {
		if tcfg.ConnectWait, err = time.ParseDuration(c.NATS.ConnectWait); err != nil || tcfg.ConnectWait <= 0 {
			return exitCode(2, confErrorf(file, "nats.connect_wait", "“%s”不是正的时长，如 10s", c.NATS.ConnectWait))
		}
	}
	if c.NATS.PasswordFile != "" {
		pw, err := os.ReadFile(c.NATS.PasswordFile)
		if err != nil {
			return confError(file, "nats.password_file", err)
		}
		tcfg.Password = strings.TrimSpace(string(pw))
	}
	tr, err := exchange.Connect(ctx, tcfg)
	if err != nil {
		key := "nats.url"
		if yipanqi.ErrorField(err) == "namespace" {
			key = "nats.namespace"
		}
		return confError(file, key, err)
	}
	defer tr.Close()
	ensure := c.NATS.Embedded
	if c.NATS.EnsureStreams != nil {
		ensure = *c.NATS.EnsureStreams
	}
	if ensure {
		nodes := c.NATS.Nodes
		if len(nodes) == 0 {
			for _, n := range trust.Nodes {
				nodes = append(nodes, n.Code)
			}
		}
		if err := tr.EnsureStreams(ctx, nodes, c.NATS.Replicas); err != nil {
			return confError(file, "nats.ensure_streams", err)
		}
	}

	cal := calendar.New()
	if c.Calendar.HolidaysFile != "" {
		if cal, err = calendar.Load(c.Calendar.HolidaysFile); err != nil {
			return exitCode(2, confError(file, "calendar.holidays_file", err))
		}
	}
	slaEvery := 30 * time.Second
	if c.SLA.Interval != "" {
		if slaEvery, err = time.ParseDuration(c.SLA.Interval); err != nil || slaEvery < time.Second {
			return exitCode(2, confErrorf(file, "sla.interval", "“%s”不是至少 1s 的时长，如 30s", c.SLA.Interval))
		}
	}
	retentionDays := defaultRetentionDays
	if c.Retention.Days != nil {
		if retentionDays = *c.Retention.Days; retentionDays < 0 {
			return exitCode(2, confErrorf(file, "retention.days", "保存期限“%d”无效：应为天数，如 1095；0 表示不清理", retentionDays))
		}
	}
	clock, err := sla.New(sla.Config{Calendar: cal, Interval: slaEvery, Now: env.Now})
	if err != nil {
		return err
	}
	var rules *assess.Rules
	if c.Assess.Rules != "" {
		if rules, err = assess.LoadRules(c.Assess.Rules); err != nil {
			return exitCode(2, confError(file, "assess.rules", err))
		}
	}

	var rotation *meeting.Rotation
	if len(c.Meetings.Order) > 0 || c.Meetings.FirstYear != 0 {
		r := meeting.DefaultRotation()
		order, first := strings.Join(r.Order, ","), r.FirstYear
		if len(c.Meetings.Order) > 0 {
			order = strings.Join(c.Meetings.Order, ",")
		}
		if c.Meetings.FirstYear != 0 {
			first = c.Meetings.FirstYear
		}
		key := "meetings.order"
		if r, err = meeting.ParseRotation(order, first); err != nil {
			if yipanqi.ErrorField(err) == "first_year" {
				key = "meetings.first_year"
			}
			return exitCode(2, confError(file, key, err))
		}
		rotation = &r
	}

	node, err := casework.NewNode(casework.NodeConfig{Code: c.Node.Code, Store: db, Transport: tr, Key: key,
		Trust: trust, Calendar: cal, Now: env.Now, Logger: logger, Lease: lease})
	if err != nil {
		return err
	}
	health, lag, err := web.NATSProbes(tr)
	if err != nil {
		return err
	}
	var types []string
	for name := range casework.DefaultCaseTypes() {
		types = append(types, name)
	}
	slices.Sort(types)
	status := &web.Node{Code: c.Node.Code, Name: c.Node.Name, Store: db, Types: types, NATS: health, InboxLag: lag, Now: env.Now}
	l, err := net.Listen("tcp", c.HTTP.Listen)
	if err != nil {
		return confErrorf(file, "http.listen", "无法监听 %s：%v", c.HTTP.Listen, err)
	}
	tree, err := loadDivisions(env)
	if err != nil {
		return err
	}
	app, err := web.New(web.Config{Code: c.Node.Code, Name: c.Node.Name, Store: db, Node: node, Divisions: tree,
		Status: status, Now: env.Now, Logger: logger, Secure: c.HTTP.SecureCookies, Trust: trust, KeyID: key.ID,
		Calendar: cal, HolidaysFile: c.Calendar.HolidaysFile, AssessRules: rules, MeetingRotation: rotation,
		PublicURL: c.HTTP.PublicURL, Key: key})
	if err != nil {
		return err
	}
	srv := web.NewServer(app, serveTimeouts)
	httpErr := make(chan error, 1)
	go func() { httpErr <- srv.Serve(l) }()

	fmt.Fprintf(env.Stdout, "节点 %s %s 已启动：网页 http://%s/  状态页 http://%s/status/  数据库 %s  NATS %s  %s\n",
		c.Node.Code, c.Node.Name, l.Addr(), l.Addr(), db, redactedURL(url), units)

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- node.Run(runCtx) }()
	// The deadline clock and the directory applier run beside the engine; a failed round is
	// logged and the next one tries again (both pick up where the store says).
	var beside sync.WaitGroup
	beside.Go(func() { _ = sla.Run(runCtx, db, clock, func(err error) { logger.Error("sla", "err", err) }) })
	beside.Go(func() { _ = node.RunDirectoryApplier(runCtx, 10*time.Second) })
	beside.Go(func() { runRetentionDaily(runCtx, db, retentionDays, retentionEvery, env.Now, logger) })
	beside.Go(func() {
		runFlowNotices(runCtx, node, flowNoticeEvery, func(err error) { logger.Error("flow notices", "err", err) })
	})
	defer func() { cancel(); beside.Wait() }() // before the store closes
	var failure error
	select {
	case <-ctx.Done():
	case err := <-runErr:
		failure = err
		runErr <- nil
	case err := <-httpErr:
		failure = fmt.Errorf("serve: http: %w", err)
	}
	fmt.Fprintf(env.Stdout, "节点 %s 正在停止……\n", c.Node.Code)
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = srv.Shutdown(sctx)
	scancel()
	cancel()
	if err := <-runErr; err != nil && failure == nil {
		failure = err
	}
	if failure != nil {
		return failure
	}
	fmt.Fprintf(env.Stdout, "节点 %s 已停止。\n", c.Node.Code)
	return nil
}

// flowNoticeEvery is how often serve looks for flows an import recorded without notices, and
// flowNoticeBatch how many flow events one call reads.
const (
	flowNoticeEvery = 10 * time.Second
	flowNoticeBatch = 5000
)

// runFlowNotices sends the move.notice of the flows an import recorded (the import command has
// no exchange engine; casework.Node.SendFlowNotices) until ctx ends: at once, then every
// `every`, each round reading on until it has caught up. Where it got to is kept in memory,
// not in the store: SendFlowNotices is idempotent (a notice's id derives from its flow
// event), so a restart that begins again at flow 0 sends nothing twice — it only reads the
// flows once more, an audited read per batch — and it also picks up flows whose import
// committed after a later-numbered flow had been read. A failed round is reported and the
// next one tries again from the same place.
func runFlowNotices(ctx context.Context, node *casework.Node, every time.Duration, onError func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	var after int64
	for {
		for ctx.Err() == nil {
			last, _, err := node.SendFlowNotices(ctx, after, flowNoticeBatch)
			if err != nil {
				if ctx.Err() == nil {
					onError(err)
				}
				break
			}
			if last == after {
				break // caught up
			}
			after = last
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// loadOrgUnits upserts the node's province and its cities, counties and townships from the
// division data (YIPANQI_DIVISIONS or the embedded snapshot) and returns how many there are.
// Upserting is idempotent and keeps names current after the data is updated; units added by
// hand are left alone.
func loadOrgUnits(ctx context.Context, env *Env, db *sqlstore.DB, code string) (int, error) {
	tree, err := loadDivisions(env)
	if err != nil {
		return 0, err
	}
	units, err := tree.ProvinceUnits(code)
	if err != nil {
		return 0, err
	}
	if err := db.UpsertOrgUnits(ctx, units); err != nil {
		return 0, err
	}
	return len(units), nil
}

func hasKey(n exchange.TrustedNode, id string) bool {
	for _, k := range n.Keys {
		if k.ID == id {
			return true
		}
	}
	return false
}

// redactedURL drops any user and password from a NATS URL list before it is printed.
func redactedURL(u string) string {
	parts := strings.Split(u, ",")
	for i, p := range parts {
		if at := strings.LastIndex(p, "@"); at >= 0 {
			if s := strings.Index(p, "://"); s >= 0 && s < at {
				parts[i] = p[:s+3] + p[at+1:]
			}
		}
	}
	return strings.Join(parts, ",")
}

// serveTimeouts bound how long the node's HTTP server waits on a client (web.NewServer);
// tests shorten them.
var serveTimeouts = web.DefaultServerTimeouts
