package storetest

import (
	"testing"
	"time"

	"yipanqi"
	"yipanqi/sqlstore"
)

// authUser makes the org units of the fixture and a township worker in townshipA.
func authUser(t *testing.T, db *sqlstore.DB, name string) *yipanqi.User {
	t.Helper()
	if err := db.UpsertOrgUnits(ctx(), []yipanqi.OrgUnit{{Code: county, Name: "天河区", Active: true},
		{Code: townshipA, Name: "甲街道", ParentCode: county, Active: true}}); err != nil {
		t.Fatal(err)
	}
	u := &yipanqi.User{Username: name, OrgUnit: townshipA, Role: yipanqi.RoleTownshipWorker, PasswordHash: "h1"}
	if err := db.CreateUser(ctx(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

func auditCount(t *testing.T, db *sqlstore.DB, object, action string) int {
	t.Helper()
	log, err := db.AuditLog(ctx(), object, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range log {
		if e.Action == action {
			n++
		}
	}
	return n
}

// testSessions: a session is found by its token hash with its user, touched, ended; expired
// ones are removed; sign-in is audited.
func testSessions(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	u := authUser(t, db, "clerk")
	s := &sqlstore.Session{TokenHash: "hash-1", CSRF: "csrf-1", User: u}
	if err := db.CreateSession(ctx(), s); err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.CreateSession(ctx(), &sqlstore.Session{TokenHash: "x", User: u}), yipanqi.EINVALID)
	got, err := db.Session(ctx(), "hash-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.CSRF != "csrf-1" || got.User.Username != "clerk" || got.User.OrgUnit != townshipA || got.User.Role != yipanqi.RoleTownshipWorker {
		t.Fatalf("session = %+v, user %+v", got, got.User)
	}
	if !got.CreatedAt.Equal(s.CreatedAt) {
		t.Fatalf("created at %v, want %v", got.CreatedAt, s.CreatedAt)
	}
	_, err = db.Session(ctx(), "hash-2")
	wantCode(t, err, yipanqi.ENOTFOUND)
	if n := auditCount(t, db, "clerk", "user.login"); n != 1 {
		t.Fatalf("user.login audit entries = %d, want 1", n)
	}

	later := s.CreatedAt.Add(time.Hour)
	if err := db.TouchSession(ctx(), "hash-1", later); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Session(ctx(), "hash-1"); !got.SeenAt.Equal(later) {
		t.Fatalf("seen at %v, want %v", got.SeenAt, later)
	}
	// A second session, idle since it was made: only it is idle before later-1m.
	if err := db.CreateSession(ctx(), &sqlstore.Session{TokenHash: "hash-2", CSRF: "c2", User: u}); err != nil {
		t.Fatal(err)
	}
	n, err := db.DeleteExpiredSessions(ctx(), later.Add(-time.Minute), s.CreatedAt.Add(-time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("expired sessions removed = %d, %v; want 1", n, err)
	}
	if _, err := db.Session(ctx(), "hash-2"); yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
		t.Fatalf("idle session still there: %v", err)
	}
	if err := db.DeleteSession(ctx(), "hash-1"); err != nil {
		t.Fatal(err)
	}
	_, err = db.Session(ctx(), "hash-1")
	wantCode(t, err, yipanqi.ENOTFOUND)
}

// testLoginLockout: failures count up within the window, the fifth locks the user, each is
// audited; an old failure is forgotten; a sign-in clears the count.
func testLoginLockout(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	u := authUser(t, db, "clerk")
	p := sqlstore.LoginPolicy{MaxFailures: 5, Window: 15 * time.Minute, LockFor: 15 * time.Minute}
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for i := 1; i <= 4; i++ {
		ls, err := db.RecordLoginFailure(ctx(), u.ID, at.Add(time.Duration(i)*time.Minute), p)
		if err != nil {
			t.Fatal(err)
		}
		if ls.Failures != i || ls.Locked(at.Add(time.Duration(i)*time.Minute)) {
			t.Fatalf("after failure %d: %+v", i, ls)
		}
	}
	fifth := at.Add(5 * time.Minute)
	ls, err := db.RecordLoginFailure(ctx(), u.ID, fifth, p)
	if err != nil {
		t.Fatal(err)
	}
	if !ls.Locked(fifth) || !ls.LockedUntil.Equal(fifth.Add(15*time.Minute)) {
		t.Fatalf("after 5 failures: %+v, want locked until %v", ls, fifth.Add(15*time.Minute))
	}
	stored, err := db.LoginState(ctx(), u.ID)
	if err != nil || !stored.LockedUntil.Equal(ls.LockedUntil) || stored.Failures != 5 {
		t.Fatalf("stored state %+v, %v", stored, err)
	}
	if stored.Locked(fifth.Add(16 * time.Minute)) {
		t.Fatal("still locked after the lock ran out")
	}
	if n := auditCount(t, db, "clerk", "user.login_failed"); n != 5 {
		t.Fatalf("user.login_failed entries = %d, want 5", n)
	}
	if n := auditCount(t, db, "clerk", "user.locked"); n != 1 {
		t.Fatalf("user.locked entries = %d, want 1", n)
	}
	// Long after: the count starts again.
	ls, err = db.RecordLoginFailure(ctx(), u.ID, fifth.Add(2*time.Hour), p)
	if err != nil || ls.Failures != 1 {
		t.Fatalf("failure after the window: %+v, %v; want count 1", ls, err)
	}
	if err := db.CreateSession(ctx(), &sqlstore.Session{TokenHash: "h", CSRF: "c", User: u}); err != nil {
		t.Fatal(err)
	}
	if ls, _ := db.LoginState(ctx(), u.ID); ls.Failures != 0 || !ls.LockedUntil.IsZero() {
		t.Fatalf("after sign-in: %+v, want cleared", ls)
	}
	_, err = db.RecordLoginFailure(ctx(), 999999, at, p)
	wantCode(t, err, yipanqi.ENOTFOUND)
}

// testSetPassword: the hash changes, other sessions end, the kept one stays, it is audited.
func testSetPassword(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	u := authUser(t, db, "clerk")
	for _, h := range []string{"keep", "other"} {
		if err := db.CreateSession(ctx(), &sqlstore.Session{TokenHash: h, CSRF: "c", User: u}); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, db.SetPassword(ctx(), u.ID, "", "keep"), yipanqi.EINVALID)
	if got, _ := db.UserByID(ctx(), u.ID); got.PasswordHash != "h1" {
		t.Fatalf("refused change changed the hash to %q", got.PasswordHash)
	}
	if err := db.SetPassword(ctx(), u.ID, "h2", "keep"); err != nil {
		t.Fatal(err)
	}
	got, err := db.UserByID(ctx(), u.ID)
	if err != nil || got.PasswordHash != "h2" {
		t.Fatalf("user after change: %+v, %v", got, err)
	}
	if _, err := db.Session(ctx(), "keep"); err != nil {
		t.Fatalf("kept session: %v", err)
	}
	if _, err := db.Session(ctx(), "other"); yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
		t.Fatalf("other session not ended: %v", err)
	}
	if n := auditCount(t, db, "clerk", "user.password"); n != 1 {
		t.Fatalf("user.password entries = %d, want 1", n)
	}
	wantCode(t, db.SetPassword(ctx(), 999999, "h", ""), yipanqi.ENOTFOUND)
	users, err := db.ListUsers(ctx(), MustScope(t, county))
	if err != nil || len(users) != 1 || users[0].Username != "clerk" {
		t.Fatalf("list users of the county: %v, %v", users, err)
	}
	if users, _ := db.ListUsers(ctx(), MustScope(t, townshipB)); len(users) != 0 {
		t.Fatalf("list users of another township: %v", users)
	}
}

// testCasesByDue: open incoming cases in scope, soonest deadline first, those without one
// last; other states, directions and units left out.
func testCasesByDue(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	base := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	mk := func(unit string, dir yipanqi.Direction, state yipanqi.CaseState, due time.Time) string {
		c := &yipanqi.Case{Type: "verify.identity", Direction: dir, OrgUnit: unit, PeerNode: "36", PeerUnit: hometown,
			State: state, DueAt: due}
		if err := db.CreateCase(ctx(), c); err != nil {
			t.Fatal(err)
		}
		return c.ID
	}
	late := mk(townshipA, yipanqi.Incoming, yipanqi.CaseDelivered, base.Add(72*time.Hour))
	none := mk(townshipA, yipanqi.Incoming, yipanqi.CaseInProgress, time.Time{})
	soon := mk(townshipA, yipanqi.Incoming, yipanqi.CaseInProgress, base.Add(time.Hour))
	mk(townshipA, yipanqi.Incoming, yipanqi.CaseReplied, base)            // answered
	mk(townshipA, yipanqi.Outgoing, yipanqi.CaseSent, base)               // ours
	other := mk(townshipB, yipanqi.Incoming, yipanqi.CaseDelivered, base) // another township
	got, total, err := db.ListCasesByDue(ctx(), MustScope(t, townshipA), yipanqi.CaseFilter{Direction: yipanqi.Incoming},
		yipanqi.CaseDelivered, yipanqi.CaseInProgress)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range got {
		ids = append(ids, c.ID)
	}
	want := []string{soon, late, none}
	if total != 3 || len(ids) != 3 || ids[0] != want[0] || ids[1] != want[1] || ids[2] != want[2] {
		t.Fatalf("queue = %v (total %d), want %v", ids, total, want)
	}
	got, total, err = db.ListCasesByDue(ctx(), MustScope(t, county), yipanqi.CaseFilter{Direction: yipanqi.Incoming, Limit: 1, Offset: 0},
		yipanqi.CaseDelivered)
	if err != nil || total != 2 || len(got) != 1 || got[0].ID != other {
		t.Fatalf("county queue page 1 = %v (total %d, %v), want %s first of 2", got, total, err, other)
	}
	_, _, err = db.ListCasesByDue(ctx(), yipanqi.Scope{}, yipanqi.CaseFilter{})
	wantCode(t, err, yipanqi.EFORBIDDEN)
}
