package registry_test

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"yipanqi"
	"yipanqi/registry"
)

// The characters where GB18030-2022 differs from the 2005 mapping that x/text decodes.
const (
	name2022    = "张𠂇"              // FE51 → U+20087
	hukou2022   = "湖南省邵阳市邵东市龴村"     // FE59 → U+9FB4
	address2022 = "广东省深圳市宝安区︐︖ḿ路1号" // A6D9, A6DF → vertical forms; A8BC → U+1E3F
)

func row2022() map[string]string {
	m := goodRow()
	m["姓名"], m["户籍地详址"], m["现居住地详址"], m["婚姻状况"] = name2022, hukou2022, address2022, "初婚"
	return m
}

func check2022(t *testing.T, path string) {
	t.Helper()
	res, st, probs, err := importFile(t, path)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rejected != 0 || len(probs) != 0 || len(st.people) != 1 {
		t.Fatalf("result %+v, problems %+v", res, probs)
	}
	p := st.people[0]
	if p.Name != name2022 || p.HukouAddress != hukou2022 || p.ResidenceAddress != address2022 {
		t.Errorf("read %q, %q, %q; want %q, %q, %q", p.Name, p.HukouAddress, p.ResidenceAddress, name2022, hukou2022, address2022)
	}
}

// TestGB18030_2022Fixture: a committed file that iconv -t GB18030 wrote, with the 2022 codes.
func TestGB18030_2022Fixture(t *testing.T) {
	check2022(t, "testdata/gb18030-2022.csv")
}

// TestGB18030_2022Iconv: the same, written by iconv now; then exported as GB18030 and read by
// iconv, which must find the same characters (the export writes the 2022 codes).
func TestGB18030_2022Iconv(t *testing.T) {
	iconv := iconv2022(t)
	text := csvLine(registry.Headers()) + csvLine(cells(row2022()))
	enc, err := runIconv(iconv, []byte(text), "UTF-8", "GB18030")
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range [][]byte{{0xFE, 0x51}, {0xFE, 0x59}, {0xA6, 0xD9}, {0xA6, 0xDF}, {0xA8, 0xBC}} {
		if !bytes.Contains(enc, code) {
			t.Fatalf("iconv did not write % X", code)
		}
	}
	path := writeFile(t, "iconv.csv", enc)
	check2022(t, path)

	_, st, _, _ := importFile(t, path)
	var buf bytes.Buffer
	w, err := registry.NewCSVWriterEncoding(&buf, registry.GB18030)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(&st.people[0]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	back, err := runIconv(iconv, buf.Bytes(), "GB18030", "UTF-8")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{name2022, hukou2022, address2022} {
		if !strings.Contains(string(back), s) {
			t.Errorf("iconv reads the export as\n%s\nwithout %q", back, s)
		}
	}
	check2022(t, writeFile(t, "export.csv", buf.Bytes()))
}

// TestGB18030ExportRefuses: a character GB18030-2022 has no code for stops the export with the
// row and column named, instead of writing another character.
func TestGB18030ExportRefuses(t *testing.T) {
	var p yipanqi.Person
	if probs, ok := mustValidator(t).Check(mustLayout(t), 2, cells(goodRow()), &p, nil); !ok {
		t.Fatal(probs)
	}
	p.ResidenceAddress = "某某路\ue816号" // the private-use character 2005 put at FE51
	w, err := registry.NewCSVWriterEncoding(&bytes.Buffer{}, registry.GB18030)
	if err != nil {
		t.Fatal(err)
	}
	err = w.Write(&p)
	if yipanqi.ErrorCode(err) != yipanqi.EINVALID || !strings.Contains(yipanqi.ErrorMessage(err), "现居住地详址") {
		t.Errorf("Write = %v, want EINVALID naming 现居住地详址", err)
	}
}

// TestGB18030BadSequenceLate: in a GB18030 file whose first 64 KiB decide the encoding, an
// undecodable sequence further down rejects its row, naming the row and the column; nothing
// staged holds U+FFFD.
func TestGB18030BadSequenceLate(t *testing.T) {
	for _, tc := range []struct {
		name string
		bad  []byte
	}{
		{"lone lead byte", []byte{0x81}},
		{"four-byte code past U+10FFFF", []byte{0xE3, 0x32, 0x9A, 0x36}},
		{"0xFF", []byte{0xFF}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			good := strings.Repeat(csvLine(cells(goodRow())), 1200) // well past the sniffed 64 KiB
			data := gb18030(t, csvLine(registry.Headers())+good)
			bad := goodRow()
			bad["现居住地详址"] = "广东省深圳市XX号"
			line := gb18030(t, csvLine(cells(bad)))
			line = bytes.Replace(line, []byte("XX"), tc.bad, 1)
			data = append(data, line...)
			data = append(data, gb18030(t, csvLine(cells(goodRow())))...)
			res, st, probs, err := importFile(t, writeFile(t, "late.csv", data))
			if err != nil {
				t.Fatal(err)
			}
			if len(st.people) != 1201 || res.Rejected != 1 || len(probs) != 1 {
				t.Fatalf("staged %d, result %+v, problems %+v", len(st.people), res, probs)
			}
			if p := probs[0]; p.Row != 1202 || p.Column != "现居住地详址" || !strings.Contains(p.Reason, "无法识别") {
				t.Errorf("problem %+v, want row 1202, column 现居住地详址", p)
			}
			for _, p := range st.people {
				if strings.ContainsRune(p.ResidenceAddress+p.Name+p.HukouAddress, utf8.RuneError) {
					t.Fatalf("staged %q", p.ResidenceAddress)
				}
			}
		})
	}
}

// TestReplacementCharRejected: a literal U+FFFD in UTF-8 input, and invalid UTF-8 in a column
// the import ignores, reject the row naming the column.
func TestReplacementCharRejected(t *testing.T) {
	a := goodRow()
	a["姓名"] = "张\ufffd"
	good := strings.Repeat(csvLine(append(cells(goodRow()), "")), 1000) // past the sniffed prefix
	text := csvLine(append(registry.Headers(), "备注")) + csvLine(append(cells(a), "")) + good +
		csvLine(append(cells(goodRow()), "x\xffy"))
	res, st, probs, err := importFile(t, writeFile(t, "fffd.csv", []byte(text)))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.people) != 1000 || res.Rejected != 2 || len(probs) != 2 {
		t.Fatalf("staged %d, result %+v, problems %+v", len(st.people), res, probs)
	}
	if probs[0].Row != 2 || probs[0].Column != "姓名" || probs[1].Row != 1003 || probs[1].Column != "第 13 列" {
		t.Errorf("problems %+v", probs)
	}
	for _, p := range probs {
		if !utf8.ValidString(p.Value) {
			t.Errorf("problem value %q is not UTF-8", p.Value)
		}
	}
}

// TestLongCell: a cell over MaxCellBytes rejects its row naming the column, and the error file
// gets a cut value; a record over MaxRecordBytes stops the import (nothing staged is kept by
// the caller) instead of being read into memory whole.
func TestLongCell(t *testing.T) {
	long := goodRow()
	long["现居住地详址"] = strings.Repeat("很", 100_000) // 300 KB
	text := csvLine(registry.Headers()) + csvLine(cells(long)) + csvLine(cells(goodRow()))
	res, st, probs, err := importFile(t, writeFile(t, "long.csv", []byte(text)))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.people) != 1 || res.Rejected != 1 || len(probs) != 1 || probs[0].Column != "现居住地详址" || probs[0].Row != 2 {
		t.Fatalf("staged %d, result %+v, problems %+v", len(st.people), res, probs)
	}
	var buf bytes.Buffer
	ef, _ := registry.NewErrorFile(&buf)
	if err := ef.Problem(probs[0]); err != nil {
		t.Fatal(err)
	}
	ef.Flush()
	if buf.Len() > 2000 {
		t.Errorf("error file holds %d bytes for one problem", buf.Len())
	}

	huge := goodRow()
	huge["现居住地详址"] = strings.Repeat("x", 3*registry.MaxRecordBytes)
	text = csvLine(registry.Headers()) + csvLine(cells(goodRow())) + csvLine(cells(huge))
	_, _, _, err = importFile(t, writeFile(t, "huge.csv", []byte(text)))
	if yipanqi.ErrorCode(err) != yipanqi.EINVALID || !strings.Contains(yipanqi.ErrorMessage(err), "第 3 行") {
		t.Errorf("import = %v, want EINVALID naming row 3", err)
	}
}

// TestGB18030EncoderWithoutIconv: the export encoder writes the 2022 codes (checked against
// the bytes iconv wrote for the committed fixture).
func TestGB18030EncoderWithoutIconv(t *testing.T) {
	want, err := os.ReadFile("testdata/gb18030-2022.csv")
	if err != nil {
		t.Fatal(err)
	}
	text := csvLine(registry.Headers()) + csvLine(cells(row2022()))
	got, err := registry.GB18030Encoder().Bytes([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("encoded\n% X\nwant\n% X", got, want)
	}
}
