package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"yipanqi"
)

// This file is the one place that knows SQLite from PostgreSQL: how a DSN is opened,
// placeholders, how driver errors are classified, how a timestamp is stored, how a staging
// table is created and bulk-loaded, and the locks that serialise writers. Everything else
// writes its SQL once, with "?" placeholders, in the dialect both databases share.

// dialect is one of the two databases.
type dialect struct {
	name       string // "sqlite" or "postgres"
	migrations string // folder under migrations/
	postgres   bool
}

var (
	sqliteDialect   = &dialect{name: "sqlite", migrations: "migrations/sqlite"}
	postgresDialect = &dialect{name: "postgres", migrations: "migrations/postgres", postgres: true}
)

// sqlitePragmas are set on every pooled connection through the DSN. WAL lets readers run
// beside the one writer; synchronous=NORMAL is durable in WAL mode except for the last
// transactions before a power cut; _txlock=immediate makes every transaction take the write
// lock at BEGIN, so two writers queue on busy_timeout instead of failing to upgrade a read
// lock (SQLITE_BUSY_SNAPSHOT); temp_store=1 puts temporary tables (the import's staging) in
// temporary files rather than memory. Reads go through a 256 MiB memory map of the file
// (mmap_size: pages are the operating system's cache, shared by the pooled connections, not
// copied in with a read call each) and a 16 MiB page cache per connection.
const sqlitePragmas = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)" +
	"&_pragma=synchronous(NORMAL)&_pragma=temp_store(1)&_pragma=mmap_size(268435456)&_pragma=cache_size(-16384)" +
	"&_txlock=immediate"

// target is a parsed --db value.
type target struct {
	dialect *dialect
	driver  string // database/sql driver name
	dsn     string // what the driver gets
	display string // what a user may see: the file path, or host:port/database without password
	secret  string // the password, to be scrubbed from driver messages
}

// parseDSN reads a --db value: "sqlite:PATH" or "postgres://…" / "postgresql://…".
func parseDSN(dsn string) (*target, error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		path = strings.TrimPrefix(path, "//")
		if q := strings.IndexByte(path, '?'); q >= 0 {
			path = path[:q]
		}
		if path == "" || path == ":memory:" {
			return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "db", "数据库参数 --db 无效：sqlite: 后应为数据库文件路径，例如 sqlite:yipanqi.db")
		}
		return &target{
			dialect: sqliteDialect,
			driver:  "sqlite",
			dsn:     "file:" + path + "?" + sqlitePragmas,
			display: path,
		}, nil
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		u, err := url.Parse(dsn)
		if err != nil || u.Host == "" {
			return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "db", "数据库参数 --db 无效：PostgreSQL 地址应为 postgres://用户@主机:端口/数据库")
		}
		secret, _ := u.User.Password()
		shown := *u
		if u.User != nil {
			shown.User = url.User(u.User.Username())
		}
		shown.RawQuery = ""
		return &target{
			dialect: postgresDialect,
			driver:  "pgx",
			dsn:     dsn,
			display: shown.String(),
			secret:  secret,
		}, nil
	}
	return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "db",
		"数据库参数 --db 无效：应为 sqlite:文件路径 或 postgres://用户@主机:端口/数据库")
}

// connectError is the one clear error for a database that cannot be reached: it names the
// file or host/port/database and never the password.
func (t *target) connectError(err error) error {
	reason := err.Error()
	if t.secret != "" {
		reason = strings.ReplaceAll(reason, t.secret, "****")
	}
	// pgx reports each address it tried on a line of its own, often the same twice.
	var parts []string
	for _, line := range strings.Split(reason, "\n") {
		if line = strings.TrimSpace(line); line != "" && !slices.Contains(parts, line) {
			parts = append(parts, line)
		}
	}
	reason = strings.Join(parts, " ")
	return yipanqi.FieldErrorf(yipanqi.EINVALID, "db", "无法连接数据库 %s（--db）：%s", t.display, reason)
}

// rebind turns "?" placeholders into "$1", "$2", … for PostgreSQL. Question marks inside
// quoted literals are left alone.
func (d *dialect) rebind(query string) string {
	if !d.postgres || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n, quoted := 0, false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'':
			quoted = !quoted
		case c == '?' && !quoted:
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// constraint is a class of integrity violation.
type constraint int

const (
	noViolation constraint = iota
	uniqueViolation
	foreignKeyViolation
	checkViolation
	notNullViolation
)

// violation classifies a driver error by its SQLite extended code or PostgreSQL SQLSTATE.
func (d *dialect) violation(err error) constraint {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return uniqueViolation
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return foreignKeyViolation
		case sqlite3.SQLITE_CONSTRAINT_CHECK:
			return checkViolation
		case sqlite3.SQLITE_CONSTRAINT_NOTNULL:
			return notNullViolation
		}
		return noViolation
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505":
			return uniqueViolation
		case "23503":
			return foreignKeyViolation
		case "23514":
			return checkViolation
		case "23502":
			return notNullViolation
		}
	}
	return noViolation
}

// classify turns an integrity violation into a user-facing error; other errors pass
// through unchanged. Callers that know better say which record was in the way.
func (d *dialect) classify(err error) error {
	switch d.violation(err) {
	case uniqueViolation:
		return yipanqi.Errorf(yipanqi.ECONFLICT, "记录已存在，不能重复添加")
	case foreignKeyViolation:
		return yipanqi.Errorf(yipanqi.EINVALID, "引用的记录不存在")
	case checkViolation, notNullViolation:
		return yipanqi.Errorf(yipanqi.EINVALID, "数据不符合要求：有必填项为空或取值无效")
	}
	return err
}

// timeLayout is how SQLite stores a timestamp: UTC, fixed width, microseconds (PostgreSQL's
// precision), so text order is time order and equality survives a round trip.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// timeArg is the argument for a timestamp column; the zero time is NULL.
func (d *dialect) timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	t = t.UTC().Truncate(time.Microsecond)
	if d.postgres {
		return t
	}
	return t.Format(timeLayout)
}

// timeCol scans a timestamp column of either database into a UTC time.Time; NULL is zero.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.t = time.Time{}
	case time.Time:
		*c.t = v.UTC()
	case string:
		return c.parse(v)
	case []byte:
		return c.parse(string(v))
	default:
		return fmt.Errorf("scan timestamp: unsupported type %T", src)
	}
	return nil
}

func (c timeCol) parse(s string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("scan timestamp: %w", err)
	}
	*c.t = t.UTC()
	return nil
}

// migrationsTable is created before the first migration runs.
func (d *dialect) migrationsTable() string {
	ts := "TEXT"
	if d.postgres {
		ts = "TIMESTAMPTZ"
	}
	return "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at " + ts + " NOT NULL)"
}

// lockMigrations keeps two processes from migrating at once. On SQLite the immediate
// transaction is already the lock.
func (d *dialect) lockMigrations(ctx context.Context, conn *sql.Conn) (unlock func(), err error) {
	if !d.postgres {
		return func() {}, nil
	}
	const key = 7_301_150_001 // an arbitrary constant, the same in every process
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return nil, fmt.Errorf("lock migrations: %w", err)
	}
	return func() {
		// A failed unlock ends with the session, which the caller closes.
		_, _ = conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock($1)", key)
	}, nil
}

// stagingColumns are the columns of the import staging table, in load order.
var stagingColumns = []string{"row_no", "id_number", "name", "sex", "birth_date", "marital_status",
	"hukou_code", "hukou_address", "residence_code", "residence_address", "phone", "arrived_on"}

// createStaging makes the connection-private staging table for a people import. Neither
// database writes a temporary table to its WAL.
func (d *dialect) createStaging(ctx context.Context, tx *sql.Tx) error {
	date := "TEXT"
	extra := ""
	if d.postgres {
		date = "DATE"
		// Dropped with the transaction, so a pooled connection never keeps an old one.
		extra = " ON COMMIT DROP"
	}
	ddl := `CREATE TEMP TABLE people_staging (
		row_no INTEGER NOT NULL, id_number TEXT NOT NULL, name TEXT NOT NULL, sex TEXT NOT NULL,
		birth_date ` + date + `, marital_status TEXT NOT NULL, hukou_code TEXT NOT NULL,
		hukou_address TEXT NOT NULL, residence_code TEXT NOT NULL, residence_address TEXT NOT NULL,
		phone TEXT NOT NULL, arrived_on ` + date + `)` + extra
	if !d.postgres {
		// A connection may hold one from an import that failed half-way.
		if _, err := tx.ExecContext(ctx, "DROP TABLE IF EXISTS temp.people_staging"); err != nil {
			return fmt.Errorf("drop old staging: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, ddl); err != nil {
		return fmt.Errorf("create staging: %w", err)
	}
	return nil
}

// dropStaging removes the staging table once the import is over (PostgreSQL drops it at
// commit by itself).
func (d *dialect) dropStaging(ctx context.Context, tx *sql.Tx) error {
	if d.postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, "DROP TABLE temp.people_staging")
	return err
}

// stagingBatch is how many rows an import buffers in Go before loading them into staging:
// on SQLite also the rows of one multi-row INSERT (12 columns × 500 rows stays well below
// the 32766 variables SQLite allows per statement).
func (d *dialect) stagingBatch() int {
	if d.postgres {
		return 5000
	}
	return 500
}

// loader loads batches of rows into the staging table inside tx.
type loader struct {
	d    *dialect
	tx   *sql.Tx
	conn *sql.Conn
	full *sql.Stmt // SQLite: the prepared INSERT for a full batch

	// PostgreSQL: one COPY for the whole import runs in its own goroutine, fed batch by batch,
	// so that the server writes one batch while the caller reads the next from its file.
	batches chan [][]any
	done    chan struct{}
	copyErr error
}

func (d *dialect) newLoader(tx *sql.Tx, conn *sql.Conn) *loader {
	return &loader{d: d, tx: tx, conn: conn}
}

// load writes rows (each in stagingColumns order; dates as yipanqi.Date) into staging:
// COPY on PostgreSQL, multi-row prepared INSERTs on SQLite. The caller may reuse rows
// afterwards.
func (l *loader) load(ctx context.Context, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	if l.d.postgres {
		return l.send(ctx, rows)
	}
	stmt := l.full
	if len(rows) != l.d.stagingBatch() || stmt == nil {
		var err error
		stmt, err = l.tx.PrepareContext(ctx, multiInsert("people_staging", stagingColumns, len(rows)))
		if err != nil {
			return fmt.Errorf("prepare staging insert: %w", err)
		}
		if len(rows) == l.d.stagingBatch() {
			l.full = stmt
		} else {
			defer stmt.Close()
		}
	}
	args := make([]any, 0, len(rows)*len(stagingColumns))
	for _, r := range rows {
		args = append(args, r...)
	}
	if _, err := stmt.ExecContext(ctx, args...); err != nil {
		return fmt.Errorf("insert staging: %w", err)
	}
	return nil
}

// send hands a copy of rows to the COPY goroutine, starting it on the first batch. At most
// two batches wait in the channel, so memory stays flat.
func (l *loader) send(ctx context.Context, rows [][]any) error {
	if l.batches == nil {
		l.batches, l.done = make(chan [][]any, 2), make(chan struct{})
		go l.copy(ctx)
	}
	batch := make([][]any, len(rows))
	for i, r := range rows {
		c := make([]any, len(r))
		for j, v := range r {
			if dt, ok := v.(yipanqi.Date); ok {
				v = pgtype.Date{Time: dt.In(time.UTC), Valid: !dt.IsZero()}
			}
			c[j] = v
		}
		batch[i] = c
	}
	select {
	case l.batches <- batch:
		return nil
	case <-l.done:
		return l.copyErr
	}
}

func (l *loader) copy(ctx context.Context) {
	defer close(l.done)
	l.copyErr = l.conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		_, err := pc.CopyFrom(ctx, pgx.Identifier{"people_staging"}, stagingColumns, &chanSource{ch: l.batches})
		if err != nil {
			return fmt.Errorf("copy into staging: %w", err)
		}
		return nil
	})
}

// finish waits until every row sent has been loaded.
func (l *loader) finish() error {
	if l.batches == nil {
		return nil
	}
	close(l.batches)
	<-l.done
	l.batches = nil
	return l.copyErr
}

// chanSource is a pgx.CopyFromSource reading batches from a channel until it is closed.
type chanSource struct {
	ch   <-chan [][]any
	cur  [][]any
	next int
	row  []any
}

func (s *chanSource) Next() bool {
	for s.next >= len(s.cur) {
		b, ok := <-s.ch
		if !ok {
			return false
		}
		s.cur, s.next = b, 0
	}
	s.row = s.cur[s.next]
	s.next++
	return true
}

func (s *chanSource) Values() ([]any, error) { return s.row, nil }
func (s *chanSource) Err() error             { return nil }

func (l *loader) close() {
	if l.batches != nil {
		// Abandoned mid-way: let the COPY end; the transaction is rolled back after.
		_ = l.finish()
	}
	if l.full != nil {
		l.full.Close()
	}
}

// multiInsert is "INSERT INTO table (cols) VALUES (?, …), (?, …), …" for n rows.
func multiInsert(table string, cols []string, n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
	one := "(" + strings.Repeat("?, ", len(cols)-1) + "?)"
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(one)
	}
	return b.String()
}

// tuneImport adjusts the import transaction for one large set-based write.
func (d *dialect) tuneImport(ctx context.Context, tx *sql.Tx) error {
	var stmts []string
	if d.postgres {
		// The set-based statements hash-join and sort the staging table; give them room.
		stmts = []string{"SET LOCAL work_mem = '256MB'", "SET LOCAL maintenance_work_mem = '256MB'"}
	} else {
		// A larger page cache for this connection keeps the indexes being filled in memory
		// (SQLite's C heap, not Go's; bounded by the number, not by the file size). 32 MiB:
		// 128 MiB imported no faster and kept the process at ~590 MB for a 1,000,000-row file;
		// with 32 MiB it stays at ~200 MB for 100,000 rows and for 1,000,000 alike.
		stmts = []string{"PRAGMA cache_size = -32768"}
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("tune import: %w", err)
		}
	}
	return nil
}

// skipLocked is appended to the SELECT that picks outbox rows for a relay: on PostgreSQL
// relays of several replicas skip each other's locked rows instead of waiting for them; on
// SQLite the write lock taken at BEGIN already makes the claim exclusive.
func (d *dialect) skipLocked() string {
	if d.postgres {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

// timeParam is the placeholder of a timestamp parameter where nothing else in the statement
// tells PostgreSQL its type (a row of a VALUES list): there it is cast. SQLite takes the
// text as it is; a cast would give it NUMERIC affinity and keep only the year.
func (d *dialect) timeParam() string {
	if d.postgres {
		return "CAST(? AS TIMESTAMPTZ)"
	}
	return "?"
}
