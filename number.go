package yipanqi

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// ParseNumber reads a decimal number a user typed (a form field, a command-line flag): an
// optional sign, digits, an optional fraction and exponent. It refuses what
// strconv.ParseFloat would also take but no user means: NaN, ±Inf ("inf", "infinity"),
// hexadecimal floats, digit separators ("_"), and anything too large for a float64. Every
// number parsed from user input goes through it, so that no NaN or infinity reaches a
// comparison (NaN passes every "x > max" check) or the store.
func ParseNumber(s string) (float64, error) {
	if s == "" || strings.ContainsAny(s, "xXpP_") {
		return 0, errors.New("not a decimal number")
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, err
	}
	if math.IsNaN(n) || math.IsInf(n, 0) {
		return 0, errors.New("not a finite number")
	}
	return n, nil
}
