package sqlstore

import (
	"context"
	"fmt"
	"time"

	"yipanqi"
)

// Reads the web application's 人员 and 婚育证明 pages need beyond the registry's own: a person
// reached by the registry row id (the opaque id of the person page, so that no ID number
// travels in a URL), the cases about a person, and one certificate within a scope.

// PersonByID returns the person with the registry row id whose residence lies in scope.
// ENOTFOUND when there is none in scope (whether or not the id exists elsewhere): a guessed
// id out of scope looks exactly like a missing one. EFORBIDDEN for the zero Scope.
//
// Seeing the record is audited like FindPerson: "person.view" (object: the ID number) by the
// actor in ctx, before the record is returned; a miss logs nothing.
func (db *DB) PersonByID(ctx context.Context, scope yipanqi.Scope, id int64) (*yipanqi.Person, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	lo, hi := scope.Range()
	p, err := scanPerson(db.q().row(ctx, "SELECT "+personColumns+" FROM people WHERE id = ? AND "+personInScope, id, lo, hi))
	if err != nil {
		return nil, notFound(fmt.Errorf("person by id: %w", err), "未找到该人员，或其不在您的管辖范围内")
	}
	if err := db.auditRead(ctx, "person.view", p.IDNumber); err != nil {
		return nil, err
	}
	return p, nil
}

// PersonCases returns a page of the cases held by units in scope that are about the person
// with the ID number, newest first, and how many there are in all. A page that shows any
// case is audited as "person.cases" (object: the ID number) by the actor in ctx.
// EFORBIDDEN for the zero Scope; EINVALID for an empty ID number.
func (db *DB) PersonCases(ctx context.Context, scope yipanqi.Scope, idNumber string, offset, limit int) ([]*yipanqi.Case, int, error) {
	if err := checkScope(scope); err != nil {
		return nil, 0, err
	}
	if idNumber == "" {
		return nil, 0, yipanqi.FieldErrorf(yipanqi.EINVALID, "id_number", "公民身份号码不能为空")
	}
	lo, hi := scope.Range()
	cond := "person_id_number = ? AND " + caseInScope
	var total int
	if err := db.q().row(ctx, "SELECT COUNT(*) FROM cases WHERE "+cond, idNumber, lo, hi).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("person cases: %w", err)
	}
	if offset < 0 {
		offset = 0
	}
	rows, err := db.q().query(ctx, "SELECT "+caseColumns+" FROM cases WHERE "+cond+
		" ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?", idNumber, lo, hi, pageLimit(limit), offset)
	if err != nil {
		return nil, 0, fmt.Errorf("person cases: %w", err)
	}
	defer rows.Close()
	var out []*yipanqi.Case
	for rows.Next() {
		c, err := scanCase(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("person cases: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("person cases: %w", err)
	}
	if len(out) > 0 {
		if err := db.auditRead(ctx, "person.cases", idNumber); err != nil {
			return nil, 0, err
		}
	}
	return out, total, nil
}

// CertificateInScope returns the certificate with the number when the scope may see it, by
// the rule of PersonCertificates: the unit holding the record lies in the scope, or the
// holder resides in it. ENOTFOUND otherwise (an unknown number and one out of scope look
// the same). EFORBIDDEN for the zero Scope. When the scope may see both the certificate
// this node issued and a seen record of the same number, it is the issued one.
//
// Seeing it is audited as "certificate.view" (object: the number) by the actor in ctx.
func (db *DB) CertificateInScope(ctx context.Context, scope yipanqi.Scope, number string) (*yipanqi.Certificate, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	if !yipanqi.PlausibleCertificateNumber(number) {
		return nil, yipanqi.Errorf(yipanqi.ENOTFOUND, "未找到婚育证明“%s”，或它不在您的管辖范围内", number)
	}
	lo, hi := scope.Range()
	c, err := scanCertificate(db.q().row(ctx, "SELECT "+certColumns+" FROM certificates WHERE number = ? AND "+certInScope+issuedFirst,
		number, lo, hi, lo, hi))
	if err != nil {
		return nil, notFound(fmt.Errorf("certificate in scope: %w", err), "未找到婚育证明“%s”，或它不在您的管辖范围内", number)
	}
	if err := db.auditRead(ctx, "certificate.view", number); err != nil {
		return nil, err
	}
	return c, nil
}

// CertificateHandover is the record that a certificate was handed to its holder.
type CertificateHandover struct {
	Number     string
	HandedOn   yipanqi.Date
	OrgUnit    string // the unit that handed it over
	RecordedBy string
	RecordedAt time.Time
}

// RecordCertificateHandover records that the certificate with the number, which the scope
// may see (as CertificateInScope), was handed to its holder on the day by the unit of the
// scope; a later record replaces an earlier one. EINVALID naming "handed_on" for a missing
// day, one after today or before the issue; ENOTFOUND for a number the scope may not see;
// ECONFLICT for a revoked certificate. The record and its audit entry
// "certificate.handover" (object: the number) commit together. EFORBIDDEN for the zero Scope.
func (db *DB) RecordCertificateHandover(ctx context.Context, scope yipanqi.Scope, number string, on yipanqi.Date) error {
	if err := checkScope(scope); err != nil {
		return err
	}
	switch {
	case on.IsZero():
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "handed_on", "交付日期不能为空")
	case db.today().Before(on):
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "handed_on", "交付日期 %s 晚于今天", on)
	}
	actor, _ := actorFrom(ctx)
	lo, hi := scope.Range()
	now := db.now()
	return db.inTx(ctx, func(qq q) error {
		var revoked bool
		var issued yipanqi.Date
		if err := qq.row(ctx, "SELECT revoked, issued_on FROM certificates WHERE number = ? AND "+certInScope+issuedFirst,
			number, lo, hi, lo, hi).Scan(&revoked, &issued); err != nil {
			return notFound(fmt.Errorf("record handover: %w", err), "未找到婚育证明“%s”，或它不在您的管辖范围内", number)
		}
		if revoked {
			return yipanqi.FieldErrorf(yipanqi.ECONFLICT, "number", "婚育证明“%s”已注销，不能交付", number)
		}
		if on.Before(issued) {
			return yipanqi.FieldErrorf(yipanqi.EINVALID, "handed_on", "交付日期 %s 早于签发日期 %s", on, issued)
		}
		t := db.dialect.timeArg(now)
		if _, err := qq.exec(ctx, `INSERT INTO certificate_handovers (number, handed_on, org_unit, recorded_by, recorded_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (number) DO UPDATE SET handed_on = excluded.handed_on,
			org_unit = excluded.org_unit, recorded_by = excluded.recorded_by, recorded_at = excluded.recorded_at`,
			number, on, scope.Unit(), actor, t); err != nil {
			return fmt.Errorf("record handover: %w", err)
		}
		return db.audit(ctx, qq, &yipanqi.AuditEntry{At: now, Actor: actor, OrgUnit: scope.Unit(), Action: "certificate.handover",
			Object: number, Reason: "handed_on=" + on.String()})
	})
}

// CertificateHandoverOf returns the hand-over record of the certificate with the number.
// ENOTFOUND when none is recorded. It reads no personal data (the caller has read the
// certificate, audited), so it writes no audit entry.
func (db *DB) CertificateHandoverOf(ctx context.Context, number string) (*CertificateHandover, error) {
	h := &CertificateHandover{}
	err := db.q().row(ctx, "SELECT number, handed_on, org_unit, recorded_by, recorded_at FROM certificate_handovers WHERE number = ?",
		number).Scan(&h.Number, &h.HandedOn, &h.OrgUnit, &h.RecordedBy, timeCol{&h.RecordedAt})
	if err != nil {
		return nil, notFound(fmt.Errorf("certificate handover: %w", err), "婚育证明“%s”尚未登记交付", number)
	}
	return h, nil
}
