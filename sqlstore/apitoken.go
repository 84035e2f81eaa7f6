package sqlstore

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"yipanqi"
)

// APIToken is a token of the JSON API (docs/api.md). It belongs to a user and acts with the
// user's scope and role. The token itself is never stored: TokenHash is its SHA-256 (hex).
type APIToken struct {
	ID        int64
	TokenHash string
	UserID    int64
	Label     string // what it is for, e.g. "区县对接系统"; never personal data
	CreatedAt time.Time
	RevokedAt time.Time // zero while the token is live
	User      *yipanqi.User
}

// maxTokenLabel bounds a token's label, in characters.
const maxTokenLabel = 100

// CreateAPIToken stores a new token of t.UserID with t.TokenHash and t.Label, and sets t.ID
// and t.CreatedAt. An audit entry "token.add" (object: the user's username) by the actor in
// ctx commits with it. EINVALID without a token hash or for a label over 100 characters;
// ENOTFOUND for an unknown user; ECONFLICT when the hash is taken.
func (db *DB) CreateAPIToken(ctx context.Context, t *APIToken) error {
	if t.TokenHash == "" {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "token", "令牌不能为空")
	}
	if utf8.RuneCountInString(t.Label) > maxTokenLabel {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "label", "令牌说明不得超过 %d 个字", maxTokenLabel)
	}
	t.CreatedAt = db.now()
	return db.inTx(ctx, func(qq q) error {
		var name, unit string
		if err := qq.row(ctx, "SELECT username, org_unit FROM users WHERE id = ?", t.UserID).Scan(&name, &unit); err != nil {
			return notFound(fmt.Errorf("create api token: %w", err), "未找到用户（编号 %d）", t.UserID)
		}
		err := qq.row(ctx, "INSERT INTO api_tokens (token_hash, user_id, label, created_at) VALUES (?, ?, ?, ?) RETURNING id",
			t.TokenHash, t.UserID, t.Label, db.dialect.timeArg(t.CreatedAt)).Scan(&t.ID)
		if db.dialect.violation(err) == uniqueViolation {
			return yipanqi.FieldErrorf(yipanqi.ECONFLICT, "token", "令牌已存在")
		} else if err != nil {
			return fmt.Errorf("create api token: %w", err)
		}
		actor, actorUnit := actorFrom(ctx)
		if actorUnit == "" {
			actorUnit = unit
		}
		return db.audit(ctx, qq, &yipanqi.AuditEntry{Actor: actor, OrgUnit: actorUnit, Action: "token.add", Object: name,
			Reason: fmt.Sprintf("令牌 %d %s", t.ID, t.Label)})
	})
}

const tokenColumns = `t.id, t.token_hash, t.user_id, t.label, t.created_at, t.revoked_at,
	u.id, u.username, u.display_name, u.org_unit, u.role, u.password_hash, u.disabled, u.created_at`

func scanToken(sc interface{ Scan(...any) error }) (*APIToken, error) {
	t := &APIToken{User: &yipanqi.User{}}
	u := t.User
	var role string
	err := sc.Scan(&t.ID, &t.TokenHash, &t.UserID, &t.Label, timeCol{&t.CreatedAt}, timeCol{&t.RevokedAt},
		&u.ID, &u.Username, &u.DisplayName, &u.OrgUnit, &role, &u.PasswordHash, &u.Disabled, timeCol{&u.CreatedAt})
	u.Role = yipanqi.Role(role)
	return t, err
}

// APITokenByHash returns the live token with the hash and its user. ENOTFOUND when there is
// none, when it was revoked, or when its user is disabled: all three authorize nothing.
func (db *DB) APITokenByHash(ctx context.Context, tokenHash string) (*APIToken, error) {
	t, err := scanToken(db.q().row(ctx, "SELECT "+tokenColumns+
		" FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ? AND t.revoked_at IS NULL", tokenHash))
	if err != nil {
		return nil, notFound(fmt.Errorf("api token: %w", err), "令牌不存在或已吊销")
	}
	if t.User.Disabled {
		return nil, yipanqi.Errorf(yipanqi.ENOTFOUND, "令牌所属用户已停用")
	}
	return t, nil
}

// APITokens returns the tokens of the user (revoked ones too), oldest first.
func (db *DB) APITokens(ctx context.Context, userID int64) ([]*APIToken, error) {
	rows, err := db.q().query(ctx, "SELECT "+tokenColumns+
		" FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.user_id = ? ORDER BY t.id", userID)
	if err != nil {
		return nil, fmt.Errorf("api tokens: %w", err)
	}
	defer rows.Close()
	var out []*APIToken
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("api tokens: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeAPIToken revokes the token with the id; from then on it authorizes nothing. An audit
// entry "token.revoke" (object: the owner's username) by the actor in ctx commits with it.
// ENOTFOUND for an unknown token; ECONFLICT for one already revoked.
func (db *DB) RevokeAPIToken(ctx context.Context, id int64) error {
	return db.inTx(ctx, func(qq q) error {
		var name, unit string
		var revoked time.Time
		if err := qq.row(ctx, `SELECT u.username, u.org_unit, t.revoked_at FROM api_tokens t JOIN users u ON u.id = t.user_id
			WHERE t.id = ?`, id).Scan(&name, &unit, timeCol{&revoked}); err != nil {
			return notFound(fmt.Errorf("revoke api token: %w", err), "未找到令牌（编号 %d）", id)
		}
		if !revoked.IsZero() {
			return yipanqi.Errorf(yipanqi.ECONFLICT, "令牌（编号 %d）已于 %s 吊销", id, revoked.In(yipanqi.Shanghai).Format("2006-01-02 15:04"))
		}
		if _, err := qq.exec(ctx, "UPDATE api_tokens SET revoked_at = ? WHERE id = ?", db.dialect.timeArg(db.now()), id); err != nil {
			return fmt.Errorf("revoke api token: %w", err)
		}
		actor, actorUnit := actorFrom(ctx)
		if actorUnit == "" {
			actorUnit = unit
		}
		return db.audit(ctx, qq, &yipanqi.AuditEntry{Actor: actor, OrgUnit: actorUnit, Action: "token.revoke", Object: name,
			Reason: fmt.Sprintf("令牌 %d", id)})
	})
}
