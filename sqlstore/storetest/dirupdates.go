package storetest

import (
	"testing"
	"time"

	"yipanqi"
	"yipanqi/sqlstore"
)

// testDirectoryUpdatesAfter: the received directory.update cases come back in arrival order,
// each once however the reading is paged, and nothing else does (other types, sent ones,
// another scope).
func testDirectoryUpdatesAfter(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	scope := MustScope(t, "44")
	var want []string
	add := func(typ string, dir yipanqi.Direction, unit string) string {
		t.Helper()
		c := &yipanqi.Case{Type: typ, Direction: dir, OrgUnit: unit, PeerNode: "43", PeerUnit: "43", State: yipanqi.CaseClosed,
			Data: []byte(`{"version":1}`)}
		if err := db.CreateCase(ctx(), c); err != nil {
			t.Fatal(err)
		}
		return c.ID
	}
	for i := range 5 {
		want = append(want, add("directory.update", yipanqi.Incoming, "44"))
		if i == 2 {
			add("verify.identity", yipanqi.Incoming, "44")
			add("directory.update", yipanqi.Outgoing, "44")
			add("directory.update", yipanqi.Incoming, "45")
		}
	}
	var got []string
	var at time.Time
	var id string
	for range 10 {
		page, err := db.DirectoryUpdatesAfter(ctx(), scope, at, id, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page {
			got = append(got, c.ID)
			at, id = c.CreatedAt, c.ID
		}
		if len(page) < 2 {
			break
		}
	}
	if len(got) != len(want) {
		t.Fatalf("read %d updates in pages of 2, want %d", len(got), len(want))
	}
	seen := map[string]bool{}
	for _, g := range got {
		seen[g] = true
	}
	for _, w := range want {
		if !seen[w] {
			t.Fatalf("update %s never read; got %v", w, got)
		}
	}
	if _, err := db.DirectoryUpdatesAfter(ctx(), yipanqi.Scope{}, time.Time{}, "", 10); yipanqi.ErrorCode(err) != yipanqi.EFORBIDDEN {
		t.Fatalf("zero scope: %v, want EFORBIDDEN", err)
	}
}
