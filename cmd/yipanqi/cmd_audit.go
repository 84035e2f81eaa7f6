package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"yipanqi"
	"yipanqi/calendar"
	"yipanqi/sqlstore"
)

func init() {
	moreCommands["audit"] = command{"审计日志：audit verify --db DSN | audit log --db DSN [--object X] [--limit N]", runAudit}
}

const auditUsage = `用法：
  yipanqi audit verify [--db DSN]                       校验审计日志的哈希链，指出第一条被改动的记录
  yipanqi audit log [--db DSN] [--object X] [--limit N] 列出最新的审计记录（身份号码打码）`

// runAudit checks or lists the node's audit log.
func runAudit(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return usageError("缺少子命令\n%s", auditUsage)
	}
	switch args[0] {
	case "verify":
		return runAuditVerify(ctx, env, args[1:])
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

// runAuditVerify seals what is pending and walks the chain: exit 0 and the count when it is
// whole, exit 1 naming the first broken entry when not.
func runAuditVerify(ctx context.Context, env *Env, args []string) error {
	fs, dsn, _ := auditFlags("verify", env)
	if err := fs.Parse(args); err != nil {
		return usageError("参数有误：%v\n%s", err, auditUsage)
	}
	if fs.NArg() > 0 {
		return usageError("audit verify 不接受参数“%s”\n%s", strings.Join(fs.Args(), " "), auditUsage)
	}
	db, err := openStore(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := db.VerifyAudit(ctx)
	if err != nil {
		return fmt.Errorf("审计日志校验未通过（此前 %d 条完好）：%w", n, err)
	}
	fmt.Fprintf(env.Stdout, "审计日志完整：已校验 %d 条记录\n", n)
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
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.At.In(calendar.Shanghai()).Format(time.DateTime),
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
