package main

import (
	"context"
	"errors"
)

// runGen is being written (placeholder while the package lands; replaced in the same session).
func runGen(ctx context.Context, env *Env, args []string) error {
	return errors.New("gen: not built yet")
}
