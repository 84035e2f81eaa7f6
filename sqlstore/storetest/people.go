package storetest

import (
	"testing"

	"yipanqi"
	"yipanqi/sqlstore"
)

func testImportNewUpdateSame(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	var people []*yipanqi.Person
	for i := 0; i < 30; i++ {
		people = append(people, NewPerson(i, townshipA))
	}
	stats, dups := MustImport(t, db, people...)
	if stats != (yipanqi.ImportStats{Imported: 30}) || len(dups) != 0 {
		t.Fatalf("first import: stats %+v, duplicates %v; want 30 imported", stats, dups)
	}
	scope := MustScope(t, county)
	before := map[string]*yipanqi.Person{}
	for _, p := range people {
		got, err := db.FindPerson(ctx(), scope, p.IDNumber)
		if err != nil {
			t.Fatalf("find imported person: %v", err)
		}
		if got.Version != 1 || got.FlowStatus != yipanqi.FlowArrived || got.Name != p.Name ||
			got.BirthDate != p.BirthDate || got.ArrivedOn != p.ArrivedOn || got.ResidenceCode != townshipA {
			t.Fatalf("imported person = %+v, want the row as imported with version 1, arrived", got)
		}
		before[p.IDNumber] = got
	}

	// The same file again changes nothing.
	stats, _ = MustImport(t, db, people...)
	if stats != (yipanqi.ImportStats{Same: 30}) {
		t.Fatalf("re-import: stats %+v, want 30 same", stats)
	}
	for _, p := range people {
		got, err := db.FindPerson(ctx(), scope, p.IDNumber)
		if err != nil {
			t.Fatal(err)
		}
		if got.Version != 1 || !got.UpdatedAt.Equal(before[p.IDNumber].UpdatedAt) {
			t.Fatalf("re-import touched a person: version %d updated %v, want 1 and %v",
				got.Version, got.UpdatedAt, before[p.IDNumber].UpdatedAt)
		}
	}

	// Change a phone on one row, move another to township B; add two new people.
	people[3].Phone = "13911112222"
	people[5].ResidenceCode = townshipB
	people = append(people, NewPerson(100, townshipA), NewPerson(101, townshipB))
	stats, _ = MustImport(t, db, people...)
	if stats != (yipanqi.ImportStats{Imported: 2, Updated: 2, Same: 28}) {
		t.Fatalf("third import: stats %+v, want 2 imported, 2 updated, 28 same", stats)
	}
	got, err := db.FindPerson(ctx(), scope, people[3].IDNumber)
	if err != nil {
		t.Fatal(err)
	}
	if got.Phone != "13911112222" || got.Version != 2 || !got.UpdatedAt.After(before[people[3].IDNumber].UpdatedAt) && !got.UpdatedAt.Equal(before[people[3].IDNumber].UpdatedAt) {
		t.Fatalf("updated person = %+v, want new phone and version 2", got)
	}
	if got.FlowStatus != yipanqi.FlowArrived {
		t.Errorf("phone change set flow status %q, want it left as arrived", got.FlowStatus)
	}
	moved, err := db.FindPerson(ctx(), scope, people[5].IDNumber)
	if err != nil {
		t.Fatal(err)
	}
	if moved.ResidenceCode != townshipB || moved.FlowStatus != yipanqi.FlowMovedOn || moved.Version != 2 {
		t.Fatalf("moved person = %+v, want residence %s, moved_on, version 2", moved, townshipB)
	}
	hist, err := db.FlowHistory(ctx(), scope, people[5].IDNumber)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 || hist[0].Kind != yipanqi.FlowArrived || hist[0].ToCode != townshipA ||
		hist[1].Kind != yipanqi.FlowMovedOn || hist[1].FromCode != townshipA || hist[1].ToCode != townshipB {
		t.Fatalf("flow history of moved person = %s, want arrived→%s then moved_on %s→%s", events(hist), townshipA, townshipA, townshipB)
	}
	log, err := db.AuditLog(ctx(), "people.csv", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 3 || log[0].Action != "people.import" || log[0].Actor != "tester" {
		t.Fatalf("audit entries for the file = %d (latest %+v), want 3 people.import", len(log), log[0])
	}
}

func events(evs []*yipanqi.FlowEvent) string {
	s := ""
	for _, e := range evs {
		s += string(e.Kind) + "(" + e.FromCode + "→" + e.ToCode + " " + e.On.String() + ") "
	}
	return s
}

func testImportDuplicates(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	a, b, c := NewPerson(1, townshipA), NewPerson(2, townshipA), NewPerson(3, townshipA)
	a2 := *a
	a2.Name = "另一人"
	c2 := *c
	stats, dups := MustImport(t, db, a, b, &a2, c, &c2, &c2)
	if stats != (yipanqi.ImportStats{Imported: 1}) {
		t.Fatalf("stats %+v, want only the one unique row imported", stats)
	}
	want := []sqlstore.DuplicateID{{IDNumber: a.IDNumber, Rows: []int{1, 3}}, {IDNumber: c.IDNumber, Rows: []int{4, 5, 6}}}
	if a.IDNumber > c.IDNumber {
		want[0], want[1] = want[1], want[0]
	}
	if len(dups) != 2 || !sameDup(dups[0], want[0]) || !sameDup(dups[1], want[1]) {
		t.Fatalf("duplicates = %+v, want %+v", dups, want)
	}
	scope := MustScope(t, townshipA)
	for _, id := range []string{a.IDNumber, c.IDNumber} {
		_, err := db.FindPerson(ctx(), scope, id)
		wantCode(t, err, yipanqi.ENOTFOUND)
	}
	if _, err := db.FindPerson(ctx(), scope, b.IDNumber); err != nil {
		t.Fatalf("the unique row was not imported: %v", err)
	}
}

func sameDup(a, b sqlstore.DuplicateID) bool {
	if a.IDNumber != b.IDNumber || len(a.Rows) != len(b.Rows) {
		return false
	}
	for i := range a.Rows {
		if a.Rows[i] != b.Rows[i] {
			return false
		}
	}
	return true
}

func testImportRollback(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	im, err := db.BeginPeopleImport(ctx(), "tester", "people.csv")
	if err != nil {
		t.Fatal(err)
	}
	// More than one staging batch, so some rows have reached the database.
	for i := 0; i < 5100; i++ {
		if err := im.Add(i+1, NewPerson(i, townshipA)); err != nil {
			t.Fatalf("add: %v", err)
		}
	}
	if err := im.Rollback(); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	if err := im.Rollback(); err != nil {
		t.Fatalf("second rollback: %v", err)
	}
	_, n, err := db.ListPeople(ctx(), MustScope(t, "44"), yipanqi.PersonFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("after rollback %d people are held, want 0", n)
	}
	log, err := db.AuditLog(ctx(), "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 0 {
		t.Fatalf("after rollback the audit log has %d entries, want 0", len(log))
	}
	// The store is usable afterwards, on whichever connection comes next.
	stats, _ := MustImport(t, db, NewPerson(1, townshipA))
	if stats.Imported != 1 {
		t.Fatalf("import after rollback: %+v", stats)
	}
}

func testImportInvalidRow(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	im, err := db.BeginPeopleImport(ctx(), "tester", "people.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer im.Rollback()
	bad := NewPerson(1, townshipA)
	bad.ResidenceCode = "4401"
	bad.ResidenceCode = "44X"
	err = im.Add(7, bad)
	wantCode(t, err, yipanqi.EINVALID)
	if yipanqi.ErrorField(err) != "residence_code" {
		t.Fatalf("field = %q, want residence_code", yipanqi.ErrorField(err))
	}
	short := NewPerson(2, townshipA)
	short.IDNumber = short.IDNumber[:17]
	wantCode(t, im.Add(8, short), yipanqi.EINVALID)
}
