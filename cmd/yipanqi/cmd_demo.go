package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"yipanqi"
	"yipanqi/synth"
)

const demoUsage = `用法：
  yipanqi demo [--dir DIR] [--people N] [--seed S]
在本机演示整个泛珠三角区域：11 个省级节点各用一个 SQLite 数据库（DIR/省代码/node.db），
为每省生成合成流动人口并经与乡镇导入相同的校验流程导入，然后列出各节点的登记情况。
  --dir     数据目录（默认 ./yipanqi-demo；已存在则沿用，重复运行不会重复登记）
  --people  每省人数（默认 2000）
  --seed    随机种子（默认 1）`

// runDemo builds the whole region on this machine: a node store per province, each holding a
// generated population imported through the same validating import a township office uses.
func runDemo(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dir := fs.String("dir", "yipanqi-demo", "")
	people := fs.String("people", "2000", "")
	seed := fs.String("seed", "1", "")
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
	tree, err := loadDivisions(env)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "一盘棋区域演示：%d 个省级节点，数据目录 %s\n", len(synth.Provinces()), *dir)
	total := 0
	for _, code := range synth.Provinces() {
		if err := ctx.Err(); err != nil {
			return err
		}
		p, err := tree.Lookup(code)
		if err != nil {
			return err
		}
		nodeDir := filepath.Join(*dir, code)
		if err := os.MkdirAll(nodeDir, 0o755); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		file := filepath.Join(nodeDir, "people.csv")
		dsn := "sqlite:" + filepath.Join(nodeDir, "node.db")
		// A register file is made once and then kept, so a second run finds the same people
		// and changes nothing.
		if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
			if err := runGen(ctx, env, []string{"people", "--province", code,
				"--count", *people, "--seed", *seed, "-o", file}); err != nil {
				return fmt.Errorf("demo %s gen: %w", code, err)
			}
		}
		var out bytes.Buffer
		sub := *env
		sub.Stdout = &out
		if err := runImport(ctx, &sub, []string{"people", "--db", dsn, file}); err != nil {
			return fmt.Errorf("demo %s import: %w", code, err)
		}
		n, err := demoCount(ctx, dsn, code)
		if err != nil {
			return err
		}
		total += n
		fmt.Fprintf(env.Stdout, "  %s %-6s 登记 %6d 人（本次 %s）  %s\n", code, p.Name, n,
			strings.TrimSpace(out.String()), dsn)
	}
	fmt.Fprintf(env.Stdout, "合计登记 %d 人。用 yipanqi export people --db <上面的库> -o 文件.xlsx 导出查看。\n", total)
	return nil
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
	_, n, err := db.ListPeople(ctx, scope, yipanqi.PersonFilter{Limit: 1})
	return n, err
}
