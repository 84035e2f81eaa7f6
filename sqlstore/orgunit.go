package sqlstore

import (
	"context"
	"fmt"

	"yipanqi"
)

// UpsertOrgUnits inserts org units or replaces the ones already held, in one transaction.
// EINVALID for a code that is not a division code or a unit without a name.
func (db *DB) UpsertOrgUnits(ctx context.Context, units []yipanqi.OrgUnit) error {
	for _, u := range units {
		if !yipanqi.ValidDivisionCode(u.Code) {
			return yipanqi.FieldErrorf(yipanqi.EINVALID, "code", "机构代码“%s”无效：应为 2、4、6、9 或 12 位数字的区划代码", u.Code)
		}
		if u.Name == "" {
			return yipanqi.FieldErrorf(yipanqi.EINVALID, "name", "机构“%s”缺少名称", u.Code)
		}
	}
	return db.inTx(ctx, func(qq q) error {
		for _, u := range units {
			level := u.Level
			if level == 0 {
				level = yipanqi.LevelOf(u.Code)
			}
			if _, err := qq.exec(ctx, `INSERT INTO org_units (code, name, level, parent_code, active) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (code) DO UPDATE SET name = excluded.name, level = excluded.level,
				parent_code = excluded.parent_code, active = excluded.active`,
				u.Code, u.Name, int(level), u.ParentCode, u.Active); err != nil {
				return fmt.Errorf("upsert org unit %s: %w", u.Code, db.dialect.classify(err))
			}
		}
		return nil
	})
}

// OrgUnit returns the org unit with the code. ENOTFOUND when there is none.
func (db *DB) OrgUnit(ctx context.Context, code string) (*yipanqi.OrgUnit, error) {
	u := &yipanqi.OrgUnit{}
	var level int
	err := db.q().row(ctx, "SELECT code, name, level, parent_code, active FROM org_units WHERE code = ?", code).
		Scan(&u.Code, &u.Name, &level, &u.ParentCode, &u.Active)
	if err != nil {
		return nil, notFound(fmt.Errorf("org unit: %w", err), "未找到机构“%s”", code)
	}
	u.Level = yipanqi.Level(level)
	return u, nil
}

// CreateUser adds a user and sets u.ID and u.CreatedAt. ECONFLICT when the username is
// taken; EINVALID without a username or role, or for an org unit that is not held.
func (db *DB) CreateUser(ctx context.Context, u *yipanqi.User) error {
	if u.Username == "" {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "username", "用户名不能为空")
	}
	if u.Role == "" {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "role", "用户角色不能为空")
	}
	u.CreatedAt = db.now()
	err := db.q().row(ctx, `INSERT INTO users (username, display_name, org_unit, role, password_hash, disabled, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, u.Username, u.DisplayName, u.OrgUnit, string(u.Role),
		u.PasswordHash, u.Disabled, db.dialect.timeArg(u.CreatedAt)).Scan(&u.ID)
	switch db.dialect.violation(err) {
	case uniqueViolation:
		return yipanqi.FieldErrorf(yipanqi.ECONFLICT, "username", "用户名“%s”已被使用", u.Username)
	case foreignKeyViolation:
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "org_unit", "机构“%s”不存在", u.OrgUnit)
	}
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	return nil
}

// UserByName returns the user with the username. ENOTFOUND when there is none.
func (db *DB) UserByName(ctx context.Context, username string) (*yipanqi.User, error) {
	u := &yipanqi.User{}
	var role string
	err := db.q().row(ctx, `SELECT id, username, display_name, org_unit, role, password_hash, disabled, created_at
		FROM users WHERE username = ?`, username).
		Scan(&u.ID, &u.Username, &u.DisplayName, &u.OrgUnit, &role, &u.PasswordHash, &u.Disabled, timeCol{&u.CreatedAt})
	if err != nil {
		return nil, notFound(fmt.Errorf("user: %w", err), "未找到用户“%s”", username)
	}
	u.Role = yipanqi.Role(role)
	return u, nil
}
