package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"yipanqi"
)

// Consents (SCOPE.md, PIPL art. 29): the person's separate consent a sensitive case type
// needs before it leaves the node. The exchange checks for a live one in the transaction
// that stores the case, so a revocation that committed first stops the send.

const consentColumns = `id, id_number, case_type, purpose, recipient, org_unit, given_at, recorded_by, recorded_at,
	revoked_at, revoked_by, revoke_reason`

// consentInScope is the subtree filter on consents: by the unit that recorded them.
const consentInScope = "org_unit >= ? AND org_unit < ?"

func scanConsent(sc interface{ Scan(...any) error }) (*yipanqi.Consent, error) {
	c := &yipanqi.Consent{}
	err := sc.Scan(&c.ID, &c.IDNumber, &c.CaseType, &c.Purpose, &c.Recipient, &c.OrgUnit, timeCol{&c.GivenAt},
		&c.RecordedBy, timeCol{&c.RecordedAt}, timeCol{&c.RevokedAt}, &c.RevokedBy, &c.RevokeReason)
	return c, err
}

// RecordConsent records a person's consent and sets c.ID, RecordedBy (the user in ctx),
// RecordedAt and, when empty, OrgUnit (the scope's unit) and Purpose (the catalog's). The
// person must live in scope (ENOTFOUND otherwise), and the consent and its audit entry
// "consent.recorded" commit together. EINVALID, naming the field, for a type that needs no
// consent, a recipient that is not a division code, a missing time or one in the future, or
// a unit outside scope; nothing is stored then. EFORBIDDEN for the zero Scope.
func (db *DB) RecordConsent(ctx context.Context, scope yipanqi.Scope, c *yipanqi.Consent) error {
	if err := checkScope(scope); err != nil {
		return err
	}
	if c.OrgUnit == "" {
		c.OrgUnit = scope.Unit()
	}
	rule := yipanqi.Catalog().ConsentNeeded(c.CaseType)
	now := db.now()
	switch {
	case !scope.Contains(c.OrgUnit) || !yipanqi.ValidDivisionCode(c.OrgUnit):
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "org_unit", "登记单位“%s”不在管辖范围内", c.OrgUnit)
	case rule == nil:
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "case_type", "“%s”类案件无需本人单独同意", c.CaseType)
	case !yipanqi.ValidDivisionCode(c.Recipient):
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "recipient", "接收方“%s”应为行政区划代码", c.Recipient)
	case c.GivenAt.IsZero():
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "given_at", "须填写本人同意的时间")
	case c.GivenAt.After(now):
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "given_at", "本人同意的时间不能晚于现在")
	case len([]rune(c.Purpose)) > 200:
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "purpose", "同意的目的不能超过 200 字")
	}
	if strings.TrimSpace(c.Purpose) == "" {
		c.Purpose = rule.Purpose
	}
	actor, _ := actorFrom(ctx)
	c.RecordedBy, c.RecordedAt, c.RevokedAt, c.RevokedBy, c.RevokeReason = actor, now, time.Time{}, "", ""
	t := db.dialect.timeArg
	return db.inTx(ctx, func(qq q) error {
		if _, err := db.findPerson(ctx, qq, scope, c.IDNumber); err != nil {
			return err
		}
		if err := qq.row(ctx, `INSERT INTO consents (id_number, case_type, purpose, recipient, org_unit, given_at, recorded_by,
			recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, c.IDNumber, c.CaseType, c.Purpose, c.Recipient, c.OrgUnit,
			t(c.GivenAt), c.RecordedBy, t(now)).Scan(&c.ID); err != nil {
			return fmt.Errorf("record consent: %w", db.dialect.classify(err))
		}
		return db.audit(ctx, qq, &yipanqi.AuditEntry{At: now, Actor: actor, OrgUnit: c.OrgUnit, Action: "consent.recorded",
			Object: c.IDNumber, Reason: fmt.Sprintf("同意书 %d：%s，接收方 %s", c.ID, c.CaseType, c.Recipient)})
	})
}

// RevokeConsent revokes the consent id, recorded by a unit in scope: it covers no send from
// now on. The revocation and its audit entry "consent.revoked" by the user in ctx commit
// together. EINVALID without a reason; ENOTFOUND when there is no such consent in scope;
// ECONFLICT when it is already revoked. EFORBIDDEN for the zero Scope.
func (db *DB) RevokeConsent(ctx context.Context, scope yipanqi.Scope, id int64, reason string) error {
	if err := checkScope(scope); err != nil {
		return err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "reason", "撤回同意须说明原因（如：本人申请撤回）")
	}
	actor, _ := actorFrom(ctx)
	lo, hi := scope.Range()
	now := db.now()
	return db.inTx(ctx, func(qq q) error {
		c, err := scanConsent(qq.row(ctx, "SELECT "+consentColumns+" FROM consents WHERE id = ? AND "+consentInScope, id, lo, hi))
		if err != nil {
			return notFound(fmt.Errorf("revoke consent: %w", err), "未找到同意书 %d", id)
		}
		if !c.RevokedAt.IsZero() {
			return yipanqi.FieldErrorf(yipanqi.ECONFLICT, "revoked_at", "同意书 %d 已于 %s 撤回", id,
				c.RevokedAt.In(yipanqi.Shanghai).Format("2006-01-02 15:04"))
		}
		if _, err := qq.exec(ctx, "UPDATE consents SET revoked_at = ?, revoked_by = ?, revoke_reason = ? WHERE id = ? AND revoked_at IS NULL",
			db.dialect.timeArg(now), actor, reason, id); err != nil {
			return fmt.Errorf("revoke consent: %w", err)
		}
		return db.audit(ctx, qq, &yipanqi.AuditEntry{At: now, Actor: actor, OrgUnit: c.OrgUnit, Action: "consent.revoked",
			Object: c.IDNumber, Reason: fmt.Sprintf("同意书 %d：%s", id, reason)})
	})
}

// Consents returns the consents of the person recorded by units in scope, newest first,
// revoked ones included (the person's own copy shows both). Reading them is audited
// ("person.consents" by the actor in ctx). EFORBIDDEN for the zero Scope.
func (db *DB) Consents(ctx context.Context, scope yipanqi.Scope, idNumber string) ([]*yipanqi.Consent, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	lo, hi := scope.Range()
	rows, err := db.q().query(ctx, "SELECT "+consentColumns+" FROM consents WHERE id_number = ? AND "+consentInScope+
		" ORDER BY recorded_at DESC, id DESC", idNumber, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("consents: %w", err)
	}
	defer rows.Close()
	var out []*yipanqi.Consent
	for rows.Next() {
		c, err := scanConsent(rows)
		if err != nil {
			return nil, fmt.Errorf("consents: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("consents: %w", err)
	}
	if err := db.auditRead(ctx, "person.consents", idNumber); err != nil {
		return nil, err
	}
	return out, nil
}

// LiveConsent returns a consent of the person that stands at at and covers a case of
// caseType addressed to unit, read in the transaction (so that a revocation committed before
// it counts). ENOTFOUND when there is none.
func (tx *Tx) LiveConsent(ctx context.Context, idNumber, caseType, unit string, at time.Time) (*yipanqi.Consent, error) {
	rows, err := tx.q.query(ctx, "SELECT "+consentColumns+` FROM consents WHERE id_number = ? AND case_type = ?
		AND revoked_at IS NULL ORDER BY given_at DESC, id DESC`, idNumber, caseType)
	if err != nil {
		return nil, fmt.Errorf("live consent: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanConsent(rows)
		if err != nil {
			return nil, fmt.Errorf("live consent: %w", err)
		}
		if c.Covers(caseType, unit, at) {
			return c, nil
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("live consent: %w", err)
	}
	return nil, yipanqi.FieldErrorf(yipanqi.ENOTFOUND, "consent", "没有本人对“%s”发往“%s”的有效单独同意", caseType, unit)
}
