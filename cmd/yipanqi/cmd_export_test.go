package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"yipanqi/registry"
)

func TestExportScope(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		dir := t.TempDir()
		mustRun(t, 0, "", "import", "people", "--db", dsn, genFile(t, dir, "a.csv", "44", 400, 1))
		mustRun(t, 0, "", "import", "people", "--db", dsn, genFile(t, dir, "b.csv", "43", 100, 1))

		_, errOut := mustRun(t, 2, "", "export", "people", "--db", dsn, "-o", filepath.Join(dir, "x.csv"))
		if !strings.Contains(errOut, "--scope") || !strings.Contains(errOut, "43") || !strings.Contains(errOut, "44") {
			t.Errorf("stderr %q does not ask for --scope naming the provinces", errOut)
		}
		if _, err := os.Stat(filepath.Join(dir, "x.csv")); !os.IsNotExist(err) {
			t.Error("a failed export left a file")
		}

		out := filepath.Join(dir, "sz.csv")
		stdout, _ := mustRun(t, 0, "", "export", "people", "--db", dsn, "--scope", "4403", "-o", out)
		recs := readCSV(t, out)[1:]
		if len(recs) == 0 || stdout != "exported "+strconv.Itoa(len(recs))+"\n" {
			t.Fatalf("exported %d rows, stdout %q", len(recs), stdout)
		}
		for _, r := range recs {
			if !strings.HasPrefix(r[int(registry.ColResidenceCode)], "4403") {
				t.Errorf("row with residence %s exported for scope 4403", r[int(registry.ColResidenceCode)])
			}
		}
		for _, bad := range []string{"44x", "4499"} {
			_, errOut := mustRun(t, 2, "", "export", "people", "--db", dsn, "--scope", bad, "-o", out)
			if !strings.Contains(errOut, "--scope") {
				t.Errorf("--scope %s: stderr %q does not name --scope", bad, errOut)
			}
		}
	})
}
