package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"yipanqi"
	"yipanqi/casework"
	"yipanqi/exchange"
	"yipanqi/sqlstore"
)

func init() {
	moreCommands["audit"] = command{"审计日志：audit verify --db DSN [--trust F --region-pub F] [--strict] [--peer-heads F] | audit heads --db DSN --from 节点 | audit log --db DSN", runAudit}
}

const auditUsage = `用法：
  yipanqi audit verify [--db DSN] [--trust FILE --region-pub FILE] [--key FILE] [--strict]
                       [--peer-heads FILE] [--peer-db DSN] [--node 节点]
      校验审计日志的哈希链，指出第一条被改动的记录；给出信任列表时核验每个链头的签名；
      给出对端收到的链头（--peer-heads 为 audit heads 导出的文件，或 --peer-db 为对端数据库）
      时核对本地日志在相应序号处含有这些链头。--strict：无签名覆盖的记录也算未通过
  yipanqi audit heads [--db DSN] --from 节点 [-o FILE]
      导出本节点从该节点收到的已签名审计链头（JSON），供该节点 audit verify --peer-heads 使用
  yipanqi audit log [--db DSN] [--object X] [--limit N] 列出最新的审计记录（身份号码打码）`

// runAudit checks or lists the node's audit log.
func runAudit(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return usageError("缺少子命令\n%s", auditUsage)
	}
	switch args[0] {
	case "verify":
		return runAuditVerify(ctx, env, args[1:])
	case "heads":
		return runAuditHeads(ctx, env, args[1:])
	case "log":
		return runAuditLog(ctx, env, args[1:])
	case "-h", "--help", "help":
		fmt.Fprintln(env.Stdout, auditUsage)
		return nil
	}
	return usageError("未知的子命令“%s”\n%s", args[0], auditUsage)
}

func auditFlags(name string, env *Env) (*flag.FlagSet, *string, *strings.Builder) {
	fs := flag.NewFlagSet("audit "+name, flag.ContinueOnError)
	var out strings.Builder
	fs.SetOutput(&out)
	return fs, dbFlag(fs, env), &out
}

// auditHeadJSON is one head in the file audit heads writes and audit verify --peer-heads reads.
type auditHeadJSON struct {
	Node  string    `json:"node"`
	Seq   int64     `json:"seq"`
	Hash  string    `json:"hash"`
	At    time.Time `json:"at"`
	KeyID string    `json:"key_id"`
	Sig   string    `json:"sig"`
}

// runAuditVerify seals what is pending and walks the chain: exit 0 and the count when it is
// whole, exit 1 naming the first broken entry or head when not. With the trust list it
// checks every signed head; with a peer's heads it checks the chain holds them.
func runAuditVerify(ctx context.Context, env *Env, args []string) error {
	fs, dsn, _ := auditFlags("verify", env)
	trustFile := fs.String("trust", "", "信任列表文件：核验链头签名")
	regionPub := fs.String("region-pub", "", "区域公钥文件（与 --trust 同用）")
	keyFile := fs.String("key", "", "本节点私钥文件：校验前封存的记录以此签名")
	strict := fs.Bool("strict", false, "严格：须有信任列表，且每条记录都有已签名的链头覆盖")
	peerFile := fs.String("peer-heads", "", "对端收到的本节点链头（audit heads 导出的 JSON 文件）")
	peerDB := fs.String("peer-db", "", "对端节点的数据库：读取其收到的本节点链头")
	node := fs.String("node", "", "本节点代码（--peer-db 用；默认取自 --key 或已签名的链头）")
	if err := fs.Parse(args); err != nil {
		return usageError("参数有误：%v\n%s", err, auditUsage)
	}
	if fs.NArg() > 0 {
		return usageError("audit verify 不接受参数“%s”\n%s", strings.Join(fs.Args(), " "), auditUsage)
	}
	if (*trustFile == "") != (*regionPub == "") {
		return usageError("--trust 与 --region-pub 须同时给出\n%s", auditUsage)
	}
	if *strict && *trustFile == "" {
		return usageError("--strict 需要 --trust 与 --region-pub 以核验签名\n%s", auditUsage)
	}
	opts := sqlstore.AuditVerifyOptions{Strict: *strict}
	if *trustFile != "" {
		pub, err := exchange.LoadPublicKey(*regionPub, exchange.RegionNode)
		if err != nil {
			return err
		}
		tl, err := exchange.LoadTrustList(*trustFile, pub, env.Now())
		if err != nil {
			return err
		}
		opts.CheckSig = casework.AuditChecker(tl)
	}
	var key *exchange.PrivateKey
	if *keyFile != "" {
		var err error
		if key, err = exchange.LoadPrivateKey(*keyFile); err != nil {
			return err
		}
		if *node == "" {
			*node = key.Node
		}
	}
	if *peerFile != "" {
		heads, err := readPeerHeads(*peerFile)
		if err != nil {
			return err
		}
		opts.PeerHeads = append(opts.PeerHeads, heads...)
	}
	db, err := openStore(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	if key != nil {
		db.SetAuditSigner(key.AuditSigner())
	} else if *strict {
		// Sealing without the key would leave what it seals unsigned: check what is sealed.
		opts.NoSeal = true
	}
	if *peerDB != "" {
		if *node == "" {
			if h, err := db.LatestAuditHead(ctx); err == nil {
				*node, _, _ = strings.Cut(h.KeyID, "-")
			}
		}
		if *node == "" {
			return usageError("--peer-db 需要 --node（本节点代码）或 --key\n%s", auditUsage)
		}
		pdb, err := openStore(ctx, *peerDB)
		if err != nil {
			return err
		}
		heads, err := pdb.PeerAuditHeads(ctx, *node)
		pdb.Close()
		if err != nil {
			return err
		}
		opts.PeerHeads = append(opts.PeerHeads, heads...)
	}
	r, err := db.VerifyAuditSigned(ctx, opts)
	if err != nil {
		return fmt.Errorf("审计日志校验未通过（此前 %d 条完好）：%w", r.Checked, err)
	}
	fmt.Fprintf(env.Stdout, "审计日志完整：已校验 %d 条记录\n", r.Checked)
	how := "签名已按信任列表核验"
	if opts.CheckSig == nil {
		how = "未核验签名：未给出 --trust"
	}
	fmt.Fprintf(env.Stdout, "链头：%d 个，其中已签名 %d 个（%s）\n", r.Seals, r.Signed, how)
	if r.Unsigned > 0 {
		fmt.Fprintf(env.Stdout, "注意：最后 %d 条记录没有已签名的链头覆盖（无密钥的进程封存，或节点尚未签名；严格模式下不通过）\n", r.Unsigned)
	}
	if *peerFile != "" || *peerDB != "" {
		fmt.Fprintf(env.Stdout, "对端收到的链头：%d 个，均在本地日志中\n", r.PeerHeads)
	}
	return nil
}

// readPeerHeads reads a file written by audit heads.
func readPeerHeads(path string) ([]sqlstore.AuditHead, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "peer-heads", "无法读取对端链头文件 %s：%v", path, err)
	}
	var in []auditHeadJSON
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "peer-heads", "对端链头文件 %s 格式错误：%v", path, err)
	}
	out := make([]sqlstore.AuditHead, len(in))
	for i, h := range in {
		if h.Node == "" || h.Seq <= 0 || h.Hash == "" {
			return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "peer-heads", "对端链头文件 %s 第 %d 项缺少节点、序号或哈希", path, i+1)
		}
		out[i] = sqlstore.AuditHead{Node: h.Node, Seq: h.Seq, Hash: h.Hash, At: h.At.UTC(), KeyID: h.KeyID, Sig: h.Sig}
	}
	return out, nil
}

// runAuditHeads writes the signed audit heads this node received from another node, as JSON,
// for that node's audit verify --peer-heads.
func runAuditHeads(ctx context.Context, env *Env, args []string) error {
	fs, dsn, _ := auditFlags("heads", env)
	from := fs.String("from", "", "发布链头的节点代码，如 44")
	outFile := fs.String("o", "", "输出文件（默认标准输出）")
	if err := fs.Parse(args); err != nil {
		return usageError("参数有误：%v\n%s", err, auditUsage)
	}
	if fs.NArg() > 0 {
		return usageError("audit heads 不接受参数“%s”\n%s", strings.Join(fs.Args(), " "), auditUsage)
	}
	if *from == "" {
		return usageError("audit heads 缺少 --from（发布链头的节点）\n%s", auditUsage)
	}
	db, err := openStore(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	heads, err := db.PeerAuditHeads(ctx, *from)
	if err != nil {
		return err
	}
	out := make([]auditHeadJSON, len(heads))
	for i, h := range heads {
		out[i] = auditHeadJSON{Node: h.Node, Seq: h.Seq, Hash: h.Hash, At: h.At.UTC(), KeyID: h.KeyID, Sig: h.Sig}
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if *outFile == "" {
		_, err = env.Stdout.Write(data)
		return err
	}
	if err := os.WriteFile(*outFile, data, 0o644); err != nil {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "o", "无法写入 %s：%v", *outFile, err)
	}
	fmt.Fprintf(env.Stderr, "已导出节点 %s 的审计链头 %d 个到 %s\n", *from, len(out), *outFile)
	return nil
}

// runAuditLog prints the newest entries. Listing the log is itself a read of what people
// were looked up, so it is audited, and ID numbers in it are masked.
func runAuditLog(ctx context.Context, env *Env, args []string) error {
	fs, dsn, _ := auditFlags("log", env)
	object := fs.String("object", "", "只列出关于此对象（案件编号、文件名……）的记录")
	limit := fs.Int("limit", 50, "最多列出的条数（1–10000）")
	if err := fs.Parse(args); err != nil {
		return usageError("参数有误：%v\n%s", err, auditUsage)
	}
	if fs.NArg() > 0 {
		return usageError("audit log 不接受参数“%s”\n%s", strings.Join(fs.Args(), " "), auditUsage)
	}
	if *limit < 1 || *limit > 10000 {
		return usageError("--limit 应在 1 到 10000 之间，实际为 %d", *limit)
	}
	db, err := openStore(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	actor := regActor()
	if err := db.Audit(ctx, &yipanqi.AuditEntry{Actor: actor, Action: "audit.view", Object: *object}); err != nil {
		return err
	}
	entries, err := db.AuditLog(ctx, *object, *limit)
	if err != nil {
		return err
	}
	return printAudit(env, db, entries)
}

func printAudit(env *Env, _ *sqlstore.DB, entries []*yipanqi.AuditEntry) error {
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "编号\t时间\t操作人\t单位\t操作\t对象\t说明")
	for _, e := range entries {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.At.In(yipanqi.Shanghai).Format(time.DateTime),
			e.Actor, e.OrgUnit, e.Action, maskObject(e.Object), e.Reason)
	}
	return tw.Flush()
}

// maskObject hides the middle of an object that is a resident ID number.
func maskObject(s string) string {
	if len(s) == 18 && strings.Trim(s[:17], "0123456789") == "" {
		return s[:6] + "********" + s[14:]
	}
	return s
}
