package yipanqi

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// The case-type catalog (ARCHITECTURE §2): every type of case that crosses between two places,
// declared as data. The table is the Go literal in catalogTypes at the end of this file;
// NewCatalog checks it and the engine, the command line and the web read it. Adding a type is
// adding an entry there. See docs/catalog.md.

// Side is who sends or receives a case type.
type Side string

// Sides.
const (
	SideResidence Side = "residence" // 现居住地: where the migrant now lives
	SideHometown  Side = "hometown"  // 户籍地: where the migrant's hukou is
	SideEither    Side = "either"    // either of the two, to the other
	SideProvince  Side = "province"  // a provincial node as such, not a side of a migrant
	SideAll       Side = "all"       // every node of the region
)

// Label returns the Chinese name of the side, "" for an unknown one.
func (s Side) Label() string {
	switch s {
	case SideResidence:
		return "现居住地"
	case SideHometown:
		return "户籍地"
	case SideEither:
		return "任一方"
	case SideProvince:
		return "省级"
	case SideAll:
		return "全部节点"
	}
	return ""
}

// FieldKind is the kind of value a field holds, and so how it is checked.
type FieldKind string

// Field kinds. Values travel as JSON: strings, except bool (true/false), number (a JSON
// integer ≥ 0), corrections (an object) and list (an array of objects).
const (
	KindText        FieldKind = "text"        // a string of at most MaxLen characters
	KindDate        FieldKind = "date"        // "YYYY-MM-DD"
	KindDivision    FieldKind = "division"    // a division code: 2, 4, 6, 9 or 12 digits
	KindIDNumber    FieldKind = "id_number"   // an 18-character resident ID number, check character verified
	KindEnum        FieldKind = "enum"        // one of Options' values
	KindBool        FieldKind = "bool"        // true or false
	KindNumber      FieldKind = "number"      // a whole number, 0 or more
	KindCorrections FieldKind = "corrections" // an object: request field name → its corrected value
	KindList        FieldKind = "list"        // an array of objects, each holding the Items fields
)

// Option is one value of an enum field or one reason a reply may give.
type Option struct {
	Value string `json:"value"` // what travels
	Label string `json:"label"` // what a person reads (Chinese)
}

// FieldSpec declares one field of a request or a reply.
type FieldSpec struct {
	Name     string      `json:"name"`  // key in the JSON fields, e.g. "id_number"
	Label    string      `json:"label"` // Chinese, named in error messages
	Required bool        `json:"required"`
	Kind     FieldKind   `json:"kind"`
	Options  []Option    `json:"options,omitempty"` // KindEnum only
	MaxLen   int         `json:"max_len,omitempty"` // KindText only: characters, not bytes
	Items    []FieldSpec `json:"items,omitempty"`   // KindList only: the fields of each item
}

// OtherReason is the value of the reason option that needs the reason explained in
// ReasonTextField.
const OtherReason = "other"

// Names of the fields a reply with ReasonRequired carries besides its own Fields.
const (
	ReasonField     = "reason"      // one of ReasonOptions' values, or free text when there are none
	ReasonTextField = "reason_text" // the explanation, required when the reason is OtherReason
)

// ReplySpec declares one answer a case type accepts and what it must contain.
type ReplySpec struct {
	Value          string      `json:"value"` // travels as the reply, e.g. "not_found"
	Label          string      `json:"label"` // Chinese, e.g. 查无此人
	Fields         []FieldSpec `json:"fields,omitempty"`
	ReasonRequired bool        `json:"reason_required,omitempty"`
	ReasonOptions  []Option    `json:"reason_options,omitempty"` // empty: the reason is free text
	// Interim marks a reply that keeps the case open (e.g. a petition accepted): it may be
	// given once, before any other reply, and the type's deadlines that count from acceptance
	// start at it. The case is answered by a later, final reply.
	Interim bool `json:"interim,omitempty"`
	// Requires names the interim reply that must have been given before this one (e.g. the
	// outcome of a petition comes after its acceptance); "" for none.
	Requires string `json:"requires,omitempty"`
}

// DeadlineStart is the moment a deadline counts from.
type DeadlineStart string

// Deadline starts.
const (
	FromReceipt    DeadlineStart = "receipt"    // the time on the receiver's signed receipt
	FromAcceptance DeadlineStart = "acceptance" // the time of the receiver's reply accepting the case
)

// DeadlineSpec is one deadline of a type; exactly one of WorkingDays, CalendarDays and Hours
// is set. Days are counted as in ARCHITECTURE §2: the day of the start does not count, and the
// deadline ends at 23:59:59 Asia/Shanghai on the last day.
type DeadlineSpec struct {
	Name         string        `json:"name"`  // e.g. "reply"
	Label        string        `json:"label"` // Chinese, e.g. 答复
	WorkingDays  int           `json:"working_days,omitempty"`
	CalendarDays int           `json:"calendar_days,omitempty"`
	Hours        int           `json:"hours,omitempty"`
	From         DeadlineStart `json:"from"`
}

// Text returns the deadline in Chinese, e.g. "15个工作日".
func (d DeadlineSpec) Text() string {
	switch {
	case d.WorkingDays > 0:
		return fmt.Sprintf("%d个工作日", d.WorkingDays)
	case d.CalendarDays > 0:
		return fmt.Sprintf("%d日", d.CalendarDays)
	case d.Hours > 0:
		return fmt.Sprintf("%d小时", d.Hours)
	}
	return ""
}

// Reminder is when the holder of a case is reminded before a deadline: WorkingDays or Hours
// before it (exactly one is set).
type Reminder struct {
	WorkingDays int `json:"working_days,omitempty"`
	Hours       int `json:"hours,omitempty"`
}

// Escalation is one step of supervision (督办) once a deadline has passed: the case shows on the
// queue of the unit LevelsUp levels above its holder, AfterWorkingDays working days after the
// deadline (0: as soon as it passes).
type Escalation struct {
	LevelsUp         int `json:"levels_up"`
	AfterWorkingDays int `json:"after_working_days"`
}

// Answer says who answers a case of a type.
type Answer string

// Answers.
const (
	AnswerStaff    Answer = "staff"    // a person at the receiving unit replies
	AnswerRegistry Answer = "registry" // the receiving node replies at once from its registry
	AnswerReceipt  Answer = "receipt"  // a notice: the signed receipt is its acknowledgement
	AnswerApply    Answer = "apply"    // a notice the receiving node applies on receipt
)

// Label returns the Chinese description of the answer, "" for an unknown one.
func (a Answer) Label() string {
	switch a {
	case AnswerStaff:
		return "人工答复"
	case AnswerRegistry:
		return "系统自动答复（秒级）"
	case AnswerReceipt:
		return "签收即确认"
	case AnswerApply:
		return "收到即生效"
	}
	return ""
}

// ConsentRule is the consent a sensitive type needs before a case of it may be sent (PIPL
// art. 29; SCOPE.md): the person's recorded separate consent (a Consent) for this purpose and
// recipient.
type ConsentRule struct {
	Separate  bool   `json:"separate"`  // separate consent (单独同意), not part of a general one
	Purpose   string `json:"purpose"`   // Chinese: what the data is shared for
	Recipient Side   `json:"recipient"` // who receives it
}

// CaseType declares one type of case: what it is for, who sends it, what it carries, how it
// is answered and by when, and what it prints.
type CaseType struct {
	Name       string         `json:"name"`    // e.g. "verify.identity"; travels in the envelope type
	Label      string         `json:"label"`   // Chinese name, e.g. 身份住址核实
	Purpose    string         `json:"purpose"` // Chinese: why the data is exchanged (PIPL: purpose)
	Seed       string         `json:"seed"`    // the plan's requirement ids, e.g. "S1.2 S1.3"
	From       Side           `json:"from"`
	To         Side           `json:"to"`
	Levels     []Level        `json:"levels"` // the levels of org unit that may send it
	Fields     []FieldSpec    `json:"fields"` // the request's fields; no others may be sent
	Sensitive  bool           `json:"sensitive"`
	Consent    *ConsentRule   `json:"consent,omitempty"` // set exactly when Sensitive
	NeedsReply bool           `json:"needs_reply"`
	Answer     Answer         `json:"answer"`
	Replies    []ReplySpec    `json:"replies,omitempty"`   // set exactly when NeedsReply
	Deadlines  []DeadlineSpec `json:"deadlines,omitempty"` // the first counts from receipt
	Reminders  []Reminder     `json:"reminders,omitempty"`
	Escalation []Escalation   `json:"escalation,omitempty"`
	Documents  []string       `json:"documents,omitempty"` // printable documents, e.g. 《流动人口婚育证明》
}

// Field returns the request field called name, or nil.
func (t *CaseType) Field(name string) *FieldSpec {
	for i := range t.Fields {
		if t.Fields[i].Name == name {
			return &t.Fields[i]
		}
	}
	return nil
}

// IsString reports whether values of the field travel as JSON strings (every kind but bool,
// number, corrections and list).
func (f *FieldSpec) IsString() bool {
	switch f.Kind {
	case KindBool, KindNumber, KindCorrections, KindList:
		return false
	}
	return true
}

// Reply returns the reply whose value is value, or nil.
func (t *CaseType) Reply(value string) *ReplySpec {
	for i := range t.Replies {
		if t.Replies[i].Value == value {
			return &t.Replies[i]
		}
	}
	return nil
}

// RequiredFields returns the names of the request's required fields, in catalog order.
func (t *CaseType) RequiredFields() []string {
	var out []string
	for _, f := range t.Fields {
		if f.Required {
			out = append(out, f.Name)
		}
	}
	return out
}

// ReplyValues returns the values of the type's replies, in catalog order.
func (t *CaseType) ReplyValues() []string {
	var out []string
	for _, r := range t.Replies {
		out = append(out, r.Value)
	}
	return out
}

// CaseCatalog is a checked catalog of case types. (Catalog is the function that returns
// the region's catalog, so the type has the longer name.)
type CaseCatalog struct {
	types  []*CaseType
	byName map[string]*CaseType
}

// Catalog returns the region's case-type catalog: the table in this file, checked. Each call
// returns a new copy, so no caller can change another's. It panics if the table is invalid,
// which the package's tests rule out.
func Catalog() *CaseCatalog {
	c, err := NewCatalog(catalogTypes())
	if err != nil {
		panic("yipanqi: invalid case-type catalog: " + err.Error())
	}
	return c
}

// NewCatalog checks types (see docs/catalog.md for the rules) and returns them as a catalog,
// in the given order. EINVALID naming the type and what is wrong.
func NewCatalog(types []CaseType) (*CaseCatalog, error) {
	c := &CaseCatalog{byName: make(map[string]*CaseType, len(types))}
	for i := range types {
		t := &types[i]
		if err := checkType(t); err != nil {
			return nil, err
		}
		if _, dup := c.byName[t.Name]; dup {
			return nil, Errorf(EINVALID, "案件类型 %s 重复", t.Name)
		}
		c.byName[t.Name] = t
		c.types = append(c.types, t)
	}
	return c, nil
}

// Types returns every type, in catalog order.
func (c *CaseCatalog) Types() []*CaseType {
	return append([]*CaseType(nil), c.types...)
}

// Type returns the type called name. ENOTFOUND, naming it, when there is none.
func (c *CaseCatalog) Type(name string) (*CaseType, error) {
	if t, ok := c.byName[name]; ok {
		return t, nil
	}
	return nil, FieldErrorf(ENOTFOUND, "type", "未知的案件类型“%s”", name)
}

// ValidateRequest checks the fields of a request of type name: ENOTFOUND for an unknown type,
// else as (*CaseType).ValidateRequest.
func (c *CaseCatalog) ValidateRequest(name string, fields json.RawMessage) error {
	t, err := c.Type(name)
	if err != nil {
		return err
	}
	return t.ValidateRequest(fields)
}

// ValidateReply checks a reply to a case of type name: ENOTFOUND for an unknown type, else as
// (*CaseType).ValidateReply.
func (c *CaseCatalog) ValidateReply(name, reply string, fields json.RawMessage) error {
	t, err := c.Type(name)
	if err != nil {
		return err
	}
	return t.ValidateReply(reply, fields)
}

// ValidateRequest checks the fields of a request (a JSON object) against the type: every
// required field is present and not empty, every field present is one of the type's and
// holds a value of its kind. EINVALID with Field set and a Chinese message naming the field.
func (t *CaseType) ValidateRequest(fields json.RawMessage) error {
	obj, err := fieldsObject(fields, "案件数据")
	if err != nil {
		return err
	}
	return t.checkFields(t.Fields, obj, "")
}

// ValidateReply checks a reply: reply must be one of the type's replies, and fields (a JSON
// object; empty means {}) must hold what that reply requires — its fields and, when it needs
// one, its reason. EINVALID with Field set and a Chinese message naming the field.
func (t *CaseType) ValidateReply(reply string, fields json.RawMessage) error {
	if len(t.Replies) == 0 {
		return FieldErrorf(EINVALID, "reply", "“%s”类案件无需答复", t.Label)
	}
	r := t.Reply(reply)
	if r == nil {
		labels := make([]string, len(t.Replies))
		for i, x := range t.Replies {
			labels[i] = x.Value + "（" + x.Label + "）"
		}
		return FieldErrorf(EINVALID, "reply", "“%s”不是“%s”类案件的答复选项，可选：%s", receivedName(reply), t.Label, strings.Join(labels, "、"))
	}
	if len(fields) == 0 {
		fields = json.RawMessage("{}")
	}
	obj, err := fieldsObject(fields, "答复数据")
	if err != nil {
		return err
	}
	if r.ReasonRequired {
		if v, ok := obj[ReasonField]; !ok || v == nil || v == "" {
			return FieldErrorf(EINVALID, ReasonField, "“%s”答复必须说明原因", r.Label)
		}
	}
	if err := t.checkFields(r.fieldSpecs(), obj, r.Label); err != nil {
		return err
	}
	if r.ReasonRequired && len(r.ReasonOptions) > 0 && obj[ReasonField] == OtherReason {
		if v, _ := obj[ReasonTextField].(string); strings.TrimSpace(v) == "" {
			return FieldErrorf(EINVALID, ReasonTextField, "原因为“其他”时须填写“具体原因”")
		}
	}
	return nil
}

// fieldSpecs returns the reply's fields with the implicit reason fields.
func (r *ReplySpec) fieldSpecs() []FieldSpec {
	if !r.ReasonRequired {
		return r.Fields
	}
	specs := append([]FieldSpec(nil), r.Fields...)
	if len(r.ReasonOptions) == 0 {
		return append(specs, FieldSpec{Name: ReasonField, Label: "原因", Required: true, Kind: KindText, MaxLen: 500})
	}
	return append(specs,
		FieldSpec{Name: ReasonField, Label: "原因", Required: true, Kind: KindEnum, Options: r.ReasonOptions},
		FieldSpec{Name: ReasonTextField, Label: "具体原因", Kind: KindText, MaxLen: 500})
}

// fieldsObject decodes fields, which must be a JSON object.
func fieldsObject(fields json.RawMessage, what string) (map[string]any, error) {
	var obj map[string]any
	if len(fields) == 0 || json.Unmarshal(fields, &obj) != nil || obj == nil {
		return nil, FieldErrorf(EINVALID, "fields", "%s须为 JSON 对象", what)
	}
	return obj, nil
}

// checkFields checks obj against specs: no field outside them, required ones present, each
// value of its kind. reply is the reply's label, "" for a request.
func (t *CaseType) checkFields(specs []FieldSpec, obj map[string]any, reply string) error {
	for name := range obj {
		if !hasField(specs, name) {
			name = receivedName(name)
			if reply != "" {
				return FieldErrorf(EINVALID, name, "“%s”答复不含字段“%s”", reply, name)
			}
			return FieldErrorf(EINVALID, name, "“%s”类案件不含字段“%s”", t.Label, name)
		}
	}
	for i := range specs {
		if err := t.checkValue(&specs[i], obj[specs[i].Name], specs[i].Name); err != nil {
			return err
		}
	}
	return nil
}

func hasField(specs []FieldSpec, name string) bool {
	for _, f := range specs {
		if f.Name == name {
			return true
		}
	}
	return false
}

// checkValue checks one value (nil when absent) against its spec; path names it in errors.
func (t *CaseType) checkValue(f *FieldSpec, v any, path string) error {
	if v == nil || v == "" {
		if f.Required {
			return FieldErrorf(EINVALID, path, "缺少必填字段“%s”", f.Label)
		}
		return nil
	}
	bad := func(format string, args ...any) error {
		return FieldErrorf(EINVALID, path, "“%s”"+format, append([]any{f.Label}, args...)...)
	}
	switch f.Kind {
	case KindBool:
		if _, ok := v.(bool); !ok {
			return bad("须为 true 或 false")
		}
		return nil
	case KindNumber:
		if n, ok := v.(float64); !ok || n < 0 || n != float64(int64(n)) {
			return bad("须为不小于 0 的整数")
		}
		return nil
	case KindCorrections:
		return t.checkCorrections(f, v, path)
	case KindList:
		items, ok := v.([]any)
		if !ok || (f.Required && len(items) == 0) {
			return bad("须为非空的条目列表")
		}
		for i, item := range items {
			obj, ok := item.(map[string]any)
			if !ok {
				return FieldErrorf(EINVALID, fmt.Sprintf("%s[%d]", path, i), "“%s”第 %d 条须为 JSON 对象", f.Label, i+1)
			}
			for name := range obj {
				if !hasField(f.Items, name) {
					name = receivedName(name)
					return FieldErrorf(EINVALID, fmt.Sprintf("%s[%d].%s", path, i, name), "“%s”第 %d 条不含字段“%s”", f.Label, i+1, name)
				}
			}
			for j := range f.Items {
				if err := t.checkValue(&f.Items[j], obj[f.Items[j].Name], fmt.Sprintf("%s[%d].%s", path, i, f.Items[j].Name)); err != nil {
					return err
				}
			}
		}
		return nil
	}
	s, ok := v.(string)
	if !ok {
		return bad("须为字符串")
	}
	switch f.Kind {
	case KindText:
		if n := utf8.RuneCountInString(s); n > f.MaxLen {
			return bad("不得超过 %d 个字（现有 %d 个）", f.MaxLen, n)
		}
	case KindDate:
		if _, err := ParseDate(s); err != nil {
			return bad("须为日期，格式 YYYY-MM-DD，如 2025-09-26")
		}
	case KindDivision:
		if !ValidDivisionCode(s) {
			return bad("须为 2、4、6、9 或 12 位数字的行政区划代码")
		}
	case KindIDNumber:
		if !validIDNumber(s) {
			return bad("不是有效的 18 位公民身份号码")
		}
	case KindEnum:
		for _, o := range f.Options {
			if o.Value == s {
				return nil
			}
		}
		labels := make([]string, len(f.Options))
		for i, o := range f.Options {
			labels[i] = o.Value + "（" + o.Label + "）"
		}
		return bad("的取值不在可选项中，可选：%s", strings.Join(labels, "、"))
	}
	return nil
}

// checkCorrections checks a corrections object: at least one field, each a request field of
// the type, each value of that field's kind.
func (t *CaseType) checkCorrections(f *FieldSpec, v any, path string) error {
	obj, ok := v.(map[string]any)
	if !ok || len(obj) == 0 {
		return FieldErrorf(EINVALID, path, "“%s”须列出至少一个更正的字段及其更正后的值", f.Label)
	}
	for name, value := range obj {
		spec := t.Field(name)
		if spec == nil || spec.Kind == KindCorrections {
			name = receivedName(name)
			return FieldErrorf(EINVALID, path+"."+name, "“%s”中的“%s”不是“%s”类案件的字段", f.Label, name, t.Label)
		}
		corrected := *spec
		corrected.Required = true // a correction says what the value is, so it cannot be empty
		if err := t.checkValue(&corrected, value, path+"."+name); err != nil {
			return err
		}
	}
	return nil
}

// validIDNumber reports whether s is 17 digits and the right ISO 7064 MOD 11-2 check
// character (GB 11643). Package idcard parses the number fully (birth date, 15-digit form).
func validIDNumber(s string) bool {
	if len(s) != 18 {
		return false
	}
	sum := 0
	for i := 0; i < 17; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		sum += int(s[i]-'0') * (1 << (17 - i) % 11)
	}
	return s[17] == "10X98765432"[sum%11]
}

// receivedName is a field name that was sent, as an error may show it: the name when it has
// the shape of a catalog field name (at most 40 characters, no run of 4 digits or more), else
// a placeholder. Errors name the field and the rule, never a value, and a sender may put a
// value (an ID number) where a name goes; the messages of ValidateRequest and ValidateReply
// end up in dead-letter reasons and rejection notices.
func receivedName(name string) string {
	if len(name) <= 40 && fieldName.MatchString(name) && !digitRun.MatchString(name) {
		return name
	}
	return "（不可识别的字段名）"
}

var digitRun = regexp.MustCompile(`[0-9]{4}`)

// typeName is the shape of a type name: dot-separated lower-case words (it travels in the
// envelope type cn.ypq.<name>.v1 and in NATS subjects).
var typeName = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)

// fieldName is the shape of a field name.
var fieldName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// checkType checks one catalog entry.
func checkType(t *CaseType) error {
	bad := func(format string, args ...any) error {
		return Errorf(EINVALID, "案件类型 %s：%s", t.Name, fmt.Sprintf(format, args...))
	}
	switch {
	case !typeName.MatchString(t.Name):
		return bad("名称须为以点分隔的小写英文单词")
	case t.Label == "" || t.Purpose == "" || t.Seed == "":
		return bad("缺少中文名称、用途或所依据的需求编号")
	case t.From.Label() == "" || t.To.Label() == "":
		return bad("发送方或接收方无效")
	case len(t.Levels) == 0:
		return bad("未规定可发送的层级")
	case len(t.Fields) == 0:
		return bad("未声明任何字段")
	case t.Sensitive != (t.Consent != nil):
		return bad("含敏感个人信息的类型必须（且只有它们）声明所需的同意")
	case t.Consent != nil && (!t.Consent.Separate || t.Consent.Purpose == "" || t.Consent.Recipient.Label() == ""):
		return bad("敏感个人信息须取得单独同意，并写明目的与接收方")
	case t.NeedsReply != (len(t.Replies) > 0):
		return bad("需答复的类型必须（且只有它们）声明答复选项")
	case t.NeedsReply != (t.Answer == AnswerStaff || t.Answer == AnswerRegistry):
		return bad("答复方式“%s”与是否需答复不符", t.Answer)
	case (t.Answer == AnswerStaff) != (len(t.Deadlines) > 0):
		return bad("人工答复的类型必须（且只有它们）规定期限")
	case (len(t.Deadlines) > 0) != (len(t.Reminders) > 0) || (len(t.Deadlines) > 0) != (len(t.Escalation) > 0):
		return bad("有期限的类型必须（且只有它们）规定提醒与督办")
	}
	for _, l := range t.Levels {
		if l.Label() == "" {
			return bad("层级 %d 无效", l)
		}
	}
	if err := checkSpecs(t.Fields, bad); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, r := range t.Replies {
		switch {
		case !fieldName.MatchString(r.Value) || r.Label == "":
			return bad("答复“%s”须有英文取值与中文名称", r.Value)
		case seen[r.Value]:
			return bad("答复“%s”重复", r.Value)
		case !r.ReasonRequired && len(r.ReasonOptions) > 0:
			return bad("答复“%s”列出原因选项却不要求原因", r.Value)
		}
		seen[r.Value] = true
		if err := checkSpecs(r.fieldSpecs(), bad); err != nil {
			return err
		}
	}
	for _, r := range t.Replies {
		if r.Requires == "" {
			continue
		}
		if p := t.Reply(r.Requires); p == nil || !p.Interim || r.Interim {
			return bad("答复“%s”须在中间答复之后作出，但“%s”不是该类型的中间答复", r.Value, r.Requires)
		}
	}
	hasInterim, fromAcceptance := false, false
	for _, r := range t.Replies {
		hasInterim = hasInterim || r.Interim
	}
	for _, d := range t.Deadlines {
		fromAcceptance = fromAcceptance || d.From == FromAcceptance
	}
	if hasInterim != fromAcceptance {
		return bad("自受理起算的期限须（且只能）与中间答复“受理”一同规定")
	}
	if err := checkDeadlines(t, bad); err != nil {
		return err
	}
	for _, d := range t.Documents {
		if d == "" {
			return bad("文书名称为空")
		}
	}
	return nil
}

// checkSpecs checks field declarations: names unique and well formed, labels, kinds and
// what each kind needs.
func checkSpecs(specs []FieldSpec, bad func(string, ...any) error) error {
	seen := map[string]bool{}
	for _, f := range specs {
		switch {
		case !fieldName.MatchString(f.Name) || f.Label == "":
			return bad("字段“%s”须有英文名与中文名称", f.Name)
		case seen[f.Name]:
			return bad("字段“%s”重复", f.Name)
		case (f.Kind == KindEnum) != (len(f.Options) > 0):
			return bad("字段“%s”：只有枚举字段（且必须）列出可选项", f.Name)
		case (f.Kind == KindText) != (f.MaxLen > 0):
			return bad("字段“%s”：只有文本字段（且必须）规定最大长度", f.Name)
		case (f.Kind == KindList) != (len(f.Items) > 0):
			return bad("字段“%s”：只有列表字段（且必须）声明条目字段", f.Name)
		}
		seen[f.Name] = true
		switch f.Kind {
		case KindText, KindDate, KindDivision, KindIDNumber, KindBool, KindNumber, KindCorrections:
		case KindEnum:
			values := map[string]bool{}
			for _, o := range f.Options {
				if o.Value == "" || o.Label == "" || values[o.Value] {
					return bad("字段“%s”的可选项“%s”无效或重复", f.Name, o.Value)
				}
				values[o.Value] = true
			}
		case KindList:
			if err := checkSpecs(f.Items, bad); err != nil {
				return err
			}
		default:
			return bad("字段“%s”的类型“%s”未知", f.Name, f.Kind)
		}
	}
	return nil
}

// checkDeadlines checks a type's deadlines, reminders and escalation.
func checkDeadlines(t *CaseType, bad func(string, ...any) error) error {
	seen := map[string]bool{}
	for i, d := range t.Deadlines {
		set := 0
		for _, n := range []int{d.WorkingDays, d.CalendarDays, d.Hours} {
			if n < 0 {
				return bad("期限“%s”为负数", d.Name)
			}
			if n > 0 {
				set++
			}
		}
		switch {
		case !fieldName.MatchString(d.Name) || d.Label == "" || seen[d.Name]:
			return bad("期限“%s”须有唯一的英文名与中文名称", d.Name)
		case set != 1:
			return bad("期限“%s”须且只能规定工作日、自然日或小时之一", d.Name)
		case i == 0 && d.From != FromReceipt:
			return bad("第一个期限须自签收起算")
		case d.From != FromReceipt && d.From != FromAcceptance:
			return bad("期限“%s”的起算点“%s”未知", d.Name, d.From)
		case d.From == FromAcceptance && t.Answer != AnswerStaff:
			return bad("期限“%s”自受理起算，但该类型无人工答复", d.Name)
		}
		seen[d.Name] = true
	}
	for _, r := range t.Reminders {
		if (r.WorkingDays > 0) == (r.Hours > 0) || r.WorkingDays < 0 || r.Hours < 0 {
			return bad("提醒须且只能规定工作日或小时之一")
		}
		for _, d := range t.Deadlines {
			switch {
			case r.Hours > 0 && (d.Hours == 0 || r.Hours >= d.Hours):
				return bad("提前 %d 小时的提醒不在期限“%s”之内", r.Hours, d.Name)
			case r.WorkingDays > 0 && (d.Hours > 0 || r.WorkingDays >= d.WorkingDays+d.CalendarDays):
				return bad("提前 %d 个工作日的提醒不在期限“%s”之内", r.WorkingDays, d.Name)
			}
		}
	}
	for i, e := range t.Escalation {
		switch {
		case e.LevelsUp < 1 || e.AfterWorkingDays < 0:
			return bad("督办须至少上升一级，且不早于期限届满")
		case i > 0 && (e.LevelsUp <= t.Escalation[i-1].LevelsUp || e.AfterWorkingDays <= t.Escalation[i-1].AfterWorkingDays):
			return bad("后一步督办须更高一级且更晚")
		}
	}
	return nil
}

// The catalog's data. Helpers below keep entries short; each returns a fresh value.

// levelsGrassroots are the units that handle a migrant's own matters.
func levelsGrassroots() []Level { return []Level{LevelTownship, LevelCounty} }

func remindDays() []Reminder { return []Reminder{{WorkingDays: 3}, {WorkingDays: 1}} }

// escalateDays: the level above on the day the deadline passes, one more level up 5 working
// days later.
func escalateDays() []Escalation {
	return []Escalation{{LevelsUp: 1, AfterWorkingDays: 0}, {LevelsUp: 2, AfterWorkingDays: 5}}
}

func replyDeadline(workingDays int) []DeadlineSpec {
	return []DeadlineSpec{{Name: "reply", Label: "答复", WorkingDays: workingDays, From: FromReceipt}}
}

func idNumberField(required bool) FieldSpec {
	return FieldSpec{Name: "id_number", Label: "公民身份号码", Required: required, Kind: KindIDNumber}
}

func textField(name, label string, required bool, maxLen int) FieldSpec {
	return FieldSpec{Name: name, Label: label, Required: required, Kind: KindText, MaxLen: maxLen}
}

func dateField(name, label string, required bool) FieldSpec {
	return FieldSpec{Name: name, Label: label, Required: required, Kind: KindDate}
}

func divisionField(name, label string, required bool) FieldSpec {
	return FieldSpec{Name: name, Label: label, Required: required, Kind: KindDivision}
}

func enumField(name, label string, required bool, options ...Option) FieldSpec {
	return FieldSpec{Name: name, Label: label, Required: required, Kind: KindEnum, Options: options}
}

func nameField() FieldSpec { return textField("name", "姓名", false, 50) }
func noteField() FieldSpec { return textField("note", "备注", false, 500) }
func hukouCodeField() FieldSpec {
	return divisionField("hukou_code", "户籍地行政区划代码", false)
}
func hukouAddressField() FieldSpec { return textField("hukou_address", "户籍地址", false, 200) }
func maritalField() FieldSpec {
	return enumField("marital_status", "婚姻状况", true, maritalOptions()...)
}

func maritalOptions() []Option {
	out := make([]Option, len(MaritalStatuses))
	for i, m := range MaritalStatuses {
		out[i] = Option{string(m.Status), m.Label}
	}
	return out
}

func flowOptions() []Option {
	var out []Option
	for _, k := range []FlowKind{FlowArrived, FlowLeft, FlowMovedOn, FlowReturned} {
		out = append(out, Option{string(k), k.Label()})
	}
	return out
}

// notFoundReasons are the reasons a hometown gives when it cannot find a person (S1.3: a
// reply of 查无此人 must say why).
func notFoundReasons() []Option {
	return []Option{
		{"no_record", "无此户籍"},
		{"moved_out", "已迁出"},
		{"deceased", "已死亡"},
		{"id_mismatch", "身份证号码有误"},
		{OtherReason, "其他"},
	}
}

// verifyReplies are the replies of both identity verifications.
func verifyReplies() []ReplySpec {
	return []ReplySpec{
		{Value: "confirmed", Label: "属实", Fields: []FieldSpec{noteField()}},
		{Value: "corrected", Label: "更正", Fields: []FieldSpec{
			{Name: "corrected", Label: "更正内容", Required: true, Kind: KindCorrections}, noteField()}},
		{Value: "not_found", Label: "查无此人", Fields: []FieldSpec{noteField()},
			ReasonRequired: true, ReasonOptions: notFoundReasons()},
	}
}

// verifyFields are the fields of both identity verifications; the exchange and the demo send
// these names.
func verifyFields() []FieldSpec {
	return []FieldSpec{idNumberField(true), nameField(), hukouCodeField(), hukouAddressField(),
		textField("reason", "核实事由", false, 200)}
}

// catalogTypes is the catalog (ARCHITECTURE §2), in the order the architecture lists it.
func catalogTypes() []CaseType {
	return []CaseType{
		{
			Name: "verify.identity", Label: "身份住址核实", Seed: "S1.2 S1.3",
			Purpose: "现居住地请户籍地核实流动人口的身份与户籍地址",
			From:    SideResidence, To: SideHometown, Levels: levelsGrassroots(),
			Fields:     verifyFields(),
			NeedsReply: true, Answer: AnswerStaff, Replies: verifyReplies(),
			Deadlines: replyDeadline(15), Reminders: remindDays(), Escalation: escalateDays(),
		},
		{
			Name: "verify.urgent", Label: "紧急核实", Seed: "S1.3",
			Purpose: "遇紧急情况，请对方在 24 小时内核实流动人口的身份与地址",
			From:    SideEither, To: SideEither, Levels: levelsGrassroots(),
			Fields:     verifyFields(),
			NeedsReply: true, Answer: AnswerStaff, Replies: verifyReplies(),
			Deadlines:  []DeadlineSpec{{Name: "reply", Label: "答复", Hours: 24, From: FromReceipt}},
			Reminders:  []Reminder{{Hours: 6}, {Hours: 2}},
			Escalation: []Escalation{{LevelsUp: 1, AfterWorkingDays: 0}, {LevelsUp: 2, AfterWorkingDays: 1}},
		},
		{
			Name: "cert.check", Label: "婚育证明查验", Seed: "S1.2 S2.1",
			Purpose: "现居住地查验所持《流动人口婚育证明》是否有效，由户籍地节点的证明登记自动答复",
			From:    SideResidence, To: SideHometown, Levels: levelsGrassroots(),
			Fields:     []FieldSpec{idNumberField(true), textField("cert_number", "婚育证明编号", false, 50), nameField()},
			NeedsReply: true, Answer: AnswerRegistry, Replies: []ReplySpec{
				{Value: "valid", Label: "有效", Fields: []FieldSpec{
					textField("cert_number", "婚育证明编号", true, 50), dateField("valid_until", "有效期至", false)}},
				{Value: "expired", Label: "已过期", Fields: []FieldSpec{dateField("valid_until", "有效期至", false)}},
				{Value: "revoked", Label: "已注销"},
				{Value: "unknown", Label: "无此证明"},
			},
		},
		{
			Name: "cert.reissue", Label: "婚育证明补办", Seed: "S2.1",
			Purpose: "未持婚育证明的流动人口经现居住地通报，由户籍地核实后补办并寄交现居住地",
			From:    SideResidence, To: SideHometown, Levels: levelsGrassroots(),
			Fields: []FieldSpec{idNumberField(true), textField("name", "姓名", true, 50), hukouCodeField(), hukouAddressField(),
				textField("notice_number", "限期补办通知书编号", false, 50), dateField("notice_date", "通知日期", false),
				divisionField("post_to", "寄送至乡镇（街道）或社区", true), textField("post_address", "寄送地址", false, 200)},
			NeedsReply: true, Answer: AnswerStaff, Replies: []ReplySpec{
				{Value: "issued", Label: "已补办", Fields: []FieldSpec{
					textField("cert_number", "婚育证明编号", true, 50), dateField("issued_on", "签发日期", true),
					divisionField("posted_to", "寄送至乡镇（街道）或社区", true),
					textField("tracking_number", "邮件单号", true, 50), noteField(),
					// Optional, so that a node not yet sending them is still understood; with them
					// the residence registers the certificate as seen on its arrival.
					dateField("valid_until", "有效期至", false), enumField("marital_status", "婚姻状况", false, maritalOptions()...)}},
				{Value: "refused", Label: "不予补办", ReasonRequired: true},
			},
			Deadlines: replyDeadline(7), Reminders: remindDays(), Escalation: escalateDays(),
			Documents: []string{"《限期补办通知书》", "《流动人口婚育证明》", "婚育证明寄送单"},
		},
		{
			Name: "service.result", Label: "服务结果通报", Seed: "S2.2 S3.3",
			Purpose: "经本人单独同意，向户籍地通报本人在现居住地自愿接受的服务，户籍地据此不再要求其返乡",
			From:    SideResidence, To: SideHometown, Levels: levelsGrassroots(),
			// The minimum (SCOPE.md): that the service happened, its date and provider, whether a
			// check-up was done. No free-text notes.
			Fields: []FieldSpec{idNumberField(true), nameField(),
				enumField("service_kind", "服务项目", true,
					Option{"health_checkup", "免费生殖健康检查"},
					Option{"preconception_checkup", "免费孕前优生健康检查"},
					Option{"contraceptives", "免费避孕药具发放"},
					Option{"follow_up", "随访服务"},
					Option{"counselling", "咨询指导"}),
				dateField("service_date", "服务日期", true),
				textField("provider", "服务机构", true, 100),
				{Name: "checkup_done", Label: "是否已做检查", Required: true, Kind: KindBool}},
			Sensitive: true,
			Consent: &ConsentRule{Separate: true, Recipient: SideHometown,
				Purpose: "向户籍地证明本人已在现居住地接受服务，免于返乡"},
			Answer:    AnswerReceipt,
			Documents: []string{"《流动人口避孕节育情况报告单》"},
		},
		{
			Name: "birth.registration", Label: "生育服务登记通报", Seed: "S3.1",
			Purpose: "现居住地为流动人口办理生育服务登记后告知户籍地",
			From:    SideResidence, To: SideHometown, Levels: levelsGrassroots(),
			Fields: []FieldSpec{idNumberField(true), nameField(),
				{Name: "spouse_id_number", Label: "配偶公民身份号码", Kind: KindIDNumber},
				textField("registration_number", "登记编号", true, 50), dateField("registered_on", "登记日期", true),
				divisionField("registered_by", "登记单位", true)},
			Answer: AnswerReceipt,
		},
		{
			Name: "proof.marital", Label: "婚育情况证明", Seed: "S3.2",
			Purpose: "现居住地办理登记需要时，请户籍地出具婚育情况证明",
			From:    SideResidence, To: SideHometown, Levels: levelsGrassroots(),
			Fields:     []FieldSpec{idNumberField(true), nameField(), hukouCodeField(), textField("purpose", "证明用途", true, 100)},
			NeedsReply: true, Answer: AnswerStaff, Replies: []ReplySpec{
				{Value: "issued", Label: "已出具", Fields: []FieldSpec{
					textField("proof_number", "证明编号", true, 50), maritalField(),
					{Name: "children", Label: "子女数", Required: true, Kind: KindNumber}, noteField()}},
				{Value: "not_found", Label: "查无此人", Fields: []FieldSpec{noteField()},
					ReasonRequired: true, ReasonOptions: notFoundReasons()},
			},
			Deadlines: replyDeadline(15), Reminders: remindDays(), Escalation: escalateDays(),
			Documents: []string{"婚育情况证明"},
		},
		{
			Name: "reward.eligibility", Label: "奖励扶助资格核实", Seed: "S3.1 S3.2",
			Purpose: "核实流动人口享受奖励扶助或领取独生子女父母光荣证的资格",
			From:    SideEither, To: SideEither, Levels: []Level{LevelTownship, LevelCounty, LevelCity},
			Fields: []FieldSpec{idNumberField(true), nameField(), hukouCodeField(),
				enumField("scheme", "项目", true,
					Option{"rural_family_reward", "农村部分计划生育家庭奖励扶助"},
					Option{"special_assistance", "计划生育家庭特别扶助"},
					Option{"only_child_certificate", "独生子女父母光荣证"},
					Option{"only_child_reward", "独生子女父母奖励"}),
				textField("reason", "核实事由", false, 200)},
			NeedsReply: true, Answer: AnswerStaff, Replies: []ReplySpec{
				{Value: "eligible", Label: "符合条件", Fields: []FieldSpec{
					textField("certificate_number", "光荣证编号", false, 50), noteField()}},
				{Value: "not_eligible", Label: "不符合条件", ReasonRequired: true},
			},
			Deadlines: replyDeadline(15), Reminders: remindDays(), Escalation: escalateDays(),
			Documents: []string{"独生子女父母光荣证"},
		},
		{
			Name: "petition.forward", Label: "信访转办", Seed: "S2.3",
			Purpose: "将涉及对方辖区的信访事项转对方办理（有报必查），办结后通报结果",
			From:    SideEither, To: SideEither, Levels: []Level{LevelCounty, LevelCity, LevelProvince},
			Fields: []FieldSpec{textField("petition_number", "信访件编号", true, 50),
				dateField("petition_date", "信访日期", true), textField("summary", "信访事项摘要", true, 1000),
				idNumberField(false), nameField()},
			NeedsReply: true, Answer: AnswerStaff, Replies: []ReplySpec{
				{Value: "accepted", Label: "受理", Interim: true, Fields: []FieldSpec{textField("handled_by", "承办单位", false, 100)}},
				{Value: "declined", Label: "不予受理", ReasonRequired: true},
				{Value: "outcome", Label: "办理结果", Requires: "accepted", Fields: []FieldSpec{
					textField("outcome", "办理结果", true, 2000), dateField("closed_on", "办结日期", true)}},
			},
			// Calendar days, as the petition regulations count them (docs/catalog.md).
			Deadlines: []DeadlineSpec{
				{Name: "accept", Label: "告知是否受理", CalendarDays: 15, From: FromReceipt},
				{Name: "outcome", Label: "办结并通报结果", CalendarDays: 60, From: FromAcceptance},
			},
			Reminders: remindDays(), Escalation: escalateDays(),
		},
		{
			Name: "care.request", Label: "关怀关爱协助", Seed: "S3.4",
			Purpose: "请对方协助关爱留守家庭成员或帮助流动人口解决实际困难",
			From:    SideEither, To: SideEither, Levels: levelsGrassroots(),
			Fields: []FieldSpec{idNumberField(false), nameField(),
				enumField("need", "协助事项", true,
					Option{"left_behind_child", "留守儿童关爱"},
					Option{"left_behind_elder", "留守老人关爱"},
					Option{"left_behind_spouse", "留守配偶关爱"},
					Option{"hardship", "生产生活困难帮扶"},
					Option{"rights", "合法权益维护"},
					Option{OtherReason, "其他"}),
				textField("detail", "情况说明", true, 1000), textField("address", "住址", false, 200)},
			NeedsReply: true, Answer: AnswerStaff, Replies: []ReplySpec{
				{Value: "action_taken", Label: "已采取措施", Fields: []FieldSpec{
					textField("action", "所采取的措施", true, 1000), dateField("acted_on", "日期", true)}},
			},
			Deadlines: replyDeadline(15), Reminders: remindDays(), Escalation: escalateDays(),
		},
		{
			Name: "move.notice", Label: "流动变动通报", Seed: "S1.2",
			Purpose: "登记的流动变动（流入、离开、再流动、返乡）自动通报户籍地，以便跟踪服务",
			From:    SideResidence, To: SideHometown, Levels: levelsGrassroots(),
			Fields: []FieldSpec{idNumberField(true), nameField(),
				enumField("flow", "变动类型", true, flowOptions()...), dateField("flow_date", "变动日期", true),
				divisionField("residence_code", "现居住地行政区划代码", false)},
			Answer: AnswerReceipt,
		},
		{
			Name: "consult.case", Label: "省际会商", Seed: "S4.2",
			Purpose: "省际会商解决基层协作中遇到的政策障碍",
			From:    SideProvince, To: SideProvince, Levels: []Level{LevelProvince},
			Fields: []FieldSpec{textField("topic", "会商事项", true, 200), textField("detail", "情况说明", true, 4000),
				textField("proposal", "建议方案", false, 2000)},
			NeedsReply: true, Answer: AnswerStaff, Replies: []ReplySpec{
				{Value: "resolution", Label: "会商意见", Fields: []FieldSpec{textField("resolution", "会商意见", true, 4000)}},
			},
			Deadlines: replyDeadline(30), Reminders: remindDays(), Escalation: escalateDays(),
		},
		{
			Name: "directory.update", Label: "名录更新", Seed: "S1.4",
			Purpose: "公布本省的政策法规、服务机构与各级工作机构联系方式（通讯手册）",
			From:    SideProvince, To: SideAll, Levels: []Level{LevelProvince},
			// The wire form of a province's directory version (directory.go, docs/directory.md);
			// the entries are checked again, as the store checks them, when applied.
			Fields: []FieldSpec{
				{Name: "version", Label: "版本", Required: true, Kind: KindNumber},
				textField("updated_at", "版本时间", true, 40),
				// A directory too large for one message travels in parts 1..parts of a version.
				{Name: "part", Label: "分册序号", Kind: KindNumber},
				{Name: "parts", Label: "分册总数", Kind: KindNumber},
				{Name: "entries", Label: "名录条目", Required: true, Kind: KindList, Items: []FieldSpec{
					enumField("kind", "类别", true, Option{string(EntryRegulation), EntryRegulation.Label()},
						Option{string(EntryInstitution), EntryInstitution.Label()}, Option{string(EntryContact), EntryContact.Label()}),
					divisionField("division_code", "行政区划代码", false),
					textField("division_name", "区划名称", false, maxEntryShort),
					textField("name", "名称", true, maxEntryName),
					textField("doc_number", "文号", false, maxEntryShort),
					dateField("issued_on", "发布日期", false),
					enumField("status", "效力状态", false, Option{string(RegulationInForce), RegulationInForce.Label()},
						Option{string(RegulationAmended), RegulationAmended.Label()}, Option{string(RegulationRepealed), RegulationRepealed.Label()}),
					textField("url", "链接", false, maxEntryURL),
					textField("text", "全文或摘要", false, maxEntryText),
					textField("services", "服务项目", false, maxEntryNote),
					enumField("role", "职责", false, Option{string(RoleFirstResponsible), RoleFirstResponsible.Label()},
						Option{string(RoleLeaderInCharge), RoleLeaderInCharge.Label()}, Option{string(RoleOfficeHead), RoleOfficeHead.Label()},
						Option{string(RoleStaff), RoleStaff.Label()}),
					textField("person_name", "姓名", false, 30),
					textField("job_title", "职务", false, maxEntryShort),
					textField("phone", "电话", false, 50),
					textField("address", "地址", false, maxEntryAddress),
					textField("note", "备注", false, maxEntryNote)}}},
			Answer:    AnswerApply,
			Documents: []string{"通讯手册"},
		},
	}
}
