package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGenCommand(t *testing.T) {
	dir := t.TempDir()
	a := genFile(t, dir, "a.csv", "52", 500, 9)
	b := genFile(t, dir, "b.csv", "52", 500, 9)
	da, _ := os.ReadFile(a)
	db, _ := os.ReadFile(b)
	if !bytes.Equal(da, db) {
		t.Error("the same seed and --today gave different files")
	}
	if recs := readCSV(t, a); len(recs) != 501 {
		t.Errorf("%d records, want header + 500", len(recs))
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--province", "11", "--count", "5", "-o", filepath.Join(dir, "x.csv")}, "--province"},
		{[]string{"--province", "44", "--count", "0", "-o", filepath.Join(dir, "x.csv")}, "--count"},
		{[]string{"--province", "44", "--count", "5", "-o", filepath.Join(dir, "x.txt")}, "-o"},
		{[]string{"--province", "44", "--count", "5", "--today", "2025-13-01", "-o", filepath.Join(dir, "x.csv")}, "--today"},
		{[]string{"--count", "5", "-o", filepath.Join(dir, "x.csv")}, "--province"},
	} {
		_, errOut := mustRun(t, 2, "", append([]string{"gen", "people"}, tt.args...)...)
		if !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: stderr %q does not name %s", tt.args, errOut, tt.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x.csv")); !os.IsNotExist(err) {
		t.Error("a failed gen left a file")
	}
}
