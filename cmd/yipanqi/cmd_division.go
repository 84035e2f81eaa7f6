package main

import (
	"context"
	"errors"
)

// runDivision is being written (placeholder while the package lands; replaced in the same session).
func runDivision(ctx context.Context, env *Env, args []string) error {
	return errors.New("division: not built yet")
}
