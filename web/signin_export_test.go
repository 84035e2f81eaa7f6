package web

import (
	"context"
	"time"

	"yipanqi/web/print"
)

// Test hooks of the sign-in (package web_test uses them; this file is compiled only in
// tests).

// SetPasswordSlots makes the sign-in run at most n password checks at once and wait at most
// wait for a free one.
func SetPasswordSlots(a *App, n int, wait time.Duration) {
	a.signin.slots = make(chan struct{}, n)
	a.signin.wait = wait
}

// AroundPasswordCheck has every sign-in's password check run through f, which must call
// check (the real CheckPassword) and return what it returns.
func AroundPasswordCheck(a *App, f func(check func() bool) bool) {
	a.signin.check = func(hash, pw string) bool {
		return f(func() bool { return CheckPassword(hash, pw) })
	}
}

// RecordSlowDowns has the sign-in's slow-down call f with the wait instead of waiting.
func RecordSlowDowns(a *App, f func(d time.Duration)) {
	a.signin.sleep = func(_ context.Context, d time.Duration) { f(d) }
}

// SafeNext is safeNext.
var SafeNext = safeNext

// DummyHash is the hash a sign-in of an unknown name is checked against.
const DummyHash = dummyHash

// SetSignInLimit gives the sign-in's per-client limit burst requests at once and one more
// every every: tests of the password checks post many sign-ins from the one test client.
func SetSignInLimit(a *App, burst int, every time.Duration) {
	a.signinLimit = print.NewLimiter(burst, every, a.cfg.Now)
}
