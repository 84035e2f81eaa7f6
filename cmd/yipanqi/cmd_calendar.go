package main

import (
	"context"
	"errors"
)

// runCalendar is being written (placeholder while the package lands; replaced in the same session).
func runCalendar(ctx context.Context, env *Env, args []string) error {
	return errors.New("calendar: not built yet")
}
