package main

import (
	"context"
	"errors"
)

// runImport is being written (placeholder while the package lands; replaced in the same session).
func runImport(ctx context.Context, env *Env, args []string) error {
	return errors.New("import: not built yet")
}
