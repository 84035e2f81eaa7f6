package directory_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"yipanqi"
	"yipanqi/directory"
	"yipanqi/division"
	"yipanqi/internal/xlsxdim"
)

// go test ./directory -run TestTemplate -update rewrites the shipped template.
var update = flag.Bool("update", false, "rewrite templates/名录模板.xlsx")

var (
	treeOnce sync.Once
	tree     *division.Tree
	treeErr  error
)

func mustTree(t *testing.T) *division.Tree {
	t.Helper()
	treeOnce.Do(func() { tree, treeErr = division.Load() })
	if treeErr != nil {
		t.Fatal(treeErr)
	}
	return tree
}

// fictional is the form of every generated phone: an area code and a local number beginning
// with 0, which no subscriber line has.
var fictional = regexp.MustCompile(`^0\d{2,3}-0\d{7}$`)

func TestSeed(t *testing.T) {
	tr := mustTree(t)
	for _, p := range yipanqi.RegionCodes() {
		t.Run(p, func(t *testing.T) {
			entries, err := directory.Seed(tr, p, directory.SeedOptions{})
			if err != nil {
				t.Fatal(err)
			}
			levels := map[yipanqi.Level]int{}
			roles := map[yipanqi.DutyRole]int{}
			kinds := map[yipanqi.EntryKind]int{}
			phones := map[string]bool{}
			for i := range entries {
				e := &entries[i]
				if errs := e.Check(p); len(errs) > 0 {
					t.Fatalf("entry %d %+v: %v", i+1, e, errs[0])
				}
				if !tr.Exists(e.DivisionCode) {
					t.Fatalf("entry %d: division %s does not exist", i+1, e.DivisionCode)
				}
				if d, _ := tr.Lookup(e.DivisionCode); d.Name != e.DivisionName {
					t.Fatalf("entry %d: division name %q, the data says %q", i+1, e.DivisionName, d.Name)
				}
				if e.Note != directory.DemoNote {
					t.Fatalf("entry %d not marked as demo data: %q", i+1, e.Note)
				}
				if e.Phone != "" {
					if !fictional.MatchString(e.Phone) || phones[e.Phone] {
						t.Fatalf("entry %d: phone %q not a unique fictional number", i+1, e.Phone)
					}
					phones[e.Phone] = true
				}
				if e.Kind == yipanqi.EntryContact {
					if !strings.HasSuffix(e.PersonName, "某某") || !strings.HasPrefix(e.Name, e.DivisionName) {
						t.Fatalf("entry %d: contact %q at %q", i+1, e.PersonName, e.Name)
					}
					levels[e.Level()]++
					roles[e.Role]++
				}
				kinds[e.Kind]++
			}
			for _, lv := range []yipanqi.Level{yipanqi.LevelProvince, yipanqi.LevelCity, yipanqi.LevelCounty, yipanqi.LevelTownship} {
				if levels[lv] == 0 && !(p == "50" && lv == yipanqi.LevelCity) { // 重庆's cities are placeholders
					t.Errorf("no contact at level %s", lv.Label())
				}
			}
			for _, r := range yipanqi.DutyRoles() {
				if roles[r] == 0 {
					t.Errorf("no contact as %s", r.Label())
				}
			}
			if kinds[yipanqi.EntryRegulation] == 0 || kinds[yipanqi.EntryInstitution] == 0 {
				t.Errorf("kinds = %v", kinds)
			}
			again, _ := directory.Seed(tr, p, directory.SeedOptions{})
			if !reflect.DeepEqual(entries, again) {
				t.Error("two runs give different directories")
			}
		})
	}
	gd, _ := directory.Seed(tr, "44", directory.SeedOptions{})
	found := false
	for _, e := range gd {
		found = found || e.Name == "天河区流动人口服务管理办公室" && e.DivisionCode == "440106"
	}
	if !found {
		t.Error("no 天河区流动人口服务管理办公室 at 440106")
	}
	none, _ := directory.Seed(tr, "44", directory.SeedOptions{TownshipsPerCounty: -1})
	for _, e := range none {
		if e.Level() == yipanqi.LevelTownship {
			t.Fatalf("TownshipsPerCounty -1 still gives %+v", e)
		}
	}
	if _, err := directory.Seed(tr, "11", directory.SeedOptions{}); yipanqi.ErrorCode(err) != yipanqi.EINVALID {
		t.Fatalf("province outside the region: %v", err)
	}
}

func TestWriteRead(t *testing.T) {
	tr := mustTree(t)
	entries, err := directory.Seed(tr, "45", directory.SeedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := directory.Write(&buf, entries); err != nil {
		t.Fatal(err)
	}
	regulations := 0
	for _, e := range entries {
		if e.Kind == yipanqi.EntryRegulation {
			regulations++
		}
	}
	xlsxdim.Check(t, buf.Bytes(), regulations+1) // every sheet declares its real dimension
	back, probs, err := directory.Read(&buf, "x.xlsx", "45", tr)
	if err != nil || len(probs) > 0 {
		t.Fatalf("read back: %v %v", err, probs)
	}
	// Read gives the sheets' order: regulations, institutions, contacts.
	var want []yipanqi.DirectoryEntry
	for _, k := range yipanqi.EntryKinds() {
		for _, e := range entries {
			if e.Kind == k {
				want = append(want, e)
			}
		}
	}
	if !reflect.DeepEqual(back, want) {
		for i := range back {
			if i < len(want) && !reflect.DeepEqual(back[i], want[i]) {
				t.Fatalf("entry %d:\n got %+v\nwant %+v", i+1, back[i], want[i])
			}
		}
		t.Fatalf("%d entries back, want %d", len(back), len(want))
	}
}

// sheetRows builds a workbook from sheets of rows.
func workbook(t *testing.T, sheets map[string][][]string) *bytes.Buffer {
	t.Helper()
	f := excelize.NewFile()
	first := true
	for name, rows := range sheets {
		if first {
			f.SetSheetName("Sheet1", name)
			first = false
		} else if _, err := f.NewSheet(name); err != nil {
			t.Fatal(err)
		}
		for i, r := range rows {
			for j, v := range r {
				cell, _ := excelize.CoordinatesToCellName(j+1, i+1)
				f.SetCellStr(name, cell, v)
			}
		}
	}
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return &buf
}

func TestReadProblems(t *testing.T) {
	tr := mustTree(t)
	buf := workbook(t, map[string][][]string{
		"政策法规": {
			{"广东省名录"}, // a title row above the header
			{"标题", "发布日期", "状态", "全文或摘要"},
			{"条例", "2021-13-01", "现行有效", "摘要"},
			{"办法", "2021/3/1", "作废", ""},
			{"", "", "", ""},
			{"通知", "44256", "已废止", "摘要"},
		},
		"服务机构": {
			{"区划代码", "机构名称", "电话", "地址"}, // no 服务项目
		},
		"联系方式": {
			{"职责", "工作机构", "区划代码", "姓名", "电话"}, // another order
			{"办公室主任", "天河区流动人口服务管理办公室", "440106", "张某某", "13800138000"},
			{"老板", "某办公室", "350102", "李某某", "020-01234567"},
			{"工作人员", "某站", "440106999", "王某某", "020-01234567"},
			{"科长", "天河区流动人口服务管理办公室", "440106", "赵某某", "020-01234567-12"},
		},
	})
	entries, probs, err := directory.Read(buf, "x.xlsx", "44", tr)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range probs {
		got = append(got, p.String())
	}
	want := []string{
		"工作表“政策法规”第 3 行“发布日期”列：发布日期“2021-13-01”无效：应为 2021-11-25 这样的日期",
		"工作表“政策法规”第 4 行“状态”列：状态“作废”无效：应为 现行有效、已修订 或 已废止",
		"工作表“政策法规”第 4 行“全文或摘要”列：全文或摘要与链接至少填写一项",
		"工作表“服务机构”第 1 行“服务项目”列：缺少必填列“服务项目”",
		"工作表“联系方式”第 2 行“电话”列：电话“13800138000”是手机号：名录对外公开，只能填写办公电话（带区号的固定电话或 12320 等服务号码）",
		"工作表“联系方式”第 3 行“职责”列：职责“老板”无效：应为 第一责任人、分管领导、机构负责人 或 专（兼）职人员",
		"工作表“联系方式”第 3 行“区划代码”列：行政区划代码“350102”不属于本省（44）",
	}
	// The township 440106999 does not exist: the message is the division package's.
	if len(probs) != len(want)+1 || probs[len(want)].Row != 4 || probs[len(want)].Column != "区划代码" {
		t.Fatalf("problems:\n%s", strings.Join(got, "\n"))
	}
	if !reflect.DeepEqual(got[:len(want)], want) {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The good rows are read as they should be: the serial is a date, aliases are roles,
	// names come from the division data.
	var last, reg yipanqi.DirectoryEntry
	for _, e := range entries {
		if e.Kind == yipanqi.EntryContact {
			last = e
		}
		if e.Name == "通知" {
			reg = e
		}
	}
	if reg.IssuedOn != (yipanqi.Date{Year: 2021, Month: 3, Day: 1}) || reg.Status != yipanqi.RegulationRepealed {
		t.Fatalf("regulation read as %+v", reg)
	}
	if last.Role != yipanqi.RoleOfficeHead || last.DivisionName != "天河区" || last.Phone != "020-01234567-12" {
		t.Fatalf("contact read as %+v", last)
	}

	// A workbook without the contacts sheet would wipe the province's contacts: refused.
	_, probs, err = directory.Read(workbook(t, map[string][][]string{
		"政策法规": {{"标题", "发布日期", "状态"}}, "服务机构": {{"区划代码", "机构名称", "服务项目", "电话", "地址"}}}), "y.xlsx", "44", tr)
	if err != nil || len(probs) != 1 || probs[0].Sheet != "联系方式" || probs[0].Row != 0 {
		t.Fatalf("missing sheet: %v %+v", err, probs)
	}
	if _, _, err := directory.Read(strings.NewReader("not a workbook"), "z.xlsx", "44", tr); yipanqi.ErrorCode(err) != yipanqi.EINVALID ||
		!strings.Contains(yipanqi.ErrorMessage(err), "z.xlsx") {
		t.Fatalf("not a workbook: %v", err)
	}
}

func TestTemplate(t *testing.T) {
	path := filepath.Join("..", "templates", "名录模板.xlsx")
	var buf bytes.Buffer
	if err := directory.WriteTemplate(&buf); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	shipped, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./directory -run TestTemplate -update)", err)
	}
	cells := func(b []byte) map[string][][]string {
		f, err := excelize.OpenReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		m := map[string][][]string{}
		for _, s := range f.GetSheetList() {
			m[s], _ = f.GetRows(s)
		}
		return m
	}
	xlsxdim.Check(t, shipped, 2)
	if !reflect.DeepEqual(cells(shipped), cells(buf.Bytes())) {
		t.Fatalf("%s is stale: run go test ./directory -run TestTemplate -update", path)
	}
	entries, probs, err := directory.Read(bytes.NewReader(shipped), "名录模板.xlsx", "44", mustTree(t))
	if err != nil || len(probs) > 0 || !reflect.DeepEqual(entries, directory.Example()) {
		t.Fatalf("template reads as %+v, %v, %v", entries, probs, err)
	}
}

// TestReadStreams: a small workbook whose rows each reach the last column (XFD) unpacks to
// 16,384 cells a row; Read streams the rows, so its heap stays small where reading whole
// sheets (GetRows) held every row at once (about 0.5 GB here).
func TestReadStreams(t *testing.T) {
	tr := mustTree(t)
	entries, err := directory.Seed(tr, "45", directory.SeedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var contacts []yipanqi.DirectoryEntry
	for _, e := range entries {
		if e.Kind == yipanqi.EntryContact {
			contacts = append(contacts, e)
		}
	}
	for len(contacts) < 2000 {
		contacts = append(contacts, contacts...)
	}
	contacts = contacts[:2000]
	var buf bytes.Buffer
	if err := directory.Write(&buf, contacts); err != nil {
		t.Fatal(err)
	}
	// The same rows, streamed into a new workbook with a cell in the last column of each.
	src, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	f := excelize.NewFile()
	for i, name := range []string{directory.SheetRegulations, directory.SheetInstitutions, directory.SheetContacts} {
		if i == 0 {
			f.SetSheetName("Sheet1", name)
		} else {
			f.NewSheet(name)
		}
		rows, _ := src.GetRows(name)
		if name != directory.SheetContacts {
			header := make([]any, len(rows[0]))
			for j, v := range rows[0] {
				header[j] = v
			}
			f.SetSheetRow(name, "A1", &header)
			continue
		}
		sw, err := f.NewStreamWriter(name)
		if err != nil {
			t.Fatal(err)
		}
		for r, row := range rows {
			cells := make([]any, excelize.MaxColumns)
			for j, v := range row {
				cells[j] = v
			}
			if r > 0 {
				cells[excelize.MaxColumns-1] = "x"
			}
			if err := sw.SetRow(fmt.Sprintf("A%d", r+1), cells); err != nil {
				t.Fatal(err)
			}
		}
		if err := sw.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	src.Close()
	buf.Reset()
	if _, err := f.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f.Close()
	t.Logf("workbook: %d bytes", buf.Len())

	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	got, probs, err := directory.Read(bytes.NewReader(buf.Bytes()), "big.xlsx", "45", tr)
	close(stop)
	<-done
	if err != nil || len(probs) > 0 || len(got) != len(contacts) {
		t.Fatalf("read %d entries, %d problems (%v), err %v", len(got), len(probs), probs[:min(3, len(probs))], err)
	}
	t.Logf("peak heap %d MB", peak.Load()>>20)
	if peak.Load() > 200<<20 {
		t.Errorf("peak heap %d MB reading a %d KB workbook: rows are not streamed", peak.Load()>>20, buf.Len()>>10)
	}
}

// TestReadLimits: past MaxProblems problems reading stops with one more saying so.
func TestReadLimits(t *testing.T) {
	rows := [][]string{{"区划代码", "机构名称", "服务项目", "电话", "地址"}}
	for range directory.MaxProblems + 50 {
		rows = append(rows, []string{"4501", "某机构", "服务", "not a phone", "某地"})
	}
	_, probs, err := directory.Read(workbook(t, map[string][][]string{"服务机构": rows}), "x.xlsx", "45", mustTree(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(probs) != directory.MaxProblems+1 || !strings.Contains(probs[len(probs)-1].Message, "问题超过") {
		t.Fatalf("%d problems, last %+v", len(probs), probs[len(probs)-1])
	}
}
