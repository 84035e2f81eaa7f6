package yipanqi

import "context"

type contextKey int

const userKey contextKey = iota

// NewContextWithUser returns a copy of ctx that carries the user acting, so that the store can
// name them in the audit entries it writes with a change.
func NewContextWithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userKey, u)
}

// UserFromContext returns the user NewContextWithUser put in ctx, or nil.
func UserFromContext(ctx context.Context) *User {
	u, _ := ctx.Value(userKey).(*User)
	return u
}
