package exchange

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"yipanqi"
)

// This file holds the strict JSON reader and the canonical JSON writer that the envelope and
// the trust list share. The reader accepts the subset of JSON in which RFC 8785 (JCS)
// canonicalisation is exact, so that what a receiver reads is exactly what the sender signed:
//
//   - every string is valid UTF-8 and no \u escape is a lone surrogate (outside strings any
//     byte that is not JSON punctuation is a syntax error anyway);
//   - no object has two members with the same name (after unescaping);
//   - every number is already written as RFC 8785 writes it (ECMAScript Number.toString of
//     its IEEE 754 double: "1" not "1.0", "1e+21" not "1E21", "0" not "-0"), so no two
//     different numbers share a canonical form and none is silently rounded;
//   - nesting is at most maxDepth deep.
//
// The writer emits RFC 8785: no insignificant whitespace, members sorted by the UTF-16 code
// units of their names, strings with only the mandatory escapes.

// maxDepth bounds nesting so that a hostile document cannot exhaust the stack.
const maxDepth = 64

type jsonKind uint8

const (
	jsonNull jsonKind = iota
	jsonBool
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

// jsonValue is one parsed JSON value. For strings str is the unescaped text, for numbers and
// booleans the literal.
type jsonValue struct {
	kind jsonKind
	str  string
	arr  []jsonValue
	obj  []jsonMember
}

type jsonMember struct {
	name  string
	value jsonValue
}

// kindName is the Chinese name of a JSON type, for error messages.
func (k jsonKind) kindName() string {
	switch k {
	case jsonNull:
		return "null"
	case jsonBool:
		return "布尔值"
	case jsonNumber:
		return "数值"
	case jsonString:
		return "字符串"
	case jsonArray:
		return "数组"
	default:
		return "对象"
	}
}

// member returns the value of the member called name, if any.
func (v *jsonValue) member(name string) (*jsonValue, bool) {
	for i := range v.obj {
		if v.obj[i].name == name {
			return &v.obj[i].value, true
		}
	}
	return nil, false
}

// pathElem is one step of a JSON pointer, kept cheap until an error needs it.
type pathElem struct {
	name  string
	index int // -1 for an object member
}

type jsonParser struct {
	b     []byte
	i     int
	depth int
	// root is the field the whole document stands for ("data" when parsing a data object on
	// its own); empty when the document is an envelope or a trust list whose top-level
	// members are the fields.
	root  string
	field string
	path  []pathElem
}

// parseJSON reads one JSON document under the strict rules above. Errors are *yipanqi.Error
// EINVALID naming the field (root, or the top-level member being read) and the position.
func parseJSON(b []byte, root string) (jsonValue, error) {
	p := &jsonParser{b: b, root: root, field: root}
	p.skipSpace()
	v, err := p.value()
	if err != nil {
		return jsonValue{}, err
	}
	p.skipSpace()
	if p.i < len(p.b) {
		return jsonValue{}, p.errorf("第 %d 字节处在 JSON 值之后还有多余内容", p.i+1)
	}
	return v, nil
}

func (p *jsonParser) errorf(format string, args ...any) *yipanqi.Error {
	msg := fmt.Sprintf(format, args...)
	if p.field == "" {
		return yipanqi.Errorf(yipanqi.EINVALID, "JSON 格式错误：%s", msg)
	}
	if len(p.path) > 0 {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, p.field, "字段 %s（位置 %s）：%s", p.field, p.pointer(), msg)
	}
	return yipanqi.FieldErrorf(yipanqi.EINVALID, p.field, "字段 %s：%s", p.field, msg)
}

// pointer renders the current path as an RFC 6901 JSON pointer, shortened if very long.
func (p *jsonParser) pointer() string {
	var sb strings.Builder
	for _, e := range p.path {
		sb.WriteByte('/')
		if e.index >= 0 {
			sb.WriteString(strconv.Itoa(e.index))
		} else {
			sb.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(nameOf(e.name)))
		}
	}
	return quoteShort(sb.String())
}

// nameOf is a member name as an error message and its Field may show it: the name itself
// when it has the shape of a protocol or catalog name (lower-case letters, digits and "_",
// starting with a letter, at most 40 characters, no run of 4 digits or more), else a
// placeholder. A name is what the sender wrote: it may hold anything, an ID number too, and
// a reason names the field and the rule, never what was sent (docs/exchange-engine.md).
func nameOf(s string) string {
	if safeName.MatchString(s) && !digitRun.MatchString(s) {
		return s
	}
	return "（不可识别的字段名）"
}

// NameOfType is a received catalog type name as a reason may show it: each dot-separated
// part as nameOf allows, else a placeholder.
func NameOfType(s string) string {
	for _, part := range strings.Split(s, ".") {
		if nameOf(part) != part {
			return "（不可识别的类型名）"
		}
	}
	return s
}

var (
	safeName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)
	digitRun = regexp.MustCompile(`[0-9]{4}`)
)

// quoteShort quotes s for an error message, cut to a readable length. Only for what this node
// wrote itself (a configuration, a key file): a value received is never quoted (nameOf).
func quoteShort(s string) string {
	const max = 64
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		s = string(r[:max]) + "…"
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

func (p *jsonParser) skipSpace() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) value() (jsonValue, error) {
	if p.i >= len(p.b) {
		return jsonValue{}, p.errorf("内容意外结束")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		s, err := p.string()
		return jsonValue{kind: jsonString, str: s}, err
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return p.literal("true", jsonBool)
	case c == 'f':
		return p.literal("false", jsonBool)
	case c == 'n':
		return p.literal("null", jsonNull)
	default:
		return jsonValue{}, p.errorf("第 %d 字节处不是合法的 JSON 值", p.i+1)
	}
}

func (p *jsonParser) literal(lit string, kind jsonKind) (jsonValue, error) {
	if !strings.HasPrefix(string(p.b[p.i:min(len(p.b), p.i+len(lit))]), lit) {
		return jsonValue{}, p.errorf("第 %d 字节处不是合法的 JSON 值", p.i+1)
	}
	p.i += len(lit)
	return jsonValue{kind: kind, str: lit}, nil
}

func (p *jsonParser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.errorf("嵌套超过 %d 层", maxDepth)
	}
	return nil
}

func (p *jsonParser) object() (jsonValue, error) {
	if err := p.enter(); err != nil {
		return jsonValue{}, err
	}
	top := p.depth == 1 && p.root == ""
	p.i++ // '{'
	v := jsonValue{kind: jsonObject, obj: make([]jsonMember, 0, 8)}
	var seen map[string]bool
	p.skipSpace()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		p.depth--
		return v, nil
	}
	for {
		p.skipSpace()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return jsonValue{}, p.errorf("第 %d 字节处应为成员名（带引号的字符串）", p.i+1)
		}
		name, err := p.string()
		if err != nil {
			return jsonValue{}, err
		}
		if seen[name] || (seen == nil && hasMember(v.obj, name)) {
			if top {
				return jsonValue{}, yipanqi.FieldErrorf(yipanqi.EINVALID, nameOf(name), "字段 %s 重复出现", nameOf(name))
			}
			return jsonValue{}, p.errorf("成员“%s”重复出现", nameOf(name))
		}
		// Small objects are searched linearly; a map pays off only for big ones.
		if seen == nil && len(v.obj) >= 16 {
			seen = make(map[string]bool, 2*len(v.obj))
			for _, m := range v.obj {
				seen[m.name] = true
			}
		}
		if seen != nil {
			seen[name] = true
		}
		p.skipSpace()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return jsonValue{}, p.errorf("第 %d 字节处应为冒号", p.i+1)
		}
		p.i++
		p.skipSpace()
		if top {
			p.field = nameOf(name)
		} else {
			p.path = append(p.path, pathElem{name: name, index: -1})
		}
		val, err := p.value()
		if err != nil {
			return jsonValue{}, err
		}
		if top {
			p.field = ""
		} else {
			p.path = p.path[:len(p.path)-1]
		}
		v.obj = append(v.obj, jsonMember{name: name, value: val})
		p.skipSpace()
		if p.i >= len(p.b) {
			return jsonValue{}, p.errorf("内容意外结束，对象未闭合")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			p.depth--
			return v, nil
		default:
			return jsonValue{}, p.errorf("第 %d 字节处应为逗号或右花括号", p.i+1)
		}
	}
}

func hasMember(obj []jsonMember, name string) bool {
	for i := range obj {
		if obj[i].name == name {
			return true
		}
	}
	return false
}

func (p *jsonParser) array() (jsonValue, error) {
	if err := p.enter(); err != nil {
		return jsonValue{}, err
	}
	p.i++ // '['
	v := jsonValue{kind: jsonArray}
	p.skipSpace()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		p.depth--
		return v, nil
	}
	for n := 0; ; n++ {
		p.skipSpace()
		p.path = append(p.path, pathElem{index: n})
		val, err := p.value()
		if err != nil {
			return jsonValue{}, err
		}
		p.path = p.path[:len(p.path)-1]
		v.arr = append(v.arr, val)
		p.skipSpace()
		if p.i >= len(p.b) {
			return jsonValue{}, p.errorf("内容意外结束，数组未闭合")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			p.depth--
			return v, nil
		default:
			return jsonValue{}, p.errorf("第 %d 字节处应为逗号或右方括号", p.i+1)
		}
	}
}

// string reads a quoted string starting at p.i. The input is already known to be valid UTF-8.
func (p *jsonParser) string() (string, error) {
	start := p.i
	p.i++ // '"'
	// Fast path: no escapes.
	for j := p.i; j < len(p.b); j++ {
		c := p.b[j]
		if c == '"' {
			raw := p.b[p.i:j]
			if !utf8.Valid(raw) {
				return "", p.errorf("第 %d 字节起的字符串含有非法的 UTF-8 字节序列", start+1)
			}
			p.i = j + 1
			return string(raw), nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
	}
	var buf []byte
	for {
		if p.i >= len(p.b) {
			return "", p.errorf("第 %d 字节起的字符串未闭合", start+1)
		}
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return string(buf), nil
		case c < 0x20:
			return "", p.errorf("第 %d 字节处字符串中含有未转义的控制字符", p.i+1)
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(p.b[p.i:])
			if r == utf8.RuneError && size == 1 {
				return "", p.errorf("第 %d 字节处字符串含有非法的 UTF-8 字节序列", p.i+1)
			}
			buf = append(buf, p.b[p.i:p.i+size]...)
			p.i += size
			continue
		case c != '\\':
			buf = append(buf, c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.b) {
			return "", p.errorf("第 %d 字节起的字符串未闭合", start+1)
		}
		esc := p.b[p.i+1]
		p.i += 2
		switch esc {
		case '"', '\\', '/':
			buf = append(buf, esc)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.errorf("第 %d 字节处 \\u 转义不完整", p.i-1)
			}
			if utf16.IsSurrogate(r) {
				if r >= 0xDC00 || p.i+1 >= len(p.b) || p.b[p.i] != '\\' || p.b[p.i+1] != 'u' {
					return "", p.errorf("第 %d 字节处含有不成对的 UTF-16 代理项", p.i-5)
				}
				p.i += 2
				r2, ok := p.hex4()
				if !ok || r2 < 0xDC00 || r2 > 0xDFFF {
					return "", p.errorf("第 %d 字节处含有不成对的 UTF-16 代理项", p.i-11)
				}
				r = utf16.DecodeRune(r, r2)
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", p.errorf("第 %d 字节处含有非法的转义序列", p.i-1)
		}
	}
}

func (p *jsonParser) hex4() (rune, bool) {
	if p.i+4 > len(p.b) {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	p.i += 4
	return r, true
}

func (p *jsonParser) number() (jsonValue, error) {
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	bad := func() (jsonValue, error) {
		return jsonValue{}, p.errorf("第 %d 字节处数值格式错误", start+1)
	}
	if p.b[p.i] == '-' {
		p.i++
	}
	if p.i < len(p.b) && p.b[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return bad()
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return bad()
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return bad()
		}
	}
	lit := string(p.b[start:p.i])
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return jsonValue{}, p.errorf("第 %d 字节起的数值超出双精度浮点数范围", start+1)
	}
	if want := canonicalNumber(f); want != lit {
		return jsonValue{}, p.errorf("第 %d 字节起的数值不是规范形式（RFC 8785）；超过 2^53 的整数（如身份号码）请用字符串", start+1)
	}
	return jsonValue{kind: jsonNumber, str: lit}, nil
}

// canonicalNumber writes f as RFC 8785 does. encoding/json already formats a float64 as
// ECMAScript's Number.prototype.toString, except that it keeps the sign of negative zero.
func canonicalNumber(f float64) string {
	if f == 0 {
		return "0"
	}
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return ""
	}
	b, err := json.Marshal(f)
	if err != nil {
		return ""
	}
	return string(b)
}

// appendCanonical appends the RFC 8785 form of v.
func appendCanonical(dst []byte, v *jsonValue) []byte {
	switch v.kind {
	case jsonNull, jsonBool, jsonNumber:
		return append(dst, v.str...)
	case jsonString:
		return appendString(dst, v.str)
	case jsonArray:
		dst = append(dst, '[')
		for i := range v.arr {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendCanonical(dst, &v.arr[i])
		}
		return append(dst, ']')
	default:
		members := sortedMembers(v.obj)
		dst = append(dst, '{')
		for i, m := range members {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, m.name)
			dst = append(dst, ':')
			dst = appendCanonical(dst, &m.value)
		}
		return append(dst, '}')
	}
}

func sortedMembers(obj []jsonMember) []*jsonMember {
	ms := make([]*jsonMember, len(obj))
	for i := range obj {
		ms[i] = &obj[i]
	}
	sort.Slice(ms, func(i, j int) bool { return lessUTF16(ms[i].name, ms[j].name) })
	return ms
}

// lessUTF16 orders strings by their UTF-16 code units, as RFC 8785 §3.2.3 requires. It
// differs from byte order only for characters above U+FFFF against U+E000–U+FFFF.
func lessUTF16(a, b string) bool {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			return utf16Order(ra) < utf16Order(rb)
		}
		a, b = a[na:], b[nb:]
	}
	return a == "" && b != ""
}

// utf16Order maps a rune to a number that sorts as its UTF-16 code units do: the first unit
// in the high bits, the second (if any) in the low ten.
func utf16Order(r rune) uint32 {
	if r < 0x10000 {
		return uint32(r) << 10
	}
	r -= 0x10000
	return (0xD800+uint32(r>>10))<<10 | uint32(r&0x3FF)
}

// appendString appends s as an RFC 8785 string: only '"', '\\' and control characters are
// escaped, the short escapes where JSON has them and \u00xx (lower case) otherwise.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c >= 0x20:
			dst = append(dst, c)
		case c == '\b':
			dst = append(dst, '\\', 'b')
		case c == '\f':
			dst = append(dst, '\\', 'f')
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		}
	}
	return append(dst, '"')
}

// Canonicalize returns the RFC 8785 canonical form of a JSON document in the strict subset
// described in docs/exchange-envelope.md, or an EINVALID *yipanqi.Error saying what is not
// accepted. Senders may use it to see the bytes a signature covers.
func Canonicalize(b []byte) ([]byte, error) {
	v, err := parseJSON(b, "data")
	if err != nil {
		return nil, err
	}
	return appendCanonical(make([]byte, 0, len(b)), &v), nil
}
