package main

import (
	"context"
	"flag"

	"yipanqi"
	"yipanqi/calendar"
	"yipanqi/sla"
	"yipanqi/sqlstore"
)

// defaultDSN is where a node keeps its data when --db is not given: an SQLite file in the
// working directory.
const defaultDSN = "sqlite:yipanqi.db"

// dbUsage describes --db for every command that opens the store.
const dbUsage = "数据库：sqlite:文件路径 或 postgres://用户@主机:端口/数据库（默认取环境变量 YIPANQI_DB，再默认 " + defaultDSN + "）"

// dbFlag registers --db on fs. Its default is $YIPANQI_DB, else defaultDSN.
func dbFlag(fs *flag.FlagSet, env *Env) *string {
	def := defaultDSN
	if v := env.Getenv("YIPANQI_DB"); v != "" {
		def = v
	}
	return fs.String("db", def, dbUsage)
}

// openStore opens the node's store named by dsn (a --db value) and applies any pending
// migrations. The caller closes it.
func openStore(ctx context.Context, dsn string) (*sqlstore.DB, error) {
	return sqlstore.Open(ctx, dsn)
}

// openSwept opens the store and runs one sweep of the deadline clock on it, with the holiday
// override file holidays ("" for the built-in calendar), so that figures read from the kept
// counts are current even where no node runs the clock. The caller closes the store.
func openSwept(ctx context.Context, env *Env, dsn, holidays string) (*sqlstore.DB, sla.SweepResult, error) {
	cal, err := calendar.Load(holidays)
	if err != nil {
		return nil, sla.SweepResult{}, usageError("--holidays：%s", yipanqi.ErrorMessage(err))
	}
	db, err := openStore(ctx, dsn)
	if err != nil {
		return nil, sla.SweepResult{}, exitCode(2, err)
	}
	db.Now = env.Now
	clock, err := sla.New(sla.Config{Calendar: cal, Now: env.Now})
	if err == nil {
		var r sla.SweepResult
		if r, err = db.SweepSLA(ctx, clock, env.Now()); err == nil {
			return db, r, nil
		}
	}
	db.Close()
	return nil, sla.SweepResult{}, err
}
