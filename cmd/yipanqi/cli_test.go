package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// cliRun runs Main with args as a user at a terminal would, with the environment variables
// vars and the clock stopped at now (the real clock when now is zero), and returns the exit
// status, stdout and stderr.
func cliRun(tb testing.TB, now time.Time, vars map[string]string, args ...string) (int, string, string) {
	tb.Helper()
	var stdout, stderr bytes.Buffer
	clock := time.Now
	if !now.IsZero() {
		clock = func() time.Time { return now }
	}
	env := &Env{
		Stdin:  strings.NewReader(""),
		Stdout: &stdout,
		Stderr: &stderr,
		Getenv: func(k string) string { return vars[k] },
		Now:    clock,
	}
	code := Main(context.Background(), env, args)
	return code, stdout.String(), stderr.String()
}
