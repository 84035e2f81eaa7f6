package division

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"yipanqi"
)

//go:embed data/*.csv.gz
var embedded embed.FS

// fileSpec is one data file: the divisions of one level.
type fileSpec struct {
	name      string // without ".gz"
	parentCol string // the column holding the parent's code; "" for provinces
	optional  bool
}

// files in load order: a level's parents are loaded before it.
var files = [5]fileSpec{
	{"provinces.csv", "", false},
	{"cities.csv", "provinceCode", false},
	{"areas.csv", "cityCode", false},
	{"streets.csv", "areaCode", false},
	{"villages-pprd.csv", "streetCode", true},
}

// ancestorCols are the columns that may hold the code of an ancestor, with its width. Every one
// present in a file must be a prefix of the row's code.
var ancestorCols = [...]struct {
	name  string
	width int
}{{"provinceCode", 2}, {"cityCode", 4}, {"areaCode", 6}, {"streetCode", 9}}

// Load returns the tree of the embedded data (to villages in the Pan-PRD provinces). Each call
// parses the data afresh; keep the tree rather than calling Load again.
func Load() (*Tree, error) {
	sub, err := fs.Sub(embedded, "data")
	if err != nil {
		return nil, fmt.Errorf("division: embedded data: %w", err)
	}
	return load(sub, "")
}

// LoadDir returns the tree of the data files in dir: provinces.csv, cities.csv, areas.csv,
// streets.csv and, optionally, villages-pprd.csv, each either plain or gzip-compressed with
// ".gz" added to its name, in the format of the embedded files (a header row naming the
// columns; code, name and the parent's code). A row whose parent is missing, a malformed row or
// a missing file is an EINVALID error naming the file, and the line and code where there is
// one.
func LoadDir(dir string) (*Tree, error) {
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return nil, yipanqi.Errorf(yipanqi.EINVALID, "行政区划数据目录“%s”不存在或不是目录", dir)
	}
	return load(os.DirFS(dir), dir)
}

// load reads every level from fsys; dir names the directory in messages ("" for the embedded
// data).
func load(fsys fs.FS, dir string) (*Tree, error) {
	t := &Tree{}
	for li, f := range files {
		lv := &t.levels[li]
		lv.width = yipanqi.Level(li + 1).CodeLength()
		if err := loadLevel(fsys, dir, f, lv, t, li); err != nil {
			return nil, err
		}
		t.total += lv.len()
	}
	vl := &t.levels[4]
	for i := 0; i < vl.len(); i++ {
		t.villages[provinceIndex(vl.code(i))] = true
	}
	return t, nil
}

// loadLevel parses one file into lv, sorts it if it is not sorted, and links each row to its
// parent in the level above.
func loadLevel(fsys fs.FS, dir string, f fileSpec, lv *level, t *Tree, li int) error {
	name, text, err := open(fsys, dir, f)
	if err != nil {
		return err
	}
	if text == nil { // an optional file that is not there
		return nil
	}
	p := parser{file: name, width: lv.width, parentCol: f.parentCol}
	if err := p.parse(text); err != nil {
		return err
	}
	if !p.sorted {
		p.sort()
	}
	for i := 1; i < len(p.nodes); i++ {
		if p.code(i) == p.code(i-1) {
			return yipanqi.Errorf(yipanqi.EINVALID, "行政区划数据 %s 第 %d 行：代码“%s”重复（又见第 %d 行）",
				name, max(p.lines[i], p.lines[i-1]), p.code(i), min(p.lines[i], p.lines[i-1]))
		}
	}
	lv.codes = p.codes.String()
	lv.names = p.names.String()
	lv.nodes = p.nodes
	if li == 0 {
		return nil
	}
	// Both levels are sorted and a child's code starts with its parent's, so one merge pass
	// finds every parent and gives each parent its children as an index range.
	up := &t.levels[li-1]
	pw := up.width
	j := 0
	for i := range lv.nodes {
		pc := lv.code(i)[:pw]
		for j < up.len() && up.code(j) < pc {
			j++
		}
		if j == up.len() || up.code(j) != pc {
			return yipanqi.Errorf(yipanqi.EINVALID, "行政区划数据 %s 第 %d 行：代码“%s”的上级区划“%s”在 %s 中不存在",
				name, p.lines[i], lv.code(i), pc, files[li-1].name)
		}
		lv.nodes[i].parent = int32(j)
		pn := &up.nodes[j]
		if pn.kidHi == 0 {
			pn.kidLo = int32(i)
		}
		pn.kidHi = int32(i + 1)
	}
	return nil
}

// open finds the file plain or gzipped and returns its display name and its whole plain text.
// It returns nil text for an optional file that is absent.
func open(fsys fs.FS, dir string, f fileSpec) (string, []byte, error) {
	_, gzErr := fs.Stat(fsys, f.name+".gz")
	_, plainErr := fs.Stat(fsys, f.name)
	switch {
	case gzErr == nil && plainErr == nil:
		return "", nil, yipanqi.Errorf(yipanqi.EINVALID,
			"行政区划数据目录“%s”中同时有 %s 和 %s.gz，请只留一个", dir, f.name, f.name)
	case gzErr != nil && plainErr != nil:
		if f.optional {
			return "", nil, nil
		}
		return "", nil, yipanqi.Errorf(yipanqi.EINVALID,
			"行政区划数据目录“%s”缺少文件 %s（或 %s.gz）", dir, f.name, f.name)
	}
	name := f.name
	if gzErr == nil {
		name += ".gz"
	}
	raw, err := fs.ReadFile(fsys, name)
	if err != nil {
		return "", nil, fmt.Errorf("division: read %s: %w", name, err)
	}
	if gzErr != nil {
		return name, raw, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return "", nil, readError(name, err)
	}
	// The gzip trailer holds the plain size (mod 2^32): read into one buffer of that size
	// rather than growing one, which costs more time than the decompression.
	size := 0
	if n := len(raw); n >= 4 {
		size = int(binary.LittleEndian.Uint32(raw[n-4:]))
	}
	buf := bytes.NewBuffer(make([]byte, 0, size+bytes.MinRead))
	if _, err := buf.ReadFrom(zr); err != nil {
		return "", nil, readError(name, err)
	}
	return name, buf.Bytes(), nil
}

// readError classifies an error reading a file: a damaged gzip stream is bad data the operator
// can fix (EINVALID); anything else is an I/O failure.
func readError(name string, err error) error {
	var corrupt flate.CorruptInputError
	if errors.Is(err, gzip.ErrHeader) || errors.Is(err, gzip.ErrChecksum) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &corrupt) {
		return yipanqi.Errorf(yipanqi.EINVALID, "行政区划数据 %s 不是完整有效的 gzip 文件", name)
	}
	return fmt.Errorf("division: read %s: %w", name, err)
}

// parser reads one CSV file in a single pass over its lines, keeping codes and names in two
// builders sized up front (so the strings they make are not copied) rather than a string per
// field.
type parser struct {
	file      string
	width     int
	parentCol string

	codes  *strings.Builder // width bytes per row
	names  *strings.Builder
	prev   []byte // the code of the row before
	nodes  []node
	lines  []int32 // line number of each row, for messages
	sorted bool

	// column positions from the header
	codeIdx, nameIdx, ncols int
	checks                  []prefixCheck
	fields                  [][]byte
	scratch                 []byte
}

// prefixCheck says that column idx holds the code's first width digits.
type prefixCheck struct {
	idx, width int
	col        string
}

func (p *parser) code(i int) string { return p.codes.String()[i*p.width : (i+1)*p.width] }

func (p *parser) errorf(line int, format string, args ...any) error {
	return yipanqi.Errorf(yipanqi.EINVALID, "行政区划数据 %s 第 %d 行格式错误：%s", p.file, line, fmt.Sprintf(format, args...))
}

func (p *parser) parse(text []byte) error {
	text = bytes.TrimPrefix(text, []byte("\xef\xbb\xbf"))
	// Lines bound the rows, so the buffers are allocated once.
	rows := bytes.Count(text, []byte{'\n'}) + 1
	p.codes, p.names = new(strings.Builder), new(strings.Builder)
	p.nodes = make([]node, 0, rows)
	p.lines = make([]int32, 0, rows)
	p.codes.Grow(rows * p.width)
	p.sorted = true
	header := true
	for lineNo := 1; len(text) > 0; lineNo++ {
		var line []byte
		if i := bytes.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			line, text = text, nil
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if len(line) == 0 {
			continue
		}
		if !header {
			if err := p.row(line, lineNo); err != nil {
				return err
			}
			continue
		}
		if err := p.header(line, lineNo); err != nil {
			return err
		}
		header = false
		p.names.Grow(p.namesSize(text))
	}
	if header {
		return yipanqi.Errorf(yipanqi.EINVALID, "行政区划数据 %s 是空文件", p.file)
	}
	return nil
}

// namesSize estimates the bytes of the names in the rows of text: every other byte is in a
// code, a comma, a quote around the name or a line end. Released files quote every name.
func (p *parser) namesSize(text []byte) int {
	perRow := p.width + p.ncols // the code, the commas and the line end
	for _, c := range p.checks {
		perRow += c.width
	}
	if first, _, _ := bytes.Cut(text, []byte{'\n'}); bytes.IndexByte(first, '"') >= 0 {
		perRow += 2
	}
	return max(len(text)-bytes.Count(text, []byte{'\n'})*perRow, 0)
}

func (p *parser) header(line []byte, lineNo int) error {
	fields, err := p.split(line)
	if err != nil {
		return p.errorf(lineNo, "%s", err.Error())
	}
	p.ncols = len(fields)
	p.codeIdx, p.nameIdx = -1, -1
	parentIdx := -1
	for i, f := range fields {
		switch col := string(f); col {
		case "code":
			p.codeIdx = i
		case "name":
			p.nameIdx = i
		default:
			if col == p.parentCol {
				parentIdx = i
			}
			for _, a := range ancestorCols {
				if a.name == col && a.width < p.width {
					p.checks = append(p.checks, prefixCheck{idx: i, width: a.width, col: col})
				}
			}
		}
	}
	switch {
	case p.codeIdx < 0:
		return p.errorf(lineNo, "表头缺少 code 列")
	case p.nameIdx < 0:
		return p.errorf(lineNo, "表头缺少 name 列")
	case p.parentCol != "" && parentIdx < 0:
		return p.errorf(lineNo, "表头缺少 %s 列", p.parentCol)
	}
	return nil
}

func (p *parser) row(line []byte, lineNo int) error {
	fields, err := p.split(line)
	if err != nil {
		return p.errorf(lineNo, "%s", err.Error())
	}
	if len(fields) != p.ncols {
		return p.errorf(lineNo, "应有 %d 列，实有 %d 列", p.ncols, len(fields))
	}
	code := fields[p.codeIdx]
	if len(code) != p.width || !allDigits(code) {
		return p.errorf(lineNo, "代码“%s”应为 %d 位数字", quote(string(code)), p.width)
	}
	name := fields[p.nameIdx]
	if len(name) == 0 {
		return p.errorf(lineNo, "代码“%s”的名称为空", code)
	}
	if !utf8.Valid(name) {
		return p.errorf(lineNo, "代码“%s”的名称不是 UTF-8 编码", code)
	}
	for _, c := range p.checks {
		if !bytes.Equal(fields[c.idx], code[:c.width]) {
			return p.errorf(lineNo, "代码“%s”的 %s 列“%s”与代码的前 %d 位不符",
				code, c.col, quote(string(fields[c.idx])), c.width)
		}
	}
	if p.sorted && p.prev != nil && string(code) < string(p.prev) {
		p.sorted = false
	}
	p.prev = code
	if p.names.Len()+len(name) > 1<<32-1 {
		return p.errorf(lineNo, "数据过大")
	}
	off := uint32(p.names.Len())
	p.names.Write(name)
	p.codes.Write(code)
	p.nodes = append(p.nodes, node{nameOff: off, nameEnd: uint32(p.names.Len()), parent: -1})
	p.lines = append(p.lines, int32(lineNo))
	return nil
}

// errBadQuote is a quoted field that is not closed on its line or has text after its
// closing quote.
var errBadQuote = errors.New("引号不配对")

// split splits one CSV line (RFC 4180, without line breaks inside fields). The fields alias
// line, or p.scratch for a quoted field with doubled quotes; they are valid until the next call.
func (p *parser) split(line []byte) ([][]byte, error) {
	p.fields = p.fields[:0]
	p.scratch = p.scratch[:0]
	for {
		if len(line) > 0 && line[0] == '"' {
			field, rest, err := p.quoted(line[1:])
			if err != nil {
				return nil, err
			}
			p.fields = append(p.fields, field)
			if len(rest) == 0 {
				return p.fields, nil
			}
			if rest[0] != ',' {
				return nil, errBadQuote
			}
			line = rest[1:]
			continue
		}
		i := bytes.IndexByte(line, ',')
		if i < 0 {
			p.fields = append(p.fields, line)
			return p.fields, nil
		}
		p.fields = append(p.fields, line[:i])
		line = line[i+1:]
	}
}

// quoted reads a quoted field's body after its opening quote and returns the field and what
// follows its closing quote.
func (p *parser) quoted(s []byte) (field, rest []byte, err error) {
	i := bytes.IndexByte(s, '"')
	if i < 0 {
		return nil, nil, errBadQuote
	}
	if i+1 >= len(s) || s[i+1] != '"' {
		return s[:i], s[i+1:], nil // the common case: no doubled quote
	}
	start := len(p.scratch)
	for {
		i := bytes.IndexByte(s, '"')
		if i < 0 {
			return nil, nil, errBadQuote
		}
		p.scratch = append(p.scratch, s[:i]...)
		if i+1 < len(s) && s[i+1] == '"' {
			p.scratch = append(p.scratch, '"')
			s = s[i+2:]
			continue
		}
		return p.scratch[start:], s[i+1:], nil
	}
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// sort puts the rows in code order. Released data is sorted already; this is for a file that
// was edited by hand.
func (p *parser) sort() {
	w := p.width
	perm := make([]int32, len(p.nodes))
	for i := range perm {
		perm[i] = int32(i)
	}
	slices.SortStableFunc(perm, func(a, b int32) int {
		return strings.Compare(p.code(int(a)), p.code(int(b)))
	})
	codes := new(strings.Builder)
	codes.Grow(len(perm) * w)
	nodes := make([]node, 0, len(p.nodes))
	lines := make([]int32, 0, len(p.lines))
	for _, i := range perm {
		codes.WriteString(p.code(int(i)))
		nodes = append(nodes, p.nodes[i])
		lines = append(lines, p.lines[i])
	}
	p.codes, p.nodes, p.lines = codes, nodes, lines
}
