package registry_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"yipanqi"
	"yipanqi/registry"
)

// fuzzImport runs the importer over src and checks what any import of outside input must
// hold: no panic; an error only as EINVALID (the file as a whole) or none; nothing staged
// with U+FFFD or invalid UTF-8; every staged row re-validates to the same person (written
// out as CSV and read back).
func fuzzImport(t *testing.T, src registry.Source, excelDates bool) {
	v := mustValidator(t)
	v.ExcelDates = excelDates
	st := &fakeStager{}
	var probs problemList
	im := &registry.Importer{Validator: v, Stager: st, Problems: &probs}
	res, err := im.Run(context.Background(), src)
	if err != nil {
		if yipanqi.ErrorCode(err) != yipanqi.EINVALID {
			t.Fatalf("Run: %v", err)
		}
		return
	}
	if res.Staged != len(st.people) || res.Rejected+res.Staged != res.Rows {
		t.Fatalf("result %+v, staged %d", res, len(st.people))
	}
	for _, p := range probs {
		if !utf8.ValidString(p.Value) || utf8.RuneCountInString(p.Value) > 101 {
			t.Fatalf("problem value %q", p.Value)
		}
	}
	if len(st.people) == 0 {
		return
	}
	var buf bytes.Buffer
	w, err := registry.NewCSVWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for i := range st.people {
		p := &st.people[i]
		for _, s := range []string{p.Name, p.IDNumber, p.HukouAddress, p.ResidenceAddress, p.Phone, p.HukouCode, p.ResidenceCode} {
			if !utf8.ValidString(s) || strings.ContainsRune(s, utf8.RuneError) {
				t.Fatalf("staged %q", s)
			}
		}
		if err := w.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	back, err := registry.NewCSV(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "back.csv")
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	st2 := &fakeStager{}
	var probs2 problemList
	v2 := mustValidator(t)
	if _, err := (&registry.Importer{Validator: v2, Stager: st2, Problems: &probs2}).Run(context.Background(), back); err != nil || len(probs2) > 0 {
		t.Fatalf("accepted rows do not re-validate: %v %+v", err, probs2)
	}
	if len(st2.people) != len(st.people) {
		t.Fatalf("read back %d of %d people", len(st2.people), len(st.people))
	}
	for i := range st.people {
		if st.people[i] != st2.people[i] {
			t.Fatalf("row %d read back as\n%+v\nwant\n%+v", i, st2.people[i], st.people[i])
		}
	}
}

// FuzzImportCSV: any bytes as a CSV register (UTF-8 or GB18030).
func FuzzImportCSV(f *testing.F) {
	f.Add([]byte(sample()))
	f.Add([]byte("\ufeff" + sample()))
	f.Add(gb18030(f, sample()))
	if b, err := os.ReadFile("testdata/gb18030-2022.csv"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(csvLine(registry.Headers()) + "1,张\ufffd,x\r\n"))
	f.Add([]byte(csvLine(registry.Headers()) + "\"1,\"张\"三\r\n,\r\n"))
	f.Add([]byte("姓名,公民身份号码\r\n\x81\x30\x81\x30,\xfe\x51\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := registry.NewCSV(bytes.NewReader(data), int64(len(data)), "fuzz.csv")
		if err != nil {
			if yipanqi.ErrorCode(err) != yipanqi.EINVALID {
				t.Fatalf("NewCSV: %v", err)
			}
			return
		}
		fuzzImport(t, src, false)
	})
}

// FuzzImportXLSX: any bytes as an .xlsx register. The seeds are real workbooks: the template
// and an export.
func FuzzImportXLSX(f *testing.F) {
	if b, err := os.ReadFile(templateDir + "/流动人口登记表.xlsx"); err == nil {
		f.Add(b)
	}
	var p yipanqi.Person
	if probs, ok := mustValidator(f).Check(mustLayout(f), 2, cells(goodRow()), &p, nil); !ok {
		f.Fatal(probs)
	}
	var buf bytes.Buffer
	w, _ := registry.NewXLSXWriter(&buf)
	w.Write(&p)
	w.Close()
	f.Add(buf.Bytes())
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := registry.NewXLSX(bytes.NewReader(data), "fuzz.xlsx")
		if err != nil {
			if yipanqi.ErrorCode(err) != yipanqi.EINVALID {
				t.Fatalf("NewXLSX: %v", err)
			}
			return
		}
		defer src.Close()
		fuzzImport(t, src, true)
	})
}

// FuzzGB18030: the decoder never fails, turns what it cannot read into U+FFFD and nothing
// else into it (but the code of U+FFFD itself), and what it decodes encodes back to the same
// bytes when it holds no U+FFFD.
func FuzzGB18030(f *testing.F) {
	f.Add([]byte("\xfe\x51\xfe\x59\xa6\xd9\xa8\xbc"))
	f.Add([]byte("\x81\x30\x81\x30\x95\x32\x90\x31"))
	f.Add([]byte("\x81\xff\x80\x84\x31\x87\x30"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var out bytes.Buffer
		dec := registry.GB18030Decoder()
		buf := make([]byte, 7) // small, to exercise ErrShortDst
		src := data
		for {
			n, m, err := dec.Transform(buf, src, true)
			out.Write(buf[:n])
			src = src[m:]
			if err == nil {
				break
			}
			if n == 0 && m == 0 {
				t.Fatalf("no progress: %v", err)
			}
		}
		text := out.Bytes()
		if !utf8.Valid(text) {
			t.Fatalf("decoded to invalid UTF-8: %q", text)
		}
		if bytes.ContainsRune(text, utf8.RuneError) {
			return
		}
		enc, err := registry.GB18030Encoder().Bytes(text)
		if err != nil {
			// Only the codes that 2005 gave to private-use characters that 2022 moved.
			return
		}
		b2 := make([]byte, 4*len(enc)+8)
		n, _, err := registry.GB18030Decoder().Transform(b2, enc, true)
		if err != nil {
			t.Fatal(err)
		}
		if back := b2[:n]; !bytes.Equal(back, text) {
			t.Fatalf("decode(encode(%q)) = %q", text, back)
		}
	})
}
