package yipanqi_test

import (
	"testing"

	"yipanqi"
)

// TestPrefixRange: the range of a prefix holds exactly the strings that start with it, and a
// Scope's range is the range of its unit.
func TestPrefixRange(t *testing.T) {
	lo, hi := yipanqi.PrefixRange("4401")
	in := func(s string) bool { return s >= lo && s < hi }
	for _, s := range []string{"4401", "440106", "4401999999", "440199999999"} {
		if !in(s) {
			t.Errorf("%s not in [%s, %s)", s, lo, hi)
		}
	}
	for _, s := range []string{"440", "4400999", "4402", "44020", "45"} {
		if in(s) {
			t.Errorf("%s in [%s, %s)", s, lo, hi)
		}
	}
	if lo, hi := yipanqi.PrefixRange("case."); !("case.sent" >= lo && "case.sent" < hi) || "cases" < hi {
		t.Errorf("PrefixRange(case.) = [%s, %s)", lo, hi)
	}
	s, err := yipanqi.NewScope("4409")
	if err != nil {
		t.Fatal(err)
	}
	if slo, shi := s.Range(); slo != "4409" || shi != "440:" {
		t.Errorf("Scope(4409).Range() = [%s, %s), want [4409, 440:)", slo, shi)
	}
}
