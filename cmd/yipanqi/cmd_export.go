package main

import (
	"context"
	"errors"
)

// runExport is being written (placeholder while the package lands; replaced in the same session).
func runExport(ctx context.Context, env *Env, args []string) error {
	return errors.New("export: not built yet")
}
