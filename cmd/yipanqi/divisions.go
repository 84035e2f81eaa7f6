package main

import (
	"errors"
	"fmt"

	"yipanqi"
	"yipanqi/division"
)

// divisionsEnv names the environment variable that points at a directory of newer division
// data, used instead of the data embedded in the binary.
const divisionsEnv = "YIPANQI_DIVISIONS"

// loadDivisions returns the administrative divisions: those in the directory named by
// YIPANQI_DIVISIONS when it is set (see division.LoadDir), else the embedded data.
func loadDivisions(env *Env) (*division.Tree, error) {
	dir := ""
	if env.Getenv != nil {
		dir = env.Getenv(divisionsEnv)
	}
	if dir == "" {
		return division.Load()
	}
	tree, err := division.LoadDir(dir)
	if err != nil {
		// Tell the user where the data came from: the fix is in that directory.
		var e *yipanqi.Error
		if errors.As(err, &e) {
			return nil, &yipanqi.Error{Code: e.Code, Field: e.Field,
				Message: fmt.Sprintf("%s=%s：%s", divisionsEnv, dir, e.Message)}
		}
		return nil, fmt.Errorf("load divisions from %s=%s: %w", divisionsEnv, dir, err)
	}
	return tree, nil
}
