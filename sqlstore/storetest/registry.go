package storetest

import (
	"fmt"
	"testing"

	"yipanqi"
	"yipanqi/sqlstore"
)

// testRegistryPeople: Tx.RegistryPeople, what the exchange's who-may-send rule reads on
// receipt (docs/workflows.md), returns by ID number the hukou code, residence and flow status
// of exactly those people the registry holds — as the transaction sees them, across the
// chunks of a long list — and writes no audit entry.
func testRegistryPeople(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	a := NewPerson(1, townshipA)
	b := NewPerson(1002, townshipB) // hukou 360001, not the hometown
	missing := NewPerson(3, townshipA).IDNumber
	MustImport(t, db, a, b)
	if b.HukouCode == a.HukouCode {
		t.Fatalf("fixture: both hukou codes are %s", a.HukouCode)
	}
	name := map[*yipanqi.Person]string{a: "a", b: "b"}
	want := func(t *testing.T, got map[string]sqlstore.Registered, p *yipanqi.Person, residence string, flow yipanqi.FlowKind) {
		t.Helper()
		r, ok := got[p.IDNumber]
		if !ok || r.HukouCode != p.HukouCode || r.ResidenceCode != residence || r.FlowStatus != flow {
			t.Errorf("registered %s = %+v (held %v); want hukou %s, residence %s, flow %s",
				name[p], r, ok, p.HukouCode, residence, flow)
		}
	}

	before, err := db.AuditLog(ctx(), "", 100000)
	if err != nil {
		t.Fatal(err)
	}
	err = db.InTx(ctx(), func(tx *sqlstore.Tx) error {
		got, err := tx.RegistryPeople(ctx(), []string{a.IDNumber, missing, b.IDNumber, a.IDNumber})
		if err != nil {
			return err
		}
		if len(got) != 2 {
			t.Errorf("registered of 2 held, 1 not, 1 repeated: %d entries; want 2", len(got))
		}
		if _, ok := got[missing]; ok {
			t.Error("a person the registry does not hold is registered")
		}
		want(t, got, a, townshipA, yipanqi.FlowArrived)
		want(t, got, b, townshipB, yipanqi.FlowArrived)
		if got, err := tx.RegistryPeople(ctx(), nil); err != nil || len(got) != 0 {
			t.Errorf("no ID numbers: %v, %v; want an empty map", got, err)
		}

		// A list longer than one statement takes (30,000 values): the one held person is at
		// the end, in the second chunk.
		long := make([]string, 0, 30001)
		for i := range 30000 {
			long = append(long, fmt.Sprintf("X%017d", i))
		}
		long = append(long, b.IDNumber)
		got, err = tx.RegistryPeople(ctx(), long)
		if err != nil {
			return err
		}
		if len(got) != 1 {
			t.Errorf("registered of a long list holding one: %d entries", len(got))
		}
		want(t, got, b, townshipB, yipanqi.FlowArrived)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	after, err := db.AuditLog(ctx(), "", 100000)
	if err != nil || len(after) != len(before) {
		t.Fatalf("audit entries %d before, %d after (%v); want no entry written", len(before), len(after), err)
	}

	// A flow recorded in the same transaction is what it reads: the residence and status.
	err = db.InTx(ctx(), func(tx *sqlstore.Tx) error {
		if _, err := tx.RecordFlow(ctx(), MustScope(t, county), a.IDNumber,
			&yipanqi.FlowEvent{Kind: yipanqi.FlowMovedOn, On: a.ArrivedOn.AddDays(30), ToCode: "440104001"}); err != nil {
			return err
		}
		got, err := tx.RegistryPeople(ctx(), []string{a.IDNumber})
		if err != nil {
			return err
		}
		want(t, got, a, "440104001", yipanqi.FlowMovedOn)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
