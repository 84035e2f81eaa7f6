package main

import (
	"strings"
	"testing"
)

// The fixture's open identity case of 440106002 fell due on 2026-03-23: at assessNow a sweep
// finds it overdue and escalated to the county and the city; the county's board shows it.
func TestSLACLI(t *testing.T) {
	dsn := assessFixture(t)
	code, out, errOut := cliRun(t, assessNow, nil, "sla", "sweep", "--db", dsn)
	if code != 0 || !strings.Contains(out, "新超期 1 件，督办升级 2 次") {
		t.Fatalf("sla sweep: exit %d %q %q", code, out, errOut)
	}
	code, out, errOut = cliRun(t, assessNow, nil, "sla", "board", "--db", dsn, "--unit", "440106")
	if code != 0 || !strings.Contains(out, "在办 1，临近期限 0，已超期 1；本单位督办队列 1 件") || !strings.Contains(out, "440106002") {
		t.Fatalf("sla board: exit %d %q %q", code, out, errOut)
	}
	if code, _, errOut := cliRun(t, assessNow, nil, "sla", "board", "--db", dsn); code != 2 || !strings.Contains(errOut, "--unit") {
		t.Errorf("board without --unit: exit %d %q", code, errOut)
	}
}
