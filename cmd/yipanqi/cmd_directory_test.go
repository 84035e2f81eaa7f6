package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// TestDirectoryCommand seeds the demo directory, exports one province, edits the workbook,
// imports it back as the next version, lists and searches it; a workbook with a bad row is
// refused with its sheet, row and column named and nothing changed.
func TestDirectoryCommand(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		dir := t.TempDir()
		out, _ := mustRun(t, 0, "", "directory", "seed", "--db", dsn, "--province", "46", "--townships", "1")
		if !strings.Contains(out, "46 演示名录第 1 版") {
			t.Fatalf("seed said %q", out)
		}
		mustRun(t, 0, "", "directory", "seed", "--db", dsn, "--province", "45", "--townships", "0")

		book := filepath.Join(dir, "46.xlsx")
		out, _ = mustRun(t, 0, "", "directory", "export", "--db", dsn, "--province", "46", "-o", book)
		if !strings.Contains(out, "第 1 版") {
			t.Fatalf("export said %q", out)
		}

		// Rename the first contact's office and re-import: version 2, the change is there.
		f, err := excelize.OpenFile(book)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.SetCellStr("联系方式", "D2", "海南省流动人口服务中心（改名）"); err != nil {
			t.Fatal(err)
		}
		if err := f.Save(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		out, _ = mustRun(t, 0, "", "directory", "import", "--db", dsn, "--province", "46", book)
		if !strings.Contains(out, "已导入 46 名录第 2 版") {
			t.Fatalf("import said %q", out)
		}
		out, _ = mustRun(t, 0, "", "directory", "list", "--db", dsn, "--q", "（改名）")
		if !strings.Contains(out, "海南省流动人口服务中心（改名）") || !strings.Contains(out, "共 1 条") {
			t.Fatalf("list after import:\n%s", out)
		}
		out, _ = mustRun(t, 0, "", "directory", "list", "--db", dsn, "--province", "45", "--kind", "联系方式", "--level", "4")
		if !strings.Contains(out, "共 0 条") {
			t.Fatalf("45 seeded without townships, yet:\n%s", out)
		}
		out, _ = mustRun(t, 0, "", "directory", "versions", "--db", dsn)
		if !strings.Contains(out, "46  2") || !strings.Contains(out, "45  1") {
			t.Fatalf("versions:\n%s", out)
		}

		// An older version is refused.
		_, errOut := mustRun(t, 1, "", "directory", "import", "--db", dsn, "--province", "46", "--version", "1", book)
		if !strings.Contains(errOut, "第 2 版") {
			t.Fatalf("old version: %q", errOut)
		}

		// A personal mobile number in row 3 of the contacts: nothing imported, the problem named.
		f, _ = excelize.OpenFile(book)
		f.SetCellStr("联系方式", "H3", "13912345678")
		f.Save()
		f.Close()
		_, errOut = mustRun(t, 1, "", "directory", "import", "--db", dsn, "--province", "46", book)
		if !strings.Contains(errOut, "工作表“联系方式”第 3 行“电话”列") {
			t.Fatalf("bad row: %q", errOut)
		}
		report, err := os.ReadFile(filepath.Join(dir, "46.errors.csv"))
		if err != nil || !strings.Contains(string(report), "联系方式,3,电话,") {
			t.Fatalf("error report %q, %v", report, err)
		}
		if st, err := os.Stat(filepath.Join(dir, "46.errors.csv")); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("error report mode %v (%v), want 0600", st.Mode(), err)
		}
		out, _ = mustRun(t, 0, "", "directory", "versions", "--db", dsn)
		if !strings.Contains(out, "46  2") {
			t.Fatalf("a refused import changed the version:\n%s", out)
		}

		mustRun(t, 2, "", "directory", "import", "--db", dsn, book) // no --province
		mustRun(t, 2, "", "directory", "list", "--db", dsn, "--kind", "人员")
		mustRun(t, 1, "", "directory", "export", "--db", dsn, "--province", "44", "-o", filepath.Join(dir, "44.xlsx"))
	})
}
