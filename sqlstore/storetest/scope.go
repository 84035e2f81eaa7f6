package storetest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/sqlstore"
)

func testScopeZero(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	p := NewPerson(1, townshipA)
	MustImport(t, db, p)
	var zero yipanqi.Scope
	calls := []struct {
		name string
		call func() error
	}{
		{"FindPerson", func() error { _, err := db.FindPerson(ctx(), zero, p.IDNumber); return err }},
		{"ListPeople", func() error { _, _, err := db.ListPeople(ctx(), zero, yipanqi.PersonFilter{}); return err }},
		{"FlowHistory", func() error { _, err := db.FlowHistory(ctx(), zero, p.IDNumber); return err }},
		{"RecordFlow", func() error {
			return db.RecordFlow(ctx(), zero, p.IDNumber, &yipanqi.FlowEvent{Kind: yipanqi.FlowLeft, On: p.ArrivedOn})
		}},
		{"ExportPeople", func() error {
			return db.ExportPeople(ctx(), zero, "tester", func(*yipanqi.Person) error { return nil })
		}},
		{"FindCase", func() error { _, err := db.FindCase(ctx(), zero, "x"); return err }},
		{"ListCases", func() error { _, _, err := db.ListCases(ctx(), zero, yipanqi.CaseFilter{}); return err }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) { wantCode(t, c.call(), yipanqi.EFORBIDDEN) })
	}
}

func testScopePeople(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	a, b, far := NewPerson(1, townshipA), NewPerson(2, townshipB), NewPerson(3, elsewhere+"001")
	MustImport(t, db, a, b, far)
	tests := []struct {
		unit    string
		visible map[string]bool
	}{
		{townshipA, map[string]bool{a.IDNumber: true}},
		{townshipB, map[string]bool{b.IDNumber: true}},
		{county, map[string]bool{a.IDNumber: true, b.IDNumber: true}},
		{"44", map[string]bool{a.IDNumber: true, b.IDNumber: true, far.IDNumber: true}},
		{"45", map[string]bool{}},
	}
	for _, tt := range tests {
		t.Run(tt.unit, func(t *testing.T) {
			scope := MustScope(t, tt.unit)
			for _, p := range []*yipanqi.Person{a, b, far} {
				_, err := db.FindPerson(ctx(), scope, p.IDNumber)
				if tt.visible[p.IDNumber] {
					if err != nil {
						t.Errorf("person in %s not visible: %v", p.ResidenceCode, err)
					}
				} else {
					// Not found, not forbidden: existence elsewhere does not leak.
					wantCode(t, err, yipanqi.ENOTFOUND)
					_, err = db.FlowHistory(ctx(), scope, p.IDNumber)
					wantCode(t, err, yipanqi.ENOTFOUND)
					err = db.RecordFlow(ctx(), scope, p.IDNumber, &yipanqi.FlowEvent{Kind: yipanqi.FlowLeft, On: p.ArrivedOn})
					wantCode(t, err, yipanqi.ENOTFOUND)
				}
			}
			list, total, err := db.ListPeople(ctx(), scope, yipanqi.PersonFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if total != len(tt.visible) || len(list) != len(tt.visible) {
				t.Fatalf("list: %d of %d, want %d", len(list), total, len(tt.visible))
			}
			for _, p := range list {
				if !tt.visible[p.IDNumber] {
					t.Errorf("list shows a person in %s", p.ResidenceCode)
				}
			}
		})
	}
}

func testListPeople(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	var people []*yipanqi.Person
	for i := 0; i < 25; i++ {
		people = append(people, NewPerson(i*137, townshipA))
	}
	people[0].Name = "王_小明"
	people[1].Name = "王%大明"
	people[2].Name = "王小红"
	MustImport(t, db, people...)
	scope := MustScope(t, county)
	page1, total, err := db.ListPeople(ctx(), scope, yipanqi.PersonFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	page3, _, err := db.ListPeople(ctx(), scope, yipanqi.PersonFilter{Limit: 10, Offset: 20})
	if err != nil {
		t.Fatal(err)
	}
	if total != 25 || len(page1) != 10 || len(page3) != 5 {
		t.Fatalf("pages: %d and %d of %d, want 10 and 5 of 25", len(page1), len(page3), total)
	}
	for i := 1; i < len(page1); i++ {
		if page1[i-1].IDNumber >= page1[i].IDNumber {
			t.Fatal("list is not ordered by ID number")
		}
	}
	tests := []struct {
		name string
		f    yipanqi.PersonFilter
		want int
	}{
		{"name prefix", yipanqi.PersonFilter{Name: "王"}, 3},
		{"name with underscore is literal", yipanqi.PersonFilter{Name: "王_"}, 1},
		{"name with percent is literal", yipanqi.PersonFilter{Name: "王%"}, 1},
		{"id number", yipanqi.PersonFilter{IDNumber: people[4].IDNumber}, 1},
		{"hukou subtree", yipanqi.PersonFilter{HukouCode: people[10].HukouCode[:4]}, count(people, func(p *yipanqi.Person) bool {
			return p.HukouCode[:4] == people[10].HukouCode[:4]
		})},
		{"flow status", yipanqi.PersonFilter{FlowStatus: yipanqi.FlowArrived}, 25},
		{"other flow status", yipanqi.PersonFilter{FlowStatus: yipanqi.FlowLeft}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, n, err := db.ListPeople(ctx(), scope, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if n != tt.want {
				t.Fatalf("%d match, want %d", n, tt.want)
			}
		})
	}
	_, _, err = db.ListPeople(ctx(), scope, yipanqi.PersonFilter{HukouCode: "3"})
	wantCode(t, err, yipanqi.EINVALID)
}

func count(people []*yipanqi.Person, f func(*yipanqi.Person) bool) int {
	n := 0
	for _, p := range people {
		if f(p) {
			n++
		}
	}
	return n
}

func testFlowHistory(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	p := NewPerson(7, townshipA)
	MustImport(t, db, p)
	scope := MustScope(t, county)
	user := &yipanqi.User{Username: "zhang", OrgUnit: townshipA}
	uctx := yipanqi.NewContextWithUser(ctx(), user)
	steps := []yipanqi.FlowEvent{
		{Kind: yipanqi.FlowMovedOn, On: p.ArrivedOn.AddDays(30), ToCode: townshipB, Note: "换工作"},
		{Kind: yipanqi.FlowReturned, On: p.ArrivedOn.AddDays(60)},
	}
	for i := range steps {
		if err := db.RecordFlow(uctx, scope, p.IDNumber, &steps[i]); err != nil {
			t.Fatalf("record %s: %v", steps[i].Kind, err)
		}
	}
	wantCode(t, db.RecordFlow(uctx, scope, p.IDNumber, &yipanqi.FlowEvent{Kind: "pregnant", On: p.ArrivedOn}), yipanqi.EINVALID)
	got, err := db.FindPerson(ctx(), scope, p.IDNumber)
	if err != nil {
		t.Fatal(err)
	}
	if got.FlowStatus != yipanqi.FlowReturned || got.ResidenceCode != townshipB || got.Version != 3 {
		t.Fatalf("person after flows = status %s residence %s version %d; want returned, %s, 3",
			got.FlowStatus, got.ResidenceCode, got.Version, townshipB)
	}
	hist, err := db.FlowHistory(ctx(), scope, p.IDNumber)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 3 || hist[0].Kind != yipanqi.FlowArrived || hist[0].On != p.ArrivedOn ||
		hist[1].Kind != yipanqi.FlowMovedOn || hist[1].FromCode != townshipA || hist[1].ToCode != townshipB ||
		hist[1].Note != "换工作" || hist[2].Kind != yipanqi.FlowReturned || hist[2].On != steps[1].On {
		t.Fatalf("history = %s", events(hist))
	}
	// The township it left no longer sees the person.
	_, err = db.FindPerson(ctx(), MustScope(t, townshipA), p.IDNumber)
	wantCode(t, err, yipanqi.ENOTFOUND)
	log, err := db.AuditLog(ctx(), p.IDNumber, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Newest first: the two views above (FindPerson, FlowHistory) by the store's own actor, then
	// the two changes by zhang.
	var actions []string
	for _, e := range log {
		actions = append(actions, e.Action+"/"+e.Actor)
	}
	want := "person.view/system:sqlstore person.view/system:sqlstore person.flow/zhang person.flow/zhang"
	if got := strings.Join(actions, " "); got != want || log[3].OrgUnit != townshipA {
		t.Fatalf("audit for the person = %s (unit %s); want %s (unit %s)", got, log[len(log)-1].OrgUnit, want, townshipA)
	}
}

func testExport(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	var people []*yipanqi.Person
	for i := 0; i < 40; i++ {
		unit := townshipA
		if i%3 == 0 {
			unit = townshipB
		}
		people = append(people, NewPerson(i*31, unit))
	}
	MustImport(t, db, people...)
	var got []string
	err := db.ExportPeople(ctx(), MustScope(t, townshipB), "zhang", func(p *yipanqi.Person) error {
		got = append(got, p.IDNumber)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := count(people, func(p *yipanqi.Person) bool { return p.ResidenceCode == townshipB })
	if len(got) != want {
		t.Fatalf("exported %d, want %d", len(got), want)
	}
	for i := 1; i < len(got); i++ {
		if got[i-1] >= got[i] {
			t.Fatal("export not ordered by ID number")
		}
	}
	log, err := db.AuditLog(ctx(), townshipB, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 1 || log[0].Action != "people.export" || log[0].Actor != "zhang" {
		t.Fatalf("audit = %+v, want one people.export by zhang", log)
	}
	stop := errors.New("stop")
	n := 0
	err = db.ExportPeople(ctx(), MustScope(t, county), "zhang", func(*yipanqi.Person) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("export with failing callback: %v after %d calls, want stop after 1", err, n)
	}
}

func testCases(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	due := time.Date(2025, 3, 14, 15, 59, 59, 123456000, time.UTC)
	c := &yipanqi.Case{Type: "verify.identity", Direction: yipanqi.Incoming, OrgUnit: townshipA, PeerNode: "36",
		PeerUnit: "360121100", PersonIDNumber: NewPerson(1, townshipA).IDNumber, State: yipanqi.CaseDelivered,
		Data: json.RawMessage(`{"reason":"核实住址"}`), ReceivedAt: due.Add(-72 * time.Hour), DueAt: due, DueProvisional: true}
	if err := db.CreateCase(ctx(), c); err != nil {
		t.Fatal(err)
	}
	if len(c.ID) != 36 || c.ID[14] != '7' {
		t.Fatalf("case id %q is not a UUIDv7", c.ID)
	}
	got, err := db.FindCase(ctx(), MustScope(t, townshipA), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	var data map[string]string
	if err := json.Unmarshal(got.Data, &data); err != nil || data["reason"] != "核实住址" {
		t.Fatalf("case data = %s (%v)", got.Data, err)
	}
	if got.Type != c.Type || got.Direction != c.Direction || got.PeerUnit != c.PeerUnit || got.State != c.State ||
		got.PersonIDNumber != c.PersonIDNumber || !got.DueAt.Equal(due) || !got.ReceivedAt.Equal(c.ReceivedAt) ||
		!got.DueProvisional || got.Overdue || !got.CreatedAt.Equal(c.CreatedAt) {
		t.Fatalf("case = %+v, want %+v", got, c)
	}
	dup := *c
	wantCode(t, db.CreateCase(ctx(), &dup), yipanqi.ECONFLICT)
	wantCode(t, db.CreateCase(ctx(), &yipanqi.Case{Type: "x", Direction: "sideways", OrgUnit: townshipA}), yipanqi.EINVALID)

	out := &yipanqi.Case{Type: "cert.reissue", Direction: yipanqi.Outgoing, OrgUnit: townshipA, State: yipanqi.CaseSent, Overdue: true}
	if err := db.CreateCase(ctx(), out); err != nil {
		t.Fatal(err)
	}
	yes, no := true, false
	tests := []struct {
		name string
		f    yipanqi.CaseFilter
		want []string
	}{
		{"all, newest first", yipanqi.CaseFilter{}, []string{out.ID, c.ID}},
		{"type", yipanqi.CaseFilter{Type: "verify.identity"}, []string{c.ID}},
		{"state", yipanqi.CaseFilter{State: yipanqi.CaseSent}, []string{out.ID}},
		{"direction", yipanqi.CaseFilter{Direction: yipanqi.Incoming}, []string{c.ID}},
		{"overdue", yipanqi.CaseFilter{Overdue: &yes}, []string{out.ID}},
		{"not overdue", yipanqi.CaseFilter{Overdue: &no}, []string{c.ID}},
		{"page", yipanqi.CaseFilter{Limit: 1, Offset: 1}, []string{c.ID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, _, err := db.ListCases(ctx(), MustScope(t, county), tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, c := range list {
				ids = append(ids, c.ID)
			}
			if len(ids) != len(tt.want) {
				t.Fatalf("ids = %v, want %v", ids, tt.want)
			}
			for i := range ids {
				if ids[i] != tt.want[i] {
					t.Fatalf("ids = %v, want %v", ids, tt.want)
				}
			}
		})
	}
}

func testCaseScope(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	a := &yipanqi.Case{Type: "care.request", Direction: yipanqi.Incoming, OrgUnit: townshipA, State: yipanqi.CaseDelivered}
	b := &yipanqi.Case{Type: "care.request", Direction: yipanqi.Incoming, OrgUnit: townshipB, State: yipanqi.CaseDelivered}
	for _, c := range []*yipanqi.Case{a, b} {
		if err := db.CreateCase(ctx(), c); err != nil {
			t.Fatal(err)
		}
	}
	_, err := db.FindCase(ctx(), MustScope(t, townshipA), b.ID)
	wantCode(t, err, yipanqi.ENOTFOUND)
	if _, err := db.FindCase(ctx(), MustScope(t, townshipA), a.ID); err != nil {
		t.Fatal(err)
	}
	for unit, want := range map[string]int{townshipA: 1, townshipB: 1, county: 2, elsewhere: 0} {
		_, n, err := db.ListCases(ctx(), MustScope(t, unit), yipanqi.CaseFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("%s sees %d cases, want %d", unit, n, want)
		}
	}
}
