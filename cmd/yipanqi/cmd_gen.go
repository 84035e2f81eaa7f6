package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"yipanqi"
	"yipanqi/registry"
	"yipanqi/synth"
)

const genUsage = `用法：
  yipanqi gen people --province CODE --count N [--seed S] [--today YYYY-MM-DD] -o FILE.csv|FILE.xlsx
生成一个省的合成流动人口登记表（虚构人员，身份号码合法但不属于任何人），格式与导入模板相同。
  --province  泛珠三角 11 省区之一的 2 位代码：35 36 42 43 44 45 46 50 51 52 53
  --count     人数
  --seed      随机种子（默认 1）；种子、人数、省份与 --today 相同时，生成的文件逐字节相同
  --today     基准日期（默认今天，北京时间）：年龄与流入日期按它计算
  -o          输出文件，扩展名 .csv 或 .xlsx`

// runGen writes a synthetic population: gen people.
func runGen(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] != "people" {
		if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintln(env.Stdout, genUsage)
			return nil
		}
		return usageError("gen 只支持 people\n%s", genUsage)
	}
	fs := flag.NewFlagSet("gen people", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	province := fs.String("province", "", "")
	count := fs.String("count", "", "")
	seed := fs.String("seed", "1", "")
	todayFlag := fs.String("today", "", "")
	out := fs.String("o", "", "")
	rest, err := regParseFlags(fs, args[1:], genUsage)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError("多余的参数“%s”\n%s", strings.Join(rest, " "), genUsage)
	}
	if *province == "" {
		return usageError("缺少 --province（省级区划代码）\n%s", genUsage)
	}
	n, err := strconv.Atoi(*count)
	if err != nil || n <= 0 {
		return usageError("--count“%s”无效：应为正整数", *count)
	}
	s, err := strconv.ParseUint(*seed, 10, 64)
	if err != nil {
		return usageError("--seed“%s”无效：应为非负整数", *seed)
	}
	today, err := regToday(env, *todayFlag)
	if err != nil {
		return err
	}
	format, err := regFormat(*out, "-o")
	if err != nil {
		return err
	}
	tree, err := loadDivisions(env)
	if err != nil {
		return err
	}
	g, err := synth.New(tree, synth.Config{Province: *province, Seed: s, Today: today})
	if err != nil {
		return exitCode(2, err)
	}

	bar := newRegProgress(env, int64(n), "生成", false)
	err = regWriteAtomically(*out, func(w io.Writer) error {
		rw, err := registry.NewWriter(w, format)
		if err != nil {
			return err
		}
		var p yipanqi.Person
		for i := range n {
			if i&4095 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
				bar.set(int64(i))
			}
			g.Next(&p)
			if err := rw.Write(&p); err != nil {
				return err
			}
		}
		bar.set(int64(n))
		return rw.Close()
	})
	bar.finish()
	return err
}

// regParseFlags parses flags that may come before or after the positional arguments (FILE
// --db DSN as well as --db DSN FILE) and returns the positional ones. Flag errors are usage
// errors (exit 2).
func regParseFlags(fs *flag.FlagSet, args []string, usage string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				return nil, usageError("%s", usage)
			}
			return nil, usageError("参数错误：%v\n%s", err, usage)
		}
		args = fs.Args()
		if len(args) == 0 {
			return rest, nil
		}
		rest = append(rest, args[0])
		args = args[1:]
	}
}

// regToday returns the date given by a --today flag, or today in Beijing time by env.Now.
func regToday(env *Env, flagValue string) (yipanqi.Date, error) {
	if flagValue == "" {
		return yipanqi.DateOf(env.Now().In(yipanqi.Shanghai)), nil
	}
	d, err := yipanqi.ParseDate(flagValue)
	if err != nil {
		return yipanqi.Date{}, usageError("--today“%s”无效：应为 YYYY-MM-DD 格式的日期", flagValue)
	}
	return d, nil
}

// regFormat returns the file format from the extension of a file name given by flag.
func regFormat(path, flagName string) (registry.Format, error) {
	if path == "" {
		return "", usageError("缺少 %s（输出文件，扩展名 .csv 或 .xlsx）", flagName)
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return registry.FormatCSV, nil
	case ".xlsx":
		return registry.FormatXLSX, nil
	}
	return "", usageError("%s“%s”的扩展名应为 .csv 或 .xlsx", flagName, path)
}

// regWriteAtomically writes path through a temporary file beside it, renamed over path only
// when write succeeds: a failed or interrupted run leaves no half-written file behind. The
// file is made 0600 (the user's alone), as every file of personal data the binary writes.
func regWriteAtomically(path string, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return yipanqi.Errorf(yipanqi.EINVALID, "无法写入“%s”：%v", path, regPathError(err))
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing left to remove
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return yipanqi.Errorf(yipanqi.EINVALID, "无法写入“%s”：%v", path, regPathError(err))
	}
	return nil
}

// regPathError drops the operation and path from an *os.PathError: the message names the
// path already.
func regPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// regProgress is a progress bar on stderr, shown only when stdout is a terminal (a person is
// watching); otherwise every method does nothing.
type regProgress struct {
	bar *progressbar.ProgressBar
}

// newRegProgress returns a bar counting to max (-1: unknown, a spinner); bytes shows sizes.
func newRegProgress(env *Env, max int64, desc string, bytes bool) *regProgress {
	f, ok := env.Stdout.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return &regProgress{}
	}
	return &regProgress{bar: progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(env.Stderr),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowBytes(bytes),
		progressbar.OptionShowCount(),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetWidth(30),
	)}
}

func (p *regProgress) set(n int64) {
	if p.bar != nil {
		p.bar.Set64(n)
	}
}

func (p *regProgress) describe(s string) {
	if p.bar != nil {
		p.bar.Describe(s)
	}
}

func (p *regProgress) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
