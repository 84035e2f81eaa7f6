package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"yipanqi"
	"yipanqi/sqlstore"
	"yipanqi/sqlstore/storetest"
)

// benchRows is the number of people a BenchmarkImportPeople iteration imports:
// $YIPANQI_BENCH_ROWS, default 20000.
func benchRows(b *testing.B) int {
	if v := os.Getenv("YIPANQI_BENCH_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("YIPANQI_BENCH_ROWS=%q is not a positive number", v)
		}
		return n
	}
	return 20000
}

// benchPerson is the i-th person of the benchmark file: unique valid ID numbers, residences
// spread over 20 townships.
func benchPerson(i int) *yipanqi.Person {
	return storetest.NewPerson(1000+i, fmt.Sprintf("440106%03d", 1+i%20))
}

// BenchmarkImportPeople imports N people into an empty store and, in the same database, loads
// the same rows the fastest raw way into a copy of the people table with the same indexes
// (COPY on PostgreSQL, batched prepared INSERTs on SQLite). It reports rows/s of both, their
// ratio, rows/s of importing the same file again (nothing changes), the peak Go heap during
// the import, and the process's peak resident set (for the whole process: run one database
// at a time, ImportPeople/sqlite or ImportPeople/postgres, to tell them apart). On PostgreSQL
// each timed step starts after a CHECKPOINT, so that none pays for the previous one's WAL.
//
//	YIPANQI_BENCH_ROWS=200000 YIPANQI_TEST_POSTGRES=… go test -run - -bench ImportPeople -benchtime 1x ./sqlstore
func BenchmarkImportPeople(b *testing.B) {
	n := benchRows(b)
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			var importDur, rawDur, againDur time.Duration
			var peak uint64
			var importRSS float64 // the process's peak resident set when the first import ends
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				dsn := storetest.SQLiteDSN(b)
				if name == "postgres" {
					dsn = storetest.PostgresDSN(b)
				}
				db := storetest.Open(b, dsn)
				checkpoint(b, dsn)
				runtime.GC()
				stopPeak := watchHeap(&peak)
				b.StartTimer()
				start := time.Now()
				stats := benchImport(b, db, n)
				importDur += time.Since(start)
				b.StopTimer()
				stopPeak()
				if rss := maxRSS(); rss > importRSS {
					importRSS = rss
				}
				if stats.Imported != n {
					b.Fatalf("imported %d of %d", stats.Imported, n)
				}
				checkpoint(b, dsn)
				start = time.Now()
				if stats := benchImport(b, db, n); stats.Same != n {
					b.Fatalf("second import: %+v, want all same", stats)
				}
				againDur += time.Since(start)
				checkpoint(b, dsn)
				start = time.Now()
				if name == "postgres" {
					rawCopy(b, dsn, n)
				} else {
					rawInsert(b, dsn, n)
				}
				rawDur += time.Since(start)
			}
			rows := float64(n * b.N)
			b.ReportMetric(rows/importDur.Seconds(), "import_rows/s")
			b.ReportMetric(rows/rawDur.Seconds(), "raw_rows/s")
			b.ReportMetric(rawDur.Seconds()/importDur.Seconds(), "import/raw")
			b.ReportMetric(rows/againDur.Seconds(), "reimport_rows/s")
			b.ReportMetric(float64(peak)/(1<<20), "peak_heap_MB")
			b.ReportMetric(importRSS/(1<<20), "import_max_rss_MB")
		})
	}
}

func benchImport(b *testing.B, db *sqlstore.DB, n int) yipanqi.ImportStats {
	im, err := db.BeginPeopleImport(context.Background(), "bench", "bench.csv")
	if err != nil {
		b.Fatal(err)
	}
	defer im.Rollback()
	for i := 0; i < n; i++ {
		if err := im.Add(i+1, benchPerson(i)); err != nil {
			b.Fatal(err)
		}
	}
	stats, _, err := im.Commit(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return stats
}

// watchHeap records the largest live heap seen until the returned function is called.
func watchHeap(peak *uint64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > *peak {
				*peak = ms.HeapAlloc
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// checkpoint flushes PostgreSQL's dirty buffers and WAL before a timed step; it needs the
// pg_checkpoint role or superuser, and is skipped, with a note, without.
func checkpoint(b *testing.B, dsn string) {
	if !strings.HasPrefix(dsn, "postgres") {
		return
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
		b.Logf("no CHECKPOINT before the timed step: %v", err)
	}
}

// maxRSS is the peak resident set of this process in bytes (getrusage; Linux counts KiB).
func maxRSS() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) * 1024
}

var rawColumns = []string{"id_number", "name", "sex", "birth_date", "marital_status", "hukou_code",
	"hukou_address", "residence_code", "residence_address", "phone", "arrived_on", "flow_status", "version",
	"created_at", "updated_at"}

// rawCopy COPYs the rows into raw_people, a copy of people with the same indexes.
func rawCopy(b *testing.B, dsn string, n int) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE TABLE raw_people (LIKE people INCLUDING ALL)"); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i == n {
			return nil, nil
		}
		p := benchPerson(i)
		i++
		return []any{p.IDNumber, p.Name, string(p.Sex), p.BirthDate.In(time.UTC), string(p.MaritalStatus),
			p.HukouCode, p.HukouAddress, p.ResidenceCode, p.ResidenceAddress, p.Phone, p.ArrivedOn.In(time.UTC),
			"arrived", 1, now, now}, nil
	})
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"raw_people"}, rawColumns, src); err != nil {
		b.Fatal(err)
	}
}

// rawInsert inserts the rows into raw_people, a copy of people with the same indexes, in one
// transaction of prepared 500-row INSERTs, on a connection with the store's pragmas.
func rawInsert(b *testing.B, dsn string, n int) {
	ctx := context.Background()
	path := strings.TrimPrefix(dsn, "sqlite:")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"+
		"&_pragma=cache_size(-32768)") // the page cache the import gives itself
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SELECT sql FROM sqlite_master WHERE tbl_name = 'people' AND sql IS NOT NULL ORDER BY type DESC")
	if err != nil {
		b.Fatal(err)
	}
	var ddl []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			b.Fatal(err)
		}
		s = strings.Replace(s, "TABLE people", "TABLE raw_people", 1)
		s = strings.Replace(s, "ON people", "ON raw_people", 1)
		s = strings.Replace(s, "INDEX people_", "INDEX raw_people_", 1)
		ddl = append(ddl, s)
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	for _, s := range ddl {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			b.Fatalf("%s: %v", s, err)
		}
	}
	const batch = 500
	one := "(" + strings.Repeat("?, ", len(rawColumns)-1) + "?)"
	stmtFor := func(k int) *sql.Stmt {
		st, err := tx.PrepareContext(ctx, "INSERT INTO raw_people ("+strings.Join(rawColumns, ", ")+") VALUES "+
			strings.TrimSuffix(strings.Repeat(one+", ", k), ", "))
		if err != nil {
			b.Fatal(err)
		}
		return st
	}
	full := stmtFor(batch)
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000000Z")
	args := make([]any, 0, batch*len(rawColumns))
	for i := 0; i < n; i++ {
		p := benchPerson(i)
		args = append(args, p.IDNumber, p.Name, string(p.Sex), p.BirthDate, string(p.MaritalStatus), p.HukouCode,
			p.HukouAddress, p.ResidenceCode, p.ResidenceAddress, p.Phone, p.ArrivedOn, "arrived", 1, now, now)
		if len(args) == cap(args) || i == n-1 {
			st := full
			if len(args) != cap(args) {
				st = stmtFor(len(args) / len(rawColumns))
			}
			if _, err := st.ExecContext(ctx, args...); err != nil {
				b.Fatal(err)
			}
			args = args[:0]
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}
