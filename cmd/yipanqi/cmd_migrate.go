package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"yipanqi/sqlstore"
)

const migrateUsage = `用法：
  yipanqi migrate [--db DSN]    应用尚未执行的数据库迁移，每个迁移输出一行`

// runMigrate applies the pending migrations and says which, or that there were none.
func runMigrate(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	var flagOut strings.Builder
	fs.SetOutput(&flagOut)
	dsn := dbFlag(fs, env)
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			fmt.Fprintln(env.Stdout, migrateUsage)
			fs.SetOutput(env.Stdout)
			fs.PrintDefaults()
			return nil
		}
		return usageError("参数有误：%v\n%s", err, migrateUsage)
	}
	if fs.NArg() > 0 {
		return usageError("migrate 不接受参数“%s”\n%s", strings.Join(fs.Args(), " "), migrateUsage)
	}
	db, err := sqlstore.Connect(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := db.Migrate(ctx)
	for _, name := range applied {
		fmt.Fprintf(env.Stdout, "已应用迁移 %s\n", name)
	}
	if err != nil {
		return fmt.Errorf("migrate %s: %w", db, err)
	}
	if len(applied) == 0 {
		n, err := db.MigrationCount(ctx)
		if err != nil {
			return err
		}
		_, err = io.WriteString(env.Stdout, fmt.Sprintf("数据库已是最新（共 %d 个迁移）\n", n))
		return err
	}
	return nil
}
