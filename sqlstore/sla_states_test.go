package sqlstore

import (
	"regexp"
	"slices"
	"testing"

	"yipanqi"
)

// TestSQLOpenStates: the SQL list of open states the supervision queries use is the domain's
// set of open states (yipanqi.CaseState.IsOpen), no more, no less.
func TestSQLOpenStates(t *testing.T) {
	if !regexp.MustCompile(`^\('[a-z_]+'(, '[a-z_]+')*\)$`).MatchString(openStates) {
		t.Fatalf("openStates = %s, not an SQL list of literals", openStates)
	}
	var got []yipanqi.CaseState
	for _, m := range regexp.MustCompile(`'([a-z_]+)'`).FindAllStringSubmatch(openStates, -1) {
		got = append(got, yipanqi.CaseState(m[1]))
	}
	var want []yipanqi.CaseState
	for _, s := range []yipanqi.CaseState{yipanqi.CaseDrafted, yipanqi.CaseSent, yipanqi.CaseDelivered, yipanqi.CaseInProgress,
		yipanqi.CaseReplied, yipanqi.CaseClosed, yipanqi.CaseTransferred, yipanqi.CaseWithdrawn, yipanqi.CaseRejected} {
		if s.IsOpen() {
			want = append(want, s)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("SQL open states %v, domain %v", got, want)
	}
}
