package storetest

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/sqlstore"
)

// DirectoryFixture returns a small valid directory of province 44: a regulation, an
// institution, and contacts at the province, a city, a county and a township.
func DirectoryFixture() []yipanqi.DirectoryEntry {
	office := func(code, div, name, role, person, phone string) yipanqi.DirectoryEntry {
		return yipanqi.DirectoryEntry{Kind: yipanqi.EntryContact, DivisionCode: code, DivisionName: div,
			Name: name, Role: yipanqi.DutyRole(role), PersonName: person, JobTitle: "职务" + person,
			Phone: phone, Address: div + "某路 1 号"}
	}
	return []yipanqi.DirectoryEntry{
		{Kind: yipanqi.EntryRegulation, Name: "广东省人口与计划生育条例", DocNumber: "",
			IssuedOn: yipanqi.Date{Year: 2021, Month: time.December, Day: 1}, Status: yipanqi.RegulationInForce,
			URL: "https://example.org/reg/1", Text: "全文见链接"},
		{Kind: yipanqi.EntryRegulation, DivisionCode: "44", DivisionName: "广东省", Name: "流动人口服务管理办法（100%试行）",
			DocNumber: "粤卫〔2020〕12号", IssuedOn: yipanqi.Date{Year: 2020, Month: time.March, Day: 5},
			Status: yipanqi.RegulationRepealed, Text: "摘要：……"},
		{Kind: yipanqi.EntryInstitution, DivisionCode: county, DivisionName: "天河区", Name: "天河区妇幼保健院",
			Services: "孕前优生健康检查；避孕药具发放", Phone: "020-01234567", Address: "天河区某路 2 号"},
		office("44", "广东省", "广东省流动人口服务管理办公室", "staff", "陈某某", "020-01000004"),
		office("44", "广东省", "广东省流动人口服务管理办公室", "first_responsible", "王某某", "020-01000001"),
		office("4401", "广州市", "广州市流动人口服务管理办公室", "office_head", "李某某", "020-01000011"),
		office(county, "天河区", "天河区流动人口服务管理办公室", "leader_in_charge", "赵某某", "020-01000021"),
		office(townshipA, "沙河街道", "沙河街道流动人口服务管理站", "staff", "孙某某", "020-01000031-12"),
		office(elsewhere, "宝安区", "宝安区流动人口服务管理办公室", "office_head", "周某某", "0755-01000041"),
	}
}

func mustReplace(t *testing.T, db *sqlstore.DB, province string, version int64, entries []yipanqi.DirectoryEntry) {
	t.Helper()
	if err := db.ReplaceProvinceDirectory(ctx(), yipanqi.DirectoryVersion{Province: province, Version: version}, entries); err != nil {
		t.Fatalf("replace %s v%d: %v", province, version, err)
	}
}

func testDirectoryReplace(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	made := time.Date(2026, 5, 1, 9, 30, 0, 123456000, time.UTC)
	in := DirectoryFixture()
	if err := db.ReplaceProvinceDirectory(ctx(), yipanqi.DirectoryVersion{Province: "44", Version: 3, UpdatedAt: made}, in); err != nil {
		t.Fatal(err)
	}
	v, got, err := db.ProvinceDirectory(ctx(), "44")
	if err != nil {
		t.Fatal(err)
	}
	if want := (yipanqi.DirectoryVersion{Province: "44", Version: 3, UpdatedAt: made, Entries: len(in)}); v != want {
		t.Fatalf("version = %+v, want %+v", v, want)
	}
	if len(got) != len(in) {
		t.Fatalf("%d entries back, want %d", len(got), len(in))
	}
	for i := range in {
		want := in[i]
		want.Province, want.Seq = "44", i+1
		if want.DivisionCode == "" {
			want.DivisionCode = "44"
		}
		if !reflect.DeepEqual(got[i], want) {
			t.Fatalf("entry %d:\n got %+v\nwant %+v", i+1, got[i], want)
		}
	}

	// Another province's directory is held beside it.
	mustReplace(t, db, "45", 1, []yipanqi.DirectoryEntry{{Kind: yipanqi.EntryContact, DivisionCode: "4501",
		DivisionName: "南宁市", Name: "南宁市流动人口服务管理办公室", Role: yipanqi.RoleStaff, PersonName: "黄某某", Phone: "0771-01000001"}})

	// The same version again, or an older one, is refused and changes nothing.
	for _, old := range []int64{3, 2} {
		err := db.ReplaceProvinceDirectory(ctx(), yipanqi.DirectoryVersion{Province: "44", Version: old}, in[:1])
		wantCode(t, err, yipanqi.ECONFLICT)
		if msg := yipanqi.ErrorMessage(err); !strings.Contains(msg, "第 3 版") {
			t.Fatalf("conflict message %q does not name the version held", msg)
		}
	}
	if v, got, err := db.ProvinceDirectory(ctx(), "44"); err != nil || v.Version != 3 || len(got) != len(in) {
		t.Fatalf("after refused replacements: v%d, %d entries, %v; want v3 with %d", v.Version, len(got), err, len(in))
	}

	// A newer version replaces the whole set.
	mustReplace(t, db, "44", 7, in[2:4])
	v, got, err = db.ProvinceDirectory(ctx(), "44")
	if err != nil || v.Version != 7 || v.Entries != 2 || len(got) != 2 || got[0].Name != in[2].Name || got[1].Seq != 2 {
		t.Fatalf("after v7: %+v, %+v, %v", v, got, err)
	}
	if v.UpdatedAt.IsZero() {
		t.Fatal("UpdatedAt not set to now when not given")
	}
	vs, err := db.DirectoryVersions(ctx())
	if err != nil || len(vs) != 2 || vs[0].Province != "44" || vs[1].Province != "45" || vs[1].Version != 1 {
		t.Fatalf("versions = %+v, %v", vs, err)
	}
	if _, err := db.DirectoryVersion(ctx(), "46"); yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
		t.Fatalf("version of a province not held: %v, want ENOTFOUND", err)
	}

	// Each replacement is audited, without the officials' names or phones.
	log, err := db.AuditLog(ctx(), "directory:44@7", 10)
	if err != nil || len(log) != 1 || log[0].Action != "directory.replace" {
		t.Fatalf("audit of v7 = %+v, %v", log, err)
	}
	all, err := db.AuditLog(ctx(), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range all {
		for _, secret := range []string{"王某某", "020-01000001"} {
			if strings.Contains(e.Object+e.Reason, secret) {
				t.Fatalf("audit entry %+v holds %q", e, secret)
			}
		}
	}
}

func testDirectoryInvalid(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	mobile := DirectoryFixture()
	mobile[3].Phone = "13800138000"
	other := DirectoryFixture()
	other[5].DivisionCode = "3501"
	noRole := DirectoryFixture()
	noRole[4].Role = "boss"
	noText := DirectoryFixture()
	noText[0].URL, noText[0].Text = "", " "
	for _, tc := range []struct {
		name     string
		province string
		version  int64
		entries  []yipanqi.DirectoryEntry
		field    string
		msg      string
	}{
		{"mobile phone", "44", 1, mobile, "Phone", "第 4 条"},
		{"division of another province", "44", 1, other, "DivisionCode", "不属于本省"},
		{"unknown role", "44", 1, noRole, "Role", "第 5 条"},
		{"regulation without text or link", "44", 1, noText, "Text", "至少填写一项"},
		{"version 0", "44", 0, DirectoryFixture(), "version", "正整数"},
		{"bad province", "4", 1, DirectoryFixture(), "province", "省份代码"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := db.ReplaceProvinceDirectory(ctx(), yipanqi.DirectoryVersion{Province: tc.province, Version: tc.version}, tc.entries)
			wantCode(t, err, yipanqi.EINVALID)
			if f := yipanqi.ErrorField(err); f != tc.field {
				t.Fatalf("field = %q, want %q (%v)", f, tc.field, err)
			}
			if msg := yipanqi.ErrorMessage(err); !strings.Contains(msg, tc.msg) {
				t.Fatalf("message %q does not contain %q", msg, tc.msg)
			}
		})
	}
	if vs, err := db.DirectoryVersions(ctx()); err != nil || len(vs) != 0 {
		t.Fatalf("after refused input: %+v, %v; want nothing held", vs, err)
	}
	if _, total, err := db.Directory(ctx(), yipanqi.DirectoryFilter{}); err != nil || total != 0 {
		t.Fatalf("after refused input: %d entries, %v", total, err)
	}
}

func testDirectoryQuery(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	in := DirectoryFixture()
	mustReplace(t, db, "44", 1, in)
	mustReplace(t, db, "45", 1, []yipanqi.DirectoryEntry{{Kind: yipanqi.EntryContact, DivisionCode: "4501",
		DivisionName: "南宁市", Name: "南宁市流动人口服务管理办公室", Role: yipanqi.RoleStaff, PersonName: "黄某某", Phone: "0771-01000001"}})
	names := func(es []yipanqi.DirectoryEntry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.Province+":"+e.Name+":"+e.PersonName)
		}
		return out
	}
	// want lists the fixture's entries (by index; 100 for the one of province 45) a filter selects.
	for _, tc := range []struct {
		name string
		f    yipanqi.DirectoryFilter
		want []int
	}{
		{"all", yipanqi.DirectoryFilter{}, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 100}},
		{"province", yipanqi.DirectoryFilter{Province: "45"}, []int{100}},
		{"kind", yipanqi.DirectoryFilter{Kind: yipanqi.EntryRegulation}, []int{0, 1}},
		{"level county", yipanqi.DirectoryFilter{Level: yipanqi.LevelCounty}, []int{2, 6, 8}},
		{"level city, contacts", yipanqi.DirectoryFilter{Level: yipanqi.LevelCity, Kind: yipanqi.EntryContact}, []int{5, 100}},
		{"division subtree", yipanqi.DirectoryFilter{Division: "4401"}, []int{2, 5, 6, 7}},
		{"text in name", yipanqi.DirectoryFilter{Text: "天河区"}, []int{2, 6}},
		{"text in person", yipanqi.DirectoryFilter{Text: "孙某"}, []int{7}},
		{"percent is literal", yipanqi.DirectoryFilter{Text: "100%"}, []int{1}},
		{"underscore is literal", yipanqi.DirectoryFilter{Text: "_"}, nil},
		{"text and province", yipanqi.DirectoryFilter{Text: "办公室", Province: "44", Level: yipanqi.LevelProvince}, []int{3, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, total, err := db.Directory(ctx(), tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, i := range tc.want {
				if i == 100 {
					want = append(want, "45:南宁市流动人口服务管理办公室:黄某某")
				} else {
					want = append(want, "44:"+in[i].Name+":"+in[i].PersonName)
				}
			}
			if !reflect.DeepEqual(names(got), want) || total != len(want) {
				t.Fatalf("got %d %q\nwant %d %q", total, names(got), len(want), want)
			}
		})
	}
	// Paging: pages in order, and the total of all of them.
	var paged []string
	for off := 0; off < 20; off += 4 {
		got, total, err := db.Directory(ctx(), yipanqi.DirectoryFilter{Offset: off, Limit: 4})
		if err != nil || total != 10 {
			t.Fatalf("page at %d: total %d, %v", off, total, err)
		}
		paged = append(paged, names(got)...)
	}
	all, _, _ := db.Directory(ctx(), yipanqi.DirectoryFilter{})
	if !reflect.DeepEqual(paged, names(all)) {
		t.Fatalf("pages %q\n!= all %q", paged, names(all))
	}
	for _, f := range []yipanqi.DirectoryFilter{{Province: "4"}, {Kind: "x"}, {Level: 5}, {Division: "12a"},
		{Offset: -1}, {Limit: 1001}} {
		if _, _, err := db.Directory(ctx(), f); yipanqi.ErrorCode(err) != yipanqi.EINVALID {
			t.Fatalf("filter %+v: %v, want EINVALID", f, err)
		}
	}
}

func testDirectoryHandbook(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	if _, err := db.Handbook(ctx(), "44"); yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
		t.Fatalf("handbook of nothing: %v, want ENOTFOUND", err)
	}
	mustReplace(t, db, "44", 2, DirectoryFixture())
	h, err := db.Handbook(ctx(), "44")
	if err != nil {
		t.Fatal(err)
	}
	if h.Version.Version != 2 || len(h.Regulations) != 2 || len(h.Institutions) != 1 {
		t.Fatalf("handbook: v%d, %d regulations, %d institutions", h.Version.Version, len(h.Regulations), len(h.Institutions))
	}
	// Print the tree as a reader of the handbook meets it.
	var b strings.Builder
	var walk func(u *yipanqi.HandbookUnit, depth int)
	walk = func(u *yipanqi.HandbookUnit, depth int) {
		b.WriteString(strings.Repeat("  ", depth) + u.Code + " " + u.Name + ":")
		for _, c := range u.Contacts {
			b.WriteString(" " + c.Role.Label() + c.PersonName)
		}
		b.WriteString("\n")
		for _, c := range u.Children {
			walk(c, depth+1)
		}
	}
	walk(h.Root, 0)
	want := `44 广东省: 第一责任人王某某 专（兼）职人员陈某某
  4401 广州市: 机构负责人李某某
    440106 天河区: 分管领导赵某某
      440106001 沙河街道: 专（兼）职人员孙某某
  4403 :
    440305 宝安区: 机构负责人周某某
`
	if b.String() != want {
		t.Fatalf("handbook tree:\n%s\nwant:\n%s", b.String(), want)
	}
}
