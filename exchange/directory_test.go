package exchange_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/exchange"
	"yipanqi/sqlstore/storetest"
)

// TestDirectoryUpdate: node 44 publishes its directory; node 43 ends up holding it, the same
// entries at the same version. A newer version replaces it; the same version again, an older
// one sent after it, and entries that are not the sender's province change nothing.
func TestDirectoryUpdate(t *testing.T) {
	eachDB(t, func(t *testing.T, newDSN func() string) {
		ctx := context.Background()
		w := newWorld(t)
		types := exchange.DefaultCaseTypes()
		types[exchange.DirectoryUpdate] = exchange.DirectoryCaseType()
		withTypes := run{relay: true, consumer: true, tune: func(c *exchange.NodeConfig) { c.Types = types }}
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
		old, err := exchange.DirectoryFields(yipanqi.DirectoryVersion{Province: "44", Version: 1, UpdatedAt: made}, fixture)
		if err != nil {
			t.Fatal(err)
		}
		c := &yipanqi.Case{Type: exchange.DirectoryUpdate, OrgUnit: "44", PeerNode: "43", PeerUnit: "43"}
		if err := a.node.Send(ctx, c, old); err != nil {
			t.Fatal(err)
		}
		// Entries of another province, claimed to be 44's version 9.
		foreign := []yipanqi.DirectoryEntry{{Kind: yipanqi.EntryContact, DivisionCode: "4301", Name: "长沙市某办公室",
			Role: yipanqi.RoleStaff, PersonName: "刘某某", Phone: "0731-01000001"}}
		bad, err := exchange.DirectoryFields(yipanqi.DirectoryVersion{Province: "43", Version: 9, UpdatedAt: made}, foreign)
		if err != nil {
			t.Fatal(err)
		}
		c2 := &yipanqi.Case{Type: exchange.DirectoryUpdate, OrgUnit: "44", PeerNode: "43", PeerUnit: "43"}
		if err := a.node.Send(ctx, c2, bad); err != nil {
			t.Fatal(err)
		}
		checkFor(t, 10*time.Second, "43 received the four updates", func() bool {
			_, n, err := b.db.ListCases(ctx, b.scope(t), yipanqi.CaseFilter{Type: exchange.DirectoryUpdate})
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
		err = a.node.Send(ctx, &yipanqi.Case{Type: exchange.DirectoryUpdate, OrgUnit: "44", PeerNode: "43", PeerUnit: "43"},
			[]byte(`{"version":3,"updated_at":"2026-05-01T08:00:00Z","entries":[{"kind":"contact","division_code":"4401","name":"x","role":"staff","person_name":"某","phone":"13800138000"}]}`))
		if yipanqi.ErrorCode(err) != yipanqi.EINVALID || yipanqi.ErrorField(err) != "Phone" {
			t.Fatalf("mobile phone sent: %v, want EINVALID on Phone", err)
		}
	})
}
