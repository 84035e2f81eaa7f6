package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"yipanqi"
)

// Session is a signed-in user's web session. The token itself is never stored: TokenHash is
// its SHA-256 (hex), so a copy of the database does not sign anyone in.
type Session struct {
	TokenHash string
	CSRF      string // the session's anti-forgery token, checked on every form post
	CreatedAt time.Time
	SeenAt    time.Time // the last request; idle expiry counts from it
	User      *yipanqi.User
}

// LoginState is a user's record of failed sign-ins.
type LoginState struct {
	Failures     int       // consecutive failures within the window
	LastFailedAt time.Time // zero when none
	LockedUntil  time.Time // zero when not locked
}

// Locked reports whether the user is locked out at now.
func (s LoginState) Locked(now time.Time) bool { return now.Before(s.LockedUntil) }

const userColumns = "id, username, display_name, org_unit, role, password_hash, disabled, created_at"

func scanUser(sc interface{ Scan(...any) error }) (*yipanqi.User, error) {
	u := &yipanqi.User{}
	var role string
	err := sc.Scan(&u.ID, &u.Username, &u.DisplayName, &u.OrgUnit, &role, &u.PasswordHash, &u.Disabled, timeCol{&u.CreatedAt})
	u.Role = yipanqi.Role(role)
	return u, err
}

// UserByID returns the user with the id. ENOTFOUND when there is none.
func (db *DB) UserByID(ctx context.Context, id int64) (*yipanqi.User, error) {
	u, err := scanUser(db.q().row(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", id))
	if err != nil {
		return nil, notFound(fmt.Errorf("user: %w", err), "未找到用户（编号 %d）", id)
	}
	return u, nil
}

// ListUsers returns the users of the units in scope, by username.
func (db *DB) ListUsers(ctx context.Context, scope yipanqi.Scope) ([]*yipanqi.User, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	lo, hi := scope.Range()
	rows, err := db.q().query(ctx, "SELECT "+userColumns+" FROM users WHERE org_unit >= ? AND org_unit < ? ORDER BY username", lo, hi)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var out []*yipanqi.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// SetPassword replaces the user's password hash and ends every session of the user but the
// one whose token hash is keep ("" ends them all), with an audit entry "user.password" by the
// actor in ctx, in one transaction. ENOTFOUND for an unknown user; EINVALID for an empty hash.
func (db *DB) SetPassword(ctx context.Context, userID int64, hash, keep string) error {
	if hash == "" {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "password", "密码不能为空")
	}
	return db.inTx(ctx, func(qq q) error {
		var name, unit string
		if err := qq.row(ctx, "SELECT username, org_unit FROM users WHERE id = ?", userID).Scan(&name, &unit); err != nil {
			return notFound(fmt.Errorf("set password: %w", err), "未找到用户（编号 %d）", userID)
		}
		if _, err := qq.exec(ctx, "UPDATE users SET password_hash = ?, failed_logins = 0, locked_until = NULL WHERE id = ?", hash, userID); err != nil {
			return fmt.Errorf("set password: %w", err)
		}
		if _, err := qq.exec(ctx, "DELETE FROM sessions WHERE user_id = ? AND token_hash <> ?", userID, keep); err != nil {
			return fmt.Errorf("set password: sessions: %w", err)
		}
		actor, actorUnit := actorFrom(ctx)
		if actorUnit == "" {
			actorUnit = unit
		}
		return db.audit(ctx, qq, &yipanqi.AuditEntry{Actor: actor, OrgUnit: actorUnit, Action: "user.password", Object: name})
	})
}

// CreateSession stores a new session of s.User with s.TokenHash and s.CSRF; CreatedAt and
// SeenAt are set now. An audit entry "user.login" records the sign-in, and the user's failed
// sign-ins are cleared, in the same transaction. EINVALID without a token hash, CSRF token or
// user.
func (db *DB) CreateSession(ctx context.Context, s *Session) error {
	if s.TokenHash == "" || s.CSRF == "" || s.User == nil || s.User.ID == 0 {
		return yipanqi.Errorf(yipanqi.EINVALID, "会话缺少令牌或用户")
	}
	now := db.now()
	s.CreatedAt, s.SeenAt = now, now
	return db.inTx(ctx, func(qq q) error {
		if _, err := qq.exec(ctx, "INSERT INTO sessions (token_hash, user_id, csrf, created_at, seen_at) VALUES (?, ?, ?, ?, ?)",
			s.TokenHash, s.User.ID, s.CSRF, db.dialect.timeArg(now), db.dialect.timeArg(now)); err != nil {
			return fmt.Errorf("create session: %w", db.dialect.classify(err))
		}
		if _, err := qq.exec(ctx, "UPDATE users SET failed_logins = 0, last_failed_at = NULL, locked_until = NULL WHERE id = ?", s.User.ID); err != nil {
			return fmt.Errorf("create session: %w", err)
		}
		return db.audit(ctx, qq, &yipanqi.AuditEntry{Actor: s.User.Username, OrgUnit: s.User.OrgUnit, Action: "user.login", Object: s.User.Username})
	})
}

// Session returns the session with the token hash and its user. ENOTFOUND when there is none
// (never created, signed out, or removed as expired).
func (db *DB) Session(ctx context.Context, tokenHash string) (*Session, error) {
	s := &Session{TokenHash: tokenHash}
	u := &yipanqi.User{}
	var role string
	err := db.q().row(ctx, `SELECT s.csrf, s.created_at, s.seen_at, u.id, u.username, u.display_name, u.org_unit, u.role,
		u.password_hash, u.disabled, u.created_at FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?`, tokenHash).
		Scan(&s.CSRF, timeCol{&s.CreatedAt}, timeCol{&s.SeenAt}, &u.ID, &u.Username, &u.DisplayName, &u.OrgUnit, &role,
			&u.PasswordHash, &u.Disabled, timeCol{&u.CreatedAt})
	if err != nil {
		return nil, notFound(fmt.Errorf("session: %w", err), "会话不存在或已结束")
	}
	u.Role = yipanqi.Role(role)
	s.User = u
	return s, nil
}

// TouchSession sets the session's last request time to at.
func (db *DB) TouchSession(ctx context.Context, tokenHash string, at time.Time) error {
	if _, err := db.q().exec(ctx, "UPDATE sessions SET seen_at = ? WHERE token_hash = ?", db.dialect.timeArg(at), tokenHash); err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// DeleteSession ends a session (sign-out, expiry). Ending one that is not there is no error.
func (db *DB) DeleteSession(ctx context.Context, tokenHash string) error {
	if _, err := db.q().exec(ctx, "DELETE FROM sessions WHERE token_hash = ?", tokenHash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes the sessions last seen before idleBefore or created before
// createdBefore, and returns how many.
func (db *DB) DeleteExpiredSessions(ctx context.Context, idleBefore, createdBefore time.Time) (int, error) {
	t := db.dialect.timeArg
	res, err := db.q().exec(ctx, "DELETE FROM sessions WHERE seen_at < ? OR created_at < ?", t(idleBefore), t(createdBefore))
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// LoginState returns the user's failed sign-ins. ENOTFOUND for an unknown user.
func (db *DB) LoginState(ctx context.Context, userID int64) (LoginState, error) {
	var s LoginState
	err := db.q().row(ctx, "SELECT failed_logins, last_failed_at, locked_until FROM users WHERE id = ?", userID).
		Scan(&s.Failures, timeCol{&s.LastFailedAt}, timeCol{&s.LockedUntil})
	if err != nil {
		return s, notFound(fmt.Errorf("login state: %w", err), "未找到用户（编号 %d）", userID)
	}
	return s, nil
}

// LoginPolicy says when repeated failed sign-ins lock a user out.
type LoginPolicy struct {
	MaxFailures int           // failures that lock the user, e.g. 5
	Window      time.Duration // failures older than this (since the last) are forgotten
	LockFor     time.Duration // how long a lock-out lasts
}

// RecordLoginFailure counts a failed sign-in of the user at at, and locks the user out for
// p.LockFor when it is the p.MaxFailures-th within p.Window of the previous one. Audit entries
// "user.login_failed" and, on locking, "user.locked" go in the same transaction. It returns
// the state after. ENOTFOUND for an unknown user.
func (db *DB) RecordLoginFailure(ctx context.Context, userID int64, at time.Time, p LoginPolicy) (LoginState, error) {
	var s LoginState
	err := db.inTx(ctx, func(qq q) error {
		var name, unit string
		if err := qq.row(ctx, "SELECT username, org_unit, failed_logins, last_failed_at, locked_until FROM users WHERE id = ?", userID).
			Scan(&name, &unit, &s.Failures, timeCol{&s.LastFailedAt}, timeCol{&s.LockedUntil}); err != nil {
			return notFound(fmt.Errorf("login failure: %w", err), "未找到用户（编号 %d）", userID)
		}
		if s.LastFailedAt.IsZero() || at.Sub(s.LastFailedAt) > p.Window {
			s.Failures = 0
		}
		s.Failures++
		s.LastFailedAt = at
		lock := p.MaxFailures > 0 && s.Failures >= p.MaxFailures && !s.Locked(at)
		if lock {
			s.LockedUntil = at.Add(p.LockFor)
		}
		t := db.dialect.timeArg
		if _, err := qq.exec(ctx, "UPDATE users SET failed_logins = ?, last_failed_at = ?, locked_until = ? WHERE id = ?",
			s.Failures, t(s.LastFailedAt), t(s.LockedUntil), userID); err != nil {
			return fmt.Errorf("login failure: %w", err)
		}
		entries := []*yipanqi.AuditEntry{{Actor: name, OrgUnit: unit, Action: "user.login_failed", Object: name,
			Reason: "连续第 " + strconv.Itoa(s.Failures) + " 次"}}
		if lock {
			entries = append(entries, &yipanqi.AuditEntry{Actor: "system:web", OrgUnit: unit, Action: "user.locked", Object: name,
				Reason: "连续 " + strconv.Itoa(s.Failures) + " 次登录失败，锁定至 " + s.LockedUntil.UTC().Format(time.RFC3339)})
		}
		for _, e := range entries {
			if err := db.audit(ctx, qq, e); err != nil {
				return err
			}
		}
		return nil
	})
	return s, err
}
