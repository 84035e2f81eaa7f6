package sqlstore

import (
	"context"
	"fmt"

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
// the same). EFORBIDDEN for the zero Scope.
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
	c, err := scanCertificate(db.q().row(ctx, "SELECT "+certColumns+" FROM certificates WHERE number = ? AND "+certInScope,
		number, lo, hi, lo, hi))
	if err != nil {
		return nil, notFound(fmt.Errorf("certificate in scope: %w", err), "未找到婚育证明“%s”，或它不在您的管辖范围内", number)
	}
	if err := db.auditRead(ctx, "certificate.view", number); err != nil {
		return nil, err
	}
	return c, nil
}
