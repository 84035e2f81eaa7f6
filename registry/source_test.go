package registry_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"yipanqi"
	"yipanqi/idcard"
	"yipanqi/internal/xlsxdim"
	"yipanqi/registry"
)

// sample is a small register: a title row, the header, two valid rows, a bad one, a blank one.
func sample() string {
	a, b, bad := goodRow(), goodRow(), goodRow()
	b["公民身份号码"], b["姓名"], b["性别"] = womanID, "李秀英", "女"
	bad["户籍地区划代码"] = "999999"
	return "某某街道流动人口登记表,,,\r\n" +
		csvLine(registry.Headers()) + csvLine(cells(a)) + csvLine(cells(b)) + csvLine(cells(bad)) + ",,,\r\n"
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func gb18030(t testing.TB, s string) []byte {
	t.Helper()
	b, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func utf16le(s string) []byte {
	var b bytes.Buffer
	b.Write([]byte{0xFF, 0xFE})
	for _, u := range utf16.Encode([]rune(s)) {
		b.WriteByte(byte(u))
		b.WriteByte(byte(u >> 8))
	}
	return b.Bytes()
}

func randomBytes(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return b
}

// importFile runs the importer on a file with a fake stager.
func importFile(t *testing.T, path string) (registry.Result, *fakeStager, problemList, error) {
	t.Helper()
	src, format, err := registry.Open(path)
	if err != nil {
		return registry.Result{}, nil, nil, err
	}
	defer src.Close()
	v := mustValidator(t)
	v.ExcelDates = format == registry.FormatXLSX
	st := &fakeStager{}
	var probs problemList
	im := &registry.Importer{Validator: v, Stager: st, Problems: &probs}
	res, err := im.Run(context.Background(), src)
	return res, st, probs, err
}

func TestOpenEncodings(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		enc  registry.Encoding
	}{
		{"UTF-8", []byte(sample()), registry.UTF8},
		{"UTF-8 with BOM", []byte("\ufeff" + sample()), registry.UTF8},
		{"GB18030", gb18030(t, sample()), registry.GB18030},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "登记表.csv", tt.data)
			src, format, err := registry.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			if format != registry.FormatCSV || src.(*registry.CSV).Encoding() != tt.enc {
				t.Errorf("read as %s %s, want csv %s", format, src.(*registry.CSV).Encoding(), tt.enc)
			}
			src.Close()
			res, st, probs, err := importFile(t, path)
			if err != nil {
				t.Fatal(err)
			}
			if res.HeaderRow != 2 || res.Rows != 3 || res.Rejected != 1 || len(st.people) != 2 {
				t.Fatalf("result %+v, staged %d", res, len(st.people))
			}
			if st.people[1].Name != "李秀英" || st.rows[0] != 1 || st.rows[1] != 2 {
				t.Errorf("staged rows %v, second name %q", st.rows, st.people[1].Name)
			}
			if len(probs) != 1 || probs[0].Row != 5 || probs[0].Column != "户籍地区划代码" {
				t.Errorf("problems %+v, want one on sheet row 5", probs)
			}
		})
	}
}

func TestOpenUnreadable(t *testing.T) {
	tests := []struct {
		name string
		data []byte // nil: no file at all
		want string // in the message
	}{
		{"missing", nil, "不存在"},
		{"empty", []byte{}, "空"},
		{"blank lines", []byte("\r\n  \r\n"), "空"},
		{"UTF-16", utf16le(sample()), "编码"},
		{"random bytes", randomBytes(4096), "编码"},
		{"GB18030 without a header", gb18030(t, "张三,李四\r\n王五,赵六\r\n"), "编码"},
		{"old xls", append([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}, make([]byte, 512)...), ".xls"},
		{"broken xlsx", append([]byte("PK\x03\x04"), randomBytes(100)...), ".xlsx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "名单.csv")
			if tt.data != nil {
				path = writeFile(t, "名单.csv", tt.data)
			}
			src, _, err := registry.Open(path)
			if err == nil {
				src.Close()
				t.Fatal("opened")
			}
			msg := yipanqi.ErrorMessage(err)
			if yipanqi.ErrorCode(err) != yipanqi.EINVALID || !strings.Contains(msg, tt.want) || !strings.Contains(msg, "名单") {
				t.Errorf("err %v (%q), want EINVALID naming the file and saying %q", err, msg, tt.want)
			}
		})
	}
}

func TestRunHeaderErrors(t *testing.T) {
	tests := []struct {
		name string
		data string
		want []string
	}{
		{"missing columns", "序号,姓名,性别\r\n1,张三,男\r\n", []string{"公民身份号码", "户籍地区划代码", "现居住地区划代码", "流入日期"}},
		{"no header at all", "1,2,3\r\n4,5,6\r\n", []string{"姓名", "公民身份号码"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, st, _, err := importFile(t, writeFile(t, "a.csv", []byte(tt.data)))
			if yipanqi.ErrorCode(err) != yipanqi.EINVALID {
				t.Fatalf("err = %v, want EINVALID", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(yipanqi.ErrorMessage(err), w) {
					t.Errorf("message %q does not name %s", yipanqi.ErrorMessage(err), w)
				}
			}
			if len(st.people) > 0 {
				t.Error("rows staged despite the bad header")
			}
		})
	}
}

// TestMixedEncoding: a UTF-8 file with a GB18030 row pasted in after the rows that decide the
// encoding rejects that row only.
func TestMixedEncoding(t *testing.T) {
	bad := goodRow()
	bad["姓名"] = "王五"
	good := strings.Repeat(csvLine(cells(goodRow())), 1000) // more than the sniffed prefix
	data := append([]byte(csvLine(registry.Headers())+good), gb18030(t, csvLine(cells(bad)))...)
	res, st, probs, err := importFile(t, writeFile(t, "mixed.csv", data))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.people) != 1000 || res.Rejected != 1 || len(probs) != 1 || probs[0].Row != 1002 || !strings.Contains(probs[0].Reason, "编码") {
		t.Errorf("result %+v, problems %+v", res, probs)
	}
}

// TestStagerRejects: a row the store refuses is reported like a row the validator refused.
func TestStagerRejects(t *testing.T) {
	src, _, err := registry.Open(writeFile(t, "a.csv", []byte(sample())))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	st := &fakeStager{reject: map[int]bool{2: true}}
	var probs problemList
	res, err := (&registry.Importer{Validator: mustValidator(t), Stager: st, Problems: &probs}).Run(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if res.Staged != 1 || res.Rejected != 2 || len(probs) != 2 {
		t.Fatalf("result %+v, problems %+v", res, probs)
	}
	rows := map[int]bool{probs[0].Row: true, probs[1].Row: true}
	if !rows[4] || !rows[5] {
		t.Errorf("problems on rows %v, want sheet rows 4 (store) and 5 (validator)", rows)
	}
}

// TestRunStops: a cancelled context ends the import with its error.
func TestRunStops(t *testing.T) {
	var b strings.Builder
	b.WriteString(csvLine(registry.Headers()))
	for range 5000 {
		b.WriteString(csvLine(cells(goodRow())))
	}
	src, _, err := registry.Open(writeFile(t, "big.csv", []byte(b.String())))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = (&registry.Importer{Validator: mustValidator(t), Stager: &fakeStager{}}).Run(ctx, src)
	if err != context.Canceled {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestWriteReadBack(t *testing.T) {
	want := []yipanqi.Person{}
	for i, m := range []map[string]string{goodRow(), goodRow()} {
		var p yipanqi.Person
		if i == 1 {
			m["公民身份号码"], m["性别"], m["婚姻状况"], m["联系电话"] = womanID, "女", "", ""
			m["现居住地详址"] = `带"引号",和逗号的地址`
		}
		if probs, ok := mustValidator(t).Check(mustLayout(t), 2, cells(m), &p, nil); !ok {
			t.Fatal(probs)
		}
		want = append(want, p)
	}
	for _, format := range []registry.Format{registry.FormatCSV, registry.FormatXLSX} {
		t.Run(string(format), func(t *testing.T) {
			var buf bytes.Buffer
			w, err := registry.NewWriter(&buf, format)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if err := w.Write(&want[i]); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if format == registry.FormatXLSX {
				xlsxdim.Check(t, buf.Bytes(), 1+len(want)) // the streamed sheet's real dimension
			}
			if format == registry.FormatCSV && !bytes.HasPrefix(buf.Bytes(), []byte("\ufeff序号,姓名,")) {
				t.Errorf("CSV starts %q, want a BOM and the header", buf.Bytes()[:20])
			}
			_, st, probs, err := importFile(t, writeFile(t, "out."+string(format), buf.Bytes()))
			if err != nil || len(probs) > 0 {
				t.Fatalf("read back: %v %+v", err, probs)
			}
			if len(st.people) != len(want) {
				t.Fatalf("read back %d people, want %d", len(st.people), len(want))
			}
			for i := range want {
				if st.people[i] != want[i] {
					t.Errorf("row %d read back as\n%+v\nwant\n%+v", i+1, st.people[i], want[i])
				}
			}
		})
	}
}

func TestErrorFile(t *testing.T) {
	var buf bytes.Buffer
	ef, err := registry.NewErrorFile(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []registry.Problem{
		{Row: 3, Column: "姓名", Value: "张3", Reason: "姓名不能含有数字或符号"},
		{Row: 4, Column: "现居住地详址", Value: "=1+1", Reason: "x"},
	} {
		if err := ef.Problem(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := ef.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "\ufeff行号,列,值,原因\r\n3,姓名,张3,姓名不能含有数字或符号\r\n4,现居住地详址,'=1+1,x\r\n"
	if got := buf.String(); got != want {
		t.Errorf("error file\n%q\nwant\n%q", got, want)
	}
	if ef.Count() != 2 {
		t.Errorf("Count = %d", ef.Count())
	}
}

var _ io.Closer = registry.Source(nil)

// TestXLSXAsTownshipsFillIt: a title row above the header, date cells, codes and phones typed
// as numbers, a blank row in the middle.
func TestXLSXAsTownshipsFillIt(t *testing.T) {
	f := excelize.NewFile()
	defer f.Close()
	sheet := f.GetSheetName(0)
	dateStyle, err := f.NewStyle(&excelize.Style{NumFmt: 14})
	if err != nil {
		t.Fatal(err)
	}
	set := func(cell string, v any) {
		t.Helper()
		if err := f.SetCellValue(sheet, cell, v); err != nil {
			t.Fatal(err)
		}
	}
	set("A1", "××街道流动人口登记表（2025 年 6 月）")
	header := []string{"姓名", "身份证号", "户籍地区划代码", "现居住地区划代码", "手机号", "流入日期", "出生日期"}
	for i, h := range header {
		cell, _ := excelize.CoordinatesToCellName(i+1, 3)
		set(cell, h)
	}
	for _, r := range []int{4, 6} {
		id := validID
		name := "张三"
		if r == 6 {
			id, name = womanID, "李秀英"
		}
		set(fmt.Sprintf("A%d", r), name)
		set(fmt.Sprintf("B%d", r), id)
		set(fmt.Sprintf("C%d", r), 430582)
		set(fmt.Sprintf("D%d", r), 440306017)
		set(fmt.Sprintf("E%d", r), 13800138000)
		set(fmt.Sprintf("F%d", r), time.Date(2019, 5, 1, 0, 0, 0, 0, time.UTC))
		set(fmt.Sprintf("G%d", r), time.Date(1990, 3, 15, 0, 0, 0, 0, time.UTC))
		if err := f.SetCellStyle(sheet, fmt.Sprintf("F%d", r), fmt.Sprintf("G%d", r), dateStyle); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "乡镇.xlsx")
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	res, st, probs, err := importFile(t, path)
	if err != nil || len(probs) > 0 {
		t.Fatalf("err %v, problems %+v", err, probs)
	}
	if res.HeaderRow != 3 || len(st.people) != 2 || st.rows[0] != 1 || st.rows[1] != 3 {
		t.Fatalf("result %+v, staged rows %v", res, st.rows)
	}
	p := st.people[1]
	if p.Name != "李秀英" || p.ArrivedOn.String() != "2019-05-01" || p.ResidenceCode != "440306017" || p.Phone != "13800138000" {
		t.Errorf("read %+v", p)
	}
}

type discardStager struct{ n int }

func (d *discardStager) Add(int, *yipanqi.Person) error { d.n++; return nil }

// BenchmarkReadValidate measures the importer's own share of an import: reading a CSV file,
// validating every row and handing it to a Stager that does nothing.
func BenchmarkReadValidate(b *testing.B) {
	const n = 50_000
	var buf bytes.Buffer
	w, err := registry.NewCSVWriter(&buf)
	if err != nil {
		b.Fatal(err)
	}
	var p yipanqi.Person
	m := goodRow()
	if _, ok := mustValidator(b).Check(mustLayout(b), 2, cells(m), &p, nil); !ok {
		b.Fatal("example row rejected")
	}
	for i := range n {
		// Vary the ID so rows differ as in a real file.
		p.IDNumber = idcardFor(i)
		if err := w.Write(&p); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	v := mustValidator(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		src, err := registry.NewCSV(bytes.NewReader(data), int64(len(data)), "bench.csv")
		if err != nil {
			b.Fatal(err)
		}
		st := &discardStager{}
		res, err := (&registry.Importer{Validator: v, Stager: st}).Run(context.Background(), src)
		if err != nil || st.n != n {
			b.Fatalf("err %v, staged %d, result %+v", err, st.n, res)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func idcardFor(i int) string {
	return idcard.Make("430582", birth, i%500*2+1)
}
