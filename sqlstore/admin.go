package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"yipanqi"
)

// What the administration pages (系统管理, 审计; docs/admin.md) need of the store. Every
// change takes the administrator's scope — a user or unit outside it is ENOTFOUND, as if it
// were not there — and commits with its audit entry by the actor in ctx.

// UserAccount is a user with the state of their sign-ins, for the administrators' list.
type UserAccount struct {
	*yipanqi.User
	Login LoginState
}

// UserAccounts returns the users of the units in scope with their failed sign-ins, by
// username. EFORBIDDEN for the zero Scope.
func (db *DB) UserAccounts(ctx context.Context, scope yipanqi.Scope) ([]*UserAccount, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	lo, hi := scope.Range()
	rows, err := db.q().query(ctx, "SELECT "+userColumns+`, failed_logins, last_failed_at, locked_until
		FROM users WHERE org_unit >= ? AND org_unit < ? ORDER BY username`, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("user accounts: %w", err)
	}
	defer rows.Close()
	var out []*UserAccount
	for rows.Next() {
		a := &UserAccount{User: &yipanqi.User{}}
		u := a.User
		var role string
		if err := rows.Scan(&u.ID, &u.Username, &u.DisplayName, &u.OrgUnit, &role, &u.PasswordHash, &u.Disabled,
			timeCol{&u.CreatedAt}, &a.Login.Failures, timeCol{&a.Login.LastFailedAt}, timeCol{&a.Login.LockedUntil}); err != nil {
			return nil, fmt.Errorf("user accounts: %w", err)
		}
		u.Role = yipanqi.Role(role)
		out = append(out, a)
	}
	return out, rows.Err()
}

// changeUser runs change on the user with the id in scope inside a transaction and writes
// the audit entry it returns. ENOTFOUND for a user not in scope.
func (db *DB) changeUser(ctx context.Context, scope yipanqi.Scope, id int64, op string,
	change func(qq q, u *yipanqi.User) (*yipanqi.AuditEntry, error)) error {
	if err := checkScope(scope); err != nil {
		return err
	}
	return db.inTx(ctx, func(qq q) error {
		u, err := scanUser(qq.row(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", id))
		if err == nil && !scope.Contains(u.OrgUnit) {
			return yipanqi.Errorf(yipanqi.ENOTFOUND, "未找到用户（编号 %d）", id)
		}
		if err != nil {
			return notFound(fmt.Errorf("%s: %w", op, err), "未找到用户（编号 %d）", id)
		}
		e, err := change(qq, u)
		if err != nil || e == nil {
			return err
		}
		e.Actor, e.OrgUnit = actorFrom(ctx)
		e.Object = u.Username
		return db.audit(ctx, qq, e)
	})
}

// SetUserRole gives the user with the id in scope another role ("user.role", the reason
// names the old and new role). EINVALID for an unknown role; nothing is written when the
// role is the same.
func (db *DB) SetUserRole(ctx context.Context, scope yipanqi.Scope, id int64, role yipanqi.Role) error {
	if !validRole(role) {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "role", "角色“%s”无效", role)
	}
	return db.changeUser(ctx, scope, id, "set user role", func(qq q, u *yipanqi.User) (*yipanqi.AuditEntry, error) {
		if u.Role == role {
			return nil, nil
		}
		if _, err := qq.exec(ctx, "UPDATE users SET role = ? WHERE id = ?", string(role), id); err != nil {
			return nil, fmt.Errorf("set user role: %w", err)
		}
		return &yipanqi.AuditEntry{Action: "user.role", Reason: string(u.Role) + " → " + string(role)}, nil
	})
}

func validRole(r yipanqi.Role) bool {
	switch r {
	case yipanqi.RoleTownshipWorker, yipanqi.RoleCountySupervisor, yipanqi.RoleCitySupervisor,
		yipanqi.RoleProvinceSupervisor, yipanqi.RoleProvinceAdmin, yipanqi.RoleRegionalObserver:
		return true
	}
	return false
}

// SetUserDisabled disables ("user.disable": the user's sessions end, their API tokens stop
// working) or enables ("user.enable") the user with the id in scope. Nothing is written when
// the state is already so.
func (db *DB) SetUserDisabled(ctx context.Context, scope yipanqi.Scope, id int64, disabled bool) error {
	return db.changeUser(ctx, scope, id, "set user disabled", func(qq q, u *yipanqi.User) (*yipanqi.AuditEntry, error) {
		if u.Disabled == disabled {
			return nil, nil
		}
		if _, err := qq.exec(ctx, "UPDATE users SET disabled = ? WHERE id = ?", disabled, id); err != nil {
			return nil, fmt.Errorf("set user disabled: %w", err)
		}
		if !disabled {
			return &yipanqi.AuditEntry{Action: "user.enable"}, nil
		}
		if _, err := qq.exec(ctx, "DELETE FROM sessions WHERE user_id = ?", id); err != nil {
			return nil, fmt.Errorf("set user disabled: sessions: %w", err)
		}
		return &yipanqi.AuditEntry{Action: "user.disable"}, nil
	})
}

// UnlockUser clears the failed sign-ins and the lock-out of the user with the id in scope
// ("user.unlock").
func (db *DB) UnlockUser(ctx context.Context, scope yipanqi.Scope, id int64) error {
	return db.changeUser(ctx, scope, id, "unlock user", func(qq q, u *yipanqi.User) (*yipanqi.AuditEntry, error) {
		if _, err := qq.exec(ctx, "UPDATE users SET failed_logins = 0, last_failed_at = NULL, locked_until = NULL WHERE id = ?", id); err != nil {
			return nil, fmt.Errorf("unlock user: %w", err)
		}
		return &yipanqi.AuditEntry{Action: "user.unlock"}, nil
	})
}

// AddUser adds a user to a unit in scope, as CreateUser, with an audit entry "user.add" by
// the actor in ctx in the same transaction. ENOTFOUND (field org_unit) for a unit that is
// not held or not in scope; the errors of CreateUser otherwise.
func (db *DB) AddUser(ctx context.Context, scope yipanqi.Scope, u *yipanqi.User) error {
	if err := checkScope(scope); err != nil {
		return err
	}
	if u.Username == "" {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "username", "用户名不能为空")
	}
	if !validRole(u.Role) {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "role", "请选择角色")
	}
	if !scope.Contains(u.OrgUnit) {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "org_unit", "机构“%s”不在您的管辖范围内", u.OrgUnit)
	}
	u.CreatedAt = db.now()
	return db.inTx(ctx, func(qq q) error {
		var n int
		if err := qq.row(ctx, "SELECT COUNT(*) FROM org_units WHERE code = ?", u.OrgUnit).Scan(&n); err != nil {
			return fmt.Errorf("add user: %w", err)
		}
		if n == 0 {
			return yipanqi.FieldErrorf(yipanqi.EINVALID, "org_unit", "机构“%s”不在本节点的机构表中", u.OrgUnit)
		}
		err := qq.row(ctx, `INSERT INTO users (username, display_name, org_unit, role, password_hash, disabled, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, u.Username, u.DisplayName, u.OrgUnit, string(u.Role),
			u.PasswordHash, u.Disabled, db.dialect.timeArg(u.CreatedAt)).Scan(&u.ID)
		if db.dialect.violation(err) == uniqueViolation {
			return yipanqi.FieldErrorf(yipanqi.ECONFLICT, "username", "用户名“%s”已被使用", u.Username)
		} else if err != nil {
			return fmt.Errorf("add user: %w", err)
		}
		actor, unit := actorFrom(ctx)
		return db.audit(ctx, qq, &yipanqi.AuditEntry{Actor: actor, OrgUnit: unit, Action: "user.add", Object: u.Username,
			Reason: "角色 " + string(u.Role) + "，机构 " + u.OrgUnit})
	})
}

// OrgUnits returns the org units in scope, by code. EFORBIDDEN for the zero Scope.
func (db *DB) OrgUnits(ctx context.Context, scope yipanqi.Scope) ([]*yipanqi.OrgUnit, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	lo, hi := scope.Range()
	rows, err := db.q().query(ctx, "SELECT code, name, level, parent_code, active FROM org_units WHERE code >= ? AND code < ? ORDER BY code", lo, hi)
	if err != nil {
		return nil, fmt.Errorf("org units: %w", err)
	}
	defer rows.Close()
	var out []*yipanqi.OrgUnit
	for rows.Next() {
		u := &yipanqi.OrgUnit{}
		var level int
		if err := rows.Scan(&u.Code, &u.Name, &level, &u.ParentCode, &u.Active); err != nil {
			return nil, fmt.Errorf("org units: %w", err)
		}
		u.Level = yipanqi.Level(level)
		out = append(out, u)
	}
	return out, rows.Err()
}

// SetOrgUnitActive marks the unit in scope as having staff and taking cases, or not
// ("orgunit.activate", "orgunit.deactivate"). Routing sends cases to the deepest active unit.
// ENOTFOUND for a unit not in scope; nothing is written when the state is already so.
func (db *DB) SetOrgUnitActive(ctx context.Context, scope yipanqi.Scope, code string, active bool) error {
	if err := checkScope(scope); err != nil {
		return err
	}
	if !scope.Contains(code) {
		return yipanqi.Errorf(yipanqi.ENOTFOUND, "未找到机构“%s”", code)
	}
	return db.inTx(ctx, func(qq q) error {
		var was bool
		if err := qq.row(ctx, "SELECT active FROM org_units WHERE code = ?", code).Scan(&was); err != nil {
			return notFound(fmt.Errorf("set org unit active: %w", err), "未找到机构“%s”", code)
		}
		if was == active {
			return nil
		}
		if _, err := qq.exec(ctx, "UPDATE org_units SET active = ? WHERE code = ?", active, code); err != nil {
			return fmt.Errorf("set org unit active: %w", err)
		}
		action := "orgunit.deactivate"
		if active {
			action = "orgunit.activate"
		}
		actor, unit := actorFrom(ctx)
		return db.audit(ctx, qq, &yipanqi.AuditEntry{Actor: actor, OrgUnit: unit, Action: action, Object: code})
	})
}

// AuditFilter selects audit entries. Empty fields select everything.
type AuditFilter struct {
	Actor  string    // exact username
	Action string    // exact, e.g. "person.view"; or a prefix ending in "." ("user.")
	Object string    // exact
	From   time.Time // entries at or after
	To     time.Time // entries before
	Offset int
	Limit  int // 0: 50
}

// SearchAudit returns the audit entries of actors in scope that f selects, newest first, and
// whether there are more after them. Entries of the node itself (no unit) are shown to a
// province-wide scope only. It reads no personal data of its own: the caller audits what it
// shows. EFORBIDDEN for the zero Scope.
func (db *DB) SearchAudit(ctx context.Context, scope yipanqi.Scope, f AuditFilter) ([]*yipanqi.AuditEntry, bool, error) {
	if err := checkScope(scope); err != nil {
		return nil, false, err
	}
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 50
	}
	lo, hi := scope.Range()
	inScope := "(org_unit >= ? AND org_unit < ?)"
	if len(scope.Unit()) == 2 {
		inScope = "(org_unit >= ? AND org_unit < ? OR org_unit = '')"
	}
	where, args := []string{inScope}, []any{lo, hi}
	if f.Actor != "" {
		where, args = append(where, "actor = ?"), append(args, f.Actor)
	}
	if f.Action != "" {
		if strings.HasSuffix(f.Action, ".") {
			a, b := yipanqi.PrefixRange(f.Action)
			where, args = append(where, "action >= ? AND action < ?"), append(args, a, b)
		} else {
			where, args = append(where, "action = ?"), append(args, f.Action)
		}
	}
	if f.Object != "" {
		where, args = append(where, "object = ?"), append(args, f.Object)
	}
	if !f.From.IsZero() {
		where, args = append(where, "at >= ?"), append(args, db.dialect.timeArg(f.From))
	}
	if !f.To.IsZero() {
		where, args = append(where, "at < ?"), append(args, db.dialect.timeArg(f.To))
	}
	args = append(args, f.Limit+1, f.Offset)
	rows, err := db.q().query(ctx, "SELECT "+auditColumns+" FROM audit_log WHERE "+strings.Join(where, " AND ")+
		" ORDER BY id DESC LIMIT ? OFFSET ?", args...)
	if err != nil {
		return nil, false, fmt.Errorf("search audit: %w", err)
	}
	defer rows.Close()
	var out []*yipanqi.AuditEntry
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, false, fmt.Errorf("search audit: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("search audit: %w", err)
	}
	more := len(out) > f.Limit
	if more {
		out = out[:f.Limit]
	}
	return out, more, nil
}

// DeadLetterByID returns the dead letter with the id, with the bytes received. ENOTFOUND
// when there is none.
func (db *DB) DeadLetterByID(ctx context.Context, id int64) (*yipanqi.DeadLetter, error) {
	d := &yipanqi.DeadLetter{}
	err := db.q().row(ctx, `SELECT id, message_id, source, subject, reason, body, notice_id, received_at
		FROM dead_letters WHERE id = ?`, id).
		Scan(&d.ID, &d.MessageID, &d.Source, &d.Subject, &d.Reason, &d.Body, &d.NoticeID, timeCol{&d.ReceivedAt})
	if err != nil {
		return nil, notFound(fmt.Errorf("dead letter: %w", err), "未找到死信（编号 %d）", id)
	}
	return d, nil
}

// FindPersonByID returns the person with the store's id (an opaque number, not personal data:
// what the JSON API and links use instead of the ID number) whose residence lies in scope.
// Seeing it is audited ("person.view", object: the ID number) as FindPerson. ENOTFOUND when
// there is none in scope; EFORBIDDEN for the zero Scope.
func (db *DB) FindPersonByID(ctx context.Context, scope yipanqi.Scope, id int64) (*yipanqi.Person, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	lo, hi := scope.Range()
	p, err := scanPerson(db.q().row(ctx, "SELECT "+personColumns+" FROM people WHERE id = ? AND "+personInScope, id, lo, hi))
	if err != nil {
		return nil, notFound(fmt.Errorf("find person by id: %w", err), "未找到该人员")
	}
	if err := db.auditRead(ctx, "person.view", p.IDNumber); err != nil {
		return nil, err
	}
	return p, nil
}
