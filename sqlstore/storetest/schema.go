package storetest

import (
	"errors"
	"strings"
	"testing"

	"yipanqi"
	"yipanqi/sqlstore"
)

func testMigrations(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	names, err := sqlstore.Migrations(db.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("no migrations embedded")
	}
	n, err := db.MigrationCount(ctx())
	if err != nil {
		t.Fatal(err)
	}
	if n != len(names) {
		t.Fatalf("after Open %d migrations recorded, want %d", n, len(names))
	}
	applied, err := db.Migrate(ctx())
	if err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if len(applied) != 0 {
		t.Fatalf("second migrate applied %v, want nothing", applied)
	}
	if n2, err := db.MigrationCount(ctx()); err != nil || n2 != n {
		t.Fatalf("after second migrate %d recorded (%v), want %d", n2, err, n)
	}
}

func testOrgUnitsAndUsers(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	units := []yipanqi.OrgUnit{
		{Code: county, Name: "天河区", ParentCode: "4401", Active: true},
		{Code: townshipA, Name: "甲街道", ParentCode: county, Active: true},
	}
	if err := db.UpsertOrgUnits(ctx(), units); err != nil {
		t.Fatalf("upsert: %v", err)
	}
	units[1].Name = "甲街道（新）"
	units[1].Active = false
	if err := db.UpsertOrgUnits(ctx(), units[1:]); err != nil {
		t.Fatalf("second upsert: %v", err)
	}
	got, err := db.OrgUnit(ctx(), townshipA)
	if err != nil {
		t.Fatal(err)
	}
	want := yipanqi.OrgUnit{Code: townshipA, Name: "甲街道（新）", Level: yipanqi.LevelTownship, ParentCode: county}
	if *got != want {
		t.Fatalf("org unit = %+v, want %+v", *got, want)
	}
	_, err = db.OrgUnit(ctx(), townshipB)
	wantCode(t, err, yipanqi.ENOTFOUND)
	wantCode(t, db.UpsertOrgUnits(ctx(), []yipanqi.OrgUnit{{Code: "12345", Name: "x"}}), yipanqi.EINVALID)

	u := &yipanqi.User{Username: "zhang", DisplayName: "张三", OrgUnit: townshipA, Role: yipanqi.RoleTownshipWorker, PasswordHash: "h"}
	if err := db.CreateUser(ctx(), u); err != nil {
		t.Fatalf("create user: %v", err)
	}
	if u.ID == 0 {
		t.Fatal("user id not set")
	}
	dup := *u
	err = db.CreateUser(ctx(), &dup)
	wantCode(t, err, yipanqi.ECONFLICT)
	if !strings.Contains(yipanqi.ErrorMessage(err), "zhang") {
		t.Errorf("conflict message %q does not name the username", yipanqi.ErrorMessage(err))
	}
	wantCode(t, db.CreateUser(ctx(), &yipanqi.User{Username: "li", OrgUnit: townshipB, Role: yipanqi.RoleTownshipWorker}), yipanqi.EINVALID)
	got2, err := db.UserByName(ctx(), "zhang")
	if err != nil {
		t.Fatal(err)
	}
	if got2.ID != u.ID || got2.DisplayName != u.DisplayName || got2.OrgUnit != townshipA || got2.Role != u.Role ||
		got2.PasswordHash != "h" || got2.Disabled || !got2.CreatedAt.Equal(u.CreatedAt) {
		t.Fatalf("user = %+v, want %+v", got2, u)
	}
	_, err = db.UserByName(ctx(), "nobody")
	wantCode(t, err, yipanqi.ENOTFOUND)
}

func testAuditChain(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	for i, obj := range []string{"a", "b", "a", "c"} {
		e := &yipanqi.AuditEntry{Actor: "zhang", OrgUnit: townshipA, Action: "person.view", Object: obj, Reason: "核实"}
		if err := db.Audit(ctx(), e); err != nil {
			t.Fatalf("audit %d: %v", i, err)
		}
		if e.ID == 0 || e.Hash != "" {
			t.Fatalf("entry %d: id %d hash %q, want an id and no hash until sealed", i, e.ID, e.Hash)
		}
	}
	wantCode(t, db.Audit(ctx(), &yipanqi.AuditEntry{Action: "x"}), yipanqi.EINVALID)
	n, err := db.VerifyAudit(ctx())
	if err != nil || n != 4 {
		t.Fatalf("verify = %d, %v; want 4 entries, no error", n, err)
	}
	log, err := db.AuditLog(ctx(), "a", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 2 || log[0].ID < log[1].ID || log[0].Object != "a" {
		t.Fatalf("audit log for a = %+v, want 2 entries newest first", log)
	}
	for _, e := range log { // verify sealed them
		if e.Hash == "" || e.Hash != sqlstore.AuditHash(e) {
			t.Fatalf("sealed entry %d: hash %q, want the hash of the entry", e.ID, e.Hash)
		}
	}
	// Tamper with the second oldest entry: the chain names it.
	all, err := db.AuditLog(ctx(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	target := all[len(all)-2] // the second oldest
	if err := Tamper(db, "UPDATE audit_log SET reason = 'x' WHERE id = ?", target.ID); err != nil {
		t.Fatal(err)
	}
	_, err = db.VerifyAudit(ctx())
	if err == nil {
		t.Fatal("verify passed a tampered log")
	}
	if !strings.Contains(yipanqi.ErrorMessage(err), itoa(target.ID)) {
		t.Fatalf("verify error %q does not name entry %d", yipanqi.ErrorMessage(err), target.ID)
	}
}

// Tamper runs a statement behind the store's back (for tests that prove tampering shows).
func Tamper(db *sqlstore.DB, query string, args ...any) error {
	if db == nil {
		return errors.New("no store")
	}
	return db.ExecRaw(ctx(), query, args...)
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	s := ""
	for n > 0 {
		s = string(rune('0'+n%10)) + s
		n /= 10
	}
	return s
}
