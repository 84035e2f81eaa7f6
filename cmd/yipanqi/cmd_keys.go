package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"yipanqi"
	"yipanqi/exchange"
)

const keysUsage = `用法：
  yipanqi keys gen --node CODE [--dir DIR] [--name BASE] [--valid-from 时间] [--valid-days N]
      生成节点 SM2 密钥对：BASE.key.pem（PKCS#8 私钥，权限 0600）与 BASE.pub.pem（公钥，
      记有申请的有效期），在标准输出打印密钥编号。BASE 默认为密钥编号；已有文件绝不覆盖。
      CODE 为两位省级代码（如 44），或 region 生成区域签名密钥。
      有效期默认自现在起 365 天。
  yipanqi keys gen-region [--dir DIR] [--name BASE] [--valid-from 时间] [--valid-days N]
      同 keys gen --node region。
  yipanqi keys trust --region-key FILE --out FILE [--version N] [--issued-at 时间] [--valid-days N] 节点...
      生成并用区域私钥签署信任列表。每个“节点”参数写作
          CODE=名称:公钥文件[,公钥文件...]
      公钥文件的有效期取自文件中的 Not-Before/Not-After 行，也可写成
          公钥文件@起始时间/截止时间（不含截止时间）
      例：44=广东:keys/44-1a2b3c4d.pub.pem,keys/44-5e6f7a8b.pub.pem@2026-11-01T00:00:00Z/2027-12-01T00:00:00Z
      --version 默认取签发时间的 Unix 秒数；--valid-days 为下次更新前的天数，默认 30。
  yipanqi keys verify-trust --region-pub FILE [--at 时间] trust.json
      用区域公钥核验信任列表的签名与有效期，并列出其中的节点与密钥。
  yipanqi keys show FILE...
      显示密钥文件的编号、节点与有效期。
时间均为 RFC 3339 格式，如 2026-01-01T00:00:00Z 或 2026-01-01T08:00:00+08:00。`

// runKeys manages node key pairs and the region's trust list.
func runKeys(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return usageError("缺少子命令\n%s", keysUsage)
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "gen":
		return keysGen(env, rest, "")
	case "gen-region":
		return keysGen(env, rest, exchange.RegionNode)
	case "trust":
		return keysTrust(env, rest)
	case "verify-trust":
		return keysVerifyTrust(env, rest)
	case "show":
		return keysShow(env, rest)
	case "help", "-h", "--help":
		fmt.Fprintln(env.Stdout, keysUsage)
		return nil
	}
	return usageError("未知子命令“%s”\n%s", sub, keysUsage)
}

// parseFlags parses flags that may come before, between or after the positional arguments,
// and returns the positional ones. errHelp is returned as is.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError("keys %s：参数有误（%v）\n%s", fs.Name(), err, keysUsage)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// parseTime reads an RFC 3339 time given in flag or argument name.
func parseTime(name, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, usageError("%s“%s”不是 RFC 3339 时间（如 2026-01-01T00:00:00Z）", name, s)
	}
	return t.UTC(), nil
}

func keysGen(env *Env, args []string, node string) error {
	name := "gen"
	if node == exchange.RegionNode {
		name = "gen-region"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	if node == "" {
		fs.StringVar(&node, "node", "", "节点代码")
	}
	dir := fs.String("dir", ".", "写入目录")
	baseName := fs.String("name", "", "文件名（不含扩展名），默认为密钥编号")
	validFrom := fs.String("valid-from", "", "生效时间，默认现在")
	validDays := fs.Int("valid-days", 365, "有效天数")
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(env.Stdout, keysUsage)
		return nil
	} else if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("keys %s 不接受参数“%s”\n%s", fs.Name(), pos[0], keysUsage)
	}
	if node == "" {
		return usageError("keys gen 缺少 --node（两位省级代码，如 44；或 region）\n%s", keysUsage)
	}
	if *validDays < 1 {
		return usageError("--valid-days 须为正整数，实为 %d", *validDays)
	}
	notBefore := env.Now().UTC().Truncate(time.Second)
	if *validFrom != "" {
		if notBefore, err = parseTime("--valid-from", *validFrom); err != nil {
			return err
		}
	}
	notAfter := notBefore.AddDate(0, 0, *validDays)

	key, err := exchange.GenerateKey(node)
	if err != nil {
		return exitCode(2, err)
	}
	base := *baseName
	if base == "" {
		base = key.ID
	}
	if strings.ContainsAny(base, `/\`) {
		return usageError("--name 只能是文件名，不能含路径分隔符；目录请用 --dir")
	}
	files, err := exchange.WriteKeyPair(*dir, base, key, notBefore, notAfter)
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, key.ID)
	fmt.Fprintf(env.Stderr, "私钥：%s（权限 0600，请妥善保管，切勿外传）\n公钥：%s（有效期 %s 至 %s，交区域列入信任列表）\n",
		files.Private, files.Public, notBefore.Format(time.RFC3339), notAfter.Format(time.RFC3339))
	return nil
}

// nodeSpec is one NODE=NAME:PUB[,PUB...] argument of keys trust.
func parseNodeSpec(spec string) (exchange.TrustedNode, error) {
	bad := func(format string, args ...any) (exchange.TrustedNode, error) {
		return exchange.TrustedNode{}, usageError("节点参数“%s”有误："+format+"\n应写作 CODE=名称:公钥文件[,公钥文件...]", append([]any{spec}, args...)...)
	}
	code, rest, ok := strings.Cut(spec, "=")
	if !ok {
		return bad("缺少“=”")
	}
	name, files, ok := strings.Cut(rest, ":")
	if !ok || strings.TrimSpace(files) == "" {
		return bad("缺少“:”及其后的公钥文件")
	}
	if strings.TrimSpace(name) == "" {
		return bad("缺少节点名称")
	}
	n := exchange.TrustedNode{Code: code, Name: strings.TrimSpace(name)}
	for _, f := range strings.Split(files, ",") {
		path, validity := f, ""
		if at := strings.LastIndexByte(f, '@'); at >= 0 && strings.Contains(f[at:], "/") {
			path, validity = f[:at], f[at+1:]
		}
		pub, err := exchange.LoadPublicKey(path, code)
		if err != nil {
			return exchange.TrustedNode{}, err
		}
		nb, na := pub.NotBefore, pub.NotAfter
		if validity != "" {
			from, to, _ := strings.Cut(validity, "/")
			if nb, err = parseTime(path+" 的起始时间", from); err != nil {
				return exchange.TrustedNode{}, err
			}
			if na, err = parseTime(path+" 的截止时间", to); err != nil {
				return exchange.TrustedNode{}, err
			}
		}
		if nb.IsZero() || na.IsZero() {
			return bad("公钥文件 %s 没有记录有效期，请写成 %s@起始时间/截止时间", path, path)
		}
		tk, err := exchange.TrustKey(pub, nb, na)
		if err != nil {
			return exchange.TrustedNode{}, err
		}
		n.Keys = append(n.Keys, tk)
	}
	return n, nil
}

func keysTrust(env *Env, args []string) error {
	fs := flag.NewFlagSet("trust", flag.ContinueOnError)
	regionKey := fs.String("region-key", "", "区域私钥文件")
	out := fs.String("out", "", "输出的信任列表文件")
	version := fs.Int64("version", 0, "版本号，默认为签发时间的 Unix 秒数")
	issuedAt := fs.String("issued-at", "", "签发时间，默认现在")
	validDays := fs.Int("valid-days", 30, "下次更新前的天数")
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(env.Stdout, keysUsage)
		return nil
	} else if err != nil {
		return err
	}
	switch {
	case *regionKey == "":
		return usageError("keys trust 缺少 --region-key（区域私钥文件）\n%s", keysUsage)
	case *out == "":
		return usageError("keys trust 缺少 --out（输出文件）\n%s", keysUsage)
	case len(pos) == 0:
		return usageError("keys trust 至少需要一个节点参数 CODE=名称:公钥文件\n%s", keysUsage)
	case *validDays < 1:
		return usageError("--valid-days 须为正整数，实为 %d", *validDays)
	}
	issued := env.Now().UTC().Truncate(time.Second)
	if *issuedAt != "" {
		if issued, err = parseTime("--issued-at", *issuedAt); err != nil {
			return err
		}
	}
	if *version == 0 {
		*version = issued.Unix()
	}
	region, err := exchange.LoadPrivateKey(*regionKey)
	if err != nil {
		return err
	}
	var nodes []exchange.TrustedNode
	for _, spec := range pos {
		n, err := parseNodeSpec(spec)
		if err != nil {
			return err
		}
		nodes = append(nodes, n)
	}
	tl, err := exchange.NewTrustList(*version, issued, issued.AddDate(0, 0, *validDays), nodes)
	if err != nil {
		return err
	}
	doc, err := tl.Sign(region)
	if err != nil {
		return err
	}
	if err := exchange.WriteTrustList(*out, doc); err != nil {
		return err
	}
	keys := 0
	for _, n := range nodes {
		keys += len(n.Keys)
	}
	fmt.Fprintf(env.Stdout, "信任列表第 %d 版已写入 %s：%d 个节点，%d 个密钥，由 %s 签署，下次更新 %s\n",
		tl.Version, *out, len(nodes), keys, region.ID, tl.NextUpdate.Format(time.RFC3339))
	return nil
}

func keysVerifyTrust(env *Env, args []string) error {
	fs := flag.NewFlagSet("verify-trust", flag.ContinueOnError)
	regionPub := fs.String("region-pub", "", "区域公钥文件")
	at := fs.String("at", "", "按此时间判断是否过期，默认现在")
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(env.Stdout, keysUsage)
		return nil
	} else if err != nil {
		return err
	}
	if *regionPub == "" {
		return usageError("keys verify-trust 缺少 --region-pub（区域公钥文件）\n%s", keysUsage)
	}
	if len(pos) != 1 {
		return usageError("keys verify-trust 需要且只需要一个信任列表文件，收到 %d 个\n%s", len(pos), keysUsage)
	}
	now := env.Now()
	if *at != "" {
		if now, err = parseTime("--at", *at); err != nil {
			return err
		}
	}
	pub, err := exchange.LoadPublicKey(*regionPub, exchange.RegionNode)
	if err != nil {
		return err
	}
	tl, err := exchange.LoadTrustList(pos[0], pub, now)
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "信任列表有效：第 %d 版，签发于 %s，下次更新 %s，区域密钥 %s\n",
		tl.Version, tl.IssuedAt.Format(time.RFC3339), tl.NextUpdate.Format(time.RFC3339), pub.ID)
	for _, n := range tl.Nodes {
		fmt.Fprintf(&b, "%s %s\n", n.Code, n.Name)
		for _, k := range n.Keys {
			fmt.Fprintf(&b, "  %s  %s 至 %s\n", k.ID, k.NotBefore.Format(time.RFC3339), k.NotAfter.Format(time.RFC3339))
		}
	}
	_, err = io.WriteString(env.Stdout, b.String())
	return err
}

func keysShow(env *Env, args []string) error {
	if len(args) == 0 {
		return usageError("keys show 缺少密钥文件\n%s", keysUsage)
	}
	var b strings.Builder
	for _, path := range args {
		if k, err := exchange.LoadPrivateKey(path); err == nil {
			fmt.Fprintf(&b, "%s：私钥 %s（节点 %s）\n", path, k.ID, k.Node)
			continue
		}
		p, err := exchange.LoadPublicKey(path, "")
		if err != nil && exchange.CheckPrivateKeyMode(path) != nil {
			return exchange.CheckPrivateKeyMode(path) // a private key others can read
		} else if err != nil {
			return yipanqi.Errorf(yipanqi.EINVALID, "%s 不是本系统的私钥或公钥文件：%s", path, yipanqi.ErrorMessage(err))
		}
		validity := "未记录有效期"
		if !p.NotBefore.IsZero() && !p.NotAfter.IsZero() {
			validity = "有效期 " + p.NotBefore.Format(time.RFC3339) + " 至 " + p.NotAfter.Format(time.RFC3339)
		}
		fmt.Fprintf(&b, "%s：公钥 %s（节点 %s，%s）\n", path, p.ID, p.Node, validity)
	}
	_, err := io.WriteString(env.Stdout, b.String())
	return err
}
