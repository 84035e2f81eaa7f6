package yipanqi

import "time"

// AuditEntry records who did or saw what, when and why. The log is append-only; each entry
// carries the hash of the one before it, so a changed or removed entry breaks the chain.
type AuditEntry struct {
	ID       int64
	At       time.Time
	Actor    string // username, or "system:<component>"
	OrgUnit  string // the actor's unit
	Action   string // e.g. "person.view", "people.import", "people.export"
	Object   string // what was touched: an ID number, a case id, a file name
	Reason   string
	PrevHash string
	Hash     string
}
