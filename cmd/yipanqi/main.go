// Command yipanqi runs a Yipanqi node and its tools: divisions, ID numbers, the working-day
// calendar, migrations, registry import and export, and synthetic populations.
//
// This is the only package that wires the others together.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
	"time"

	"yipanqi"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	env := &Env{
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		Getenv: os.Getenv,
		Now:    time.Now,
	}
	code := Main(ctx, env, os.Args[1:])
	stop()
	os.Exit(code)
}

// Env is what a command may touch of the outside world; tests give their own.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	Now    func() time.Time
}

// command is one subcommand: its run function gets the arguments after its name.
type command struct {
	summary string
	run     func(ctx context.Context, env *Env, args []string) error
}

// moreCommands are the subcommands that register themselves from their own file (init), so
// that adding a command touches no shared list.
var moreCommands = map[string]command{}

func commands() map[string]command {
	cmds := map[string]command{
		"demo":     {"本机演示整个区域：11 个省级节点、合成人口与跨省核实往来", runDemo},
		"serve":    {"运行一个省级节点：serve --config node.toml", runServe},
		"division": {"行政区划查询：division show CODE", runDivision},
		"idcard":   {"居民身份号码校验：idcard check ID...", runIDCard},
		"calendar": {"工作日与期限计算：calendar due | calendar workdays", runCalendar},
		"catalog":  {"案件类型目录：catalog [--format table|json] [TYPE]", runCatalog},
		"migrate":  {"数据库迁移：migrate --db DSN", runMigrate},
		"import":   {"导入流动人口登记表：import people --db DSN FILE", runImport},
		"export":   {"导出流动人口登记表：export people --db DSN -o FILE", runExport},
		"keys":     {"节点密钥与信任列表：keys gen --node CODE | keys trust ...", runKeys},
		"gen":      {"生成合成人口数据：gen people --province CODE --count N --seed S -o FILE", runGen},
		"stats":    {"流动人口月报与流向矩阵：stats --db DSN --month YYYY-MM --unit CODE | stats snapshot | stats matrix", runStats},
	}
	for name, c := range moreCommands {
		cmds[name] = c
	}
	return cmds
}

// exitError carries a process exit code other than 1 (for example 2: nothing could be read).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// exitCode wraps err so that Main exits with code. A nil err with a code (say "some rows were
// rejected, all said already") prints nothing.
func exitCode(code int, err error) error { return &exitError{code: code, err: err} }

// usageError reports wrong arguments: exit status 2.
func usageError(format string, args ...any) error {
	return exitCode(2, yipanqi.Errorf(yipanqi.EINVALID, format, args...))
}

// Main runs the command line and returns the process exit status.
func Main(ctx context.Context, env *Env, args []string) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(env.Stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "yipanqi: 未知命令“%s”\n", args[0])
		printUsage(env.Stderr, cmds)
		return 2
	}
	err := cmd.run(ctx, env, args[1:])
	if err == nil {
		return 0
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
		if ee.err == nil {
			return code
		}
	}
	if yipanqi.ErrorCode(err) == yipanqi.EINTERNAL {
		// Internal errors carry no user message; their text is for the operator.
		fmt.Fprintf(env.Stderr, "yipanqi %s: %v\n", args[0], err)
	} else {
		fmt.Fprintf(env.Stderr, "yipanqi %s: %s\n", args[0], yipanqi.ErrorMessage(err))
	}
	return code
}

func printUsage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "用法：yipanqi <命令> [参数]")
	fmt.Fprintln(w)
	names := make([]string, 0, len(cmds))
	for name := range cmds {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-10s %s\n", name, cmds[name].summary)
	}
}
