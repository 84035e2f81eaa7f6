// Package division answers questions about China's administrative divisions — the org units
// Yipanqi serves: province (2-digit code), city (4), county (6), township (9) and village or
// community (12).
//
// The divisions are data, not code: the National Bureau of Statistics' division codes, embedded
// as gzip-compressed CSV files under data/ (see data/SOURCE.md), or loaded at run time from a
// directory of files in the same format (LoadDir), so a newer release replaces the snapshot
// without a code change.
//
// A Tree is immutable once loaded and safe for concurrent use. Its Division values share their
// Code and Name strings with the tree (substrings of a few large strings), so they cost no
// allocation to hand out.
package division

import (
	"strings"
	"unicode/utf8"

	"yipanqi"
)

// Division is one administrative division.
type Division struct {
	Code   string        // 2, 4, 6, 9 or 12 digits
	Name   string        // as the data has it, e.g. "天河区", "市辖区"
	Level  yipanqi.Level // from the code's length
	Parent string        // parent code, "" for a province
}

// Tree holds every division of a data set. It is immutable after load and safe for concurrent
// use.
type Tree struct {
	// levels[l-1] holds the divisions of yipanqi.Level l, sorted by code.
	levels [5]level
	// villages[p] says whether the data has villages in the province with the 2-digit code p.
	villages [100]bool
	total    int
}

// level holds the divisions of one level in code order. Codes of one level have one width, so
// the i-th code is codes[i*width:(i+1)*width]; names are substrings of one string.
type level struct {
	width int
	codes string
	names string
	nodes []node
}

// node is one division inside its level. Children are an index range of the next level.
type node struct {
	nameOff, nameEnd uint32
	parent           int32 // index in the level above; -1 for a province
	kidLo, kidHi     int32 // children: next level's nodes[kidLo:kidHi]
}

func (lv *level) len() int              { return len(lv.nodes) }
func (lv *level) code(i int) string     { return lv.codes[i*lv.width : (i+1)*lv.width] }
func (lv *level) name(i int) string     { n := &lv.nodes[i]; return lv.names[n.nameOff:n.nameEnd] }
func (lv *level) parentWidth() int      { return parentWidth(lv.width) }
func levelOfIndex(li int) yipanqi.Level { return yipanqi.Level(li + 1) }

// parentWidth returns the width of the parent code of a code with width digits.
func parentWidth(width int) int {
	switch width {
	case 4:
		return 2
	case 6:
		return 4
	case 9:
		return 6
	case 12:
		return 9
	}
	return 0
}

// search returns the index of code in the level, or -1. Codes have the level's width, so
// comparing them as strings compares them as numbers.
func (lv *level) search(code string) int {
	lo, hi := 0, lv.len()
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if lv.code(m) < code {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < lv.len() && lv.code(lo) == code {
		return lo
	}
	return -1
}

// prefixRange returns the index range [lo, hi) of the level's codes that start with prefix.
func (lv *level) prefixRange(prefix string) (lo, hi int) {
	w := len(prefix)
	lo, hi = 0, lv.len()
	for lo < hi { // first code whose prefix is >= prefix
		m := int(uint(lo+hi) >> 1)
		if lv.code(m)[:w] < prefix {
			lo = m + 1
		} else {
			hi = m
		}
	}
	first := lo
	hi = lv.len()
	for lo < hi { // first code whose prefix is > prefix
		m := int(uint(lo+hi) >> 1)
		if lv.code(m)[:w] <= prefix {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return first, lo
}

func (t *Tree) division(li, i int) Division {
	lv := &t.levels[li]
	code := lv.code(i)
	return Division{Code: code, Name: lv.name(i), Level: levelOfIndex(li), Parent: code[:lv.parentWidth()]}
}

// find returns the level index and node index of code, or an error for Lookup to return.
func (t *Tree) find(code string) (li, i int, err error) {
	if !yipanqi.ValidDivisionCode(code) {
		return 0, 0, yipanqi.FieldErrorf(yipanqi.EINVALID, "division_code",
			"行政区划代码“%s”格式错误：应为 2、4、6、9 或 12 位数字", quote(code))
	}
	li = int(yipanqi.LevelOf(code)) - 1
	if i = t.levels[li].search(code); i >= 0 {
		return li, i, nil
	}
	if levelOfIndex(li) == yipanqi.LevelVillage {
		if t.levels[li].len() == 0 {
			return 0, 0, yipanqi.FieldErrorf(yipanqi.ENOTFOUND, "division_code",
				"行政区划代码“%s”不存在：未加载村级（12 位）区划数据", code)
		}
		p := t.levels[0].search(code[:2])
		if p >= 0 && !t.villages[provinceIndex(code)] {
			return 0, 0, yipanqi.FieldErrorf(yipanqi.ENOTFOUND, "division_code",
				"行政区划代码“%s”不存在：村级（12 位）区划数据只覆盖泛珠三角各省（区、市），不含%s",
				code, t.levels[0].name(p))
		}
	}
	return 0, 0, yipanqi.FieldErrorf(yipanqi.ENOTFOUND, "division_code", "行政区划代码“%s”不存在", code)
}

// provinceIndex returns the two leading digits of a valid code as a number.
func provinceIndex(code string) int { return int(code[0]-'0')*10 + int(code[1]-'0') }

// quote shortens a bad value to a length fit to repeat in a message.
func quote(s string) string {
	const max = 24
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max]) + "…"
}

// Lookup returns the division with the code. It returns EINVALID for a code that is not 2, 4,
// 6, 9 or 12 digits and ENOTFOUND for one the data does not hold.
func (t *Tree) Lookup(code string) (Division, error) {
	li, i, err := t.find(code)
	if err != nil {
		return Division{}, err
	}
	return t.division(li, i), nil
}

// Exists reports whether the data holds a division with the code.
func (t *Tree) Exists(code string) bool {
	if !yipanqi.ValidDivisionCode(code) {
		return false
	}
	return t.levels[int(yipanqi.LevelOf(code))-1].search(code) >= 0
}

// Ancestors returns the division with the code and those above it, province first and the
// division itself last. Errors are as for Lookup.
func (t *Tree) Ancestors(code string) ([]Division, error) {
	li, i, err := t.find(code)
	if err != nil {
		return nil, err
	}
	out := make([]Division, li+1)
	for ; li >= 0; li-- {
		out[li] = t.division(li, i)
		i = int(t.levels[li].nodes[i].parent)
	}
	return out, nil
}

// Children returns the divisions directly under the one with the code, sorted by code; none
// for a village. Errors are as for Lookup.
func (t *Tree) Children(code string) ([]Division, error) {
	li, i, err := t.find(code)
	if err != nil {
		return nil, err
	}
	if li+1 >= len(t.levels) {
		return nil, nil
	}
	n := t.levels[li].nodes[i]
	return t.collect(li+1, int(n.kidLo), int(n.kidHi)), nil
}

func (t *Tree) collect(li, lo, hi int) []Division {
	if lo >= hi {
		return nil
	}
	out := make([]Division, 0, hi-lo)
	for j := lo; j < hi; j++ {
		out = append(out, t.division(li, j))
	}
	return out
}

// Provinces returns every province-level division, sorted by code.
func (t *Tree) Provinces() []Division {
	return t.collect(0, 0, t.levels[0].len())
}

// Counties returns every county-level (6-digit) division under the province with the 2-digit
// code, sorted by code — including those under a placeholder city such as 市辖区 or
// 省直辖县级行政区划. It returns EINVALID for a code that is not 2 digits and ENOTFOUND for an
// unknown province.
func (t *Tree) Counties(province string) ([]Division, error) {
	if len(province) != 2 || !yipanqi.ValidDivisionCode(province) {
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "division_code",
			"省级行政区划代码“%s”格式错误：应为 2 位数字", quote(province))
	}
	if _, _, err := t.find(province); err != nil {
		return nil, err
	}
	lo, hi := t.levels[2].prefixRange(province)
	return t.collect(2, lo, hi), nil
}

// Search returns up to limit divisions whose name contains name (all of them when limit <= 0):
// provinces first, then cities, counties, townships and villages, each level in code order. An
// empty name matches nothing.
func (t *Tree) Search(name string, limit int) []Division {
	if name == "" {
		return nil
	}
	var out []Division
	for li := range t.levels {
		lv := &t.levels[li]
		for j := range lv.nodes {
			if strings.Contains(lv.name(j), name) {
				out = append(out, t.division(li, j))
				if limit > 0 && len(out) >= limit {
					return out
				}
			}
		}
	}
	return out
}

// placeholders are names the data gives to levels that are not places: a city-level group of
// a municipality's districts (市辖区) or counties (县, in 重庆), and of counties a province or
// autonomous region governs directly.
var placeholders = [...]string{"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}

// IsPlaceholder reports whether name is one the data gives to a grouping level that is not a
// place (市辖区, 县 as a city-level group, 省直辖县级行政区划, 自治区直辖县级行政区划). FullName
// leaves such levels out.
func IsPlaceholder(name string) bool {
	for _, p := range placeholders {
		if name == p {
			return true
		}
	}
	return false
}

// FullName returns the name of the division with the code as a person writes it: the names
// from the province down, joined, leaving out placeholder levels (see IsPlaceholder) and a
// name that repeats the one above it (东莞市 the county under 东莞市 the city). So 500101 is
// "重庆市万州区" and 429004 is "湖北省仙桃市". Errors are as for Lookup.
func (t *Tree) FullName(code string) (string, error) {
	li, i, err := t.find(code)
	if err != nil {
		return "", err
	}
	var parts [5]string
	for ; li >= 0; li-- {
		parts[li] = t.levels[li].name(i)
		i = int(t.levels[li].nodes[i].parent)
	}
	var b strings.Builder
	b.Grow(len(parts[0]) + len(parts[1]) + len(parts[2]) + len(parts[3]) + len(parts[4]))
	prev := ""
	for _, p := range parts {
		if p == "" || IsPlaceholder(p) || p == prev {
			continue
		}
		b.WriteString(p)
		prev = p
	}
	return b.String(), nil
}

// HasVillages reports whether the data holds village-level (12-digit) divisions for the
// province with the 2-digit code: the embedded data has them only for the Pan-PRD provinces.
func (t *Tree) HasVillages(province string) bool {
	return len(province) == 2 && yipanqi.ValidDivisionCode(province) && t.villages[provinceIndex(province)]
}

// Len returns how many divisions the tree holds, at every level.
func (t *Tree) Len() int { return t.total }
