package sqlstore_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"yipanqi"
	"yipanqi/sqlstore"
)

// TestSQLiteFileMode: a SQLite database the store creates, and its -wal and -shm files, are
// the process user's alone (0600), whatever the umask lets through.
func TestSQLiteFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.db")
	db, err := sqlstore.Open(context.Background(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// A write, so that the write-ahead log exists.
	if err := db.UpsertOrgUnits(context.Background(), []yipanqi.OrgUnit{{Code: "44", Name: "广东省", Active: true}}); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(p)
		if os.IsNotExist(err) && p != path {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		checked++
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %04o, want 0600", filepath.Base(p), st.Mode().Perm())
		}
	}
	if checked < 2 {
		t.Errorf("only %d of the database's files exist: the WAL was not checked", checked)
	}
	// An existing file keeps its mode: the store does not change what an administrator set.
	other := filepath.Join(t.TempDir(), "kept.db")
	if err := os.WriteFile(other, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	db2, err := sqlstore.Open(context.Background(), "sqlite:"+other)
	if err != nil {
		t.Fatal(err)
	}
	db2.Close()
	if st, err := os.Stat(other); err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("existing database file: %v, %v; want its mode 0640 kept", st.Mode(), err)
	}
}
