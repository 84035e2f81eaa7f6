package main

import (
	"context"
	"errors"
)

// runIDCard is being written (placeholder while the package lands; replaced in the same session).
func runIDCard(ctx context.Context, env *Env, args []string) error {
	return errors.New("idcard: not built yet")
}
