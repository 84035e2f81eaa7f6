// Package xlsxdim checks the <dimension> of the worksheets of an .xlsx workbook against the
// cells they hold, for the tests of every package that writes workbooks: readers that trust
// the dimension (openpyxl in read-only mode, which pandas uses) see only the rows it declares.
package xlsxdim

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// Sheet is what one worksheet declares and holds.
type Sheet struct {
	Part      string // xl/worksheets/sheetN.xml
	Dimension string // the ref of its <dimension>, "" when it has none
	Used      string // the range its cells span, "A1" for an empty sheet
}

// Sheets reads every worksheet of the workbook.
func Sheets(workbook []byte) ([]Sheet, error) {
	zr, err := zip.NewReader(bytes.NewReader(workbook), int64(len(workbook)))
	if err != nil {
		return nil, err
	}
	var out []Sheet
	for _, f := range zr.File {
		if !strings.HasPrefix(f.Name, "xl/worksheets/sheet") || !strings.HasSuffix(f.Name, ".xml") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, err
		}
		s, err := scan(rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		s.Part = f.Name
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Part < out[j].Part })
	return out, nil
}

func scan(r io.Reader) (Sheet, error) {
	var s Sheet
	maxRow, maxCol := 0, 0
	minRow, minCol := 0, 0
	dec := xml.NewDecoder(r)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return s, err
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "dimension":
			for _, a := range se.Attr {
				if a.Name.Local == "ref" {
					s.Dimension = a.Value
				}
			}
		case "c":
			for _, a := range se.Attr {
				if a.Name.Local != "r" {
					continue
				}
				col, row, err := excelize.CellNameToCoordinates(a.Value)
				if err != nil {
					return s, err
				}
				maxRow, maxCol = max(maxRow, row), max(maxCol, col)
				if minRow == 0 || row < minRow {
					minRow = row
				}
				if minCol == 0 || col < minCol {
					minCol = col
				}
			}
		}
	}
	if maxRow == 0 {
		s.Used = "A1"
		return s, nil
	}
	from, _ := excelize.CoordinatesToCellName(minCol, minRow)
	to, _ := excelize.CoordinatesToCellName(maxCol, maxRow)
	s.Used = from + ":" + to
	if from == to {
		s.Used = from
	}
	return s, nil
}

// Check fails the test unless every worksheet of the workbook declares the range its cells
// span, and, when python3 can import openpyxl, unless openpyxl in read-only mode reads
// wantRows rows from the first sheet (wantRows < 0: skip that).
func Check(t testing.TB, workbook []byte, wantRows int) {
	t.Helper()
	sheets, err := Sheets(workbook)
	if err != nil {
		t.Fatalf("read workbook: %v", err)
	}
	if len(sheets) == 0 {
		t.Fatal("workbook has no worksheets")
	}
	for _, s := range sheets {
		if s.Dimension != s.Used {
			t.Errorf("%s declares <dimension ref=%q>, its cells span %s", s.Part, s.Dimension, s.Used)
		}
	}
	if wantRows >= 0 {
		Openpyxl(t, workbook, wantRows)
	}
}

// Openpyxl reads the first sheet with openpyxl in read-only mode (as pandas does) and fails
// unless it sees wantRows rows; it does nothing when python3 or openpyxl is missing.
func Openpyxl(t testing.TB, workbook []byte, wantRows int) {
	t.Helper()
	py := ""
	for _, name := range []string{"python3", "/usr/bin/python3"} { // Debian's python3-openpyxl
		if p, err := exec.LookPath(name); err == nil && exec.Command(p, "-c", "import openpyxl").Run() == nil {
			py = p
			break
		}
	}
	if py == "" {
		t.Log("no python3 that imports openpyxl: openpyxl check skipped")
		return
	}
	path := filepath.Join(t.TempDir(), "book.xlsx")
	if err := os.WriteFile(path, workbook, 0o600); err != nil {
		t.Fatal(err)
	}
	const script = `import sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1], read_only=True)
ws = wb.worksheets[0]
print(sum(1 for _ in ws.iter_rows(values_only=True)))`
	out, err := exec.Command(py, "-c", script, path).CombinedOutput()
	if err != nil {
		t.Fatalf("openpyxl: %v: %s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != fmt.Sprint(wantRows) {
		t.Errorf("openpyxl (read-only) reads %s rows, want %d", got, wantRows)
	}
}
