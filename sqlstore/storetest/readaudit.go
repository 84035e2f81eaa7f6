package storetest

import (
	"context"
	"strings"
	"testing"

	"yipanqi"
	"yipanqi/sqlstore"
)

// testReadAudit checks SCOPE.md's "every read is logged": seeing a person's record or a page
// of people writes an audit entry naming the actor in ctx; a bare count, a miss and an
// out-of-scope lookup show nothing and log nothing.
func testReadAudit(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	a, b := NewPerson(1, townshipA), NewPerson(2, townshipB)
	MustImport(t, db, a, b)
	clerk := &yipanqi.User{Username: "clerk-a", OrgUnit: townshipA}
	uctx := yipanqi.NewContextWithUser(context.Background(), clerk)

	count := func(action string) int {
		t.Helper()
		log, err := db.AuditLog(ctx(), "", 1000)
		if err != nil {
			t.Fatalf("audit log: %v", err)
		}
		n := 0
		for _, e := range log {
			if e.Action == action {
				n++
			}
		}
		return n
	}

	if _, err := db.FindPerson(uctx, MustScope(t, townshipA), a.IDNumber); err != nil {
		t.Fatalf("find person: %v", err)
	}
	log, err := db.AuditLog(ctx(), a.IDNumber, 10)
	if err != nil {
		t.Fatalf("audit log: %v", err)
	}
	if len(log) == 0 || log[0].Action != "person.view" || log[0].Actor != clerk.Username || log[0].OrgUnit != clerk.OrgUnit {
		t.Fatalf("after a view, newest entry about the person = %+v; want person.view by %s of %s", first(log), clerk.Username, clerk.OrgUnit)
	}

	// Out of scope: not found, and nothing is logged as seen.
	views := count("person.view")
	wantCode(t, func() error { _, err := db.FindPerson(uctx, MustScope(t, townshipA), b.IDNumber); return err }(), yipanqi.ENOTFOUND)
	if got := count("person.view"); got != views {
		t.Errorf("an out-of-scope lookup wrote %d person.view entries", got-views)
	}

	// A page of people is a search: logged with its filters and how many were shown.
	if _, _, err := db.ListPeople(uctx, MustScope(t, county), yipanqi.PersonFilter{}); err != nil {
		t.Fatalf("list people: %v", err)
	}
	log, err = db.AuditLog(ctx(), "", 1)
	if err != nil {
		t.Fatalf("audit log: %v", err)
	}
	if len(log) != 1 || log[0].Action != "people.search" || !strings.Contains(log[0].Object, "scope="+county) ||
		!strings.Contains(log[0].Object, "shown=2") {
		t.Errorf("after a search, newest entry = %+v; want people.search of scope %s with shown=2", first(log), county)
	}

	// Counting shows nobody and logs nothing.
	searches := count("people.search")
	n, err := db.CountPeople(uctx, MustScope(t, county))
	if err != nil || n != 2 {
		t.Fatalf("CountPeople(%s) = %d, %v; want 2", county, n, err)
	}
	if got := count("people.search"); got != searches {
		t.Errorf("a count wrote %d people.search entries", got-searches)
	}
	if _, err := db.CountPeople(uctx, yipanqi.Scope{}); yipanqi.ErrorCode(err) != yipanqi.EFORBIDDEN {
		t.Errorf("CountPeople with the zero scope: %v; want EFORBIDDEN", err)
	}
	if _, err := db.VerifyAudit(ctx()); err != nil {
		t.Errorf("audit chain after reads: %v", err)
	}
}

func first(log []*yipanqi.AuditEntry) *yipanqi.AuditEntry {
	if len(log) == 0 {
		return nil
	}
	return log[0]
}
