package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"yipanqi"
	"yipanqi/idcard"
)

// The certificate registry (《流动人口婚育证明》): certificates this node issued and those it saw
// from elsewhere. Decisions in docs/certificates.md.

const certColumns = `id, number, kind, id_number, holder_name, hukou_address, issuer_code, org_unit,
	issued_on, valid_until, marital_status, revoked, revoked_at, revoked_reason, posted_to,
	tracking_number, posted_on, created_at`

// maxCertSerial is the last serial a 6-digit serial can hold.
const maxCertSerial = 999999

func scanCertificate(sc interface{ Scan(...any) error }) (*yipanqi.Certificate, error) {
	c := &yipanqi.Certificate{}
	var kind, marital string
	err := sc.Scan(&c.ID, &c.Number, &kind, &c.IDNumber, &c.HolderName, &c.HukouAddress, &c.IssuerCode,
		&c.OrgUnit, &c.IssuedOn, &c.ValidUntil, &marital, &c.Revoked, timeCol{&c.RevokedAt},
		&c.RevokedReason, &c.PostedTo, &c.TrackingNo, &c.PostedOn, timeCol{&c.CreatedAt})
	c.Kind, c.MaritalStatus = yipanqi.CertificateKind(kind), yipanqi.MaritalStatus(marital)
	return c, err
}

// today is the current date in China.
func (db *DB) today() yipanqi.Date { return yipanqi.DateOf(db.now().In(yipanqi.Shanghai)) }

// checkCertificate validates c before it is stored and normalises what it may: the ID
// number to its 18-character form, the holding unit. It changes c only when c is valid.
func (db *DB) checkCertificate(ctx context.Context, c *yipanqi.Certificate) error {
	today := db.today()
	if c.Kind != yipanqi.CertIssued && c.Kind != yipanqi.CertSeen {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "kind", "证明类别“%s”无效：应为 issued（本地签发）或 seen（外地查验登记）", c.Kind)
	}
	id, err := idcard.Parse(c.IDNumber, today)
	if err != nil {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "id_number", "持证人公民身份号码无效：%s", yipanqi.ErrorMessage(err))
	}
	name := strings.TrimSpace(c.HolderName)
	if name == "" {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "holder_name", "持证人姓名不能为空")
	}
	if utf8.RuneCountInString(name) > 50 {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "holder_name", "持证人姓名过长：最多 50 个字")
	}
	if utf8.RuneCountInString(c.HukouAddress) > 200 {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "hukou_address", "户籍地址过长：最多 200 个字")
	}
	if !yipanqi.ValidDivisionCode(c.IssuerCode) {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "issuer_code", "签发单位代码“%s”无效：应为 2、4、6、9 或 12 位数字的区划代码", c.IssuerCode)
	}
	if c.IssuedOn.IsZero() {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "issued_on", "签发日期不能为空")
	}
	if today.Before(c.IssuedOn) {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "issued_on", "签发日期 %s 晚于今天 %s", c.IssuedOn, today)
	}
	if c.ValidUntil.IsZero() {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "valid_until", "有效期至不能为空")
	}
	if !c.IssuedOn.Before(c.ValidUntil) {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "valid_until", "有效期至 %s 应晚于签发日期 %s", c.ValidUntil, c.IssuedOn)
	}
	if c.MaritalStatus.Label() == "" {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "marital_status", "婚姻状况“%s”无效：应为未婚、初婚、再婚、离婚或丧偶", c.MaritalStatus)
	}
	if c.Revoked {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "revoked", "不能登记已注销的证明：先登记，再注销")
	}
	switch c.Kind {
	case yipanqi.CertIssued:
		if c.Number != "" {
			issuer, year, _, _, ok := yipanqi.ParseCertificateNumber(c.Number)
			if !ok {
				return yipanqi.FieldErrorf(yipanqi.EINVALID, "number",
					"婚育证明编号“%s”格式无效：应为“签发单位代码-年份-6 位序号-校验码”，例如 %s", c.Number,
					yipanqi.CertificateNumber(c.IssuerCode, c.IssuedOn.Year, 1, "K7QX2M"))
			}
			if issuer != c.IssuerCode || year != c.IssuedOn.Year {
				return yipanqi.FieldErrorf(yipanqi.EINVALID, "number",
					"婚育证明编号“%s”与签发单位 %s、签发年份 %d 不符", c.Number, c.IssuerCode, c.IssuedOn.Year)
			}
		}
	case yipanqi.CertSeen:
		if c.Number == "" {
			return yipanqi.FieldErrorf(yipanqi.EINVALID, "number", "婚育证明编号不能为空：外地证明按证上所印编号登记")
		}
		if !yipanqi.PlausibleCertificateNumber(c.Number) {
			return yipanqi.FieldErrorf(yipanqi.EINVALID, "number", "婚育证明编号“%s”无效：只能含字母、数字和连字符，最多 50 位", c.Number)
		}
	}
	unit := c.OrgUnit
	if unit == "" {
		if c.Kind == yipanqi.CertIssued {
			unit = c.IssuerCode
		} else {
			_, unit = actorFrom(ctx)
		}
	}
	if !yipanqi.ValidDivisionCode(unit) {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "org_unit", "登记单位代码“%s”无效：应为区划代码", unit)
	}
	if c.Kind == yipanqi.CertIssued && unit != c.IssuerCode {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "org_unit", "本地签发的证明由签发单位 %s 保存，登记单位不能为 %s", c.IssuerCode, unit)
	}
	c.IDNumber, c.HolderName, c.OrgUnit = id.Number, name, unit
	return nil
}

// IssueCertificate records a certificate: one this node issues (Kind issued) or one it saw
// from elsewhere (Kind seen), and sets c.ID, c.CreatedAt and, for an issued certificate
// given without a number, c.Number.
//
// An issued certificate's number is "<issuer code>-<year of issue>-<6-digit serial>-<check>"
// (yipanqi.CertificateNumber), the check code random (yipanqi.NewCertificateCheck), so that
// no number can be guessed from another. When c.Number is empty the store takes the next
// serial of the issuer and year in the same transaction, so concurrent issues on any number
// of handles get distinct numbers and a failed issue uses none; a number this node already
// holds in any kind (a seen record that happens to carry it) is skipped, never refused. A
// number given explicitly (a paper certificate entered afterwards) must have that form, with
// or without a check code, and match the issuer and year; the counter then moves past it.
//
// A seen certificate keeps the number printed on it. It is local evidence only: numbers are
// unique among issued certificates and, separately, among seen ones, so a seen record never
// takes a number from the issuer, and the unscoped lookup (Certificate) never returns one.
//
// c.OrgUnit, the unit holding the record, defaults to the issuer for an issued certificate
// and to the unit of the user in ctx for a seen one.
//
// EINVALID naming the field for anything invalid (nothing is stored); ECONFLICT when the
// number is already registered in the same kind. Audited as "certificate.issue" (object: the number) in the
// same transaction.
func (db *DB) IssueCertificate(ctx context.Context, c *yipanqi.Certificate) error {
	v := *c
	if err := db.checkCertificate(ctx, &v); err != nil {
		return err
	}
	if err := db.inTx(ctx, func(qq q) error { return db.insertCertificate(ctx, qq, &v) }); err != nil {
		return err
	}
	*c = v
	return nil
}

// IssueCertificate is DB.IssueCertificate inside the transaction, so that a certificate
// registers together with the step that brings it (the arrival of a reissued one). A number
// already registered in the same kind is ECONFLICT, found before the insert so that the
// transaction stays usable.
func (tx *Tx) IssueCertificate(ctx context.Context, c *yipanqi.Certificate) error {
	v := *c
	if err := tx.db.checkCertificate(ctx, &v); err != nil {
		return err
	}
	var n int
	if err := tx.q.row(ctx, "SELECT COUNT(*) FROM certificates WHERE number = ? AND kind = ?", v.Number, string(v.Kind)).Scan(&n); err != nil {
		return fmt.Errorf("issue certificate: %w", err)
	}
	if n > 0 {
		return yipanqi.FieldErrorf(yipanqi.ECONFLICT, "number", "婚育证明编号“%s”已登记，不能重复登记", v.Number)
	}
	if err := tx.db.insertCertificate(ctx, tx.q, &v); err != nil {
		return err
	}
	*c = v
	return nil
}

// insertCertificate stores a checked certificate and its audit entry through qq.
func (db *DB) insertCertificate(ctx context.Context, qq q, c *yipanqi.Certificate) error {
	v := c
	now := db.now()
	actor, unit := actorFrom(ctx)
	if v.Kind == yipanqi.CertIssued {
		if err := db.numberIssued(ctx, qq, v); err != nil {
			return err
		}
	}
	err := qq.row(ctx, `INSERT INTO certificates (number, kind, id_number, holder_name, hukou_address,
		issuer_code, org_unit, issued_on, valid_until, marital_status, revoked, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		v.Number, string(v.Kind), v.IDNumber, v.HolderName, v.HukouAddress, v.IssuerCode, v.OrgUnit,
		v.IssuedOn, v.ValidUntil, string(v.MaritalStatus), false, db.dialect.timeArg(now)).Scan(&v.ID)
	if err != nil {
		if db.dialect.violation(err) == uniqueViolation {
			return yipanqi.FieldErrorf(yipanqi.ECONFLICT, "number", "婚育证明编号“%s”已登记，不能重复登记", v.Number)
		}
		return fmt.Errorf("issue certificate: %w", db.dialect.classify(err))
	}
	v.CreatedAt = now
	return db.audit(ctx, qq, &yipanqi.AuditEntry{Actor: actor, OrgUnit: unit, Action: "certificate.issue",
		Object: v.Number, Reason: string(v.Kind)})
}

// maxSkips bounds how many numbers already held locally an issue skips before it gives up
// (with random check codes a second skip in a row does not happen).
const maxSkips = 8

// numberIssued takes the serial of the issued certificate c and, when c has no number, gives
// it the next number of its issuer and year that this node does not hold in any kind.
func (db *DB) numberIssued(ctx context.Context, qq q, c *yipanqi.Certificate) error {
	given := c.Number != ""
	for range maxSkips {
		serial, err := db.takeSerial(ctx, qq, c)
		if err != nil || given {
			return err
		}
		number := yipanqi.CertificateNumber(c.IssuerCode, c.IssuedOn.Year, serial, yipanqi.NewCertificateCheck())
		var n int
		if err := qq.row(ctx, "SELECT COUNT(*) FROM certificates WHERE number = ?", number).Scan(&n); err != nil {
			return fmt.Errorf("issue certificate: %w", err)
		}
		if n == 0 {
			c.Number = number
			return nil
		}
	}
	return yipanqi.FieldErrorf(yipanqi.ECONFLICT, "number", "签发单位 %s 的婚育证明编号连续 %d 个已被本地记录占用，请联系管理员", c.IssuerCode, maxSkips)
}

// takeSerial returns the serial of an issued certificate: the next one of its issuer and
// year when c has no number, else the serial of its number, which the counter then passes.
// One upsert either way, which both databases run atomically (the row lock on PostgreSQL,
// the write lock on SQLite).
func (db *DB) takeSerial(ctx context.Context, qq q, c *yipanqi.Certificate) (int, error) {
	var serial int
	if c.Number != "" {
		_, _, given, _, _ := yipanqi.ParseCertificateNumber(c.Number) // checked by checkCertificate
		_, err := qq.exec(ctx, `INSERT INTO certificate_serials (issuer_code, year, last_serial) VALUES (?, ?, ?)
			ON CONFLICT (issuer_code, year) DO UPDATE SET last_serial = CASE
				WHEN certificate_serials.last_serial < excluded.last_serial THEN excluded.last_serial
				ELSE certificate_serials.last_serial END`, c.IssuerCode, c.IssuedOn.Year, given)
		if err != nil {
			return 0, fmt.Errorf("issue certificate: serial: %w", err)
		}
		return given, nil
	}
	err := qq.row(ctx, `INSERT INTO certificate_serials (issuer_code, year, last_serial) VALUES (?, ?, 1)
		ON CONFLICT (issuer_code, year) DO UPDATE SET last_serial = certificate_serials.last_serial + 1
		RETURNING last_serial`, c.IssuerCode, c.IssuedOn.Year).Scan(&serial)
	if err != nil {
		return 0, fmt.Errorf("issue certificate: next serial: %w", err)
	}
	if serial > maxCertSerial {
		return 0, yipanqi.FieldErrorf(yipanqi.ECONFLICT, "number", "签发单位 %s 在 %d 年的婚育证明编号已用完", c.IssuerCode, c.IssuedOn.Year)
	}
	return serial, nil
}

// Certificate returns the certificate this node issued with the number, whichever unit
// issued it: the lookup behind the automatic cert.check answer and the hometown's reissue
// answer, which need no scope. A seen record (local evidence of another issuer's
// certificate) is never returned. ENOTFOUND when this node issued no certificate with the
// number.
//
// Finding one is audited as "certificate.view" (object: the number) by the actor in ctx —
// the engine's system user, or a member of staff — before it is returned; a miss shows
// nothing and logs nothing. The public verification page uses PublicCertificate instead.
func (db *DB) Certificate(ctx context.Context, number string) (*yipanqi.Certificate, error) {
	c, err := db.issuedCertificate(ctx, number)
	if err != nil {
		return nil, err
	}
	if err := db.auditRead(ctx, "certificate.view", number); err != nil {
		return nil, err
	}
	return c, nil
}

// PublicCertificate is Certificate for the public verification page: the same answer, but
// nothing is written. An anonymous hit has no one to name in the audit log, and a row per hit
// would let anyone fill the log; the page counts its hits instead (web, metric
// yipanqi_cert_verify_requests_total).
func (db *DB) PublicCertificate(ctx context.Context, number string) (*yipanqi.Certificate, error) {
	return db.issuedCertificate(ctx, number)
}

func (db *DB) issuedCertificate(ctx context.Context, number string) (*yipanqi.Certificate, error) {
	if !yipanqi.PlausibleCertificateNumber(number) {
		return nil, yipanqi.Errorf(yipanqi.ENOTFOUND, "查无此证：婚育证明编号“%s”未登记", number)
	}
	c, err := scanCertificate(db.q().row(ctx, "SELECT "+certColumns+" FROM certificates WHERE number = ? AND kind = ?",
		number, string(yipanqi.CertIssued)))
	if err != nil {
		return nil, notFound(fmt.Errorf("certificate: %w", err), "查无此证：婚育证明编号“%s”未登记", number)
	}
	return c, nil
}

// issuedFirst ends a query of the records with a number: the certificate this node issued
// before a seen record of the same number, one row.
const issuedFirst = " ORDER BY CASE WHEN kind = 'issued' THEN 0 ELSE 1 END LIMIT 1"

// certInScope is the jurisdiction of a certificate record: the unit that holds it lies in
// the scope, or its holder is a person residing in the scope.
const certInScope = `((org_unit >= ? AND org_unit < ?) OR EXISTS (SELECT 1 FROM people p
	WHERE p.id_number = certificates.id_number AND p.residence_code >= ? AND p.residence_code < ?))`

// PersonCertificates returns the certificates of the holder with the ID number that the
// scope may see, newest issue first: those held by a unit in the scope (issued by it, or
// seen and recorded by it) and all of a holder who resides in the scope. An empty list is
// not an error. EFORBIDDEN for the zero Scope; EINVALID for a malformed ID number.
//
// A list that shows any certificate is audited as "certificate.list" (object: the ID
// number, reason: the scope) by the actor in ctx.
func (db *DB) PersonCertificates(ctx context.Context, scope yipanqi.Scope, idNumber string) ([]*yipanqi.Certificate, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	id, err := idcard.Parse(idNumber, yipanqi.Date{})
	if err != nil {
		return nil, err
	}
	lo, hi := scope.Range()
	rows, err := db.q().query(ctx, "SELECT "+certColumns+" FROM certificates WHERE id_number = ? AND "+certInScope+
		" ORDER BY issued_on DESC, id DESC", id.Number, lo, hi, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("person certificates: %w", err)
	}
	defer rows.Close()
	var out []*yipanqi.Certificate
	for rows.Next() {
		c, err := scanCertificate(rows)
		if err != nil {
			return nil, fmt.Errorf("person certificates: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("person certificates: %w", err)
	}
	if len(out) > 0 {
		actor, unit := actorFrom(ctx)
		if err := db.Audit(ctx, &yipanqi.AuditEntry{Actor: actor, OrgUnit: unit, Action: "certificate.list",
			Object: id.Number, Reason: "scope=" + scope.Unit()}); err != nil {
			return nil, fmt.Errorf("audit certificate.list: %w", err)
		}
	}
	return out, nil
}

// RevokeCertificate marks the certificate with the number revoked, for the reason given
// (required, at most 200 characters), as of now: the one this node issued, or the seen
// record when it issued none with the number. EINVALID without a reason; ENOTFOUND for an
// unknown number; ECONFLICT when it is already revoked. Nothing changes on error. Audited as
// "certificate.revoke" (object: the number, reason: the reason) in the same transaction.
func (db *DB) RevokeCertificate(ctx context.Context, number, reason string) error {
	return db.RevokeCertificateKind(ctx, number, "", reason)
}

// RevokeCertificateKind is RevokeCertificate of the record of the kind given (issued or
// seen; "" for either, issued first), so that revoking a seen record never touches the
// certificate an issuer holds under the same number.
func (db *DB) RevokeCertificateKind(ctx context.Context, number string, kind yipanqi.CertificateKind, reason string) error {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "reason", "注销原因不能为空")
	}
	if utf8.RuneCountInString(reason) > 200 {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "reason", "注销原因过长：最多 200 个字")
	}
	now := db.now()
	actor, unit := actorFrom(ctx)
	return db.inTx(ctx, func(qq q) error {
		var id int64
		var revoked bool
		if err := qq.row(ctx, "SELECT id, revoked FROM certificates WHERE number = ? AND (? = '' OR kind = ?)"+issuedFirst,
			number, string(kind), string(kind)).Scan(&id, &revoked); err != nil {
			return notFound(fmt.Errorf("revoke certificate: %w", err), "查无此证：婚育证明编号“%s”未登记", number)
		}
		if revoked {
			return yipanqi.FieldErrorf(yipanqi.ECONFLICT, "number", "婚育证明“%s”已注销", number)
		}
		if _, err := qq.exec(ctx, "UPDATE certificates SET revoked = ?, revoked_at = ?, revoked_reason = ? WHERE id = ?",
			true, db.dialect.timeArg(now), reason, id); err != nil {
			return fmt.Errorf("revoke certificate: %w", err)
		}
		return db.audit(ctx, qq, &yipanqi.AuditEntry{Actor: actor, OrgUnit: unit, Action: "certificate.revoke",
			Object: number, Reason: reason})
	})
}

// RecordCertificatePosting records that a certificate this node issued was posted (the cert.reissue
// reply): to which township or community (a division code), with which mail tracking number,
// on which day (not after today, not before the issue). A later posting replaces an earlier
// one. EINVALID naming the field; ENOTFOUND for an unknown number; ECONFLICT for a revoked
// certificate. Audited as "certificate.post".
func (db *DB) RecordCertificatePosting(ctx context.Context, number, postedTo, trackingNo string, on yipanqi.Date) error {
	trackingNo = strings.TrimSpace(trackingNo)
	switch {
	case !yipanqi.ValidDivisionCode(postedTo):
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "posted_to", "寄送至的乡镇（街道）或社区代码“%s”无效", postedTo)
	case trackingNo == "":
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "tracking_number", "邮件单号不能为空")
	case !yipanqi.PlausibleCertificateNumber(trackingNo):
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "tracking_number", "邮件单号“%s”无效：只能含字母、数字和连字符，最多 50 位", trackingNo)
	case on.IsZero():
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "posted_on", "寄送日期不能为空")
	case db.today().Before(on):
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "posted_on", "寄送日期 %s 晚于今天", on)
	}
	actor, unit := actorFrom(ctx)
	return db.inTx(ctx, func(qq q) error {
		var revoked bool
		var issued yipanqi.Date
		if err := qq.row(ctx, "SELECT revoked, issued_on FROM certificates WHERE number = ? AND kind = ?", number,
			string(yipanqi.CertIssued)).Scan(&revoked, &issued); err != nil {
			return notFound(fmt.Errorf("record posting: %w", err), "查无此证：婚育证明编号“%s”未登记", number)
		}
		if revoked {
			return yipanqi.FieldErrorf(yipanqi.ECONFLICT, "number", "婚育证明“%s”已注销，不能寄送", number)
		}
		if on.Before(issued) {
			return yipanqi.FieldErrorf(yipanqi.EINVALID, "posted_on", "寄送日期 %s 早于签发日期 %s", on, issued)
		}
		if _, err := qq.exec(ctx, "UPDATE certificates SET posted_to = ?, tracking_number = ?, posted_on = ? WHERE number = ? AND kind = ?",
			postedTo, trackingNo, on, number, string(yipanqi.CertIssued)); err != nil {
			return fmt.Errorf("record posting: %w", err)
		}
		return db.audit(ctx, qq, &yipanqi.AuditEntry{Actor: actor, OrgUnit: unit, Action: "certificate.post",
			Object: number, Reason: "posted_to=" + postedTo})
	})
}
