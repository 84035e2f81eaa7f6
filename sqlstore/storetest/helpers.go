// Package storetest is the conformance suite every sqlstore backend runs (Run), and helpers
// that give any package's tests a fresh store on SQLite and, when YIPANQI_TEST_POSTGRES holds
// a DSN, on PostgreSQL. The behaviours Run runs are listed in one table, suite.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"

	"yipanqi"
	"yipanqi/sqlstore"
)

// PostgresEnv is the environment variable that holds the PostgreSQL DSN tests use.
const PostgresEnv = "YIPANQI_TEST_POSTGRES"

// DSNs returns, by database name ("sqlite", "postgres"), the DSN of a fresh empty database
// for this test: a file in t.TempDir(), and a new PostgreSQL schema dropped at cleanup. The
// PostgreSQL entry is missing when YIPANQI_TEST_POSTGRES is empty.
func DSNs(t testing.TB) map[string]string {
	t.Helper()
	m := map[string]string{"sqlite": SQLiteDSN(t)}
	if base := os.Getenv(PostgresEnv); base != "" {
		m["postgres"] = PostgresDSN(t)
	}
	return m
}

// SQLiteDSN returns the DSN of a new SQLite file in t.TempDir().
func SQLiteDSN(t testing.TB) string {
	t.Helper()
	return "sqlite:" + filepath.Join(t.TempDir(), "yipanqi.db")
}

// PostgresDSN creates a fresh schema in the database named by YIPANQI_TEST_POSTGRES, drops it
// at cleanup, and returns a DSN whose search_path is that schema. It skips the test when the
// variable is empty.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		t.Skip("PostgreSQL tests skipped: set " + PostgresEnv + " to a DSN such as postgres://postgres@127.0.0.1:5432/test")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open %s: %v", PostgresEnv, err)
	}
	defer admin.Close()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	schema := "ypq_test_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create test schema (is %s reachable?): %v", PostgresEnv, err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			t.Errorf("drop test schema: %v", err)
			return
		}
		defer db.Close()
		if _, err := db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop test schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresEnv, err)
	}
	qv := u.Query()
	qv.Set("search_path", schema)
	u.RawQuery = qv.Encode()
	return u.String()
}

// Open opens a store on dsn and closes it at cleanup.
func Open(t testing.TB, dsn string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return db
}

// OpenSQLite returns a migrated store in a new SQLite file in t.TempDir().
func OpenSQLite(t testing.TB) *sqlstore.DB {
	t.Helper()
	return Open(t, SQLiteDSN(t))
}

// OpenPostgres returns a migrated store in a fresh PostgreSQL schema; it skips the test,
// saying why, when YIPANQI_TEST_POSTGRES is empty.
func OpenPostgres(t testing.TB) *sqlstore.DB {
	t.Helper()
	return Open(t, PostgresDSN(t))
}

// IDNumber returns a valid 18-character resident ID number (GB 11643: MOD 11-2 check
// character) for a 6-digit area code, a birth date and a 3-digit sequence number (odd is
// male).
func IDNumber(area string, birth yipanqi.Date, seq int) string {
	body := fmt.Sprintf("%s%04d%02d%02d%03d", area, birth.Year, int(birth.Month), birth.Day, seq%1000)
	return body + string(CheckChar(body))
}

// CheckChar returns the MOD 11-2 check character of the first 17 digits of an ID number.
func CheckChar(body17 string) byte {
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(body17[i]-'0') * weights[i]
	}
	return "10X98765432"[sum%11]
}
