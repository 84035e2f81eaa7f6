package main

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestBenchWeb runs the web benchmark briefly on both databases: it must prepare the data,
// sign in, check each page shows what it should, load it with hey and report four pages with
// every response a 200. A second run reuses the data. The figures are printed, not checked.
func TestBenchWeb(t *testing.T) {
	if _, err := exec.LookPath("hey"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("hey is missing: apt-get install -y hey (.ci/run does)")
		}
		t.Skip("hey is not installed (apt-get install -y hey)")
	}
	row := regexp.MustCompile(`(?m)^(待办|人员查询)\S*\s+(\d+)\s+[0-9.]+ ms\s+[0-9.]+ ms\s+[0-9.]+ ms\s+(\d+)$`)
	eachDB(t, func(t *testing.T, dsn string) {
		for run := 1; run <= 2; run++ {
			code, out, errOut := cliRun(t, regNow, nil, "bench", "web", "--db", dsn, "--people", "300", "--cases", "60",
				"--concurrency", "2", "--for", "1s")
			if code != 0 {
				t.Fatalf("run %d: exit %d\nstdout:\n%s\nstderr:\n%s", run, code, out, errOut)
			}
			rows := row.FindAllStringSubmatch(out, -1)
			if len(rows) != 4 {
				t.Fatalf("run %d: %d result rows, want 4:\n%s", run, len(rows), out)
			}
			for _, r := range rows {
				if r[3] != "0" || r[2] == "0" {
					t.Errorf("run %d: %q: %s requests/s, %s not 200", run, r[0], r[2], r[3])
				}
			}
			if imported := strings.Contains(errOut, "导入"); imported != (run == 1) {
				t.Errorf("run %d imported people: %v; want only on the first run\n%s", run, imported, errOut)
			}
			t.Logf("run %d:\n%s", run, out)
		}
	})
	if code, _, errOut := cliRun(t, regNow, nil, "bench", "web", "--people", "5"); code != 2 || !strings.Contains(errOut, "--people") {
		t.Errorf("--people 5: exit %d, %q", code, errOut)
	}
}
