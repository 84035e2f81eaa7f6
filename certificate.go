package yipanqi

import (
	"crypto/rand"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// CertificateKind says whether this node issued a certificate (as the hometown side) or saw
// and recorded one (as the residence side).
type CertificateKind string

// Certificate kinds.
const (
	CertIssued CertificateKind = "issued"
	CertSeen   CertificateKind = "seen"
)

// Label returns the Chinese label of the kind.
func (k CertificateKind) Label() string {
	switch k {
	case CertIssued:
		return "本地签发"
	case CertSeen:
		return "外地查验登记"
	}
	return ""
}

// Certificate is a marriage-and-childbirth certificate (《流动人口婚育证明》).
type Certificate struct {
	ID            int64
	Number        string // see CertificateNumber; assigned by the store when empty on issue
	Kind          CertificateKind
	IDNumber      string // the holder's resident ID number
	HolderName    string
	HukouAddress  string // the holder's household-registration address as printed
	IssuerCode    string // the issuing unit's division code
	OrgUnit       string // the local unit that holds the record: the issuer, or the unit that saw it
	IssuedOn      Date
	ValidUntil    Date
	MaritalStatus MaritalStatus
	Revoked       bool
	RevokedAt     time.Time // zero unless revoked
	RevokedReason string
	PostedTo      string // division code of the township or community it was posted to, if posted
	TrackingNo    string // mail tracking number, if posted
	PostedOn      Date
	CreatedAt     time.Time
}

// CertificateStatus is what a certificate amounts to on a given day. Its values are the
// reply values of the catalog's cert.check type.
type CertificateStatus string

// Certificate statuses. CertUnknown is for a number no registry holds.
const (
	CertValid   CertificateStatus = "valid"
	CertExpired CertificateStatus = "expired"
	CertRevoked CertificateStatus = "revoked"
	CertUnknown CertificateStatus = "unknown"
)

// Label returns the Chinese label: 有效, 已过期, 已注销 or 查无此证.
func (s CertificateStatus) Label() string {
	switch s {
	case CertValid:
		return "有效"
	case CertExpired:
		return "已过期"
	case CertRevoked:
		return "已注销"
	case CertUnknown:
		return "查无此证"
	}
	return ""
}

// StatusOn returns the status of c on day: revoked whatever the day once revoked, expired
// on any day after ValidUntil, valid otherwise (also when no end of validity is recorded).
func (c *Certificate) StatusOn(day Date) CertificateStatus {
	switch {
	case c.Revoked:
		return CertRevoked
	case !c.ValidUntil.IsZero() && c.ValidUntil.Before(day):
		return CertExpired
	}
	return CertValid
}

// certNumberRE is the number of a certificate issued by a Yipanqi node: the issuer's
// division code (2, 4, 6, 9 or 12 digits), the year of issue, a 6-digit serial and a check
// code of CertCheckLen characters (CertCheckAlphabet), joined by hyphens. The check code is
// missing from numbers given before it existed (paper certificates, older issues).
var certNumberRE = regexp.MustCompile(`^(\d{2}|\d{4}|\d{6}|\d{9}|\d{12})-(\d{4})-(\d{6})(?:-([0-9A-HJKMNP-TV-Z]{6}))?$`)

// seenNumberRE is what a certificate number written by another system may look like: 1–50
// ASCII letters, digits and hyphens, starting with a letter or digit.
var seenNumberRE = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z-]{0,49}$`)

// CertCheckAlphabet is the alphabet of a certificate number's check code: Crockford's base32
// (digits and capital letters without I, L, O and U), so that it reads back from paper.
const CertCheckAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// CertCheckLen is the length of the check code: 6 characters, 30 random bits, so that a
// number cannot be guessed from its neighbours (one chance in about a billion per try).
const CertCheckLen = 6

// NewCertificateCheck returns a random check code for a new certificate number.
func NewCertificateCheck() string {
	var b [CertCheckLen]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("certificate check code: %v", err)) // crypto/rand does not fail on supported systems
	}
	for i := range b {
		b[i] = CertCheckAlphabet[b[i]&31]
	}
	return string(b[:])
}

// CertificateNumber returns the number of the serial-th certificate issued by the unit
// issuer in year, with the check code check: "440106001-2026-000123-K7QX2M". An empty check
// gives the form without a check code ("440106001-2026-000123").
func CertificateNumber(issuer string, year, serial int, check string) string {
	if check == "" {
		return fmt.Sprintf("%s-%04d-%06d", issuer, year, serial)
	}
	return fmt.Sprintf("%s-%04d-%06d-%s", issuer, year, serial, check)
}

// ParseCertificateNumber splits a number in the form of CertificateNumber. check is "" for
// a number without a check code. ok is false for any other string.
func ParseCertificateNumber(number string) (issuer string, year, serial int, check string, ok bool) {
	m := certNumberRE.FindStringSubmatch(number)
	if m == nil {
		return "", 0, 0, "", false
	}
	year, serial = digits(m[2]), digits(m[3])
	return m[1], year, serial, m[4], serial > 0
}

// NormalizeCertificateNumber returns number with surrounding space removed and, when it is
// in the form of CertificateNumber once capitalised, capitalised: a check code typed in
// small letters finds its certificate. Other numbers (seen ones) are left as they are.
func NormalizeCertificateNumber(number string) string {
	number = strings.TrimSpace(number)
	if up := strings.ToUpper(number); up != number {
		if _, _, _, _, ok := ParseCertificateNumber(up); ok {
			return up
		}
	}
	return number
}

// PlausibleCertificateNumber reports whether number can be the number of any certificate,
// ours or one seen from elsewhere: a cheap check before a lookup (the public verification
// page answers "not found" for anything else without asking the store).
func PlausibleCertificateNumber(number string) bool {
	return seenNumberRE.MatchString(number)
}

// digits converts a string of ASCII digits already matched by a pattern.
func digits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}
