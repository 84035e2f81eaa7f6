package storetest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"yipanqi/sqlstore"
)

var lockPolicy = sqlstore.LoginPolicy{MaxFailures: 5, Window: 15 * time.Minute, LockFor: 15 * time.Minute}

// claimWrong makes n sign-in attempts of name at once, each of which (when allowed) checks a
// wrong password and records the failure; it returns how many passwords were checked.
func claimWrong(t *testing.T, db *sqlstore.DB, name string, at time.Time, n int) int {
	t.Helper()
	var checked atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := db.ClaimLogin(ctx(), name, at, lockPolicy)
			if err != nil {
				errs <- err
				return
			}
			if !a.Allowed {
				return
			}
			checked.Add(1) // the password would be checked here, and be wrong
			if err := db.LoginFailed(ctx(), a); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return int(checked.Load())
}

// testLoginClaimsConcurrent: 50 simultaneous attempts on one account check at most 5
// passwords and lock it; then even an attempt with the right password is not let check it
// until the lock ends. The same holds for a name that is no user's.
func testLoginClaimsConcurrent(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	authUser(t, db, "clerk")
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, name := range []string{"clerk", "nobody"} {
		if n := claimWrong(t, db, name, at, 50); n != 5 {
			t.Fatalf("%s: 50 concurrent attempts checked %d passwords, want 5", name, n)
		}
		a, err := db.ClaimLogin(ctx(), name, at.Add(time.Minute), lockPolicy)
		if err != nil {
			t.Fatal(err)
		}
		if a.Allowed || !a.State.Locked(a.At) || a.State.Failures != 5 || !a.State.LockedUntil.Equal(at.Add(15*time.Minute)) {
			t.Fatalf("%s: attempt after 50 failures: %+v, want refused, locked until %v", name, a, at.Add(15*time.Minute))
		}
		if n := auditCount(t, db, name, "user.login_failed"); n != 5 {
			t.Fatalf("%s: user.login_failed entries = %d, want 5", name, n)
		}
		if n := auditCount(t, db, name, "user.locked"); n != 1 {
			t.Fatalf("%s: user.locked entries = %d, want 1", name, n)
		}
		a, err = db.ClaimLogin(ctx(), name, at.Add(16*time.Minute), lockPolicy)
		if err != nil || !a.Allowed {
			t.Fatalf("%s: attempt after the lock: %+v, %v; want allowed", name, a, err)
		}
	}
	if a, _ := db.ClaimLogin(ctx(), "clerk", at, lockPolicy); a.User == nil || a.User.Username != "clerk" || a.User.PasswordHash != "h1" {
		t.Fatalf("claim of a user's name: user %+v", a.User)
	}
	if a, _ := db.ClaimLogin(ctx(), "nobody", at, lockPolicy); a.User != nil {
		t.Fatalf("claim of an unknown name has user %+v", a.User)
	}
}

// testLoginFailuresConcurrent: RecordLoginFailure loses no count when failures race.
func testLoginFailuresConcurrent(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	u := authUser(t, db, "clerk")
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := db.RecordLoginFailure(ctx(), u.ID, at, lockPolicy); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	ls, err := db.LoginState(ctx(), u.ID)
	if err != nil || ls.Failures != 40 || !ls.Locked(at) {
		t.Fatalf("after 40 concurrent failures: %+v, %v; want 40 and locked", ls, err)
	}
}

// testLoginSuccessKeepsOthersLock: a right password whose attempt was allowed signs in, but
// does not clear a lock that other attempts set while it ran; one whose own claim set the
// lock (the last allowed attempt) clears it.
func testLoginSuccessKeepsOthersLock(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	u := authUser(t, db, "clerk")
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	db.Now = func() time.Time { return at }
	right, err := db.ClaimLogin(ctx(), "clerk", at, lockPolicy)
	if err != nil || !right.Allowed || right.Locks {
		t.Fatalf("first claim: %+v, %v", right, err)
	}
	if n := claimWrong(t, db, "clerk", at, 10); n != 4 {
		t.Fatalf("wrong attempts beside the first checked %d passwords, want 4", n)
	}
	if err := db.CreateSession(ctx(), &sqlstore.Session{TokenHash: "h1", CSRF: "c", User: right.User, Attempt: right}); err != nil {
		t.Fatal(err)
	}
	if ls, _ := db.LoginState(ctx(), u.ID); !ls.Locked(at) || ls.Failures != 5 {
		t.Fatalf("a success cleared the lock others set meanwhile: %+v", ls)
	}

	// After the lock: four failures, then the fifth claim (which locks) has the right password.
	at = at.Add(time.Hour)
	if n := claimWrong(t, db, "clerk", at, 4); n != 4 {
		t.Fatalf("4 failures checked %d", n)
	}
	last, err := db.ClaimLogin(ctx(), "clerk", at, lockPolicy)
	if err != nil || !last.Allowed || !last.Locks {
		t.Fatalf("fifth claim: %+v, %v; want allowed and locking", last, err)
	}
	if err := db.CreateSession(ctx(), &sqlstore.Session{TokenHash: "h2", CSRF: "c", User: last.User, Attempt: last}); err != nil {
		t.Fatal(err)
	}
	if ls, _ := db.LoginState(ctx(), u.ID); ls.Locked(at) || ls.Failures != 0 {
		t.Fatalf("the success of the locking attempt left %+v, want cleared", ls)
	}
}

// testLoginUnknownNames: a name that is no user's goes through the same counts and lock as a
// user's, and its failures are audited by the name.
func testLoginUnknownNames(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	authUser(t, db, "clerk")
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for i := range 6 {
		when := at.Add(time.Duration(i) * time.Minute)
		var states [2]sqlstore.LoginAttempt
		for j, name := range []string{"clerk", "ghost"} {
			a, err := db.ClaimLogin(ctx(), name, when, lockPolicy)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.LoginFailed(ctx(), a); err != nil {
				t.Fatal(err)
			}
			states[j] = *a
		}
		k, g := states[0], states[1]
		ks, gs := k.State, g.State
		if k.Allowed != g.Allowed || k.Locks != g.Locks || ks.Failures != gs.Failures || !ks.LastFailedAt.Equal(gs.LastFailedAt) ||
			!ks.LockedUntil.Equal(gs.LockedUntil) {
			t.Fatalf("attempt %d: user %+v, unknown name %+v differ", i+1, k, g)
		}
	}
	if n := auditCount(t, db, "ghost", "user.login_failed"); n != 5 {
		t.Fatalf("user.login_failed entries of the unknown name = %d, want 5", n)
	}
	if n := auditCount(t, db, "ghost", "user.locked"); n != 1 {
		t.Fatalf("user.locked entries of the unknown name = %d, want 1", n)
	}
	// Long after (another claim has removed the stale counter meanwhile), ghost starts from
	// one again.
	later := at.Add(3 * time.Hour)
	if _, err := db.ClaimLogin(ctx(), "someone-else", later, lockPolicy); err != nil {
		t.Fatal(err)
	}
	a, err := db.ClaimLogin(ctx(), "ghost", later, lockPolicy)
	if err != nil || !a.Allowed || a.State.Failures != 1 {
		t.Fatalf("ghost after 3 hours: %+v, %v", a, err)
	}
}

// testLoginTokens: a sign-in form's token is good once, even when posts race, and not after
// it expired; beyond the cap the oldest tokens are removed.
func testLoginTokens(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, h := range []string{"t1", "t2", "old"} {
		when := at
		if h == "old" {
			when = at.Add(-3 * time.Hour)
		}
		if err := db.IssueLoginToken(ctx(), h, when, at.Add(-4*time.Hour), 0); err != nil {
			t.Fatal(err)
		}
	}
	notBefore := at.Add(-2 * time.Hour)
	if ok, err := db.UseLoginToken(ctx(), "t1", notBefore); err != nil || !ok {
		t.Fatalf("first use: %v, %v", ok, err)
	}
	if ok, _ := db.UseLoginToken(ctx(), "t1", notBefore); ok {
		t.Fatal("a token was good twice")
	}
	if ok, _ := db.UseLoginToken(ctx(), "never-issued", notBefore); ok {
		t.Fatal("a token never issued was good")
	}
	if ok, _ := db.UseLoginToken(ctx(), "old", notBefore); ok {
		t.Fatal("an expired token was good")
	}
	var good atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := db.UseLoginToken(ctx(), "t2", notBefore)
			if err != nil {
				t.Error(err)
			}
			if ok {
				good.Add(1)
			}
		}()
	}
	wg.Wait()
	if good.Load() != 1 {
		t.Fatalf("20 racing posts of one token: %d accepted, want 1", good.Load())
	}
	if err := db.IssueLoginToken(ctx(), "", at, at, 0); err == nil {
		t.Fatal("an empty token was issued")
	}

	// A cap: issuing beyond keep removes the oldest tokens, never the one just issued.
	db = open(t)
	for i := range 5 {
		if err := db.IssueLoginToken(ctx(), "c"+itoa(int64(i+1)), at.Add(time.Duration(i)*time.Second), at.Add(-time.Hour), 3); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		h := "c" + itoa(int64(i+1))
		if ok, err := db.UseLoginToken(ctx(), h, notBefore); err != nil || ok != (i >= 2) {
			t.Fatalf("token %s of 5 issued with a cap of 3: good %v, %v; want only the newest 3 good", h, ok, err)
		}
	}
	// Tokens made at the same time: the one just issued stays.
	for i := range 4 {
		if err := db.IssueLoginToken(ctx(), "s"+itoa(int64(i+1)), at, at.Add(-time.Hour), 2); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := db.UseLoginToken(ctx(), "s4", notBefore); err != nil || !ok {
		t.Fatalf("the token just issued at a full cap: good %v, %v", ok, err)
	}
}
