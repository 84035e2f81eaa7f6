package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"yipanqi"
	"yipanqi/assess"
)

func init() {
	moreCommands["assess"] = command{"区域协作考核：assess --db DSN --period 2026-Q3 --unit CODE [--rules FILE] [--format table|json|xlsx]；assess adjust …", runAssess}
}

const assessUsage = `用法：
  yipanqi assess [--db DSN] --period 期间 --unit CODE [--rules FILE] [--format table|json|xlsx] [-o FILE]
      考核报告：单位及其下级各单位的收件、按时与逾期答复、仍超期、答复用时中位数、证明补办 7 个工作日内办结、
      信访结果反馈、服务结果签收，按评分规则计分，逐级汇总，同级排名。先运行一次期限时钟，使数据为最新。
  yipanqi assess adjust [--db DSN] --as 用户名 --unit CODE --period 期间 --points 分值 --reason 理由
      上级单位录入人工加分（正数）或扣分（负数），须说明理由，记入审计日志。
  --period  考核期间：2026-07（月）、2026-Q3（季度）或 2026（年）；不能是未开始的期间
  --unit    被考核单位：2、4、6、9 或 12 位行政区划代码
  --rules   评分规则文件（TOML，见 deploy/assessment.sample.toml）；默认用示例规则
  --holidays  节假日覆盖文件（默认取环境变量 YIPANQI_HOLIDAYS）
  --format  输出格式：table（默认）、json 或 xlsx（xlsx 须用 -o 指定文件）
  -o        输出文件（默认写到标准输出）`

// runAssess prints an assessment report, or records a manual entry (assess adjust).
func runAssess(ctx context.Context, env *Env, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "help", "-h", "--help":
			fmt.Fprintln(env.Stdout, assessUsage)
			return nil
		case "adjust":
			return runAssessAdjust(ctx, env, args[1:])
		}
	}
	fs := flag.NewFlagSet("assess", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dsn := dbFlag(fs, env)
	periodArg := fs.String("period", "", "")
	unit := fs.String("unit", "", "")
	rulesArg := fs.String("rules", "", "")
	holidays := fs.String("holidays", env.Getenv(calendarHolidaysEnv), "")
	formatArg := fs.String("format", "table", "")
	out := fs.String("o", "", "")
	if err := assessParse(fs, args); err != nil {
		return err
	}
	period, err := assessPeriod(env, *periodArg)
	if err != nil {
		return err
	}
	switch *formatArg {
	case assess.FormatTable, assess.FormatJSON:
	case assess.FormatXLSX:
		if *out == "" {
			return usageError("--format xlsx 须用 -o 指定输出文件")
		}
	default:
		return usageError("--format“%s”无效：应为 table、json 或 xlsx", *formatArg)
	}
	rules := assess.DefaultRules()
	if *rulesArg != "" {
		if rules, err = assess.LoadRules(*rulesArg); err != nil {
			return exitCode(2, err)
		}
	}
	tree, err := loadDivisions(env)
	if err != nil {
		return err
	}
	scope, _, err := statsUnit(tree, *unit)
	if err != nil {
		return err
	}
	// Bring the clock and the counts up to date, in case no node is running the clock.
	db, _, err := openSwept(ctx, env, *dsn, *holidays)
	if err != nil {
		return err
	}
	defer db.Close()
	rep, err := db.Assessment(ctx, scope, period, rules, env.Now())
	if err != nil {
		return err
	}
	if err := db.Audit(ctx, &yipanqi.AuditEntry{Actor: regActor(), Action: "assess.report", Object: scope.Unit() + "/" + period.String()}); err != nil {
		return err
	}
	name := divisionName(tree)
	return statsWrite(env, *out, func(w io.Writer) error { return rep.Write(w, *formatArg, func(c string) string { return name(c) }) })
}

func runAssessAdjust(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("assess adjust", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dsn := dbFlag(fs, env)
	as := fs.String("as", "", "")
	unit := fs.String("unit", "", "")
	periodArg := fs.String("period", "", "")
	pointsArg := fs.String("points", "", "")
	reason := fs.String("reason", "", "")
	if err := assessParse(fs, args); err != nil {
		return err
	}
	if *as == "" {
		return usageError("缺少 --as（录入人的用户名）")
	}
	period, err := assessPeriod(env, *periodArg)
	if err != nil {
		return err
	}
	points, err := yipanqi.ParseNumber(*pointsArg)
	if err != nil {
		return usageError("--points“%s”无效：应为数字，加分为正、扣分为负", *pointsArg)
	}
	tree, err := loadDivisions(env)
	if err != nil {
		return err
	}
	if _, _, err := statsUnit(tree, *unit); err != nil {
		return err
	}
	db, err := openStore(ctx, *dsn)
	if err != nil {
		return exitCode(2, err)
	}
	defer db.Close()
	db.Now = env.Now
	u, err := db.UserByName(ctx, *as)
	if err != nil {
		return exitCode(2, err)
	}
	a := &assess.Adjustment{OrgUnit: *unit, Period: period.String(), Points: points, Reason: *reason}
	if err := db.AddAdjustment(yipanqi.NewContextWithUser(ctx, u), a); err != nil {
		if c := yipanqi.ErrorCode(err); c == yipanqi.EINVALID || c == yipanqi.EFORBIDDEN {
			return exitCode(2, err)
		}
		return err
	}
	fmt.Fprintf(env.Stdout, "已录入 %s %s %+g 分（第 %d 条），录入人 %s\n", a.OrgUnit, a.Period, a.Points, a.ID, a.Actor)
	return nil
}

// assessParse parses flags; assess takes no positional arguments.
func assessParse(fs *flag.FlagSet, args []string) error {
	rest, err := regParseFlags(fs, args, assessUsage)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError("多余的参数“%s”\n%s", strings.Join(rest, " "), assessUsage)
	}
	return nil
}

// assessPeriod parses --period: exit 2 naming it when missing, malformed or in the future.
func assessPeriod(env *Env, s string) (assess.Period, error) {
	if s == "" {
		return assess.Period{}, usageError("缺少 --period（考核期间，如 2026-Q3）")
	}
	p, err := assess.ParsePeriod(s, env.Now())
	if err != nil {
		return p, usageError("--period：%s", yipanqi.ErrorMessage(err))
	}
	return p, nil
}
