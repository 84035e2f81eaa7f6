// Package sqlstore keeps a node's data in SQLite (modernc.org/sqlite, the embedded default)
// or PostgreSQL (pgx), behind one set of methods and one conformance suite (storetest).
//
// Queries are written once; dialect.go alone knows which database it is talking to. Every
// read of people or cases takes a yipanqi.Scope and applies it in SQL, so a caller cannot
// forget jurisdiction.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "modernc.org/sqlite"             // registers "sqlite"

	"yipanqi"
)

// DB is a node's store. It is safe for concurrent use.
type DB struct {
	sql     *sql.DB
	dialect *dialect
	display string
	// writer is the write lock of a SQLite file as a Go semaphore (nil on PostgreSQL): the
	// writers of this process queue on it in order, instead of meeting at SQLite's own lock,
	// whose busy handler waits by sleeping in steps of up to 100 ms.
	writer chan struct{}
	// sealOnClose is set by Open, whose schema is migrated: Close then seals the audit log.
	sealOnClose bool
	closeOnce   sync.Once
	closeErr    error
	// auditSigner signs the heads the sealer leaves (SetAuditSigner); nil: unsigned.
	auditSigner atomic.Pointer[auditSigning]

	// Now returns the current time; tests may replace it before use.
	Now func() time.Time
}

// Open connects to the database named by dsn — "sqlite:PATH" or "postgres://…" — checks the
// connection and applies pending migrations. An unknown form of dsn is EINVALID; a database
// that cannot be reached is EINVALID with a message naming the file or host, never the
// password.
func Open(ctx context.Context, dsn string) (*DB, error) {
	db, err := Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	db.sealOnClose = true
	return db, nil
}

// Connect is Open without the migrations, for "yipanqi migrate", which applies them itself
// and says what it applied. The other methods need a migrated schema.
func Connect(ctx context.Context, dsn string) (*DB, error) {
	t, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	if !t.dialect.postgres {
		if err := createPrivate(t.display); err != nil {
			return nil, t.connectError(err)
		}
	}
	sdb, err := sql.Open(t.driver, t.dsn)
	if err != nil {
		return nil, t.connectError(err)
	}
	if t.dialect.postgres {
		// Every request of the web application and every engine step takes a connection:
		// keep as many open as are busy at once (a new PostgreSQL connection costs a process
		// and its authentication, milliseconds a request must not pay), up to a bound the
		// server's max_connections (100 by default) leaves room for replicas beside.
		sdb.SetMaxOpenConns(32)
		sdb.SetMaxIdleConns(32)
		sdb.SetConnMaxIdleTime(5 * time.Minute)
	} else {
		// One writer at a time is SQLite's nature; a small pool of readers beside it is
		// plenty and keeps the page caches few.
		sdb.SetMaxOpenConns(8)
		sdb.SetMaxIdleConns(8)
	}
	if err := sdb.PingContext(ctx); err != nil {
		sdb.Close()
		return nil, t.connectError(err)
	}
	db := &DB{sql: sdb, dialect: t.dialect, display: t.display, Now: time.Now}
	if !t.dialect.postgres {
		db.writer = make(chan struct{}, 1)
	}
	return db, nil
}

// createPrivate creates a SQLite database file that does not exist yet with mode 0600, so
// that the personal data in it is the node user's alone (SQLite would create it 0644, and
// gives its -wal and -shm files the database file's mode). An existing file is left as it is.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	} else if err != nil {
		return err
	}
	return f.Close()
}

// closeSealTimeout bounds the sealing Close does, so that a database that has gone away does
// not hold up a process that is exiting.
const closeSealTimeout = 10 * time.Second

// Close seals the audit entries still unsealed (SealAudit; a store from Open only, whose
// schema is known to be current) and closes the database. A command that writes and exits
// therefore leaves its entries chained. Only the first call does anything.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		var sealErr error
		if db.sealOnClose {
			ctx, cancel := context.WithTimeout(context.Background(), closeSealTimeout)
			_, sealErr = db.SealAudit(ctx)
			cancel()
			if sealErr != nil {
				sealErr = fmt.Errorf("close: %w", sealErr)
			}
		}
		db.closeErr = errors.Join(sealErr, db.sql.Close())
	})
	return db.closeErr
}

// Dialect returns "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.dialect.name }

// String names the database without any password: the file path or the PostgreSQL URL.
func (db *DB) String() string { return db.display }

func (db *DB) now() time.Time { return db.Now().UTC().Truncate(time.Microsecond) }

// querier is what *sql.DB, *sql.Conn and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// q wraps a querier so that every statement is rebound for the dialect.
type q struct {
	d *dialect
	x querier
}

func (q q) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return q.x.ExecContext(ctx, q.d.rebind(query), args...)
}

func (q q) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return q.x.QueryContext(ctx, q.d.rebind(query), args...)
}

func (q q) row(ctx context.Context, query string, args ...any) *sql.Row {
	return q.x.QueryRowContext(ctx, q.d.rebind(query), args...)
}

func (db *DB) q() q { return q{db.dialect, db.sql} }

// lockWriter waits for this process's turn to write to a SQLite file and returns the
// function that ends it; on PostgreSQL it does nothing. Other processes (and the import,
// which holds its own connection) still meet this one at SQLite's lock and busy_timeout.
func (db *DB) lockWriter(ctx context.Context) (unlock func(), err error) {
	if db.writer == nil {
		return func() {}, nil
	}
	select {
	case db.writer <- struct{}{}:
		return func() { <-db.writer }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// inTx runs fn in a transaction (on SQLite one that holds the write lock from BEGIN, taken
// in turn through lockWriter) and commits when it returns nil. fn must not start another
// transaction of db.
func (db *DB) inTx(ctx context.Context, fn func(q) error) (err error) {
	unlock, err := db.lockWriter(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer unlock()
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback() // the error that made us roll back is the one to report
		}
	}()
	if err := fn(q{db.dialect, tx}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// checkScope refuses the zero Scope.
func checkScope(scope yipanqi.Scope) error {
	if scope.IsZero() {
		return yipanqi.Errorf(yipanqi.EFORBIDDEN, "无权访问：未指定管辖范围")
	}
	return nil
}

// notFound turns sql.ErrNoRows into ENOTFOUND with msg.
func notFound(err error, msg string, args ...any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return yipanqi.Errorf(yipanqi.ENOTFOUND, msg, args...)
	}
	return err
}

// ExecRaw runs one statement ("?" placeholders) outside every store rule. It exists for
// tests that prove tampering is detected and for maintenance tools; application code uses
// the methods.
func (db *DB) ExecRaw(ctx context.Context, query string, args ...any) error {
	_, err := db.q().exec(ctx, query, args...)
	return err
}
