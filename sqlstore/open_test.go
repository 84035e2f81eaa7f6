package sqlstore_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"yipanqi"
	"yipanqi/sqlstore"
)

func TestMigrationFoldersMatch(t *testing.T) {
	lite, err := sqlstore.Migrations("sqlite")
	if err != nil {
		t.Fatal(err)
	}
	pg, err := sqlstore.Migrations("postgres")
	if err != nil {
		t.Fatal(err)
	}
	if len(lite) == 0 || strings.Join(lite, ",") != strings.Join(pg, ",") {
		t.Fatalf("migration names differ:\nsqlite:   %v\npostgres: %v", lite, pg)
	}
	for _, name := range lite {
		if len(name) < 9 || strings.Trim(name[:4], "0123456789") != "" || name[4] != '_' {
			t.Errorf("migration %q is not named NNNN_name.sql", name)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no", "such", "dir", "y.db")
	tests := []struct {
		name    string
		dsn     string
		want    []string // the message names these
		notWant string   // and never this
	}{
		{"unknown scheme", "mysql://root@localhost/db", []string{"--db", "sqlite:", "postgres://"}, ""},
		{"no path", "sqlite:", []string{"--db"}, ""},
		{"sqlite file that cannot be opened", "sqlite:" + missing, []string{missing}, ""},
		{"postgres that does not answer", "postgres://ypq:s3cretpw@127.0.0.1:1/yipanqi", []string{"127.0.0.1:1", "yipanqi"}, "s3cretpw"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := sqlstore.Open(context.Background(), tt.dsn)
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			if yipanqi.ErrorCode(err) != yipanqi.EINVALID || yipanqi.ErrorField(err) != "db" {
				t.Fatalf("error %v: code %s field %s, want invalid, db", err, yipanqi.ErrorCode(err), yipanqi.ErrorField(err))
			}
			msg := yipanqi.ErrorMessage(err)
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not name %q", msg, w)
				}
			}
			if tt.notWant != "" && strings.Contains(err.Error(), tt.notWant) {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}
