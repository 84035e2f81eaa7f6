// Package exchange is how Yipanqi nodes talk to each other: the CloudEvents envelope every
// message travels in, its SM2/SM3 signature, the node keys and the region's signed trust list
// that says which keys belong to which node.
//
// The wire format, the canonical form a signature covers and the trust list format are
// described in docs/exchange-envelope.md. The case engine that sends and receives cases
// through it is package casework; this package imports no store.
package exchange

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"yipanqi"
)

// CloudEvents attribute values fixed by this envelope.
const (
	SpecVersion     = "1.0"
	DataContentType = "application/json"
)

// MaxEnvelopeSize is the largest envelope, in bytes, that Decode accepts and Encode produces.
const MaxEnvelopeSize = 256 << 10

// Forms of the source attribute and of the type attribute.
const (
	sourcePrefix = "ypq:node:"
	typePrefix   = "cn.ypq."
)

// timeLayout is how envelope times are written: RFC 3339, UTC, always nine fraction digits.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// Envelope is one message between nodes: a CloudEvents 1.0 event in structured JSON mode.
// specversion ("1.0") and datacontenttype ("application/json") are implied.
type Envelope struct {
	ID      string    // "id": a UUIDv7, also the JetStream deduplication id
	Source  string    // "source": the sending node, NodeSource(code), e.g. "ypq:node:44"
	Type    string    // "type": EventType(catalog type, version), e.g. "cn.ypq.verify.identity.v1"
	Subject string    // "subject": the case id (a UUID)
	Time    time.Time // "time": when the sender made the message, kept in UTC
	Dest    string    // "ypqdest": the destination node code, e.g. "35"
	Unit    string    // "ypqunit": the addressed org unit, a division code inside Dest
	ReplyTo string    // "ypqreplyto": Hash of the envelope this one answers; "" if none
	KeyID   string    // "ypqkeyid": the signing key, e.g. "44-1a2b3c4d"
	Sig     string    // "ypqsig": base64 of the DER SM2 signature over the canonical form
	Data    json.RawMessage
}

// NodeSource returns the source attribute for the node with the given province code.
func NodeSource(code string) string { return sourcePrefix + code }

// NodeOf returns the node code named by a source attribute, or EINVALID if source is not of
// the form "ypq:node:NN".
func NodeOf(source string) (string, error) {
	code, ok := strings.CutPrefix(source, sourcePrefix)
	if !ok || !ValidNodeCode(code) {
		return "", yipanqi.FieldErrorf(yipanqi.EINVALID, "source",
			"字段 source 不是节点来源，应为“ypq:node:”加两位省级代码，如“ypq:node:44”")
	}
	return code, nil
}

// ValidNodeCode reports whether s is a province node code: two digits, not starting with 0.
func ValidNodeCode(s string) bool {
	return len(s) == 2 && s[0] >= '1' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9'
}

// EventType returns the type attribute for a catalog type and its version:
// EventType("verify.identity", 1) is "cn.ypq.verify.identity.v1".
func EventType(catalogType string, version int) string {
	return typePrefix + catalogType + ".v" + strconv.Itoa(version)
}

// ParseEventType splits a type attribute into the catalog type and its version, or returns
// EINVALID naming the field type.
func ParseEventType(t string) (catalogType string, version int, err error) {
	bad := func() (string, int, error) {
		return "", 0, yipanqi.FieldErrorf(yipanqi.EINVALID, "type",
			"字段 type 不是合法的消息类型，应为“cn.ypq.<目录类型>.v<版本>”，如“cn.ypq.verify.identity.v1”")
	}
	rest, ok := strings.CutPrefix(t, typePrefix)
	if !ok || len(t) > 128 {
		return bad()
	}
	dot := strings.LastIndexByte(rest, '.')
	if dot < 0 {
		return bad()
	}
	name, ver := rest[:dot], rest[dot+1:]
	if len(ver) < 2 || len(ver) > 5 || ver[0] != 'v' || ver[1] == '0' || !allDigits(ver[1:]) {
		return bad()
	}
	for _, part := range strings.Split(name, ".") {
		if part == "" || part[0] < 'a' || part[0] > 'z' {
			return bad()
		}
		for i := 0; i < len(part); i++ {
			if c := part[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
				return bad()
			}
		}
	}
	v, _ := strconv.Atoi(ver[1:]) // all digits, at most four
	return name, v, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// isUUID reports whether s is a UUID in canonical lower-case form; version 0 accepts any
// version, otherwise the version nibble must match and the variant must be RFC 9562's.
func isUUID(s string, version byte) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	if version == 0 {
		return true
	}
	return s[14] == '0'+version && strings.IndexByte("89ab", s[19]) >= 0
}

func IsLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// isTimeText reports whether s has the shape "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z" that Decode
// accepts before handing it to time.Parse for the calendar checks.
func isTimeText(s string) bool {
	const shape = "dddd-dd-ddTdd:dd:dd"
	if len(s) < len(shape)+1 || s[len(s)-1] != 'Z' {
		return false
	}
	for i := 0; i < len(shape); i++ {
		if shape[i] == 'd' {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		} else if s[i] != shape[i] {
			return false
		}
	}
	frac := s[len(shape) : len(s)-1]
	if frac == "" {
		return true
	}
	return frac[0] == '.' && len(frac) >= 2 && len(frac) <= 10 && allDigits(frac[1:])
}

// attribute describes one top-level member of the envelope.
type attribute struct {
	name     string
	required bool
	set      func(e *Envelope, s string) error
}

func invalid(field, format string, args ...any) error {
	return yipanqi.FieldErrorf(yipanqi.EINVALID, field, "字段 "+field+"："+format, args...)
}

// attributes lists every string attribute with its check, in the order errors are reported
// for missing ones. "data" is handled apart because it is an object.
var attributes = []attribute{
	{"specversion", true, func(e *Envelope, s string) error {
		if s != SpecVersion {
			return invalid("specversion", "须为“1.0”")
		}
		return nil
	}},
	{"id", true, func(e *Envelope, s string) error {
		e.ID = s
		return checkID(s)
	}},
	{"source", true, func(e *Envelope, s string) error {
		e.Source = s
		_, err := NodeOf(s)
		return err
	}},
	{"type", true, func(e *Envelope, s string) error {
		e.Type = s
		_, _, err := ParseEventType(s)
		return err
	}},
	{"subject", true, func(e *Envelope, s string) error {
		e.Subject = s
		return checkSubject(s)
	}},
	{"time", true, func(e *Envelope, s string) error {
		if !isTimeText(s) {
			return invalid("time", "不是 UTC 的 RFC 3339 时间，应形如“2026-03-01T08:00:00.123456789Z”")
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return invalid("time", "不是存在的日期时间")
		}
		e.Time = t.UTC()
		return nil
	}},
	{"datacontenttype", true, func(e *Envelope, s string) error {
		if s != DataContentType {
			return invalid("datacontenttype", "须为“application/json”")
		}
		return nil
	}},
	{"ypqdest", true, func(e *Envelope, s string) error {
		e.Dest = s
		return checkDest(s)
	}},
	{"ypqunit", true, func(e *Envelope, s string) error {
		e.Unit = s
		return checkUnit(s)
	}},
	{"ypqreplyto", false, func(e *Envelope, s string) error {
		e.ReplyTo = s
		return CheckReplyTo(s)
	}},
	{"ypqkeyid", true, func(e *Envelope, s string) error {
		e.KeyID = s
		return checkKeyID(s)
	}},
	{"ypqsig", true, func(e *Envelope, s string) error {
		e.Sig = s
		return checkSig(s)
	}},
}

func checkID(s string) error {
	if !isUUID(s, 7) {
		return invalid("id", "不是 UUIDv7（小写、带连字符的 36 位形式）")
	}
	return nil
}

func checkSubject(s string) error {
	if !isUUID(s, 0) {
		return invalid("subject", "不是案件编号（小写、带连字符的 36 位 UUID）")
	}
	return nil
}

func checkDest(s string) error {
	if !ValidNodeCode(s) {
		return invalid("ypqdest", "不是目的节点代码（两位省级代码，如“35”）")
	}
	return nil
}

func checkUnit(s string) error {
	switch len(s) {
	case 2, 4, 6, 9, 12:
		if allDigits(s) {
			return nil
		}
	}
	return invalid("ypqunit", "不是行政区划代码（2、4、6、9 或 12 位数字）")
}

func CheckReplyTo(s string) error {
	if !IsLowerHex(s, 64) {
		return invalid("ypqreplyto", "不是被答复消息的 SM3 摘要（64 位小写十六进制）")
	}
	return nil
}

func checkKeyID(s string) error {
	node, ok := keyIDNode(s)
	if !ok || !ValidNodeCode(node) {
		return invalid("ypqkeyid", "不是节点密钥编号（形如“44-1a2b3c4d”）")
	}
	return nil
}

func checkSig(s string) error {
	if s == "" || len(s) > 256 {
		return invalid("ypqsig", "签名长度不对")
	}
	if _, err := base64.StdEncoding.Strict().DecodeString(s); err != nil {
		return invalid("ypqsig", "签名不是合法的 base64")
	}
	return nil
}

// Decode reads an envelope strictly. Anything that is not exactly a valid envelope — unknown
// or duplicate members, a missing required attribute, a wrong JSON type, specversion other
// than "1.0", an id that is not a UUIDv7, a bad time, data that is not an object or not in
// the canonical subset, more than MaxEnvelopeSize bytes — is an EINVALID *yipanqi.Error whose
// Field names the attribute and whose Message (Chinese) says what is wrong. Errors about the
// whole document (size, JSON syntax outside any member) have no Field.
//
// Decode checks form only; whether the signature is good is TrustList.Verify's job. The
// returned Data is the canonical form of the data object.
func Decode(b []byte) (*Envelope, error) {
	if len(b) > MaxEnvelopeSize {
		return nil, yipanqi.Errorf(yipanqi.EINVALID, "消息长度 %d 字节，超过上限 %d 字节（256 KiB）", len(b), MaxEnvelopeSize)
	}
	doc, err := parseJSON(b, "")
	if err != nil {
		return nil, err
	}
	if doc.kind != jsonObject {
		return nil, yipanqi.Errorf(yipanqi.EINVALID, "消息须为 JSON 对象，实为%s", doc.kind.kindName())
	}
	e := &Envelope{}
	seen := make(map[string]bool, len(attributes)+1)
	for i := range doc.obj {
		m := &doc.obj[i]
		seen[m.name] = true
		if m.name == "data" {
			if m.value.kind != jsonObject {
				return nil, invalid("data", "须为 JSON 对象，实为%s", m.value.kind.kindName())
			}
			e.Data = appendCanonical(nil, &m.value)
			continue
		}
		a := findAttribute(m.name)
		if a == nil {
			return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, nameOf(m.name), "未知字段“%s”（CloudEvents 扩展属性只允许本系统定义的 ypq*）", nameOf(m.name))
		}
		if m.value.kind != jsonString {
			return nil, invalid(a.name, "须为字符串，实为%s", m.value.kind.kindName())
		}
		if err := a.set(e, m.value.str); err != nil {
			return nil, err
		}
	}
	for _, a := range attributes {
		if a.required && !seen[a.name] {
			return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, a.name, "缺少必填字段 %s", a.name)
		}
	}
	if !seen["data"] {
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "data", "缺少必填字段 data")
	}
	if err := e.checkCross(); err != nil {
		return nil, err
	}
	// The canonical form may be a few bytes longer than the input (a short time gains its
	// nine fraction digits); refuse here what Encode could not write back.
	if n := len(e.appendForm(nil, e.Data, true)); n > MaxEnvelopeSize {
		return nil, yipanqi.Errorf(yipanqi.EINVALID, "消息规范化后长度 %d 字节，超过上限 %d 字节（256 KiB）", n, MaxEnvelopeSize)
	}
	return e, nil
}

func findAttribute(name string) *attribute {
	for i := range attributes {
		if attributes[i].name == name {
			return &attributes[i]
		}
	}
	return nil
}

// checkCross checks the rules that tie attributes together.
func (e *Envelope) checkCross() error {
	if !strings.HasPrefix(e.Unit, e.Dest) {
		return invalid("ypqunit", "受理单位不在目的节点（ypqdest）的辖区内")
	}
	return nil
}

// Validate checks an envelope built in code by the same rules Decode applies to one read from
// the wire, signature included; it returns an EINVALID *yipanqi.Error naming the field.
func (e *Envelope) Validate() error {
	if err := e.validateUnsigned(); err != nil {
		return err
	}
	if e.KeyID == "" {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "ypqkeyid", "缺少必填字段 ypqkeyid（消息尚未签名）")
	}
	if e.Sig == "" {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "ypqsig", "缺少必填字段 ypqsig（消息尚未签名）")
	}
	return checkSig(e.Sig)
}

// validateUnsigned checks everything but the signature, and the key id only if set.
func (e *Envelope) validateUnsigned() error {
	checks := []struct {
		name string
		val  string
		fn   func(string) error
	}{
		{"id", e.ID, checkID},
		{"source", e.Source, func(s string) error { _, err := NodeOf(s); return err }},
		{"type", e.Type, func(s string) error { _, _, err := ParseEventType(s); return err }},
		{"subject", e.Subject, checkSubject},
		{"ypqdest", e.Dest, checkDest},
		{"ypqunit", e.Unit, checkUnit},
	}
	for _, c := range checks {
		if c.val == "" {
			return yipanqi.FieldErrorf(yipanqi.EINVALID, c.name, "缺少必填字段 %s", c.name)
		}
		if err := c.fn(c.val); err != nil {
			return err
		}
	}
	if e.Time.IsZero() {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "time", "缺少必填字段 time")
	}
	if y := e.Time.UTC().Year(); y < 1 || y > 9999 {
		return invalid("time", "年份 %d 超出范围", y)
	}
	if e.ReplyTo != "" {
		if err := CheckReplyTo(e.ReplyTo); err != nil {
			return err
		}
	}
	if e.KeyID != "" {
		if err := checkKeyID(e.KeyID); err != nil {
			return err
		}
	}
	if len(e.Data) == 0 {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "data", "缺少必填字段 data")
	}
	if !utf8.Valid(e.Data) {
		return invalid("data", "含有非法的 UTF-8 字节序列")
	}
	return e.checkCross()
}

// canonicalData parses e.Data by the strict rules and returns its canonical form.
func (e *Envelope) canonicalData() ([]byte, error) {
	v, err := parseJSON(e.Data, "data")
	if err != nil {
		return nil, err
	}
	if v.kind != jsonObject {
		return nil, invalid("data", "须为 JSON 对象，实为%s", v.kind.kindName())
	}
	return appendCanonical(make([]byte, 0, len(e.Data)), &v), nil
}

// appendForm appends the canonical JSON form of the envelope: RFC 8785 over all attributes
// (ypqsig only if withSig), data given already canonical. Members are written in the sorted
// order RFC 8785 prescribes; all names are ASCII so that is plain byte order.
func (e *Envelope) appendForm(dst, data []byte, withSig bool) []byte {
	member := func(name, value string) {
		if len(dst) > 1 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, name)
		dst = append(dst, ':')
		dst = appendString(dst, value)
	}
	dst = append(dst, '{')
	dst = append(dst, `"data":`...)
	dst = append(dst, data...)
	member("datacontenttype", DataContentType)
	member("id", e.ID)
	member("source", e.Source)
	member("specversion", SpecVersion)
	member("subject", e.Subject)
	member("time", e.Time.UTC().Format(timeLayout))
	member("type", e.Type)
	member("ypqdest", e.Dest)
	member("ypqkeyid", e.KeyID)
	if e.ReplyTo != "" {
		member("ypqreplyto", e.ReplyTo)
	}
	if withSig {
		member("ypqsig", e.Sig)
	}
	member("ypqunit", e.Unit)
	return append(dst, '}')
}

// Encode writes the envelope in its canonical JSON form (RFC 8785, signature included), the
// form Hash digests. It returns EINVALID if the envelope would not pass Decode — in particular
// if it is not signed yet.
func (e *Envelope) Encode() ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	data, err := e.canonicalData()
	if err != nil {
		return nil, err
	}
	b := e.appendForm(make([]byte, 0, len(data)+512), data, true)
	if len(b) > MaxEnvelopeSize {
		return nil, yipanqi.Errorf(yipanqi.EINVALID, "消息长度 %d 字节，超过上限 %d 字节（256 KiB）", len(b), MaxEnvelopeSize)
	}
	return b, nil
}

// String describes the envelope for logs without its data (which may hold personal data).
func (e *Envelope) String() string {
	return fmt.Sprintf("envelope %s %s from %s to %s/%s case %s", e.ID, e.Type, e.Source, e.Dest, e.Unit, e.Subject)
}
