package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDemo builds the region twice in one directory: the first run registers everyone in all
// 11 nodes, the second finds them there and changes nothing.
func TestDemo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	line := regexp.MustCompile(`(?m)^  (\d\d) \S+\s+登记\s+(\d+) 人（本次 imported (\d+), updated (\d+), rejected (\d+)）`)

	out, _ := mustRun(t, 0, "", "demo", "--dir", dir, "--people", "40", "--seed", "7")
	rows := line.FindAllStringSubmatch(out, -1)
	if len(rows) != 11 {
		t.Fatalf("first run: %d node lines, want 11:\n%s", len(rows), out)
	}
	for _, r := range rows {
		if r[2] != "40" || r[3] != "40" || r[5] != "0" {
			t.Errorf("first run, node %s: held %s, imported %s, rejected %s; want 40, 40, 0", r[1], r[2], r[3], r[5])
		}
	}

	out, _ = mustRun(t, 0, "", "demo", "--dir", dir, "--people", "40", "--seed", "7")
	rows = line.FindAllStringSubmatch(out, -1)
	if len(rows) != 11 {
		t.Fatalf("second run: %d node lines, want 11:\n%s", len(rows), out)
	}
	for _, r := range rows {
		if r[2] != "40" || r[3] != "0" || r[4] != "0" {
			t.Errorf("second run, node %s: held %s, imported %s, updated %s; want 40, 0, 0", r[1], r[2], r[3], r[4])
		}
	}
	if !strings.Contains(out, "合计登记 440 人") {
		t.Errorf("no total of 440 in:\n%s", out)
	}
}

func TestDemoBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"demo", "--people", "0"},
		{"demo", "--people", "x"},
		{"demo", "--seed", "-1"},
		{"demo", "extra"},
	} {
		code, _, errOut := runReg(t, args...)
		if code != 2 || !strings.Contains(errOut, "yipanqi demo:") {
			t.Errorf("yipanqi %s: exit %d, stderr %q; want exit 2 with a message", strings.Join(args, " "), code, errOut)
		}
	}
}
