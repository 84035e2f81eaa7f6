package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"yipanqi"
	"yipanqi/demo"
)

const demoUsage = `用法：
  yipanqi demo [--dir DIR] [--people N] [--seed S] [--rate R] [--for 时长] [--drain 时长]
               [--http 地址] [--nats-port 端口]
在本机运行整个泛珠三角区域：一个内嵌 NATS JetStream（DIR/nats），11 个省级节点各用一个
SQLite 数据库（DIR/省代码/node.db），密钥与签名信任列表（DIR/keys，已有则沿用）。
为每省生成合成流动人口并经与乡镇导入相同的校验流程导入，然后持续发送身份住址核实案件：
居住地节点就其登记的跨省流动人员向户籍地节点（户籍县或乡镇）发函，户籍地经短暂的模拟办理
后答复（多为“属实”，部分“更正”或“查无此人”）。每个节点有状态页，地址在启动时列出。
  --dir        数据目录（默认 ./yipanqi-demo；已存在则沿用，重复运行不会重复登记）
  --people     每省人数（默认 2000）
  --seed       随机种子（默认 1）
  --rate       全区域每秒新发案件数（默认 20；0 为不发送）
  --for        运行时长，如 30s、5m；到时停止发送、等待在途案件后打印汇总并退出
               （默认一直运行，按 Ctrl-C 停止）
  --drain      停止发送后等待在途案件的最长时间（默认 30s）
  --http       状态页监听地址（默认 127.0.0.1:8044；空字符串为不启动）
  --nats-port  内嵌 NATS 端口（默认 0，自动选择空闲端口）`

// runDemo runs the whole region on this machine; the work is in package demo.
func runDemo(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dir := fs.String("dir", "yipanqi-demo", "")
	people := fs.String("people", "2000", "")
	seed := fs.String("seed", "1", "")
	rate := fs.String("rate", "20", "")
	forFlag := fs.String("for", "", "")
	drain := fs.String("drain", "30s", "")
	httpAddr := fs.String("http", "127.0.0.1:8044", "")
	natsPort := fs.String("nats-port", "0", "")
	rest, err := regParseFlags(fs, args, demoUsage)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError("多余的参数“%s”\n%s", strings.Join(rest, " "), demoUsage)
	}
	if n, err := strconv.Atoi(*people); err != nil || n <= 0 {
		return usageError("--people“%s”无效：应为正整数", *people)
	}
	if _, err := strconv.ParseUint(*seed, 10, 64); err != nil {
		return usageError("--seed“%s”无效：应为非负整数", *seed)
	}
	r, err := yipanqi.ParseNumber(*rate)
	if err != nil || r < 0 || r > 10000 {
		return usageError("--rate“%s”无效：应为 0 到 10000 之间的数", *rate)
	}
	var runFor time.Duration
	if *forFlag != "" {
		if runFor, err = time.ParseDuration(*forFlag); err != nil || runFor <= 0 {
			return usageError("--for“%s”无效：应为正的时长，如 30s、5m", *forFlag)
		}
	}
	drainFor, err := time.ParseDuration(*drain)
	if err != nil || drainFor <= 0 {
		return usageError("--drain“%s”无效：应为正的时长，如 30s", *drain)
	}
	port, err := strconv.Atoi(*natsPort)
	if err != nil || port < 0 || port > 65535 || port == 4222 {
		return usageError("--nats-port“%s”无效：应为 0（自动）或 1–65535 之间、不是 4222 的端口", *natsPort)
	}
	tree, err := loadDivisions(env)
	if err != nil {
		return err
	}

	fmt.Fprintf(env.Stdout, "一盘棋区域演示：%d 个省级节点，数据目录 %s\n", len(yipanqi.RegionCodes()), *dir)
	total := 0
	populate := func(ctx context.Context, code, dsn string) error {
		n, err := demoPopulate(ctx, env, *dir, code, dsn, *people, *seed)
		if err != nil {
			return err
		}
		total += n
		return nil
	}
	_, err = demo.Run(ctx, demo.Config{
		Dir: *dir, Tree: tree, Populate: populate,
		Rate: r, For: runFor, Drain: drainFor, HTTP: *httpAddr, NATSPort: port,
		Out: &totalFirst{w: env.Stdout, total: &total}, Now: env.Now,
		Logger: slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	return err
}

// totalFirst prints the population total before the first thing the demo itself prints,
// that is once every node is populated.
type totalFirst struct {
	w     io.Writer
	total *int
	done  bool
}

func (t *totalFirst) Write(p []byte) (int, error) {
	if !t.done {
		t.done = true
		fmt.Fprintf(t.w, "合计登记 %d 人。用 yipanqi export people --db <上面的库> -o 文件.xlsx 导出查看。\n", *t.total)
	}
	return t.w.Write(p)
}

// demoPopulate makes node code's register file once (then keeps it, so a second run finds the
// same people and changes nothing), imports it through the township import and prints what
// the node holds. It returns how many people that is.
func demoPopulate(ctx context.Context, env *Env, dir, code, dsn, people, seed string) (int, error) {
	tree, err := loadDivisions(env)
	if err != nil {
		return 0, err
	}
	p, err := tree.Lookup(code)
	if err != nil {
		return 0, err
	}
	file := filepath.Join(dir, code, "people.csv")
	if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
		if err := runGen(ctx, env, []string{"people", "--province", code,
			"--count", people, "--seed", seed, "-o", file}); err != nil {
			return 0, fmt.Errorf("demo %s gen: %w", code, err)
		}
	}
	var out bytes.Buffer
	sub := *env
	sub.Stdout = &out
	if err := runImport(ctx, &sub, []string{"people", "--db", dsn, file}); err != nil {
		return 0, fmt.Errorf("demo %s import: %w", code, err)
	}
	n, err := demoCount(ctx, dsn, code)
	if err != nil {
		return 0, err
	}
	fmt.Fprintf(env.Stdout, "  %s %-6s 登记 %6d 人（本次 %s）  %s\n", code, p.Name, n,
		strings.TrimSpace(out.String()), dsn)
	return n, nil
}

// demoCount returns how many people a node's registry holds in its province.
func demoCount(ctx context.Context, dsn, province string) (int, error) {
	db, err := openStore(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	scope, err := yipanqi.NewScope(province)
	if err != nil {
		return 0, err
	}
	n, err := db.CountPeople(ctx, scope)
	return n, err
}
