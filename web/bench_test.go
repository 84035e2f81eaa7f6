package web_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/sqlstore"
	"yipanqi/sqlstore/storetest"
	"yipanqi/web"
)

// BenchmarkCheckPassword is the cost of one sign-in's password check (argon2id, 19 MiB, t=2).
func BenchmarkCheckPassword(b *testing.B) {
	h, err := web.HashPassword("yipanqi-bench-1")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if !web.CheckPassword(h, "yipanqi-bench-1") {
			b.Fatal("no match")
		}
	}
}

// BenchmarkPages serves 待办, 案件 and a case page to a signed-in county supervisor whose
// county holds 10,000 cases, on each database.
func BenchmarkPages(b *testing.B) {
	for name, dsn := range storetest.DSNs(b) {
		b.Run(name, func(b *testing.B) {
			ta := startApp(b, dsn, false)
			var cases []*yipanqi.Case
			for i := range 10000 {
				unit := townshipA
				if i%2 == 1 {
					unit = townshipB
				}
				cases = append(cases, &yipanqi.Case{Type: "verify.identity", Direction: yipanqi.Incoming, OrgUnit: unit,
					PeerNode: "43", PeerUnit: "430524101", State: yipanqi.CaseDelivered,
					DueAt: ta.clock.Now().Add(time.Duration(i%500) * time.Hour), Data: []byte(`{"id_number":"430524197708080078"}`)})
			}
			err := ta.db.InBatchTx(context.Background(), func(tx *sqlstore.Tx) error {
				for _, c := range cases {
					if err := tx.CreateCase(context.Background(), c); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			br := ta.browser(b)
			br.mustLogin("county")
			for _, page := range []string{"/todo", "/cases", "/cases/" + cases[0].ID} {
				b.Run(fmt.Sprint(page[:min(len(page), 7)]), func(b *testing.B) {
					for b.Loop() {
						if code, _ := br.get(page); code != 200 {
							b.Fatalf("%s: %d", page, code)
						}
					}
				})
			}
		})
	}
}
