package sqlstore_test

import (
	"context"
	"testing"

	"yipanqi"
	"yipanqi/sqlstore"
	"yipanqi/sqlstore/storetest"
)

// BenchmarkAuditedCommits measures writing transactions that each carry one audit entry,
// committed by 8 goroutines at once: how many a node commits per second when they need not
// wait for each other (the audit chain used to make them: docs/storage.md, "Audit chain").
//
//	YIPANQI_TEST_POSTGRES=… go test -run X -bench AuditedCommits ./sqlstore/
func BenchmarkAuditedCommits(b *testing.B) {
	for name, dsn := range storetest.DSNs(b) {
		b.Run(name, func(b *testing.B) {
			db := storetest.Open(b, dsn)
			b.SetParallelism(4) // 4 × GOMAXPROCS goroutines
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					err := db.InTx(context.Background(), func(tx *sqlstore.Tx) error {
						return tx.Audit(context.Background(), &yipanqi.AuditEntry{Actor: "bench", Action: "case.sent", Object: "x"})
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
		})
	}
}
