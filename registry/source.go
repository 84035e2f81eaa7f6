package registry

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/transform"

	"yipanqi"
)

// Source yields the rows of a register file, header included, one at a time.
type Source interface {
	// Next returns the next row and its 1-based row number in the sheet, and io.EOF after the
	// last. The cells slice may be reused by the following call; the strings in it may be kept.
	Next() (row int, cells []string, err error)

	// Progress returns how much of the file has been read and its size, in the unit the
	// source counts (bytes for CSV); total is 0 when unknown.
	Progress() (done, total int64)

	// Close releases the file.
	Close() error
}

// Format is the kind of a register file.
type Format string

// Formats.
const (
	FormatCSV  Format = "csv"
	FormatXLSX Format = "xlsx"
)

// Encoding is the character encoding of a CSV file.
type Encoding string

// Encodings a CSV file may have: UTF-8 (with or without a byte-order mark) or GB18030 (a
// superset of GBK and GB2312, what Excel on a Chinese Windows writes as "CSV (comma
// delimited)").
const (
	UTF8    Encoding = "UTF-8"
	GB18030 Encoding = "GB18030"
)

// Sniff bytes of the file are enough to decide its encoding: several full rows.
const sniffSize = 64 << 10

var (
	zipMagic = []byte("PK\x03\x04")
	oleMagic = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}
)

// Open opens a register file for reading, by its content rather than its name: a ZIP
// container is read as .xlsx, anything else as CSV. The EINVALID errors name the file: it does
// not exist, it is empty, it is an old binary .xls workbook, or a CSV file is in an encoding
// other than UTF-8 and GB18030.
func Open(path string) (Source, Format, error) {
	name := filepath.Base(path)
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, "", yipanqi.Errorf(yipanqi.EINVALID, "文件“%s”不存在", path)
		}
		return nil, "", yipanqi.Errorf(yipanqi.EINVALID, "无法打开文件“%s”：%v", path, errors.Unwrap(err))
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, "", fmt.Errorf("open %s: %w", name, err)
	}
	if st.IsDir() {
		f.Close()
		return nil, "", yipanqi.Errorf(yipanqi.EINVALID, "“%s”是一个目录，不是登记表文件", path)
	}
	head := make([]byte, 8)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, "", fmt.Errorf("open %s: %w", name, err)
	}
	switch {
	case n == 0:
		f.Close()
		return nil, "", emptyFile(name)
	case bytes.HasPrefix(head, oleMagic):
		f.Close()
		return nil, "", yipanqi.Errorf(yipanqi.EINVALID, "文件“%s”是旧版 Excel（.xls）工作簿：请在 Excel 中另存为 .xlsx 或 CSV 后再导入", name)
	case bytes.HasPrefix(head, zipMagic):
		f.Close()
		src, err := OpenXLSX(path)
		return src, FormatXLSX, err
	}
	src, err := NewCSV(f, st.Size(), name)
	if err != nil {
		f.Close()
		return nil, "", err
	}
	src.closer = f
	return src, FormatCSV, nil
}

func emptyFile(name string) error {
	return yipanqi.Errorf(yipanqi.EINVALID, "文件“%s”是空的：没有表头，也没有数据行", name)
}

func unknownEncoding(name string) error {
	return yipanqi.Errorf(yipanqi.EINVALID, "文件“%s”的字符编码无法识别：请在 Excel 中另存为“CSV UTF-8（逗号分隔）”或“CSV（逗号分隔）”，或保存为 .xlsx", name)
}

// CSV reads a CSV register in UTF-8 or GB18030.
type CSV struct {
	r        *csv.Reader
	lim      *recordLimiter
	counter  *countingReader
	size     int64
	row      int
	encoding Encoding
	closer   io.Closer
}

// NewCSV reads CSV from r (size bytes long, 0 when unknown), detecting its encoding from the
// first rows: valid UTF-8 is UTF-8 (a byte-order mark is dropped); otherwise the rows must
// decode as GB18030 without replacement characters and contain the header. name is the file
// name for messages. EINVALID for an empty file or an unknown encoding.
func NewCSV(r io.Reader, size int64, name string) (*CSV, error) {
	counter := &countingReader{r: r}
	br := bufio.NewReaderSize(counter, sniffSize)
	head, err := br.Peek(sniffSize)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	atEOF := len(head) < sniffSize
	if len(bytes.TrimSpace(head)) == 0 && atEOF {
		return nil, emptyFile(name)
	}
	// Text never holds NUL bytes: UTF-16 ("Unicode text" from Excel) and binary files do.
	if bytes.IndexByte(head, 0) >= 0 || bytes.HasPrefix(head, []byte{0xFF, 0xFE}) || bytes.HasPrefix(head, []byte{0xFE, 0xFF}) {
		return nil, unknownEncoding(name)
	}
	c := &CSV{counter: counter, size: size}
	var in io.Reader = br
	if validUTF8Prefix(head, atEOF) {
		c.encoding = UTF8
		if bytes.HasPrefix(head, []byte("\ufeff")) {
			br.Discard(3)
		}
	} else {
		if !gbHeaderOK(head, atEOF) {
			return nil, unknownEncoding(name)
		}
		c.encoding = GB18030
		in = transform.NewReader(br, GB18030Decoder())
	}
	c.lim = &recordLimiter{r: in}
	c.r = csv.NewReader(c.lim)
	c.r.FieldsPerRecord = -1
	c.r.ReuseRecord = true
	c.r.LazyQuotes = true
	return c, nil
}

// validUTF8Prefix reports whether b is UTF-8, allowing a rune cut off at the end of a prefix.
func validUTF8Prefix(b []byte, atEOF bool) bool {
	if !atEOF {
		// A rune may be cut off at the end of the prefix: drop its started bytes.
		for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
			if utf8.RuneStart(b[i]) {
				if !utf8.FullRune(b[i:]) {
					b = b[:i]
				}
				break
			}
		}
	}
	return utf8.Valid(b)
}

// gbHeaderOK decodes the sniffed rows as GB18030 and accepts them when nothing decodes to the
// replacement character and a header row is among them.
func gbHeaderOK(head []byte, atEOF bool) bool {
	if !atEOF {
		if i := bytes.LastIndexByte(head, '\n'); i >= 0 {
			head = head[:i+1] // whole lines only: a cut multi-byte character is not an error
		}
	}
	text, _, err := transform.Bytes(GB18030Decoder(), head)
	if err != nil || bytes.ContainsRune(text, utf8.RuneError) {
		return false
	}
	r := csv.NewReader(bytes.NewReader(text))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	for range headerSearchRows {
		rec, err := r.Read()
		if err != nil {
			return false
		}
		if knownHeaders(rec) >= 2 {
			return true
		}
	}
	return false
}

// Encoding returns the encoding the file was found to have.
func (c *CSV) Encoding() Encoding { return c.encoding }

// Next implements Source. Rows are numbered by record, as Excel numbers the rows of a CSV
// file (a quoted cell may span lines).
func (c *CSV) Next() (int, []string, error) {
	rec, err := c.r.Read()
	c.lim.start = c.r.InputOffset()
	if err != nil {
		if err == io.EOF {
			return 0, nil, io.EOF
		}
		if errors.Is(err, errRecordTooLong) {
			return 0, nil, yipanqi.Errorf(yipanqi.EINVALID, "第 %d 行超过 %d KiB：登记表的一行不会这样长，请检查文件", c.row+1, MaxRecordBytes>>10)
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			c.row++
			return c.row, nil, err
		}
		return 0, nil, fmt.Errorf("read csv: %w", err)
	}
	c.row++
	return c.row, rec, nil
}

// Progress implements Source: bytes read of the file.
func (c *CSV) Progress() (int64, int64) { return c.counter.n, c.size }

// Close implements Source.
func (c *CSV) Close() error {
	if c.closer != nil {
		return c.closer.Close()
	}
	return nil
}

// MaxRecordBytes caps one CSV record (one row, all its cells, after decoding): a longer one
// ends the import (exit 2) rather than being read into memory whole.
const MaxRecordBytes = 1 << 20

var errRecordTooLong = errors.New("csv record too long")

// recordLimiter refuses to hand the CSV reader more than MaxRecordBytes past the start of the
// record being read (plus what its buffer reads ahead).
type recordLimiter struct {
	r     io.Reader
	n     int64 // bytes handed out
	start int64 // offset where the current record starts, as the csv.Reader counts
}

func (l *recordLimiter) Read(p []byte) (int, error) {
	if l.n-l.start > MaxRecordBytes+64<<10 {
		return 0, errRecordTooLong
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	return n, err
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// XLSX reads the first sheet of an .xlsx workbook, row by row.
type XLSX struct {
	f    *excelize.File
	rows *excelize.Rows
	row  int
}

// OpenXLSX opens an .xlsx workbook and streams its first sheet. The compressed workbook is read
// into memory (the library needs random access); a large sheet is unpacked to a temporary file
// and read from there. EINVALID, naming the file, when it is not a workbook.
func OpenXLSX(path string) (*XLSX, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", filepath.Base(path), err)
	}
	defer f.Close()
	return NewXLSX(f, filepath.Base(path))
}

// maxUnzipped caps what a workbook may unpack to: a million-row register is a few hundred MB.
const maxUnzipped = 4 << 30

// NewXLSX reads an .xlsx workbook from r and streams its first sheet; name is the file name
// for messages.
func NewXLSX(r io.Reader, name string) (*XLSX, error) {
	f, err := excelize.OpenReader(r, excelize.Options{UnzipSizeLimit: maxUnzipped})
	if err != nil {
		return nil, yipanqi.Errorf(yipanqi.EINVALID, "文件“%s”不是有效的 .xlsx 工作簿：%v", name, err)
	}
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		f.Close()
		return nil, emptyFile(name)
	}
	rows, err := f.Rows(sheets[0])
	if err != nil {
		f.Close()
		return nil, yipanqi.Errorf(yipanqi.EINVALID, "无法读取文件“%s”的工作表“%s”：%v", name, sheets[0], err)
	}
	return &XLSX{f: f, rows: rows}, nil
}

// Next implements Source. Cells are read without their number format, so a date cell comes
// as an Excel date serial (the Validator's ExcelDates accepts it) and a long number is not
// rounded for display.
func (x *XLSX) Next() (int, []string, error) {
	if !x.rows.Next() {
		if err := x.rows.Error(); err != nil {
			return 0, nil, yipanqi.Errorf(yipanqi.EINVALID, "第 %d 行之后无法读取（工作簿已损坏）：%v", x.row, err)
		}
		return 0, nil, io.EOF
	}
	x.row++
	cells, err := x.rows.Columns(excelize.Options{RawCellValue: true})
	if err != nil {
		// A damaged sheet: the row cannot be told from the rest, so the file is refused.
		return x.row, nil, yipanqi.Errorf(yipanqi.EINVALID, "第 %d 行无法读取（工作簿已损坏）：%v", x.row, err)
	}
	return x.row, cells, nil
}

// Progress implements Source: rows read; the total is not known in advance.
func (x *XLSX) Progress() (int64, int64) { return int64(x.row), 0 }

// Close implements Source.
func (x *XLSX) Close() error {
	err := x.rows.Close()
	if cerr := x.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// headerSearchRows is how many rows at the top of a sheet may hold the header: township
// sheets often have a title row ("××镇流动人口登记表") and a blank row above it.
const headerSearchRows = 10

// isBlankRow reports whether every cell is empty or white space.
func isBlankRow(cells []string) bool {
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}
