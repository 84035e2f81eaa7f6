package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"yipanqi"
)

// directoryRoutes are 名录: the region's directory (S1.4) — regulations, service
// institutions and the offices' contacts at four levels — searchable without sign-in, and
// each province's printable contact handbook (通讯手册). They are public: a visitor who is
// not signed in gets the same layout with no navigation and no user; a signed-in user keeps
// their navigation. The directory holds office contacts only (docs/directory.md), so nothing
// here is personal data to audit or mask.
func (a *App) directoryRoutes() []route {
	return []route{
		{pattern: "GET /directory", nav: "名录", public: true, handle: a.directory},
		{pattern: "GET /directory/handbook/{province}", public: true, handle: a.handbook},
	}
}

// regionProvinces are the 11 provinces of the region, in code order.
var regionProvinces = func() []yipanqi.Province {
	ps := yipanqi.RegionProvinces()
	slices.SortFunc(ps, func(a, b yipanqi.Province) int { return strings.Compare(a.Code, b.Code) })
	return ps
}()

// provinceFullName is the full name of a province of the region, or its code.
func provinceFullName(code string) string {
	if p, ok := yipanqi.RegionProvince(code); ok {
		return p.FullName
	}
	return code
}

// directoryLine is one entry as the list shows it.
type directoryLine struct {
	yipanqi.DirectoryEntry
	KindLabel, LevelLabel, Province, RoleLabel, StatusLabel, Issued string
}

// directoryVersion is one province's directory as held: its version and handbook link.
type directoryVersion struct {
	Name, HandbookURL, UpdatedAt string
	Version                      int64
	Entries                      int
}

// directoryPage is what templates/app/directory.html renders.
type directoryPage struct {
	Fields   []Field
	Rows     []directoryLine
	Pager    Pager
	Versions []directoryVersion
	Searched bool
}

var directoryLevels = []yipanqi.Option{{Value: "1", Label: "省级"}, {Value: "2", Label: "市级"}, {Value: "3", Label: "县级"}, {Value: "4", Label: "乡镇（街道）级"}}

// directory is the search over the whole region's directory: by province, level, kind and
// text, paged; and the provinces whose directory the node holds, with their handbooks.
func (a *App) directory(w http.ResponseWriter, r *http.Request) {
	ctx, q := r.Context(), r.URL.Query()
	page, offset := pageOf(r)
	provinces := make([]yipanqi.Option, len(regionProvinces))
	for i, p := range regionProvinces {
		provinces[i] = yipanqi.Option{Value: p.Code, Label: p.FullName}
	}
	kinds := []yipanqi.Option{}
	for _, k := range yipanqi.EntryKinds() {
		kinds = append(kinds, yipanqi.Option{Value: string(k), Label: k.Label()})
	}
	fe := FormErrors{}
	f := yipanqi.DirectoryFilter{Province: q.Get("province"), Kind: yipanqi.EntryKind(q.Get("kind")),
		Text: strings.TrimSpace(q.Get("q")), Offset: offset, Limit: PageSize}
	if v := q.Get("level"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			fe.Set("level", "层级“"+v+"”无效")
		}
		f.Level = yipanqi.Level(n)
	}
	if msg := tooLong("关键词", f.Text, 50); msg != "" {
		fe.Set("q", msg)
	}
	p := directoryPage{Searched: len(q) > 0}
	var rows []yipanqi.DirectoryEntry
	total := 0
	if !fe.Any() {
		var err error
		rows, total, err = a.cfg.Store.Directory(ctx, f)
		switch {
		case yipanqi.ErrorCode(err) == yipanqi.EINVALID:
			fe.Add(err, "")
		case err != nil:
			a.fail(w, r, err)
			return
		}
	}
	p.Fields = []Field{
		{Name: "province", Label: "省份", Input: "select", Options: provinces, Value: q.Get("province"), Error: fe["province"]},
		{Name: "level", Label: "层级", Input: "select", Options: directoryLevels, Value: q.Get("level"), Error: fe["level"]},
		{Name: "kind", Label: "类别", Input: "select", Options: kinds, Value: q.Get("kind"), Error: fe["kind"]},
		{Name: "q", Label: "关键词", Input: "text", Value: q.Get("q"), MaxLen: 50, Error: fe["q"],
			Hint: "名称、文号、服务项目、姓名或职务"},
	}
	for _, e := range rows {
		l := directoryLine{DirectoryEntry: e, KindLabel: e.Kind.Label(), LevelLabel: e.Level().Label(),
			Province: provinceFullName(e.Province), RoleLabel: e.Role.Label(), StatusLabel: e.Status.Label()}
		if !e.IssuedOn.IsZero() {
			l.Issued = e.IssuedOn.String()
		}
		p.Rows = append(p.Rows, l)
	}
	keep := url.Values{}
	for _, k := range []string{"province", "level", "kind", "q"} {
		if v := q.Get(k); v != "" {
			keep.Set(k, v)
		}
	}
	p.Pager = a.pager("/directory", keep, page, total)
	versions, err := a.cfg.Store.DirectoryVersions(ctx)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	for _, v := range versions {
		p.Versions = append(p.Versions, directoryVersion{Name: provinceFullName(v.Province), Version: v.Version,
			Entries: v.Entries, UpdatedAt: dateText(v.UpdatedAt), HandbookURL: a.url("/directory/handbook/" + v.Province)})
	}
	status := http.StatusOK
	if fe.Any() {
		status = http.StatusUnprocessableEntity
	}
	a.renderStatus(w, r, status, "directory", p)
}

// handbookUnit is a division of the handbook with its contacts, named for print.
type handbookUnit struct {
	Code, Name, Level string
	Depth             int // 0 for the province: the heading level below the sections
	Contacts          []directoryLine
	Children          []*handbookUnit
}

// handbookPage is what templates/app/directory_handbook.html renders.
type handbookPage struct {
	Province, Title, UpdatedAt, Printed string
	Version                             int64
	Regulations, Institutions           []directoryLine
	Root                                *handbookUnit
	BackURL                             string
}

// handbook is a province's printable contact handbook (通讯手册), A4.
func (a *App) handbook(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("province")
	if len(code) != 2 || !yipanqi.ValidDivisionCode(code) {
		a.failStatus(w, r, http.StatusNotFound, "未找到该省份的通讯手册。")
		return
	}
	h, err := a.cfg.Store.Handbook(r.Context(), code)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	line := func(e yipanqi.DirectoryEntry) directoryLine {
		l := directoryLine{DirectoryEntry: e, KindLabel: e.Kind.Label(), RoleLabel: e.Role.Label(), StatusLabel: e.Status.Label()}
		if !e.IssuedOn.IsZero() {
			l.Issued = e.IssuedOn.String()
		}
		return l
	}
	name := provinceFullName(code)
	p := handbookPage{Province: name, Title: name + "流动人口服务管理通讯手册", Version: h.Version.Version,
		UpdatedAt: dateText(h.Version.UpdatedAt), Printed: a.cfg.Now().In(yipanqi.Shanghai).Format("2006年1月2日"),
		BackURL: a.url("/directory?province=" + code)}
	for _, e := range h.Regulations {
		p.Regulations = append(p.Regulations, line(e))
	}
	for _, e := range h.Institutions {
		p.Institutions = append(p.Institutions, line(e))
	}
	var conv func(u *yipanqi.HandbookUnit, depth int) *handbookUnit
	conv = func(u *yipanqi.HandbookUnit, depth int) *handbookUnit {
		x := &handbookUnit{Code: u.Code, Name: u.Name, Level: u.Level.Label(), Depth: depth}
		if x.Name == "" {
			x.Name = a.unitName(r.Context(), u.Code)
		}
		if depth == 0 && u.Name == "" {
			x.Name = name
		}
		for _, c := range u.Contacts {
			x.Contacts = append(x.Contacts, line(c))
		}
		for _, c := range u.Children {
			x.Children = append(x.Children, conv(c, depth+1))
		}
		return x
	}
	if h.Root != nil {
		p.Root = conv(h.Root, 0)
	}
	a.render(w, r, "directory_handbook", p)
}
