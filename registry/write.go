package registry

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/transform"

	"yipanqi"
)

// Writer writes people in the register layout, header first.
type Writer interface {
	// Write appends one person as the next row.
	Write(p *yipanqi.Person) error
	// Close flushes what is buffered and finishes the file (it does not close the underlying
	// io.Writer).
	Close() error
}

// NewWriter returns a Writer for the format.
func NewWriter(w io.Writer, format Format) (Writer, error) {
	switch format {
	case FormatCSV:
		return NewCSVWriter(w)
	case FormatXLSX:
		return NewXLSXWriter(w)
	}
	return nil, fmt.Errorf("registry: unknown format %q", format)
}

// utf8BOM makes Excel read a CSV file as UTF-8 instead of the system's code page.
const utf8BOM = "\ufeff"

// record fills cells (numColumns long) with a person's row; seq is the 序号.
func record(cells []string, seq int, p *yipanqi.Person) {
	cells[ColSeq] = strconv.Itoa(seq)
	cells[ColName] = p.Name
	cells[ColIDNumber] = p.IDNumber
	cells[ColSex] = p.Sex.Label()
	cells[ColBirthDate] = formatDate(p.BirthDate)
	cells[ColMaritalStatus] = p.MaritalStatus.Label()
	cells[ColHukouCode] = p.HukouCode
	cells[ColHukouAddress] = p.HukouAddress
	cells[ColResidenceCode] = p.ResidenceCode
	cells[ColResidenceAddress] = p.ResidenceAddress
	cells[ColPhone] = p.Phone
	cells[ColArrivedOn] = formatDate(p.ArrivedOn)
}

// formatDate is Date.String without fmt: exports and generated files write two dates a row.
func formatDate(d yipanqi.Date) string {
	if d.IsZero() || d.Year < 0 || d.Year > 9999 {
		return d.String()
	}
	b := [10]byte{'0', '0', '0', '0', '-', '0', '0', '-', '0', '0'}
	y, m := d.Year, int(d.Month)
	b[0], b[1], b[2], b[3] = byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10)
	b[5], b[6] = byte('0'+m/10), byte('0'+m%10)
	b[8], b[9] = byte('0'+d.Day/10), byte('0'+d.Day%10)
	return string(b[:])
}

// CSVWriter writes the register as CSV in UTF-8 with a byte-order mark, which Excel opens
// directly, or in GB18030-2022 (no byte-order mark) for systems that want the national code.
type CSVWriter struct {
	bw    *bufio.Writer
	tw    *transform.Writer // the GB18030 encoder, nil for UTF-8
	w     *csv.Writer
	cells []string
	seq   int
}

// NewCSVWriter writes the byte-order mark and the header, in UTF-8.
func NewCSVWriter(w io.Writer) (*CSVWriter, error) { return NewCSVWriterEncoding(w, UTF8) }

// NewCSVWriterEncoding writes the header in the encoding: UTF8 (with a byte-order mark) or
// GB18030 (the 2022 mapping, as glibc iconv and Windows read it).
func NewCSVWriterEncoding(w io.Writer, enc Encoding) (*CSVWriter, error) {
	bw := bufio.NewWriterSize(w, 256<<10)
	c := &CSVWriter{bw: bw, cells: make([]string, numColumns)}
	switch enc {
	case UTF8, "":
		if _, err := bw.WriteString(utf8BOM); err != nil {
			return nil, err
		}
		c.w = csv.NewWriter(bw)
	case GB18030:
		c.tw = transform.NewWriter(bw, GB18030Encoder())
		c.w = csv.NewWriter(c.tw)
	default:
		return nil, fmt.Errorf("registry: unknown encoding %q", enc)
	}
	c.w.UseCRLF = true // what Excel writes and expects
	if err := c.w.Write(Headers()); err != nil {
		return nil, err
	}
	return c, nil
}

// Write implements Writer. In GB18030, a cell with a character that has no GB18030-2022 code
// is an EINVALID error naming the row (序号) and the column, not a replaced character.
func (c *CSVWriter) Write(p *yipanqi.Person) error {
	c.seq++
	record(c.cells, c.seq, p)
	if c.tw != nil {
		for i, cell := range c.cells {
			if r, ok := notGB18030(cell); !ok {
				return yipanqi.FieldErrorf(yipanqi.EINVALID, Column(i).Header(), "序号 %d 的“%s”含有 GB18030-2022 无法表示的字符 %U：请导出为 UTF-8 的 CSV 或 .xlsx", c.seq, Column(i).Header(), r)
			}
		}
	}
	return c.w.Write(c.cells)
}

// notGB18030 returns the first character of s that GB18030-2022 cannot encode.
func notGB18030(s string) (rune, bool) {
	over := gb2022EncodeMap()
	for _, r := range s {
		if r >= utf8.RuneSelf {
			if code, ok := over[r]; ok && code == 0 || r == utf8.RuneError {
				return r, false
			}
		}
	}
	return 0, true
}

// Close implements Writer.
func (c *CSVWriter) Close() error {
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		return err
	}
	if c.tw != nil {
		if err := c.tw.Close(); err != nil {
			return err
		}
	}
	return c.bw.Flush()
}

// XLSXWriter writes the register as an .xlsx workbook with excelize's stream writer, which
// keeps only a small buffer of rows in memory (the rest spills to a temporary file). Every
// cell is a text cell, so ID numbers, codes and phones keep their digits.
type XLSXWriter struct {
	out   io.Writer
	f     *excelize.File
	sw    *excelize.StreamWriter
	cells []string
	vals  []any
	row   int
}

// SheetName is the name of the register's sheet in written workbooks.
const SheetName = "流动人口登记表"

// columnWidths in Excel character units, in layout order.
var columnWidths = [numColumns]float64{6, 10, 21, 6, 12, 10, 16, 36, 16, 36, 15, 12}

// NewXLSXWriter starts a workbook with the header row.
func NewXLSXWriter(w io.Writer) (*XLSXWriter, error) {
	f := excelize.NewFile()
	if err := f.SetSheetName("Sheet1", SheetName); err != nil {
		return nil, err
	}
	x := &XLSXWriter{out: w, f: f, cells: make([]string, numColumns), vals: make([]any, numColumns)}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}}})
	if err != nil {
		return nil, err
	}
	if x.sw, err = f.NewStreamWriter(SheetName); err != nil {
		return nil, err
	}
	for c, width := range columnWidths {
		if err := x.sw.SetColWidth(c+1, c+1, width); err != nil {
			return nil, err
		}
	}
	if err := x.sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return nil, err
	}
	header := make([]any, numColumns)
	for c, h := range Headers() {
		header[c] = excelize.Cell{StyleID: bold, Value: h}
	}
	x.row = 1
	if err := x.sw.SetRow("A1", header); err != nil {
		return nil, err
	}
	return x, nil
}

// Write implements Writer.
func (x *XLSXWriter) Write(p *yipanqi.Person) error {
	x.row++
	record(x.cells, x.row-1, p)
	for i, s := range x.cells {
		x.vals[i] = s
	}
	x.vals[ColSeq] = x.row - 1 // a number, so that Excel sorts it as one
	cell, err := excelize.CoordinatesToCellName(1, x.row)
	if err != nil {
		return err
	}
	return x.sw.SetRow(cell, x.vals)
}

// Close implements Writer: it writes the workbook to the underlying io.Writer.
func (x *XLSXWriter) Close() error {
	defer x.f.Close()
	if err := x.sw.Flush(); err != nil {
		return err
	}
	last, err := excelize.CoordinatesToCellName(int(numColumns), x.row)
	if err != nil {
		return err
	}
	x.f.SetZipWriter(func(w io.Writer) excelize.ZipWriter {
		return &dimensionZip{Writer: zip.NewWriter(w), part: "xl/worksheets/sheet1.xml", ref: "A1:" + last}
	})
	_, err = x.f.WriteTo(x.out)
	return err
}

// dimensionZip writes the workbook's parts, setting the <dimension> of one streamed sheet.
// excelize's stream writer writes the sheet's dimension before its rows, as it stands then
// ("A1"), and has no way to change it after; readers that trust it (openpyxl in read-only
// mode, which pandas uses) would see one row. The part passes through a filter on its way into
// the archive, so nothing is held in memory or written twice.
type dimensionZip struct {
	*zip.Writer
	part, ref string
}

// Create implements excelize.ZipWriter.
func (z *dimensionZip) Create(name string) (io.Writer, error) {
	w, err := z.Writer.Create(name)
	if err != nil || name != z.part {
		return w, err
	}
	return &dimensionFilter{w: w, ref: z.ref}, nil
}

// dimensionFilter rewrites the first <dimension …> element of a worksheet, which comes
// before <sheetData>, and passes the rest through.
type dimensionFilter struct {
	w    io.Writer
	ref  string
	head []byte
	done bool
}

var (
	dimensionStart = []byte("<dimension ")
	sheetDataStart = []byte("<sheetData")
)

func (d *dimensionFilter) Write(p []byte) (int, error) {
	if d.done {
		return d.w.Write(p)
	}
	d.head = append(d.head, p...)
	i := bytes.Index(d.head, dimensionStart)
	if i < 0 {
		if bytes.Contains(d.head, sheetDataStart) || len(d.head) > 64<<10 {
			return len(p), d.flush(d.head) // no dimension to set: leave the part as it is
		}
		return len(p), nil
	}
	// The element ends at "/>" or at "</dimension>".
	rest := d.head[i:]
	end := bytes.Index(rest, []byte(">"))
	if end < 0 {
		if len(d.head) > 64<<10 {
			return len(p), d.flush(d.head)
		}
		return len(p), nil
	}
	end++
	if rest[end-2] != '/' {
		j := bytes.Index(rest, []byte("</dimension>"))
		if j < 0 {
			return len(p), nil
		}
		end = j + len("</dimension>")
	}
	var out bytes.Buffer
	out.Write(d.head[:i])
	out.WriteString(`<dimension ref="` + d.ref + `"/>`)
	out.Write(rest[end:])
	return len(p), d.flush(out.Bytes())
}

func (d *dimensionFilter) flush(b []byte) error {
	d.done, d.head = true, nil
	_, err := d.w.Write(b)
	return err
}

// ErrorFileHeader is the header row of an error file.
var ErrorFileHeader = []string{"行号", "列", "值", "原因"}

// ErrorFile writes problems as CSV (UTF-8 with a byte-order mark, so Excel opens it): 行号,
// 列, 值, 原因 — one line per problem. It is a ProblemSink. Values are cut to 100 characters.
type ErrorFile struct {
	bw *bufio.Writer
	w  *csv.Writer
	n  int
}

// NewErrorFile writes the byte-order mark and the header to w.
func NewErrorFile(w io.Writer) (*ErrorFile, error) {
	bw := bufio.NewWriter(w)
	if _, err := bw.WriteString(utf8BOM); err != nil {
		return nil, err
	}
	e := &ErrorFile{bw: bw, w: csv.NewWriter(bw)}
	e.w.UseCRLF = true
	return e, e.w.Write(ErrorFileHeader)
}

// Problem implements ProblemSink.
func (e *ErrorFile) Problem(p Problem) error {
	e.n++
	row := ""
	if p.Row > 0 {
		row = strconv.Itoa(p.Row)
	}
	return e.w.Write([]string{row, Truncate(p.Column), defuse(Truncate(p.Value)), p.Reason})
}

// defuse keeps a quoted value from being taken for a formula when Excel opens the file.
func defuse(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// Count returns the number of problems written.
func (e *ErrorFile) Count() int { return e.n }

// Flush writes out what is buffered.
func (e *ErrorFile) Flush() error {
	e.w.Flush()
	if err := e.w.Error(); err != nil {
		return err
	}
	return e.bw.Flush()
}
