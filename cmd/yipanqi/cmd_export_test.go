package main

import (
	"os"
	"os/exec"
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

// TestExportGB18030: --encoding GB18030 writes the 2022 codes (iconv reads them back when it is
// installed), and the file imports again unchanged.
func TestExportGB18030(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		dir := t.TempDir()
		gen := genFile(t, dir, "a.csv", "44", 3, 1)
		recs := readCSV(t, gen)
		recs[1][int(registry.ColName)] = "张𠂇"
		recs[1][int(registry.ColResidenceAddress)] = "深圳市龴︐ḿ路1号"
		writeCSV(t, gen, recs)
		mustRun(t, 0, "", "import", "people", "--db", dsn, gen)
		out := filepath.Join(dir, "gb.csv")
		mustRun(t, 0, "exported 3\n", "export", "people", "--db", dsn, "--encoding", "GB18030", "-o", out)
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		for _, code := range []string{"\xFE\x51", "\xFE\x59", "\xA6\xD9", "\xA8\xBC"} {
			if !strings.Contains(string(data), code) {
				t.Errorf("export lacks the GB18030-2022 code % X", code)
			}
		}
		if iconv, err := exec.LookPath("iconv"); err == nil {
			cmd := exec.Command(iconv, "-f", "GB18030", "-t", "UTF-8", out)
			text, err := cmd.Output()
			if err != nil || !strings.Contains(string(text), "张𠂇") || !strings.Contains(string(text), "深圳市龴︐ḿ路1号") {
				t.Errorf("iconv reads the export as %q (%v)", text, err)
			}
		}
		mustRun(t, 0, "imported 0, updated 0, rejected 0\n", "import", "people", "--db", dsn, out)
		mustRun(t, 2, "", "export", "people", "--db", dsn, "--encoding", "GB18030", "-o", filepath.Join(dir, "gb.xlsx"))
	})
}
