package main

import (
	"context"
	"errors"
)

// runMigrate is being written (placeholder while the package lands; replaced in the same session).
func runMigrate(ctx context.Context, env *Env, args []string) error {
	return errors.New("migrate: not built yet")
}
