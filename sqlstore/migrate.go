package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed migrations
var migrationFS embed.FS

// Migrations returns the names of the migrations for a dialect ("sqlite" or "postgres"),
// in the order they are applied.
func Migrations(dialect string) ([]string, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations/"+dialect)
	if err != nil {
		return nil, fmt.Errorf("migrations for %q: %w", dialect, err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".sql") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// Migrate applies the migrations not yet recorded in schema_migrations, each in its own
// transaction, and returns the names of those it applied (none when the schema is current).
func (db *DB) Migrate(ctx context.Context) ([]string, error) {
	names, err := Migrations(db.dialect.name)
	if err != nil {
		return nil, err
	}
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	unlock, err := db.dialect.lockMigrations(ctx, conn)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if _, err := conn.ExecContext(ctx, db.dialect.migrationsTable()); err != nil {
		return nil, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	var applied []string
	for _, name := range names {
		done, err := db.applyMigration(ctx, conn, name)
		if err != nil {
			return applied, fmt.Errorf("migrate %s: %w", name, err)
		}
		if done {
			applied = append(applied, name)
		}
	}
	return applied, nil
}

// MigrationCount returns how many migrations the schema has recorded.
func (db *DB) MigrationCount(ctx context.Context) (int, error) {
	var n int
	if err := db.q().row(ctx, "SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil {
		return 0, fmt.Errorf("count migrations: %w", err)
	}
	return n, nil
}

func (db *DB) applyMigration(ctx context.Context, conn *sql.Conn, name string) (bool, error) {
	body, err := migrationFS.ReadFile(db.dialect.migrations + "/" + name)
	if err != nil {
		return false, err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	qq := q{db.dialect, tx}
	var n int
	if err := qq.row(ctx, "SELECT COUNT(*) FROM schema_migrations WHERE name = ?", name).Scan(&n); err != nil {
		return false, err
	}
	if n > 0 {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return false, err
	}
	if _, err := qq.exec(ctx, "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
		name, db.dialect.timeArg(db.now())); err != nil {
		return false, err
	}
	return true, tx.Commit()
}
