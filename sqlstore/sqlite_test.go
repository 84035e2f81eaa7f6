package sqlstore_test

import (
	"testing"

	"yipanqi/sqlstore"
	"yipanqi/sqlstore/storetest"
)

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) *sqlstore.DB { return storetest.OpenSQLite(t) })
}
