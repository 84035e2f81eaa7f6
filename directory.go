package yipanqi

import (
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// The region's directory (S1.4, S4.1): what each province publishes for grassroots workers —
// its regulations and normative documents, the qualified service institutions, and the
// contacts of the floating-population offices at province, city, county and township level
// with the duty roles of S4.1. Every node holds the whole region's directory, one versioned
// set of entries per source province; the public pages show it without sign-in, so an entry
// holds nothing personal beyond an office contact (a name, a job title and an office phone).

// EntryKind is the section of the directory an entry belongs to.
type EntryKind string

// Entry kinds.
const (
	EntryRegulation  EntryKind = "regulation"  // 政策法规与规范性文件
	EntryInstitution EntryKind = "institution" // 服务机构
	EntryContact     EntryKind = "contact"     // 工作机构联系方式
)

// EntryKinds lists the kinds in the order the directory and the handbook show them.
func EntryKinds() []EntryKind { return []EntryKind{EntryRegulation, EntryInstitution, EntryContact} }

// Label returns the Chinese name of the section.
func (k EntryKind) Label() string {
	switch k {
	case EntryRegulation:
		return "政策法规与规范性文件"
	case EntryInstitution:
		return "服务机构"
	case EntryContact:
		return "工作机构联系方式"
	}
	return ""
}

// ParseEntryKind reads a kind from its value or its Chinese name (also the short forms
// 法规, 机构, 联系人).
func ParseEntryKind(s string) (EntryKind, bool) {
	switch strings.TrimSpace(s) {
	case string(EntryRegulation), "政策法规与规范性文件", "政策法规", "法规", "规范性文件":
		return EntryRegulation, true
	case string(EntryInstitution), "服务机构", "机构":
		return EntryInstitution, true
	case string(EntryContact), "工作机构联系方式", "联系方式", "联系人":
		return EntryContact, true
	}
	return "", false
}

// DutyRole is a contact's duty in the collaboration, as S4.1 lists them: the commission's
// principal leader is the first responsible person (第一责任人), the leader in charge
// (分管领导) coordinates day to day, the head of the floating-population office (机构负责人)
// organises the work, and named full- or part-time staff (专（兼）职人员) do it.
type DutyRole string

// Duty roles, from the top.
const (
	RoleFirstResponsible DutyRole = "first_responsible"
	RoleLeaderInCharge   DutyRole = "leader_in_charge"
	RoleOfficeHead       DutyRole = "office_head"
	RoleStaff            DutyRole = "staff"
)

// DutyRoles lists the roles in rank order.
func DutyRoles() []DutyRole {
	return []DutyRole{RoleFirstResponsible, RoleLeaderInCharge, RoleOfficeHead, RoleStaff}
}

// Label returns the role's name in the plan's words.
func (r DutyRole) Label() string {
	switch r {
	case RoleFirstResponsible:
		return "第一责任人"
	case RoleLeaderInCharge:
		return "分管领导"
	case RoleOfficeHead:
		return "机构负责人"
	case RoleStaff:
		return "专（兼）职人员"
	}
	return ""
}

// Rank orders roles for printing: 0 for the first responsible person, 4 for an unknown role.
func (r DutyRole) Rank() int {
	for i, x := range DutyRoles() {
		if x == r {
			return i
		}
	}
	return len(DutyRoles())
}

// ParseDutyRole reads a role from its value, its label or the names offices commonly use for
// it (主要领导; 办公室主任, 科长, 主任; 工作人员, 专职人员, 兼职人员).
func ParseDutyRole(s string) (DutyRole, bool) {
	s = strings.TrimSpace(s)
	s = strings.NewReplacer("(", "（", ")", "）").Replace(s)
	switch s {
	case string(RoleFirstResponsible), "第一责任人", "主要领导":
		return RoleFirstResponsible, true
	case string(RoleLeaderInCharge), "分管领导":
		return RoleLeaderInCharge, true
	case string(RoleOfficeHead), "机构负责人", "办公室主任", "科长", "主任", "负责人":
		return RoleOfficeHead, true
	case string(RoleStaff), "专（兼）职人员", "专（兼）职工作人员", "工作人员", "专职人员", "兼职人员":
		return RoleStaff, true
	}
	return "", false
}

// RegulationStatus says whether a regulation is in force.
type RegulationStatus string

// Regulation statuses.
const (
	RegulationInForce  RegulationStatus = "in_force"
	RegulationAmended  RegulationStatus = "amended"
	RegulationRepealed RegulationStatus = "repealed"
)

// Label returns the Chinese name of the status.
func (s RegulationStatus) Label() string {
	switch s {
	case RegulationInForce:
		return "现行有效"
	case RegulationAmended:
		return "已修订"
	case RegulationRepealed:
		return "已废止"
	}
	return ""
}

// ParseRegulationStatus reads a status from its value or its Chinese name (also 有效, 现行,
// 修订, 废止, 失效).
func ParseRegulationStatus(s string) (RegulationStatus, bool) {
	switch strings.TrimSpace(s) {
	case string(RegulationInForce), "现行有效", "有效", "现行":
		return RegulationInForce, true
	case string(RegulationAmended), "已修订", "修订", "已修改":
		return RegulationAmended, true
	case string(RegulationRepealed), "已废止", "废止", "失效", "已失效":
		return RegulationRepealed, true
	}
	return "", false
}

// DirectoryEntry is one line of a province's directory: a regulation, a service institution or
// a contact at an office. Which fields apply depends on Kind (see Check).
type DirectoryEntry struct {
	Province     string // the source province (2 digits); set by the store from the version
	Kind         EntryKind
	Seq          int    // position in the province's directory, from 1; set by the store
	DivisionCode string // the division the entry belongs to: 2, 4, 6 or 9 digits in Province
	DivisionName string // that division's own name as printed, e.g. 天河区
	Name         string // the regulation's title, the institution's or the office's name

	// Regulations.
	DocNumber string // 文号, e.g. 粤府〔2020〕12号; may be empty (a law passed by a congress has none)
	IssuedOn  Date
	Status    RegulationStatus
	URL       string // where the text is published (http or https)
	Text      string // the text, or a summary; a regulation needs Text or URL

	// Institutions.
	Services string // the services it is qualified for

	// Contacts.
	Role       DutyRole
	PersonName string // the official's name, as the office publishes it
	JobTitle   string // 职务

	Phone   string // an office phone (never a personal mobile number: the directory is public)
	Address string
	Note    string
}

// Level returns the level of the entry's division.
func (e *DirectoryEntry) Level() Level { return LevelOf(e.DivisionCode) }

// Field lengths in characters.
const (
	maxEntryName    = 200
	maxEntryShort   = 100
	maxEntryAddress = 200
	maxEntryURL     = 500
	maxEntryNote    = 500
	maxEntryText    = 20000
)

var (
	// officePhone is a fixed line with its area code (020-12345678, 0898-1234567, optionally
	// an extension), or a 5-digit public service number (12320, 12356).
	officePhone = regexp.MustCompile(`^(0\d{2,3}-?\d{7,8}((-|转)\d{1,6})?|12\d{3})$`)
	mobilePhone = regexp.MustCompile(`^(\+?86)?1[3-9]\d{9}$`)
)

// ValidOfficePhone reports whether s is an office phone as the directory accepts it.
func ValidOfficePhone(s string) bool { return officePhone.MatchString(s) }

// Check returns every problem with the entry as part of province's directory, each an
// EINVALID *Error naming the field (by the Go field name in Field, by its Chinese name in the
// message); nil when there is none.
func (e *DirectoryEntry) Check(province string) []*Error {
	var errs []*Error
	bad := func(field, format string, args ...any) {
		errs = append(errs, FieldErrorf(EINVALID, field, format, args...))
	}
	length := func(field, label, v string, max int) {
		if n := utf8.RuneCountInString(v); n > max {
			bad(field, "%s过长：%d 个字，最多 %d 个", label, n, max)
		}
	}
	required := func(field, label, v string) {
		if strings.TrimSpace(v) == "" {
			bad(field, "%s不能为空", label)
		}
	}
	if e.Kind.Label() == "" {
		bad("Kind", "类别“%s”无效：应为 政策法规、服务机构 或 联系方式", e.Kind)
		return errs
	}
	switch lv := LevelOf(e.DivisionCode); {
	case e.DivisionCode == "" && e.Kind == EntryRegulation:
		// A regulation without a division is the province's own.
	case e.DivisionCode == "":
		bad("DivisionCode", "行政区划代码不能为空")
	case lv == 0 || lv == LevelVillage:
		bad("DivisionCode", "行政区划代码“%s”无效：应为 2、4、6 或 9 位数字（省、市、县、乡镇街道）", e.DivisionCode)
	case e.DivisionCode[:2] != province:
		bad("DivisionCode", "行政区划代码“%s”不属于本省（%s）", e.DivisionCode, province)
	}
	length("DivisionName", "区划名称", e.DivisionName, maxEntryShort)
	label := map[EntryKind]string{EntryRegulation: "标题", EntryInstitution: "机构名称", EntryContact: "工作机构名称"}[e.Kind]
	required("Name", label, e.Name)
	length("Name", label, e.Name, maxEntryName)
	length("Address", "地址", e.Address, maxEntryAddress)
	length("Note", "备注", e.Note, maxEntryNote)
	if e.Phone != "" {
		switch {
		case mobilePhone.MatchString(e.Phone):
			bad("Phone", "电话“%s”是手机号：名录对外公开，只能填写办公电话（带区号的固定电话或 12320 等服务号码）", e.Phone)
		case !ValidOfficePhone(e.Phone):
			bad("Phone", "电话“%s”无效：应为带区号的固定电话（如 020-12345678，分机写作 -123）或 12320 等服务号码", e.Phone)
		}
	}
	switch e.Kind {
	case EntryRegulation:
		length("DocNumber", "文号", e.DocNumber, maxEntryShort)
		if e.IssuedOn.IsZero() {
			bad("IssuedOn", "发布日期不能为空")
		}
		if e.Status.Label() == "" {
			bad("Status", "状态“%s”无效：应为 现行有效、已修订 或 已废止", e.Status)
		}
		if e.URL == "" && strings.TrimSpace(e.Text) == "" {
			bad("Text", "全文或摘要与链接至少填写一项")
		}
		if e.URL != "" && !strings.HasPrefix(e.URL, "http://") && !strings.HasPrefix(e.URL, "https://") {
			bad("URL", "链接“%s”无效：应以 http:// 或 https:// 开头", e.URL)
		}
		length("URL", "链接", e.URL, maxEntryURL)
		length("Text", "全文或摘要", e.Text, maxEntryText)
	case EntryInstitution:
		required("Services", "服务项目", e.Services)
		length("Services", "服务项目", e.Services, maxEntryNote)
		required("Phone", "电话", e.Phone)
		required("Address", "地址", e.Address)
	case EntryContact:
		if e.Role.Label() == "" {
			bad("Role", "职责“%s”无效：应为 第一责任人、分管领导、机构负责人 或 专（兼）职人员", e.Role)
		}
		required("PersonName", "姓名", e.PersonName)
		length("PersonName", "姓名", e.PersonName, 30)
		length("JobTitle", "职务", e.JobTitle, maxEntryShort)
		required("Phone", "电话", e.Phone)
	}
	return errs
}

// DirectoryVersion says which version of a province's directory a node holds.
type DirectoryVersion struct {
	Province  string    // 2 digits
	Version   int64     // 1, 2, …: each new version of a province's directory is greater
	UpdatedAt time.Time // when the source province made the version
	Entries   int       // how many entries it has
}

// DirectoryFilter selects directory entries. The zero filter selects every entry of every
// province.
type DirectoryFilter struct {
	Province string    // 2 digits, or "" for every province
	Kind     EntryKind // or "" for every kind
	Level    Level     // the level of the entry's division, or 0 for every level
	Division string    // entries at this division and below it, or ""
	Text     string    // name or title contains (also the office's person, job title and services)
	Offset   int
	Limit    int // 0 for the default, 100; at most 1000
}

// Handbook is the printable contact handbook (通讯手册) of one province: its regulations, its
// service institutions and its offices' contacts, grouped province → city → county → township.
type Handbook struct {
	Version      DirectoryVersion
	Regulations  []DirectoryEntry
	Institutions []DirectoryEntry
	Root         *HandbookUnit // the province; nil when it has no contacts
}

// HandbookUnit is one division in the handbook with the contacts at it and the divisions below
// it that have contacts.
type HandbookUnit struct {
	Code     string
	Name     string // from its entries; "" when a division has none of its own, only below it
	Level    Level
	Contacts []DirectoryEntry // by office, then duty role, then directory order
	Children []*HandbookUnit  // by code
}

// BuildHandbook groups a province's entries into its handbook.
func BuildHandbook(v DirectoryVersion, entries []DirectoryEntry) *Handbook {
	h := &Handbook{Version: v}
	units := map[string]*HandbookUnit{}
	var unit func(code string) *HandbookUnit
	unit = func(code string) *HandbookUnit {
		if u, ok := units[code]; ok {
			return u
		}
		u := &HandbookUnit{Code: code, Level: LevelOf(code)}
		units[code] = u
		if len(code) > 2 {
			parent := code[:(u.Level - 1).CodeLength()]
			p := unit(parent)
			p.Children = append(p.Children, u)
		}
		return u
	}
	for _, e := range entries {
		switch e.Kind {
		case EntryRegulation:
			h.Regulations = append(h.Regulations, e)
		case EntryInstitution:
			h.Institutions = append(h.Institutions, e)
		case EntryContact:
			if lv := LevelOf(e.DivisionCode); lv == 0 || lv > LevelTownship {
				continue
			}
			u := unit(e.DivisionCode)
			if u.Name == "" {
				u.Name = e.DivisionName
			}
			u.Contacts = append(u.Contacts, e)
		}
	}
	for _, u := range units {
		// Offices in the order the directory first lists them; in an office, by duty role.
		first := map[string]int{}
		for i, c := range u.Contacts {
			if _, ok := first[c.Name]; !ok {
				first[c.Name] = i
			}
		}
		sort.SliceStable(u.Contacts, func(i, j int) bool {
			a, b := u.Contacts[i], u.Contacts[j]
			if first[a.Name] != first[b.Name] {
				return first[a.Name] < first[b.Name]
			}
			return a.Role.Rank() < b.Role.Rank()
		})
		sort.Slice(u.Children, func(i, j int) bool { return u.Children[i].Code < u.Children[j].Code })
	}
	if len(v.Province) == 2 {
		h.Root = units[v.Province]
	}
	return h
}
