package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"yipanqi"
	"yipanqi/sla"
)

func init() {
	moreCommands["sla"] = command{"期限时钟与督办：sla sweep --db DSN（提醒、超期、督办升级）；sla board --db DSN --unit CODE（督办看板）", runSLA}
}

const slaUsage = `用法：
  yipanqi sla sweep [--db DSN] [--holidays FILE]
      运行一次期限时钟：发出到期提醒、标记超期、升级督办，并更新督办与考核的汇总数。
      （yipanqi serve 每 30 秒自动运行一次；此命令用于无节点运行时或核对。）
  yipanqi sla board [--db DSN] --unit CODE
      督办看板：该单位辖区内在办、临近期限、已超期的来件，按类型和下级单位分列，及本单位督办队列件数。`

func runSLA(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(env.Stdout, slaUsage)
		return nil
	}
	sub := args[0]
	if sub != "sweep" && sub != "board" {
		return usageError("未知的子命令“%s”\n%s", sub, slaUsage)
	}
	fs := flag.NewFlagSet("sla "+sub, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dsn := dbFlag(fs, env)
	holidays := fs.String("holidays", env.Getenv(calendarHolidaysEnv), "")
	unit := fs.String("unit", "", "")
	rest, err := regParseFlags(fs, args[1:], slaUsage)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError("多余的参数“%s”\n%s", rest[0], slaUsage)
	}
	var scope yipanqi.Scope
	if sub == "board" {
		tree, err := loadDivisions(env)
		if err != nil {
			return err
		}
		if scope, _, err = statsUnit(tree, *unit); err != nil {
			return err
		}
	}
	db, r, err := openSwept(ctx, env, *dsn, *holidays)
	if err != nil {
		return err
	}
	defer db.Close()
	if sub == "sweep" {
		fmt.Fprintf(env.Stdout, "期限时钟：处理 %d 件，提醒 %d 次，新超期 %d 件，督办升级 %d 次\n", r.Cases, r.Reminders, r.Overdue, r.Escalations)
		return nil
	}
	b, err := db.Supervision(ctx, scope, env.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "督办看板 %s：在办 %d，临近期限 %d，已超期 %d；本单位督办队列 %d 件\n",
		b.Unit, b.Total.Open, b.Total.DueSoon, b.Total.Overdue, b.Queue)
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	for _, part := range []struct {
		head string
		rows []sla.BoardRow
	}{{"案件类型", b.ByType}, {"单位", b.ByUnit}} {
		fmt.Fprintf(tw, "%s\t在办\t临近期限\t已超期\n", part.head)
		for _, x := range part.rows {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", x.Key, x.Open, x.DueSoon, x.Overdue)
		}
	}
	return tw.Flush()
}
