package yipanqi

import (
	"strings"
	"time"
)

// Consent is a person's recorded separate consent (单独同意, PIPL art. 29; SCOPE.md) to share
// a sensitive case type — who consented, when, for what purpose, with which recipient. It is
// revocable; once revoked it covers no later send. A type's ConsentRule in the catalog says
// which types need one.
type Consent struct {
	ID           int64
	IDNumber     string    // who: the person's resident ID number
	CaseType     string    // what it covers, e.g. "service.result"
	Purpose      string    // Chinese; the catalog's purpose when recorded without one
	Recipient    string    // to whom: a division code; it covers the units beneath it
	OrgUnit      string    // the unit that recorded it (and sees it)
	GivenAt      time.Time // when the person gave it
	RecordedBy   string    // the member of staff who recorded it
	RecordedAt   time.Time
	RevokedAt    time.Time // zero while it stands
	RevokedBy    string
	RevokeReason string
}

// Live reports whether the consent stood at t: given by then and not revoked by then.
func (c *Consent) Live(t time.Time) bool {
	return !c.GivenAt.After(t) && (c.RevokedAt.IsZero() || c.RevokedAt.After(t))
}

// Covers reports whether the consent, standing at t, covers a case of caseType addressed to
// unit.
func (c *Consent) Covers(caseType, unit string, t time.Time) bool {
	return c.Live(t) && c.CaseType == caseType && strings.HasPrefix(unit, c.Recipient)
}

// ConsentNeeded returns the consent rule of the catalog type name, or nil when it needs
// none.
func (c *CaseCatalog) ConsentNeeded(name string) *ConsentRule {
	if t, ok := c.byName[name]; ok && t.Sensitive {
		return t.Consent
	}
	return nil
}
