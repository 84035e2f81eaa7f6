package web_test

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/calendar"
	"yipanqi/sla"
	"yipanqi/sqlstore"
	"yipanqi/sqlstore/storetest"
	"yipanqi/web"
)

// Helpers of the 督办, 考核, 统计 and 名录 tests.

// addUser creates a user of the fixture's password.
func (ta *testApp) addUser(t *testing.T, name, unit string, role yipanqi.Role) {
	t.Helper()
	hash, err := web.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	u := &yipanqi.User{Username: name, OrgUnit: unit, Role: role, PasswordHash: hash}
	if err := ta.db.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	ta.users[name] = u
}

// receive stores an incoming case of type typ held by unit, received now, due by the
// catalog's first deadline, as the exchange engine does on receipt.
func (ta *testApp) receive(t *testing.T, typ, unit, person string) *yipanqi.Case {
	t.Helper()
	ct, err := yipanqi.Catalog().Type(typ)
	if err != nil {
		t.Fatal(err)
	}
	now := ta.clock.Now()
	c := &yipanqi.Case{Type: typ, Direction: yipanqi.Incoming, OrgUnit: unit, PeerNode: "36", PeerUnit: "360121",
		PersonIDNumber: person, State: yipanqi.CaseDelivered, ReceivedAt: now}
	if len(ct.Deadlines) > 0 {
		d := ct.Deadlines[0]
		due, err := calendar.New().Due(now, calendar.Rule{WorkingDays: d.WorkingDays, Hours: d.Hours + 24*d.CalendarDays})
		if err != nil {
			t.Fatal(err)
		}
		c.DueAt, c.DueProvisional = due.At, due.Provisional
	}
	if err := ta.db.CreateCase(context.Background(), c); err != nil {
		t.Fatalf("create case: %v", err)
	}
	return c
}

// reply marks an incoming case replied at the clock's time.
func (ta *testApp) reply(t *testing.T, id string) {
	t.Helper()
	err := ta.db.InTx(context.Background(), func(tx *sqlstore.Tx) error {
		_, err := tx.SetCaseState(context.Background(), id, yipanqi.Incoming, yipanqi.CaseReplied)
		return err
	})
	if err != nil {
		t.Fatalf("reply %s: %v", id, err)
	}
}

// sweep runs the deadline clock at the clock's time, as a node's clock does every 30 s.
func (ta *testApp) sweep(t *testing.T) {
	t.Helper()
	k, err := sla.New(sla.Config{Now: ta.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ta.db.SweepSLA(context.Background(), k, ta.clock.Now()); err != nil {
		t.Fatalf("sweep: %v", err)
	}
}

// setClock moves the app's and the store's clock to a time in 北京.
func (ta *testApp) setClock(t *testing.T, s string) {
	t.Helper()
	at, err := time.ParseInLocation("2006-01-02 15:04", s, yipanqi.Shanghai)
	if err != nil {
		t.Fatal(err)
	}
	ta.clock.mu.Lock()
	ta.clock.t = at
	ta.clock.mu.Unlock()
}

// person is a valid ID number of someone born in the area.
func person(area string, seq int) string {
	return storetest.IDNumber(area, yipanqi.Date{Year: 1990, Month: 5, Day: 17}, seq)
}

// linkCount finds the number a link with the aria-label prefix shows, e.g. "甲街道 已超期".
func linkCount(t *testing.T, body, label string) (href string, n int) {
	t.Helper()
	re := regexp.MustCompile(`<a href="([^"]+)"[^>]*aria-label="` + regexp.QuoteMeta(label) + ` (\d+) 件">(\d+)</a>`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no link %q on the page:\n%s", label, body)
	}
	n, _ = strconv.Atoi(m[3])
	return strings.TrimPrefix(strings.ReplaceAll(m[1], "&amp;", "&"), "/44"), n
}

// casesListed counts the rows of a page that link to a case.
func casesListed(body string) int {
	return len(regexp.MustCompile(`<td><a href="/44/cases/[^"]+">`).FindAllString(body, -1))
}

func wantStatus(t *testing.T, got, want int, what string) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: status %d, want %d", what, got, want)
	}
}
