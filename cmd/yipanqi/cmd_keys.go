package main

import (
	"context"
	"errors"
)

// runKeys is being written (placeholder while the package lands; replaced in the same session).
func runKeys(ctx context.Context, env *Env, args []string) error {
	return errors.New("keys: not built yet")
}
