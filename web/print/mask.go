package print

import (
	"strings"

	"yipanqi/idcard"
)

// MaskName hides a name for lists and public pages: the first and last characters stay and
// every one between becomes "*" (张*明, 欧阳**华); a two-character name keeps its first (李*);
// a single character is hidden entirely.
func MaskName(name string) string {
	r := []rune(strings.TrimSpace(name))
	switch len(r) {
	case 0:
		return ""
	case 1:
		return "*"
	case 2:
		return string(r[0]) + "*"
	}
	return string(r[0]) + strings.Repeat("*", len(r)-2) + string(r[len(r)-1])
}

// MaskIDNumber hides the middle of a resident ID number: "440103********1234" (idcard.Mask).
func MaskIDNumber(number string) string { return idcard.Mask(strings.TrimSpace(number)) }

// MaskPhone hides the middle four digits of a mobile number ("138****0000") and all but the
// last four characters of any other number; a number of four characters or fewer is hidden
// entirely.
func MaskPhone(phone string) string {
	r := []rune(strings.TrimSpace(phone))
	switch {
	case len(r) == 11:
		return string(r[:3]) + "****" + string(r[7:])
	case len(r) <= 4:
		return strings.Repeat("*", len(r))
	}
	return strings.Repeat("*", len(r)-4) + string(r[len(r)-4:])
}
