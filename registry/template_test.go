package registry_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/xuri/excelize/v2"

	"yipanqi/internal/xlsxdim"
	"yipanqi/registry"
)

// go test ./registry -run TestTemplates -update rewrites the shipped templates.
var update = flag.Bool("update", false, "rewrite templates/流动人口登记表.{csv,xlsx}")

const templateDir = "../templates"

// TestTemplates checks that the shipped templates are what the code writes, and that each
// imports: one valid row, nothing rejected.
func TestTemplates(t *testing.T) {
	for _, tc := range []struct {
		ext   string
		write func(*bytes.Buffer) error
	}{
		{"csv", func(b *bytes.Buffer) error { return registry.WriteTemplateCSV(b) }},
		{"xlsx", func(b *bytes.Buffer) error { return registry.WriteTemplateXLSX(b) }},
	} {
		t.Run(tc.ext, func(t *testing.T) {
			path := filepath.Join(templateDir, "流动人口登记表."+tc.ext)
			var buf bytes.Buffer
			if err := tc.write(&buf); err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			shipped, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./registry -run TestTemplates -update)", err)
			}
			if tc.ext == "csv" && !bytes.Equal(shipped, buf.Bytes()) {
				t.Errorf("%s is stale: run go test ./registry -run TestTemplates -update", path)
			}
			if tc.ext == "xlsx" {
				sameSheets(t, shipped, buf.Bytes())
				xlsxdim.Check(t, shipped, 2) // the shipped template declares its real dimension
			}
			res, st, probs, err := importFile(t, writeFile(t, "t."+tc.ext, shipped))
			if err != nil || len(probs) > 0 || len(st.people) != 1 || res.Rows != 1 {
				t.Fatalf("template import: err %v, problems %+v, result %+v", err, probs, res)
			}
			want := registry.ExamplePerson()
			if st.people[0] != want {
				t.Errorf("template row read as %+v, want %+v", st.people[0], want)
			}
		})
	}
}

// sameSheets compares two workbooks by the text of their cells (the zip bytes may differ).
func sameSheets(t *testing.T, a, b []byte) {
	t.Helper()
	read := func(data []byte) map[string][][]string {
		f, err := excelize.OpenReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		out := make(map[string][][]string)
		for _, s := range f.GetSheetList() {
			rows, err := f.GetRows(s)
			if err != nil {
				t.Fatal(err)
			}
			out[s] = rows
		}
		return out
	}
	ra, rb := read(a), read(b)
	if len(ra) != len(rb) {
		t.Fatalf("shipped template has %d sheets, code writes %d: run -update", len(ra), len(rb))
	}
	for name, rows := range rb {
		if got := ra[name]; len(got) != len(rows) || !bytes.Equal([]byte(flat(got)), []byte(flat(rows))) {
			t.Errorf("sheet %s of the shipped template is stale: run go test ./registry -run TestTemplates -update", name)
		}
	}
}

func flat(rows [][]string) string {
	var b bytes.Buffer
	for _, r := range rows {
		for _, c := range r {
			b.WriteString(c)
			b.WriteByte('\t')
		}
		b.WriteByte('\n')
	}
	return b.String()
}
