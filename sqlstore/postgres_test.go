package sqlstore_test

import (
	"testing"

	"yipanqi/sqlstore"
	"yipanqi/sqlstore/storetest"
)

func TestPostgres(t *testing.T) {
	storetest.PostgresDSN(t) // skips, saying why, without YIPANQI_TEST_POSTGRES
	storetest.Run(t, func(t *testing.T) *sqlstore.DB { return storetest.OpenPostgres(t) })
}
