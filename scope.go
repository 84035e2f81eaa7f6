package yipanqi

// Scope is the org-unit subtree a read may see: a user's own unit and everything beneath it.
// Administrative division codes nest by prefix (province 2 digits, city 4, county 6, township
// 9, village 12), so the subtree of a unit is every code that starts with the unit's code.
//
// Store methods that read people or cases take a Scope and refuse the zero Scope, so a caller
// cannot forget jurisdiction.
type Scope struct {
	unit string
}

// NewScope returns the Scope of the unit with the given division code. The code must have
// 2, 4, 6, 9 or 12 digits.
func NewScope(unit string) (Scope, error) {
	if !ValidDivisionCode(unit) {
		return Scope{}, FieldErrorf(EINVALID, "org_unit", "机构代码“%s”无效：应为 2、4、6、9 或 12 位数字的区划代码", unit)
	}
	return Scope{unit: unit}, nil
}

// Unit returns the division code at the top of the subtree, "" for the zero Scope.
func (s Scope) Unit() string { return s.unit }

// IsZero reports whether s is the zero Scope, which sees nothing.
func (s Scope) IsZero() bool { return s.unit == "" }

// Contains reports whether code lies in the subtree.
func (s Scope) Contains(code string) bool {
	return s.unit != "" && len(code) >= len(s.unit) && code[:len(s.unit)] == s.unit
}

// Range returns the half-open range [lo, hi) of codes in the subtree (PrefixRange of the unit),
// for an index range scan that works the same on every database.
func (s Scope) Range() (lo, hi string) { return PrefixRange(s.unit) }

// PrefixRange returns the half-open range [lo, hi) of the strings that start with the
// non-empty prefix p: every such string sorts at or after p and before p with its last byte
// raised by one ('9'+1 is ':', which still sorts after every digit). The prefix's last byte
// must not be 0xff.
func PrefixRange(p string) (lo, hi string) {
	b := []byte(p)
	b[len(b)-1]++
	return p, string(b)
}

// ValidDivisionCode reports whether code has the shape of a division code: 2, 4, 6, 9 or 12
// ASCII digits. Whether such a division exists is for package division to say.
func ValidDivisionCode(code string) bool {
	switch len(code) {
	case 2, 4, 6, 9, 12:
	default:
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}
