package casework_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/casework"
	"yipanqi/directory"
	"yipanqi/division"
	"yipanqi/sqlstore/storetest"
)

// TestDirectoryUpdate: node 44 publishes its directory; node 43 ends up holding it, the same
// entries at the same version. A newer version replaces it; the same version again, an older
// one sent after it, and entries that are not the sender's province change nothing.
func TestDirectoryUpdate(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		ctx := context.Background()
		w := newWorld(t)
		types := casework.DefaultCaseTypes()
		types[casework.DirectoryUpdate] = casework.DirectoryCaseType()
		withTypes := run{relay: true, consumer: true, tune: func(c *casework.NodeConfig) { c.Types = types }}
		a := w.start(t, "44", newDSN(), withTypes)
		b := w.start(t, "43", newDSN(), withTypes)
		for _, p := range []*peer{a, b} {
			if err := p.db.UpsertOrgUnits(ctx, []yipanqi.OrgUnit{{Code: p.code, Name: "省级" + p.code, Active: true}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.node.PublishDirectory(ctx); yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
			t.Fatalf("publish without a directory: %v, want ENOTFOUND", err)
		}

		fixture := storetest.DirectoryFixture()
		made := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
		if err := a.db.ReplaceProvinceDirectory(ctx, yipanqi.DirectoryVersion{Province: "44", Version: 1, UpdatedAt: made}, fixture); err != nil {
			t.Fatal(err)
		}
		if err := a.node.PublishDirectory(ctx); err != nil {
			t.Fatal(err)
		}
		waitVersion := func(want int64) {
			t.Helper()
			checkFor(t, 10*time.Second, fmt.Sprintf("43 holds 44's directory v%d", want), func() bool {
				if _, err := b.node.ApplyDirectoryUpdates(ctx); err != nil {
					t.Fatal(err)
				}
				v, err := b.db.DirectoryVersion(ctx, "44")
				return err == nil && v.Version == want
			})
		}
		waitVersion(1)
		_, sent, err := a.db.ProvinceDirectory(ctx, "44")
		if err != nil {
			t.Fatal(err)
		}
		v, got, err := b.db.ProvinceDirectory(ctx, "44")
		if err != nil || !v.UpdatedAt.Equal(made) || !reflect.DeepEqual(got, sent) {
			t.Fatalf("43 holds %+v %+v (%v)\nwant %+v", v, got, err, sent)
		}
		if n, err := b.node.ApplyDirectoryUpdates(ctx); err != nil || n != 0 {
			t.Fatalf("applying again replaced %d (%v), want 0", n, err)
		}

		// Version 2, then version 1 sent again after it: 43 keeps 2.
		if err := a.db.ReplaceProvinceDirectory(ctx, yipanqi.DirectoryVersion{Province: "44", Version: 2}, fixture[3:5]); err != nil {
			t.Fatal(err)
		}
		if err := a.node.PublishDirectory(ctx); err != nil {
			t.Fatal(err)
		}
		waitVersion(2)
		old, err := casework.DirectoryFields(yipanqi.DirectoryVersion{Province: "44", Version: 1, UpdatedAt: made}, fixture)
		if err != nil {
			t.Fatal(err)
		}
		c := &yipanqi.Case{Type: casework.DirectoryUpdate, OrgUnit: "44", PeerNode: "43", PeerUnit: "43"}
		if err := a.node.Send(ctx, c, old); err != nil {
			t.Fatal(err)
		}
		// Entries of another province, claimed to be 44's version 9.
		foreign := []yipanqi.DirectoryEntry{{Kind: yipanqi.EntryContact, DivisionCode: "4301", Name: "长沙市某办公室",
			Role: yipanqi.RoleStaff, PersonName: "刘某某", Phone: "0731-01000001"}}
		bad, err := casework.DirectoryFields(yipanqi.DirectoryVersion{Province: "43", Version: 9, UpdatedAt: made}, foreign)
		if err != nil {
			t.Fatal(err)
		}
		c2 := &yipanqi.Case{Type: casework.DirectoryUpdate, OrgUnit: "44", PeerNode: "43", PeerUnit: "43"}
		if err := a.node.Send(ctx, c2, bad); err != nil {
			t.Fatal(err)
		}
		checkFor(t, 10*time.Second, "43 received the four updates", func() bool {
			_, n, err := b.db.ListCases(ctx, b.scope(t), yipanqi.CaseFilter{Type: casework.DirectoryUpdate})
			return err == nil && n == 4
		})
		if n, err := b.node.ApplyDirectoryUpdates(ctx); err != nil || n != 0 {
			t.Fatalf("old and foreign updates replaced %d (%v), want 0", n, err)
		}
		if v, got, err := b.db.ProvinceDirectory(ctx, "44"); err != nil || v.Version != 2 || len(got) != 2 {
			t.Fatalf("43 holds v%d with %d entries (%v), want v2 with 2", v.Version, len(got), err)
		}
		if _, err := b.db.DirectoryVersion(ctx, "43"); yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
			t.Fatalf("the foreign entries were stored as 43's directory: %v", err)
		}

		// The sender refuses what is not a directory at all, and stores nothing.
		err = a.node.Send(ctx, &yipanqi.Case{Type: casework.DirectoryUpdate, OrgUnit: "44", PeerNode: "43", PeerUnit: "43"},
			[]byte(`{"version":3,"updated_at":"2026-05-01T08:00:00Z","entries":[{"kind":"contact","division_code":"4401","name":"x","role":"staff","person_name":"某","phone":"13800138000"}]}`))
		if yipanqi.ErrorCode(err) != yipanqi.EINVALID || yipanqi.ErrorField(err) != "Phone" {
			t.Fatalf("mobile phone sent: %v, want EINVALID on Phone", err)
		}
	})
}

// TestDirectoryUpdateInParts: a province's directory larger than one message (广东's demo
// directory) travels in parts; the receiver stores it only once every part is there, whole and
// in order.
func TestDirectoryUpdateInParts(t *testing.T) {
	tree, err := division.Load()
	if err != nil {
		t.Fatal(err)
	}
	entries, err := directory.Seed(tree, "44", directory.SeedOptions{TownshipsPerCounty: 3})
	if err != nil {
		t.Fatal(err)
	}
	v := yipanqi.DirectoryVersion{Province: "44", Version: 1, UpdatedAt: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}
	parts, err := casework.DirectoryParts(v, entries)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) < 2 {
		t.Fatalf("%d entries went in %d part; the test needs a directory that takes several", len(entries), len(parts))
	}
	for i, p := range parts {
		if err := yipanqi.Catalog().ValidateRequest(casework.DirectoryUpdate, p); err != nil {
			t.Fatalf("part %d refused by the catalog: %v", i+1, err)
		}
	}
	eachDB(t, func(t *testing.T, newDSN func() string) {
		ctx := context.Background()
		w := newWorld(t)
		a := w.start(t, "44", newDSN(), run{relay: true, consumer: true})
		b := w.start(t, "43", newDSN(), run{relay: true, consumer: true})
		for _, p := range []*peer{a, b} {
			if err := p.db.UpsertOrgUnits(ctx, []yipanqi.OrgUnit{{Code: p.code, Name: "省级" + p.code, Active: true}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.db.ReplaceProvinceDirectory(ctx, v, entries); err != nil {
			t.Fatal(err)
		}
		// All parts but the last: nothing is stored yet.
		for _, p := range parts[:len(parts)-1] {
			if err := a.node.Send(ctx, &yipanqi.Case{Type: casework.DirectoryUpdate, OrgUnit: "44", PeerNode: "43", PeerUnit: "43"}, p); err != nil {
				t.Fatal(err)
			}
		}
		checkFor(t, 10*time.Second, "43 received the first parts", func() bool {
			_, n, err := b.db.ListCases(ctx, b.scope(t), yipanqi.CaseFilter{Type: casework.DirectoryUpdate})
			return err == nil && n == len(parts)-1
		})
		if n, err := b.node.ApplyDirectoryUpdates(ctx); err != nil || n != 0 {
			t.Fatalf("with a part missing, applied %d (%v), want 0", n, err)
		}
		if err := a.node.PublishDirectory(ctx); err != nil {
			t.Fatal(err)
		}
		checkFor(t, 10*time.Second, "43 holds 44's whole directory", func() bool {
			if _, err := b.node.ApplyDirectoryUpdates(ctx); err != nil {
				t.Fatal(err)
			}
			got, err := b.db.DirectoryVersion(ctx, "44")
			return err == nil && got.Version == 1
		})
		_, sent, err := a.db.ProvinceDirectory(ctx, "44")
		if err != nil {
			t.Fatal(err)
		}
		if _, got, err := b.db.ProvinceDirectory(ctx, "44"); err != nil || !reflect.DeepEqual(got, sent) {
			t.Fatalf("43 holds %d entries (%v), want the %d sent, in order", len(got), err, len(sent))
		}
	})
}
