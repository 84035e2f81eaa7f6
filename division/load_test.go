package division_test

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"yipanqi"
	"yipanqi/division"
)

// A small "newer release": one province with a district the embedded data does not have, in
// the files' own format. Some files are plain, some gzipped; no village file.
var newer = map[string]string{
	"provinces.csv": "code,name\n44,\"广东省\"\n",
	"cities.csv":    "code,name,provinceCode\n4401,\"广州市\",44\n4490,\"省直辖县级行政区划\",44\n",
	// unsorted, with CRLF line ends, a byte-order mark and a doubled quote
	"areas.csv.gz": "\ufeffcode,name,cityCode,provinceCode\r\n440199,\"新设\"\"试验\"\"区\",4401,44\r\n440106,\"天河区\",4401,44\r\n449001,\"新城市\",4490,44\r\n",
	"streets.csv":  "code,name,areaCode,provinceCode,cityCode\n440199001,\"一号街道\",440199,44,4401\n\n",
}

// writeDir writes files into a new temporary directory, gzipping those named *.gz.
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		data := []byte(text)
		if strings.HasSuffix(name, ".gz") {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			if _, err := zw.Write(data); err != nil {
				t.Fatal(err)
			}
			if err := zw.Close(); err != nil {
				t.Fatal(err)
			}
			data = buf.Bytes()
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// with returns a copy of base with some files replaced (an empty text removes the file).
func with(base map[string]string, changes map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range changes {
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

func TestLoadDirReplacesData(t *testing.T) {
	tree, err := division.LoadDir(writeDir(t, newer))
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	if tree.Len() != 7 {
		t.Errorf("Len() = %d, want 7", tree.Len())
	}
	tests := []struct {
		code, name, full string
	}{
		{"440199", `新设"试验"区`, `广东省广州市新设"试验"区`},
		{"440199001", "一号街道", `广东省广州市新设"试验"区一号街道`},
		{"449001", "新城市", "广东省新城市"},
	}
	for _, tt := range tests {
		d, err := tree.Lookup(tt.code)
		if err != nil || d.Name != tt.name {
			t.Errorf("Lookup(%s) = %+v, %v; want name %q", tt.code, d, err, tt.name)
		}
		if full, err := tree.FullName(tt.code); err != nil || full != tt.full {
			t.Errorf("FullName(%s) = %q, %v; want %q", tt.code, full, err, tt.full)
		}
	}
	kids, err := tree.Children("4401")
	if err != nil || len(kids) != 2 || kids[0].Code != "440106" || kids[1].Code != "440199" {
		t.Errorf("Children(4401) = %v, %v; want 440106, 440199 (sorted)", kids, err)
	}
	// The embedded data's divisions are gone: the directory replaced them.
	for _, code := range []string{"4403", "35", "440106001"} {
		if tree.Exists(code) {
			t.Errorf("Exists(%s) after loading the newer data", code)
		}
	}
	_, err = tree.Lookup("440106001001")
	if yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND || !strings.Contains(yipanqi.ErrorMessage(err), "未加载村级") {
		t.Errorf("village lookup without village data: %v", err)
	}
	if tree.HasVillages("44") {
		t.Error("HasVillages(44) without village data")
	}
}

func TestLoadDirVillages(t *testing.T) {
	files := with(newer, map[string]string{
		"villages-pprd.csv": "code,name,streetCode,provinceCode,cityCode,areaCode\n440199001001,\"一村\",440199001,44,4401,440199\n",
	})
	tree, err := division.LoadDir(writeDir(t, files))
	if err != nil {
		t.Fatal(err)
	}
	if full, err := tree.FullName("440199001001"); err != nil || full != `广东省广州市新设"试验"区一号街道一村` {
		t.Errorf("FullName = %q, %v", full, err)
	}
	if !tree.HasVillages("44") {
		t.Error("HasVillages(44) = false")
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name    string
		changes map[string]string
		raw     map[string]string // files written as they are, not gzipped
		want    []string          // texts the message must contain
	}{
		{"missing parent", map[string]string{
			"streets.csv": "code,name,areaCode,provinceCode,cityCode\n440199001,\"一号街道\",440199,44,4401\n440188002,\"孤儿街道\",440188,44,4401\n"},
			nil, []string{"streets.csv", "第 3 行", "440188002", "440188", "不存在"}},
		{"missing parent in unsorted file", map[string]string{
			"cities.csv": "code,name,provinceCode\n4490,\"省直辖县级行政区划\",44\n4501,\"南宁市\",45\n4401,\"广州市\",44\n"},
			nil, []string{"cities.csv", "第 3 行", "4501"}},
		{"too few columns", map[string]string{
			"cities.csv": "code,name,provinceCode\n4401,\"广州市\"\n"},
			nil, []string{"cities.csv", "第 2 行", "格式错误", "3 列"}},
		{"bad code", map[string]string{
			"provinces.csv": "code,name\n44,\"广东省\"\n4x,\"某省\"\n"},
			nil, []string{"provinces.csv", "第 3 行", "4x", "2 位数字"}},
		{"code of wrong level", map[string]string{
			"cities.csv": "code,name,provinceCode\n4401,\"广州市\",44\n449,\"某市\",44\n4490,\"省直辖县级行政区划\",44\n"},
			nil, []string{"cities.csv", "第 3 行", "4 位数字"}},
		{"empty name", map[string]string{
			"provinces.csv": "code,name\n44,\"\"\n"},
			nil, []string{"provinces.csv", "第 2 行", "名称为空"}},
		{"parent column disagrees with code", map[string]string{
			"streets.csv": "code,name,areaCode,provinceCode,cityCode\n440199001,\"一号街道\",440106,44,4401\n"},
			nil, []string{"streets.csv", "第 2 行", "areaCode"}},
		{"unclosed quote", map[string]string{
			"provinces.csv": "code,name\n44,\"广东省\n"},
			nil, []string{"provinces.csv", "第 2 行", "引号"}},
		{"not UTF-8", map[string]string{
			"provinces.csv": "code,name\n44,\"\xb9\xe3\xb6\xab\xca\xa1\"\n"},
			nil, []string{"provinces.csv", "第 2 行", "UTF-8"}},
		{"duplicate code", map[string]string{
			"cities.csv": "code,name,provinceCode\n4401,\"广州市\",44\n4490,\"省直辖县级行政区划\",44\n4401,\"又一个广州市\",44\n"},
			nil, []string{"cities.csv", "第 4 行", "4401", "重复"}},
		{"missing column", map[string]string{
			"cities.csv": "code,name\n4401,\"广州市\"\n"},
			nil, []string{"cities.csv", "第 1 行", "provinceCode"}},
		{"empty file", map[string]string{"provinces.csv": "\n"}, nil,
			[]string{"provinces.csv", "空文件"}},
		{"missing file", map[string]string{"streets.csv": ""},
			nil, []string{"缺少文件 streets.csv"}},
		{"plain and gzipped both", map[string]string{"areas.csv": newer["areas.csv.gz"]},
			nil, []string{"areas.csv", "只留一个"}},
		{"damaged gzip", map[string]string{"areas.csv.gz": ""}, map[string]string{"areas.csv.gz": "\x1f\x8b\x08\x00garbage"},
			[]string{"areas.csv.gz", "gzip"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeDir(t, with(newer, tt.changes))
			for name, text := range tt.raw {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			tree, err := division.LoadDir(dir)
			if err == nil {
				t.Fatalf("LoadDir succeeded with %d divisions", tree.Len())
			}
			if code := yipanqi.ErrorCode(err); code != yipanqi.EINVALID {
				t.Errorf("error code %q (%v), want %q", code, err, yipanqi.EINVALID)
			}
			msg := yipanqi.ErrorMessage(err)
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
		})
	}
	if _, err := division.LoadDir(filepath.Join(t.TempDir(), "nope")); yipanqi.ErrorCode(err) != yipanqi.EINVALID {
		t.Errorf("LoadDir(missing dir): %v, want EINVALID", err)
	}
}

// TestEmbeddedMatchesSource checks that the embedded files round-trip through LoadDir: a copy
// of them in a directory, gzipped or not, loads to the same tree.
func TestEmbeddedMatchesLoadDir(t *testing.T) {
	want := MustTree(t)
	src := filepath.Join("data")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".csv.gz") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		name := e.Name()
		if name == "provinces.csv.gz" { // one plain file, to load both kinds
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if _, err := buf.ReadFrom(zr); err != nil {
				t.Fatal(err)
			}
			data, name = buf.Bytes(), "provinces.csv"
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := division.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Len() != want.Len() {
		t.Fatalf("LoadDir: %d divisions, Load: %d", got.Len(), want.Len())
	}
	for _, code := range []string{"44", "440106001001", "533423207209", "659001"} {
		a, errA := got.FullName(code)
		b, errB := want.FullName(code)
		if a != b || errA != nil || errB != nil {
			t.Errorf("FullName(%s): %q %v vs %q %v", code, a, errA, b, errB)
		}
	}
}
