package yipanqi_test

import (
	"math"
	"testing"

	"yipanqi"
)

func TestParseNumber(t *testing.T) {
	for _, s := range []string{"2", "-1.5", "+3", "0.25", "1e2", "-0"} {
		if n, err := yipanqi.ParseNumber(s); err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
			t.Errorf("ParseNumber(%q) = %v, %v", s, n, err)
		}
	}
	for _, s := range []string{"", "NaN", "nan", "-NaN", "Inf", "+Inf", "-Inf", "inf", "infinity", "-Infinity",
		"1e400", "-1e309", "0x1p3", "1_000", "abc", "1.5.2", " 1"} {
		if n, err := yipanqi.ParseNumber(s); err == nil {
			t.Errorf("ParseNumber(%q) = %v, want an error", s, n)
		}
	}
}
