package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/jackc/pgx/v5"
	"golang.org/x/text/encoding/simplifiedchinese"

	"yipanqi"
	"yipanqi/registry"
	"yipanqi/sqlstore/storetest"
)

// regNow is the clock of these tests: noon on 2025-06-30, Beijing time. gen runs with the same
// --today, so the generated dates are all valid on import.
var regNow = time.Date(2025, 6, 30, 12, 0, 0, 0, yipanqi.Shanghai)

const regTodayFlag = "--today=2025-06-30"

// runReg runs Main with args and returns the exit status, stdout and stderr.
func runReg(t testing.TB, args ...string) (int, string, string) {
	t.Helper()
	return cliRun(t, regNow, nil, args...)
}

// mustRun runs Main and fails unless it exits with want and prints wantOut (when not "").
func mustRun(t testing.TB, want int, wantOut string, args ...string) (string, string) {
	t.Helper()
	code, out, errOut := runReg(t, args...)
	if code != want || wantOut != "" && out != wantOut {
		t.Fatalf("yipanqi %s\nexit %d, stdout %q, stderr %q\nwant exit %d, stdout %q", strings.Join(args, " "), code, out, errOut, want, wantOut)
	}
	return out, errOut
}

// eachDB runs fn on a fresh SQLite store and, when YIPANQI_TEST_POSTGRES is set, a fresh
// PostgreSQL schema.
func eachDB(t *testing.T, fn func(t *testing.T, dsn string)) {
	dsns := storetest.DSNs(t)
	if _, ok := dsns["postgres"]; !ok {
		t.Log("PostgreSQL half skipped: " + storetest.PostgresEnv + " is empty")
	}
	for _, name := range slices.Sorted(maps.Keys(dsns)) {
		t.Run(name, func(t *testing.T) { fn(t, dsns[name]) })
	}
}

// genFile generates n people of a province into dir/name.
func genFile(t testing.TB, dir, name, province string, n int, seed int) string {
	t.Helper()
	path := filepath.Join(dir, name)
	mustRun(t, 0, "", "gen", "people", "--province", province, "--count", strconv.Itoa(n), "--seed", strconv.Itoa(seed), regTodayFlag, "-o", path)
	return path
}

// readCSV reads a CSV file written by us (UTF-8 with BOM).
func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("\ufeff")) {
		t.Errorf("%s has no UTF-8 byte-order mark", filepath.Base(path))
	}
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff")))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// countPeople returns how many people the store holds with residence in the province.
func countPeople(t *testing.T, dsn, province string) int {
	t.Helper()
	db := storetest.Open(t, dsn)
	s, err := yipanqi.NewScope(province)
	if err != nil {
		t.Fatal(err)
	}
	total, err := db.CountPeople(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return total
}

func TestImportRoundTrip(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		dir := t.TempDir()
		const n = 1500
		gen := genFile(t, dir, "gen.csv", "44", n, 11)
		mustRun(t, 0, "imported 1500, updated 0, rejected 0\n", "import", "people", "--db", dsn, gen)
		if got := countPeople(t, dsn, "44"); got != n {
			t.Fatalf("store holds %d people, want %d", got, n)
		}
		mustRun(t, 0, "imported 0, updated 0, rejected 0\n", "import", "people", "--db", dsn, gen)
		if _, err := os.Stat(filepath.Join(dir, "gen.errors.csv")); !os.IsNotExist(err) {
			t.Errorf("error file written for a clean import (stat: %v)", err)
		}

		for _, ext := range []string{"csv", "xlsx"} {
			out := filepath.Join(dir, "export."+ext)
			// One province in the store: no --scope needed.
			mustRun(t, 0, "exported 1500\n", "export", "people", "--db", dsn, "-o", out)
			mustRun(t, 0, "imported 0, updated 0, rejected 0\n", "import", "people", "--db", dsn, out)
		}
		recs := readCSV(t, filepath.Join(dir, "export.csv"))
		if len(recs) != n+1 || !slices.Equal(recs[0], registry.Headers()) {
			t.Errorf("export has %d records, header %v", len(recs), recs[0])
		}

		// A changed row is an update; the rest stay the same.
		changed := filepath.Join(dir, "changed.csv")
		recs[1][int(registry.ColPhone)] = "020-87654321"
		writeCSV(t, changed, recs)
		mustRun(t, 0, "imported 0, updated 1, rejected 0\n", "import", "people", "--db", dsn, changed)
	})
}

func writeCSV(t *testing.T, path string, recs [][]string) {
	t.Helper()
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.WriteAll(recs); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestImportFormats(t *testing.T) {
	dir := t.TempDir()
	gen := genFile(t, dir, "gen.csv", "43", 300, 5)
	utf8Data, err := os.ReadFile(gen)
	if err != nil {
		t.Fatal(err)
	}
	gb, err := simplifiedchinese.GB18030.NewEncoder().Bytes(bytes.TrimPrefix(utf8Data, []byte("\ufeff")))
	if err != nil {
		t.Fatal(err)
	}
	gbPath := filepath.Join(dir, "gb18030.csv")
	if err := os.WriteFile(gbPath, gb, 0o644); err != nil {
		t.Fatal(err)
	}
	xlsx := genFile(t, dir, "gen.xlsx", "43", 300, 6)
	eachDB(t, func(t *testing.T, dsn string) {
		mustRun(t, 0, "imported 300, updated 0, rejected 0\n", "import", "people", "--db", dsn, gbPath)
		// The same people from the UTF-8 file: nothing new.
		mustRun(t, 0, "imported 0, updated 0, rejected 0\n", "import", "people", "--db", dsn, gen)
		mustRun(t, 0, "imported 300, updated 0, rejected 0\n", "import", "people", "--db", dsn, xlsx)
		mustRun(t, 0, "imported 0, updated 0, rejected 0\n", "import", "people", "--db", dsn, xlsx)
	})
}

// TestImportGB18030LateUndecodable: a GB18030 file, its encoding decided by its first 64 KiB,
// with an undecodable sequence in row 1200: that row is rejected (exit 1) naming row and
// column, the rest imported, and nobody stored with U+FFFD.
func TestImportGB18030LateUndecodable(t *testing.T) {
	dir := t.TempDir()
	gen := genFile(t, dir, "gen.csv", "43", 1500, 7)
	recs := readCSV(t, gen)
	recs[1199][int(registry.ColResidenceAddress)] += "XX"
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.WriteAll(recs)
	gb, err := simplifiedchinese.GB18030.NewEncoder().Bytes(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if i := bytes.Index(gb, []byte("XX")); i < 64<<10 {
		t.Fatalf("the bad sequence is at %d, inside the sniffed prefix", i)
	}
	gb = bytes.Replace(gb, []byte("XX"), []byte{0x81, 0x20}, 1) // a lead byte without its trail
	path := filepath.Join(dir, "gb.csv")
	if err := os.WriteFile(path, gb, 0o644); err != nil {
		t.Fatal(err)
	}
	eachDB(t, func(t *testing.T, dsn string) {
		mustRun(t, 1, "imported 1499, updated 0, rejected 1\n", "import", "people", "--db", dsn, path)
		got := readCSV(t, filepath.Join(dir, "gb.errors.csv"))
		if len(got) != 2 || got[1][0] != "1200" || got[1][1] != "现居住地详址" {
			t.Fatalf("error file %q", got)
		}
		db := storetest.Open(t, dsn)
		s, _ := yipanqi.NewScope("43")
		n := 0
		if err := db.ExportPeople(context.Background(), s, "test", func(p *yipanqi.Person) error {
			n++
			if strings.ContainsRune(p.Name+p.HukouAddress+p.ResidenceAddress, '\ufffd') {
				t.Errorf("stored %q", p.ResidenceAddress)
			}
			return nil
		}); err != nil || n != 1499 {
			t.Fatalf("exported %d, %v", n, err)
		}
	})
}

func TestImportTemplates(t *testing.T) {
	dsn := storetest.SQLiteDSN(t)
	for _, ext := range []string{"csv", "xlsx"} {
		path := filepath.Join("..", "..", "templates", "流动人口登记表."+ext)
		want := "imported 1, updated 0, rejected 0\n"
		if ext == "xlsx" {
			want = "imported 0, updated 0, rejected 0\n" // the same example person
		}
		mustRun(t, 0, want, "import", "people", "--db", dsn, "--errors", filepath.Join(t.TempDir(), "e.csv"), path)
	}
}

// TestImportRejects: bad rows and duplicate ID numbers go to the error file, the rest is
// imported, exit 1.
func TestImportRejects(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		dir := t.TempDir()
		recs := readCSV(t, genFile(t, dir, "gen.csv", "45", 8, 2))
		id, res, arr := int(registry.ColIDNumber), int(registry.ColResidenceCode), int(registry.ColArrivedOn)
		badID := recs[2][id][:17] + otherCheckChar(recs[2][id][17])
		recs[2][id] = badID                // sheet row 3: check digit
		recs[3][res] = "450199999"         // row 4: no such township
		recs[4][arr] = "2023-02-30"        // row 5: impossible date
		recs[6][id] = recs[7][id]          // rows 7 and 8: the same person twice
		recs[6][int(registry.ColSex)] = "" // (sex and birth would disagree otherwise)
		recs[6][int(registry.ColBirthDate)] = ""
		path := filepath.Join(dir, "bad.csv")
		writeCSV(t, path, recs)
		stale := filepath.Join(dir, "bad.errors.csv")

		_, errOut := mustRun(t, 1, "imported 3, updated 0, rejected 5\n", "import", "people", "--db", dsn, path)
		if !strings.Contains(errOut, "bad.errors.csv") {
			t.Errorf("stderr %q does not point at the error file", errOut)
		}
		if st, err := os.Stat(stale); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("error file mode %v (%v), want 0600: it quotes personal data", st.Mode(), err)
		}
		got := readCSV(t, stale)
		want := [][]string{
			{"行号", "列", "值", "原因"},
			{"3", "公民身份号码", badID, ""},
			{"4", "现居住地区划代码", "450199999", ""},
			{"5", "流入日期", "2023-02-30", ""},
			{"7", "公民身份号码", recs[7][id], "第 7、8 行"},
			{"8", "公民身份号码", recs[7][id], "第 7、8 行"},
		}
		if len(got) != len(want) {
			t.Fatalf("error file:\n%v\nwant %d lines", got, len(want))
		}
		for i, w := range want {
			g := got[i]
			if g[0] != w[0] || g[1] != w[1] || g[2] != w[2] || !strings.Contains(g[3], w[3]) {
				t.Errorf("error line %d = %q, want %q (reason containing %q)", i, g, w[:3], w[3])
			}
			if i > 0 && g[3] == "" {
				t.Errorf("error line %d has no reason", i)
			}
		}
		if n := countPeople(t, dsn, "45"); n != 3 {
			t.Errorf("store holds %d people, want the 3 valid rows", n)
		}

		// Fixed file: the rest imports and the stale error file goes away.
		fixed := readCSV(t, genFile(t, dir, "gen.csv", "45", 8, 2))
		writeCSV(t, path, fixed)
		mustRun(t, 0, "imported 5, updated 0, rejected 0\n", "import", "people", "--db", dsn, path)
		if _, err := os.Stat(stale); !os.IsNotExist(err) {
			t.Errorf("stale error file kept (stat: %v)", err)
		}

		// --errors puts the file elsewhere.
		writeCSV(t, path, recs)
		other := filepath.Join(t.TempDir(), "问题.csv")
		mustRun(t, 1, "", "import", "people", "--db", dsn, "--errors", other, path)
		if len(readCSV(t, other)) < 2 {
			t.Error("--errors file has no problems")
		}
	})
}

func otherCheckChar(c byte) string {
	if c == '1' {
		return "2"
	}
	return "1"
}

// TestImportUnreadable: files that cannot be read at all exit 2, say why naming the file,
// and write nothing.
func TestImportUnreadable(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good, err := os.ReadFile(genFile(t, dir, "g.csv", "44", 5, 1))
	if err != nil {
		t.Fatal(err)
	}
	var u16 bytes.Buffer
	u16.Write([]byte{0xFF, 0xFE})
	for _, u := range utf16.Encode([]rune(string(bytes.TrimPrefix(good, []byte("\ufeff"))))) {
		u16.Write([]byte{byte(u), byte(u >> 8)})
	}
	noise := make([]byte, 2048)
	for i := range noise {
		noise[i] = byte(i*7919%251 + 128%256)
	}
	tests := []struct {
		name string
		path string
		want []string
	}{
		{"missing", filepath.Join(dir, "没有这个文件.csv"), []string{"没有这个文件.csv", "不存在"}},
		{"empty", write("空.csv", nil), []string{"空.csv", "空"}},
		{"UTF-16", write("u16.csv", u16.Bytes()), []string{"u16.csv", "编码"}},
		{"random bytes", write("noise.csv", noise), []string{"noise.csv", "编码"}},
		{"missing columns", write("cols.csv", []byte("序号,姓名,性别\r\n1,张三,男\r\n")), []string{"cols.csv", "公民身份号码", "户籍地区划代码", "现居住地区划代码", "流入日期"}},
	}
	eachDB(t, func(t *testing.T, dsn string) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, errOut := mustRun(t, 2, "", "import", "people", "--db", dsn, tt.path)
				for _, w := range tt.want {
					if !strings.Contains(errOut, w) {
						t.Errorf("stderr %q does not say %q", errOut, w)
					}
				}
				matches, _ := filepath.Glob(filepath.Join(dir, "*.errors.csv"))
				if len(matches) > 0 {
					t.Errorf("error files written: %v", matches)
				}
			})
		}
		if n := countPeople(t, dsn, "44"); n != 0 {
			t.Errorf("store holds %d people after failed imports", n)
		}
	})
}

func TestImportBadDSN(t *testing.T) {
	path := filepath.Join("..", "..", "templates", "流动人口登记表.csv")
	for _, dsn := range []string{
		"postgres://nobody@127.0.0.1:1/none?connect_timeout=5",
		"sqlite:" + filepath.Join(t.TempDir(), "no", "such", "dir", "x.db"),
		"mysql://x",
	} {
		_, errOut := mustRun(t, 2, "", "import", "people", "--db", dsn, "--errors", filepath.Join(t.TempDir(), "e.csv"), path)
		if !strings.Contains(errOut, "数据库") {
			t.Errorf("--db %s: stderr %q does not mention the database", dsn, errOut)
		}
	}
}

func TestImportUsage(t *testing.T) {
	for _, args := range [][]string{
		{"import"},
		{"import", "cases", "x.csv"},
		{"import", "people"},
		{"import", "people", "a.csv", "b.csv"},
		{"import", "people", "--nope", "a.csv"},
	} {
		if code, _, errOut := runReg(t, args...); code != 2 || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a message", args, code, errOut)
		}
	}
}

// benchRows is the size of the file BenchmarkImportFile imports: YIPANQI_BENCH_ROWS, else
// 100,000.
func benchRows(b *testing.B) int {
	if s := os.Getenv("YIPANQI_BENCH_ROWS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("YIPANQI_BENCH_ROWS=%q is not a positive number", s)
		}
		return n
	}
	return 100_000
}

// BenchmarkImportFile measures the whole township import — "yipanqi import people" of a
// generated file, with every row parsed and validated — against, in the same run, the raw
// load of the same rows into the same people table (same indexes) of a fresh store: COPY on
// PostgreSQL, 500-row prepared INSERTs in one transaction on SQLite. It reports both speeds,
// and their ratio (import/raw; the target is ≥ 0.6). The timer is stopped throughout: read the
// reported metrics, not ns/op. The process holds the parsed rows for the raw loads, so its
// memory says nothing of the import's: measure that on the command itself (docs/import.md).
// YIPANQI_BENCH_ROWS sets the rows (default 100,000).
func BenchmarkImportFile(b *testing.B) {
	n := benchRows(b)
	dir := b.TempDir()
	path := genFile(b, dir, "bench.csv", "44", n, 1)
	rows := personRows(b, path) // the raw loads get the rows already parsed, for free
	want := "imported " + strconv.Itoa(n) + ", updated 0, rejected 0\n"
	for _, db := range []struct {
		name string
		dsn  func(testing.TB) string
		raw  func(b *testing.B, dsn string, rows [][]any)
		prep func([][]any) [][]any // the rows as the driver takes them, made before timing
	}{
		{"sqlite", storetest.SQLiteDSN, rawInsertSQLite, sqliteRows},
		{"postgres", storetest.PostgresDSN, rawCopyPostgres, func(r [][]any) [][]any { return r }},
	} {
		b.Run(db.name, func(b *testing.B) {
			rows := db.prep(rows)
			var imp, raw time.Duration
			for b.Loop() {
				b.StopTimer()
				d := db.dsn(b)
				storetest.Open(b, d).Close() // migrations are not part of an import
				t0 := time.Now()
				mustRun(b, 0, want, "import", "people", "--db", d, path)
				imp += time.Since(t0)

				d = db.dsn(b)
				storetest.Open(b, d).Close()
				t0 = time.Now()
				db.raw(b, d, rows)
				raw += time.Since(t0)
				b.StartTimer()
			}
			total := float64(n) * float64(b.N)
			b.ReportMetric(total/imp.Seconds(), "import_rows/s")
			b.ReportMetric(total/raw.Seconds(), "raw_rows/s")
			b.ReportMetric(raw.Seconds()/imp.Seconds(), "import/raw")
		})
	}
}

// peopleColumns are the columns a raw load fills, in personRows' order.
var peopleColumns = []string{"id_number", "name", "sex", "birth_date", "marital_status", "hukou_code",
	"hukou_address", "residence_code", "residence_address", "phone", "arrived_on", "flow_status",
	"version", "created_at", "updated_at"}

// rawCopyPostgres COPYs rows into the people table of the store at dsn.
func rawCopyPostgres(b *testing.B, dsn string, rows [][]any) {
	b.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"people"}, peopleColumns, pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
}

// sqliteRows converts rows to SQLite's column forms, as the store writes them: dates as
// "YYYY-MM-DD" text, timestamps as fixed-width UTC text.
func sqliteRows(rows [][]any) [][]any {
	out := make([][]any, len(rows))
	for i, r := range rows {
		c := slices.Clone(r)
		for k, v := range c {
			if t, ok := v.(time.Time); ok && (k == 3 || k == 10) {
				c[k] = t.Format(yipanqi.DateLayout)
			} else if ok {
				c[k] = t.UTC().Format("2006-01-02T15:04:05.000000Z")
			}
		}
		out[i] = c
	}
	return out
}

// rawInsertSQLite inserts rows into the people table of the SQLite store at dsn with 500-row
// prepared INSERTs in one transaction, on a connection with the store's own pragmas.
func rawInsertSQLite(b *testing.B, dsn string, rows [][]any) {
	b.Helper()
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+strings.TrimPrefix(dsn, "sqlite:")+
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"+
		"&_pragma=cache_size(-32768)") // the page cache the import gives itself
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	const batch = 500
	one := "(" + strings.Repeat("?, ", len(peopleColumns)-1) + "?)"
	prepare := func(k int) *sql.Stmt {
		st, err := tx.PrepareContext(ctx, "INSERT INTO people ("+strings.Join(peopleColumns, ", ")+") VALUES "+
			strings.TrimSuffix(strings.Repeat(one+", ", k), ", "))
		if err != nil {
			b.Fatal(err)
		}
		return st
	}
	full := prepare(batch)
	args := make([]any, 0, batch*len(peopleColumns))
	for start := 0; start < len(rows); start += batch {
		end := min(start+batch, len(rows))
		args = args[:0]
		for _, r := range rows[start:end] {
			args = append(args, r...)
		}
		st := full
		if end-start < batch {
			st = prepare(end - start)
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// personRows reads a register file into rows for COPY into people.
func personRows(b *testing.B, path string) [][]any {
	b.Helper()
	src, _, err := registry.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	tree, err := loadDivisions(&Env{Getenv: func(string) string { return "" }})
	if err != nil {
		b.Fatal(err)
	}
	st := &rowCollector{now: regNow}
	im := &registry.Importer{Validator: &registry.Validator{Divisions: tree, Today: yipanqi.DateOf(regNow)}, Stager: st}
	if _, err := im.Run(context.Background(), src); err != nil {
		b.Fatal(err)
	}
	return st.rows
}

type rowCollector struct {
	now  time.Time
	rows [][]any
}

func (c *rowCollector) Add(_ int, p *yipanqi.Person) error {
	c.rows = append(c.rows, []any{p.IDNumber, p.Name, string(p.Sex), p.BirthDate.In(time.UTC), string(p.MaritalStatus),
		p.HukouCode, p.HukouAddress, p.ResidenceCode, p.ResidenceAddress, p.Phone, p.ArrivedOn.In(time.UTC),
		"arrived", 1, c.now, c.now})
	return nil
}
