package directory_test

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"yipanqi"
	"yipanqi/directory"
	"yipanqi/division"
)

// FuzzRead: any bytes as a directory workbook. No panic; an error only as EINVALID; a read
// without problems gives entries that pass Check, hold no U+FFFD, and write and read back the
// same. The seeds are real workbooks (the shipped template, a written one).
func FuzzRead(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "templates", "名录模板.xlsx")); err == nil {
		f.Add(b)
	}
	var buf bytes.Buffer
	if err := directory.Write(&buf, directory.Example()); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte("PK\x03\x04"))
	tr, err := divisionTree()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, probs, err := directory.Read(bytes.NewReader(data), "fuzz.xlsx", "44", tr)
		if err != nil {
			if yipanqi.ErrorCode(err) != yipanqi.EINVALID {
				t.Fatalf("Read: %v", err)
			}
			return
		}
		if len(probs) > directory.MaxProblems+1 || len(entries) > directory.MaxEntries {
			t.Fatalf("%d problems, %d entries: over the limits", len(probs), len(entries))
		}
		if len(probs) > 0 {
			return
		}
		for i := range entries {
			e := &entries[i]
			if errs := e.Check("44"); len(errs) > 0 {
				t.Fatalf("entry %+v accepted with %v", e, errs[0])
			}
			for _, s := range []string{e.Name, e.Address, e.Phone, e.Note, e.Text, e.PersonName, e.Services, e.DivisionName} {
				if !utf8.ValidString(s) || strings.ContainsRune(s, utf8.RuneError) {
					t.Fatalf("entry holds %q", s)
				}
			}
		}
		var out bytes.Buffer
		if err := directory.Write(&out, entries); err != nil {
			t.Fatal(err)
		}
		back, probs, err := directory.Read(&out, "back.xlsx", "44", tr)
		if err != nil || len(probs) > 0 {
			t.Fatalf("read back: %v %v", err, probs)
		}
		for i := range back {
			back[i].Seq, entries[i].Seq = 0, 0
		}
		if len(back) != len(entries) || len(back) > 0 && !reflect.DeepEqual(back, entries) {
			t.Fatalf("read back\n%+v\nwant\n%+v", back, entries)
		}
	})
}

func divisionTree() (*division.Tree, error) {
	treeOnce.Do(func() { tree, treeErr = division.Load() })
	return tree, treeErr
}
