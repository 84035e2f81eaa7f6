package sqlstore

import (
	"context"
	"database/sql"
	"errors"
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
	// Attempt is the sign-in that made the session (ClaimLogin), nil for none. With it,
	// CreateSession clears the user's failed sign-ins only if no other attempt locked the
	// user out while this one ran.
	Attempt *LoginAttempt
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
// sign-ins are cleared, in the same transaction — except, when s.Attempt is set, a lock-out
// that another attempt set while this one ran: it stays, with its count. EINVALID without a
// token hash, CSRF token or user.
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
		clear := true
		if a := s.Attempt; a != nil {
			var cur LoginState
			if err := qq.row(ctx, "SELECT failed_logins, last_failed_at, locked_until FROM users WHERE id = ?"+db.dialect.forUpdate(), s.User.ID).
				Scan(&cur.Failures, timeCol{&cur.LastFailedAt}, timeCol{&cur.LockedUntil}); err != nil {
				return notFound(fmt.Errorf("create session: %w", err), "未找到用户（编号 %d）", s.User.ID)
			}
			// Locked now, and not by this attempt's own claim: another one set the lock.
			clear = !cur.Locked(now) || (a.Locks && cur.LockedUntil.Equal(a.State.LockedUntil))
		}
		if clear {
			if _, err := qq.exec(ctx, "UPDATE users SET failed_logins = 0, last_failed_at = NULL, locked_until = NULL WHERE id = ?", s.User.ID); err != nil {
				return fmt.Errorf("create session: %w", err)
			}
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

// forUpdate is appended to the SELECT that reads a sign-in counter: on PostgreSQL it locks
// the row until the transaction ends, so that two sign-ins of one name count one after the
// other instead of both from the same old value; on SQLite the write lock taken at BEGIN
// already serialises them.
func (d *dialect) forUpdate() string {
	if d.postgres {
		return " FOR UPDATE"
	}
	return ""
}

// count adds the failure at at to s under p and reports whether it locks (it is the
// p.MaxFailures-th within p.Window of the one before).
func (s *LoginState) count(at time.Time, p LoginPolicy) (locks bool) {
	if s.LastFailedAt.IsZero() || at.Sub(s.LastFailedAt) > p.Window {
		s.Failures = 0
	}
	s.Failures++
	s.LastFailedAt = at
	if p.MaxFailures > 0 && s.Failures >= p.MaxFailures && !s.Locked(at) {
		s.LockedUntil = at.Add(p.LockFor)
		return true
	}
	return false
}

// failureAudit is the audit of a failed sign-in of name (unit: the user's, "" for a name
// that is no user's) that is the state's s.Failures-th, and of the lock it set.
func failureAudit(name, unit string, known bool, s LoginState, locks bool) []*yipanqi.AuditEntry {
	reason := "连续第 " + strconv.Itoa(s.Failures) + " 次"
	if !known {
		reason = "无此用户，" + reason
	}
	entries := []*yipanqi.AuditEntry{{Actor: name, OrgUnit: unit, Action: "user.login_failed", Object: name, Reason: reason}}
	if locks {
		entries = append(entries, &yipanqi.AuditEntry{Actor: "system:web", OrgUnit: unit, Action: "user.locked", Object: name,
			Reason: "连续 " + strconv.Itoa(s.Failures) + " 次登录失败，锁定至 " + s.LockedUntil.UTC().Format(time.RFC3339)})
	}
	return entries
}

// RecordLoginFailure counts a failed sign-in of the user at at, and locks the user out for
// p.LockFor when it is the p.MaxFailures-th within p.Window of the previous one. Audit entries
// "user.login_failed" and, on locking, "user.locked" go in the same transaction. It returns
// the state after. ENOTFOUND for an unknown user. (The web sign-in uses ClaimLogin, which
// counts before the password is checked.)
func (db *DB) RecordLoginFailure(ctx context.Context, userID int64, at time.Time, p LoginPolicy) (LoginState, error) {
	var s LoginState
	err := db.inTx(ctx, func(qq q) error {
		var name, unit string
		if err := qq.row(ctx, "SELECT username, org_unit, failed_logins, last_failed_at, locked_until FROM users WHERE id = ?"+db.dialect.forUpdate(), userID).
			Scan(&name, &unit, &s.Failures, timeCol{&s.LastFailedAt}, timeCol{&s.LockedUntil}); err != nil {
			return notFound(fmt.Errorf("login failure: %w", err), "未找到用户（编号 %d）", userID)
		}
		locks := s.count(at, p)
		t := db.dialect.timeArg
		if _, err := qq.exec(ctx, "UPDATE users SET failed_logins = ?, last_failed_at = ?, locked_until = ? WHERE id = ?",
			s.Failures, t(s.LastFailedAt), t(s.LockedUntil), userID); err != nil {
			return fmt.Errorf("login failure: %w", err)
		}
		for _, e := range failureAudit(name, unit, true, s, locks) {
			if err := db.audit(ctx, qq, e); err != nil {
				return err
			}
		}
		return nil
	})
	return s, err
}

// LoginAttempt is a sign-in attempt claimed by ClaimLogin.
type LoginAttempt struct {
	Name string        // the username tried
	User *yipanqi.User // nil when no user has the name
	At   time.Time
	// Allowed says the password may be checked. False while the name is locked out: the
	// attempt is refused without looking at the password, and nothing is counted.
	Allowed bool
	// State is the name's state after the claim: an allowed attempt is already counted as
	// a failure in it.
	State LoginState
	// Locks: this attempt's claim set State.LockedUntil (it was the last one allowed).
	Locks bool
}

// ClaimLogin decides, in one transaction per name, whether a sign-in of name at at may check
// its password: not while the name is locked out; otherwise the attempt is counted as a
// failure before the password is checked (the counter row locked on PostgreSQL, the write
// lock held on SQLite), and the p.MaxFailures-th within p.Window locks the name for p.LockFor.
// So however many attempts run at once, at most p.MaxFailures passwords are checked before
// the lock. A success undoes its count in CreateSession (Session.Attempt); a failure is
// audited by LoginFailed.
//
// A name that is no user's is counted in the same way (in login_names), so that what a
// sign-in answers does not tell whether the name exists. Counters of such names that have
// neither a failure within p.Window nor a lock are removed here, up to 100 at a time.
func (db *DB) ClaimLogin(ctx context.Context, name string, at time.Time, p LoginPolicy) (*LoginAttempt, error) {
	a := &LoginAttempt{Name: name, At: at.UTC().Truncate(time.Microsecond)}
	t := db.dialect.timeArg
	err := db.inTx(ctx, func(qq q) error {
		s := &a.State
		u := &yipanqi.User{}
		var role string
		err := qq.row(ctx, "SELECT "+userColumns+", failed_logins, last_failed_at, locked_until FROM users WHERE username = ?"+db.dialect.forUpdate(), name).
			Scan(&u.ID, &u.Username, &u.DisplayName, &u.OrgUnit, &role, &u.PasswordHash, &u.Disabled, timeCol{&u.CreatedAt},
				&s.Failures, timeCol{&s.LastFailedAt}, timeCol{&s.LockedUntil})
		table, key := "users", "id = ?"
		var keyArg any = u.ID
		switch {
		case err == nil:
			u.Role = yipanqi.Role(role)
			a.User = u
		case errors.Is(err, sql.ErrNoRows):
			// An upsert that touches the row: it is locked (PostgreSQL) whether it was there
			// or not, and one removed meanwhile by another claim's clean-up is made anew.
			if err := qq.row(ctx, `INSERT INTO login_names (name, failed_logins) VALUES (?, 0)
				ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING failed_logins, last_failed_at, locked_until`, name).
				Scan(&s.Failures, timeCol{&s.LastFailedAt}, timeCol{&s.LockedUntil}); err != nil {
				return fmt.Errorf("claim login: %w", err)
			}
			table, key, keyArg = "login_names", "name = ?", name
		default:
			return fmt.Errorf("claim login: %w", err)
		}
		if s.Locked(a.At) {
			return nil
		}
		a.Allowed = true
		a.Locks = s.count(a.At, p)
		if _, err := qq.exec(ctx, "UPDATE "+table+" SET failed_logins = ?, last_failed_at = ?, locked_until = ? WHERE "+key,
			s.Failures, t(s.LastFailedAt), t(s.LockedUntil), keyArg); err != nil {
			return fmt.Errorf("claim login: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The clean-up runs on its own, after the claim, and skips rows others hold: it never
	// waits, so it cannot deadlock with claims.
	if _, err := db.q().exec(ctx, `DELETE FROM login_names WHERE name IN (SELECT name FROM login_names
		WHERE last_failed_at < ? AND (locked_until IS NULL OR locked_until < ?) LIMIT 100`+db.dialect.skipLocked()+")",
		t(a.At.Add(-p.Window)), t(a.At)); err != nil {
		return nil, fmt.Errorf("claim login: clean-up: %w", err)
	}
	return a, nil
}

// LoginFailed audits an allowed attempt whose password was wrong (or whose user is disabled
// or has no password): "user.login_failed" by the name tried, and "user.locked" when the
// attempt's claim locked the name. The count was made by ClaimLogin. An attempt that was not
// allowed is not audited.
func (db *DB) LoginFailed(ctx context.Context, a *LoginAttempt) error {
	if a == nil || !a.Allowed {
		return nil
	}
	unit := ""
	if a.User != nil {
		unit = a.User.OrgUnit
	}
	return db.inTx(ctx, func(qq q) error {
		for _, e := range failureAudit(a.Name, unit, a.User != nil, a.State, a.Locks) {
			e.At = a.At
			if err := db.audit(ctx, qq, e); err != nil {
				return err
			}
		}
		return nil
	})
}

// IssueLoginToken stores the hash of a new token of the sign-in form, made at at, removes
// the tokens made before notBefore, and keeps at most keep tokens (0: no cap): when there are
// more, the oldest others are removed, so that anonymous requests for the form cannot grow
// the table without bound.
func (db *DB) IssueLoginToken(ctx context.Context, tokenHash string, at, notBefore time.Time, keep int) error {
	if tokenHash == "" {
		return yipanqi.Errorf(yipanqi.EINVALID, "登录表单令牌为空")
	}
	t := db.dialect.timeArg
	return db.inTx(ctx, func(qq q) error {
		if _, err := qq.exec(ctx, "DELETE FROM login_tokens WHERE created_at < ?", t(notBefore)); err != nil {
			return fmt.Errorf("issue login token: %w", err)
		}
		if _, err := qq.exec(ctx, "INSERT INTO login_tokens (token_hash, created_at) VALUES (?, ?)", tokenHash, t(at)); err != nil {
			return fmt.Errorf("issue login token: %w", db.dialect.classify(err))
		}
		if keep <= 0 {
			return nil
		}
		var n int
		if err := qq.row(ctx, "SELECT COUNT(*) FROM login_tokens").Scan(&n); err != nil {
			return fmt.Errorf("issue login token: %w", err)
		}
		if n > keep {
			if _, err := qq.exec(ctx, `DELETE FROM login_tokens WHERE token_hash IN (SELECT token_hash FROM login_tokens
				WHERE token_hash <> ? ORDER BY created_at, token_hash LIMIT ?)`, tokenHash, n-keep); err != nil {
				return fmt.Errorf("issue login token: %w", err)
			}
		}
		return nil
	})
}

// UseLoginToken takes the sign-in form's token with the hash: true when it was issued at or
// after notBefore and not used before. A token is good for one use only, however many posts
// race with it.
func (db *DB) UseLoginToken(ctx context.Context, tokenHash string, notBefore time.Time) (bool, error) {
	res, err := db.q().exec(ctx, "DELETE FROM login_tokens WHERE token_hash = ? AND created_at >= ?", tokenHash, db.dialect.timeArg(notBefore))
	if err != nil {
		return false, fmt.Errorf("use login token: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
