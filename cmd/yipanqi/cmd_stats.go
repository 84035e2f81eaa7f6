package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"yipanqi"
	"yipanqi/division"
	"yipanqi/stats"
)

const statsUsage = `用法：
  yipanqi stats [--db DSN] --month YYYY-MM --unit CODE [--format table|json|xlsx] [-o FILE] [--holidays FILE]
      流动人口月报：月末在住人数（性别、年龄段、婚姻状况）与本月流入、流出，按下级单位分行并合计；
      以及本月交换量与办理时效（按案件类型：发出、收到、按时答复、逾期答复、仍超期未答复、答复用时中位数）。
      已结束且有月度快照的月份读快照（可重现）；本月及无快照的月份实时计算。
      交换量读期限时钟保持的案件计数，报告前先推进一次期限时钟。
  yipanqi stats snapshot [--db DSN] --month YYYY-MM [--replace]
      生成已结束月份的月度快照（全节点汇总数，不含个人信息）。
  yipanqi stats matrix --db DSN [--db DSN …] --month YYYY-MM [--format table|json|xlsx] [-o FILE]
      区域流向矩阵：合并各省节点的数据库，户籍地 × 现居住地的月末在住人数。
  --db      数据库：sqlite:文件路径 或 postgres://…（默认取环境变量 YIPANQI_DB，再默认 sqlite:yipanqi.db）
  --month   统计月份，如 2026-10；不能晚于本月
  --unit    统计单位：2、4、6、9 或 12 位行政区划代码
  --format  输出格式：table（默认）、json 或 xlsx（xlsx 须用 -o 指定文件）
  -o        输出文件（默认写到标准输出）
  --holidays 节假日覆盖文件（默认取环境变量 YIPANQI_HOLIDAYS），推进期限时钟时使用`

// runStats prints the monthly report of a unit, takes a month's snapshot, or prints the
// region's flow matrix: stats, stats snapshot, stats matrix.
func runStats(ctx context.Context, env *Env, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "help", "-h", "--help":
			fmt.Fprintln(env.Stdout, statsUsage)
			return nil
		case "snapshot":
			return runStatsSnapshot(ctx, env, args[1:])
		case "matrix":
			return runStatsMatrix(ctx, env, args[1:])
		}
	}
	fs := flag.NewFlagSet("stats", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dsn := dbFlag(fs, env)
	monthArg := fs.String("month", "", "")
	unit := fs.String("unit", "", "")
	formatArg := fs.String("format", "table", "")
	out := fs.String("o", "", "")
	holidays := fs.String("holidays", env.Getenv(calendarHolidaysEnv), "")
	if err := statsParse(fs, args); err != nil {
		return err
	}
	month, err := statsMonth(env, *monthArg)
	if err != nil {
		return err
	}
	format, err := statsFormat(*formatArg, *out)
	if err != nil {
		return err
	}
	tree, err := loadDivisions(env)
	if err != nil {
		return err
	}
	scope, fullName, err := statsUnit(tree, *unit)
	if err != nil {
		return err
	}

	// Bring the clock and the kept counts up to date, in case no node is running the clock.
	db, _, err := openSwept(ctx, env, *dsn, *holidays)
	if err != nil {
		return err
	}
	defer db.Close()
	report, err := db.MonthlyReport(ctx, regActor(), scope, month, fullName, divisionName(tree))
	if err != nil {
		return err
	}
	return statsWrite(env, *out, func(w io.Writer) error { return report.Write(w, format) })
}

func runStatsSnapshot(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("stats snapshot", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dsn := dbFlag(fs, env)
	monthArg := fs.String("month", "", "")
	replace := fs.Bool("replace", false, "")
	if err := statsParse(fs, args); err != nil {
		return err
	}
	month, err := statsMonth(env, *monthArg)
	if err != nil {
		return err
	}
	if !month.Ended(env.Now()) {
		return usageError("--month %s 尚未结束，不能生成月度快照（本月数据只做实时计算）", month)
	}
	db, err := openStore(ctx, *dsn)
	if err != nil {
		return exitCode(2, err)
	}
	defer db.Close()
	db.Now = env.Now
	snap, err := db.TakeStatsSnapshot(ctx, month, regActor(), *replace)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s 月度快照已生成：月末在住 %d 人（%s）\n", month, snap.People, stats.SourceLabel(snap))
	return nil
}

// dbList is a repeatable --db.
type dbList []string

func (l *dbList) String() string     { return strings.Join(*l, ",") }
func (l *dbList) Set(v string) error { *l = append(*l, v); return nil }

func runStatsMatrix(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("stats matrix", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var dsns dbList
	fs.Var(&dsns, "db", "")
	monthArg := fs.String("month", "", "")
	formatArg := fs.String("format", "table", "")
	out := fs.String("o", "", "")
	if err := statsParse(fs, args); err != nil {
		return err
	}
	month, err := statsMonth(env, *monthArg)
	if err != nil {
		return err
	}
	format, err := statsFormat(*formatArg, *out)
	if err != nil {
		return err
	}
	if len(dsns) == 0 {
		def := defaultDSN
		if v := env.Getenv("YIPANQI_DB"); v != "" {
			def = v
		}
		dsns = dbList{def}
	}
	tree, err := loadDivisions(env)
	if err != nil {
		return err
	}
	var sources []stats.NodeSource
	var groups []stats.OriginGroup
	for _, dsn := range dsns {
		src, g, err := nodeOrigins(ctx, env, tree, dsn, month)
		if err != nil {
			return err
		}
		sources = append(sources, src)
		groups = append(groups, g...)
	}
	m := stats.NewMatrix(month, sources, groups, divisionName(tree))
	return statsWrite(env, *out, func(w io.Writer) error { return m.Write(w, format) })
}

// nodeOrigins reads one node's rows of the matrix: every province it holds residents of.
func nodeOrigins(ctx context.Context, env *Env, tree *division.Tree, dsn string, month stats.Month) (stats.NodeSource, []stats.OriginGroup, error) {
	db, err := openStore(ctx, dsn)
	if err != nil {
		return stats.NodeSource{}, nil, exitCode(2, err)
	}
	defer db.Close()
	db.Now = env.Now
	src := stats.NodeSource{Store: db.String()}
	var out []stats.OriginGroup
	for _, p := range tree.Provinces() {
		scope, err := yipanqi.NewScope(p.Code)
		if err != nil {
			return src, nil, err
		}
		g, snap, err := db.StatsOrigins(ctx, scope, month)
		if err != nil {
			return src, nil, err
		}
		if len(g) == 0 {
			continue
		}
		src.Units, src.Snapshot = append(src.Units, p.Code), snap
		if err := db.StatsAudit(ctx, regActor(), scope, month, "stats.matrix"); err != nil {
			return src, nil, err
		}
		out = append(out, g...)
	}
	return src, out, nil
}

// statsParse parses flags; stats takes no positional arguments.
func statsParse(fs *flag.FlagSet, args []string) error {
	rest, err := regParseFlags(fs, args, statsUsage)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError("多余的参数“%s”\n%s", strings.Join(rest, " "), statsUsage)
	}
	return nil
}

// statsMonth parses --month and refuses a month after the current one: exit 2, naming --month.
func statsMonth(env *Env, s string) (stats.Month, error) {
	if s == "" {
		return stats.Month{}, usageError("缺少 --month（统计月份，如 2026-10）")
	}
	m, err := stats.ParseMonth(s)
	if err == nil {
		err = stats.CheckReportable(m, env.Now())
	}
	if err != nil {
		return m, exitCode(2, err)
	}
	return m, nil
}

func statsFormat(s, out string) (stats.Format, error) {
	switch f := stats.Format(s); f {
	case stats.FormatTable, stats.FormatJSON:
		return f, nil
	case stats.FormatXLSX:
		if out == "" {
			return f, usageError("--format xlsx 须用 -o 指定输出文件")
		}
		return f, nil
	}
	return "", usageError("--format“%s”无效：应为 table、json 或 xlsx", s)
}

// statsUnit checks --unit against the divisions: exit 2 naming it when it is malformed or
// unknown (ENOTFOUND).
func statsUnit(tree *division.Tree, unit string) (yipanqi.Scope, string, error) {
	if unit == "" {
		return yipanqi.Scope{}, "", usageError("缺少 --unit（统计单位的行政区划代码）")
	}
	scope, err := yipanqi.NewScope(unit)
	if err != nil {
		return scope, "", usageError("--unit“%s”无效：应为 2、4、6、9 或 12 位数字的行政区划代码", unit)
	}
	name, err := tree.FullName(unit)
	if err != nil {
		return scope, "", exitCode(2, yipanqi.FieldErrorf(yipanqi.ENOTFOUND, "unit", "--unit“%s”不是已知的行政区划代码", unit))
	}
	return scope, name, nil
}

// divisionName names a row: the division's own name, or its full name where the data gives a
// placeholder (市辖区) that says nothing on its own.
func divisionName(tree *division.Tree) stats.NameFunc {
	return func(code string) string {
		d, err := tree.Lookup(code)
		if err != nil {
			return "（未知区划）"
		}
		if division.IsPlaceholder(d.Name) {
			if full, err := tree.FullName(code); err == nil {
				return full
			}
		}
		return d.Name
	}
}

// statsWrite writes to -o (atomically) or to standard output.
func statsWrite(env *Env, out string, write func(io.Writer) error) error {
	if out == "" {
		return write(env.Stdout)
	}
	if err := regWriteAtomically(out, write); err != nil {
		return err
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		abs = out
	}
	fmt.Fprintf(env.Stdout, "已写入 %s\n", abs)
	return nil
}
