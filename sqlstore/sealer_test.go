package sqlstore_test

import (
	"testing"

	"yipanqi/sqlstore/storetest"
)

// TestAuditSealerSharedDatabase runs the audit sealer with two handles on one database: two
// processes on one SQLite file, or two replicas on one PostgreSQL database.
func TestAuditSealerSharedDatabase(t *testing.T) {
	for name, dsn := range storetest.DSNs(t) {
		t.Run(name, func(t *testing.T) { storetest.RunAuditSealerShared(t, dsn) })
	}
}
