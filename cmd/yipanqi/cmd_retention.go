package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"yipanqi"
	"yipanqi/sqlstore"
)

func init() {
	moreCommands["retention"] = command{"保存期限：retention --db DSN [--days N] [--dry-run]（匿名化保存期限已满的已结案件，删除过期死信）", runRetention}
}

const retentionUsage = `用法：
  yipanqi retention [--db DSN] [--days N] [--batch N] [--dry-run]
      匿名化最后一次办理早于 N 天前的已结案件（已答复、已办结、已转办、已撤回、已退回）：
      清除身份证号、案件数据、消息正文和办理记录中的自由文字；删除已撤回且本人案件均已
      匿名化的单独同意，以及早于 N 天前的死信。统计与考核汇总数不变。
      --days     保存期限（天），默认 1095（三年）
      --batch    每个事务处理的案件数，默认 500
      --dry-run  只统计将要处理的数量，不作改动
      （yipanqi serve 按配置 [retention] days 每日自动运行。）`

// defaultRetentionDays is the period cases are kept after they end: three years.
const defaultRetentionDays = 1095

// retentionCutoff is the instant before which a case must have ended to be anonymised.
func retentionCutoff(now time.Time, days int) time.Time { return now.AddDate(0, 0, -days) }

func runRetention(ctx context.Context, env *Env, args []string) error {
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
		fmt.Fprintln(env.Stdout, retentionUsage)
		return nil
	}
	fs := flag.NewFlagSet("retention", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dsn := dbFlag(fs, env)
	days := fs.Int("days", defaultRetentionDays, "")
	batch := fs.Int("batch", 500, "")
	dry := fs.Bool("dry-run", false, "")
	rest, err := regParseFlags(fs, args, retentionUsage)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError("多余的参数“%s”\n%s", rest[0], retentionUsage)
	}
	if *days <= 0 {
		return usageError("--days：保存期限应为正整数天数，而不是 %d", *days)
	}
	if *batch <= 0 {
		return usageError("--batch：每批案件数应为正整数，而不是 %d", *batch)
	}
	db, err := openStore(ctx, *dsn)
	if err != nil {
		return exitCode(2, err)
	}
	defer db.Close()
	db.Now = env.Now
	cutoff := retentionCutoff(env.Now(), *days)
	at := cutoff.In(yipanqi.Shanghai).Format("2006-01-02 15:04:05")
	if *dry {
		r, err := db.RetentionDue(ctx, cutoff)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "保存期限 %d 天，截止 %s（北京时间）：将匿名化案件 %d 件，删除单独同意 %d 条、死信 %d 条（试运行，未作改动）\n",
			*days, at, r.Cases, r.Consents, r.DeadLetters)
		return nil
	}
	r, err := db.ApplyRetention(ctx, cutoff, *batch)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "保存期限 %d 天，截止 %s（北京时间）：%s\n", *days, at, retentionSummary(r))
	return nil
}

// retentionSummary says in Chinese what a run changed.
func retentionSummary(r sqlstore.RetentionResult) string {
	return fmt.Sprintf("已匿名化案件 %d 件（消息正文 %d 条，发件箱记录 %d 条，办理记录备注 %d 条），删除单独同意 %d 条、死信 %d 条",
		r.Cases, r.Messages, r.Outbox, r.Notes, r.Consents, r.DeadLetters)
}

// retentionEvery is how often serve applies retention.
const retentionEvery = 24 * time.Hour

// runRetentionDaily applies retention with the period of days at once and then every
// `every` until ctx ends; days 0 turns it off. What a run changed is logged as numbers
// only; a failed run is logged and the next one picks up where the store says.
func runRetentionDaily(ctx context.Context, db *sqlstore.DB, days int, every time.Duration, now func() time.Time, logger *slog.Logger) {
	if days <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		r, err := db.ApplyRetention(ctx, retentionCutoff(now(), days), 500)
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Error("retention", "err", err)
		case err == nil && r.Batches > 0:
			logger.Info("retention", "days", days, "cases", r.Cases, "messages", r.Messages, "outbox", r.Outbox,
				"notes", r.Notes, "consents", r.Consents, "dead_letters", r.DeadLetters)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
