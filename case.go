package yipanqi

import (
	"encoding/json"
	"time"
)

// CaseState is where a case is in its lifecycle (ARCHITECTURE §2). Overdue is a flag, not a
// state.
type CaseState string

// Case states.
const (
	CaseDrafted     CaseState = "drafted"
	CaseSent        CaseState = "sent"
	CaseDelivered   CaseState = "delivered"
	CaseInProgress  CaseState = "in_progress"
	CaseReplied     CaseState = "replied"
	CaseClosed      CaseState = "closed"
	CaseTransferred CaseState = "transferred"
	CaseWithdrawn   CaseState = "withdrawn"
	CaseRejected    CaseState = "rejected"
)

// Direction says whether this node sent a case or received it.
type Direction string

// Directions.
const (
	Outgoing Direction = "out"
	Incoming Direction = "in"
)

// Case is one matter between two places: a query that needs a reply or a notice that needs
// an acknowledgement.
type Case struct {
	ID             string // UUIDv7, the same on both nodes
	Type           string // catalog type, e.g. "verify.identity"
	Direction      Direction
	OrgUnit        string // the local unit that holds the case
	PeerNode       string // the other node's code
	PeerUnit       string // the other side's unit
	PersonIDNumber string // the person the case is about, "" for none
	State          CaseState
	Data           json.RawMessage
	ReceivedAt     time.Time // from the receiver's signed receipt; zero until then
	DueAt          time.Time // zero when the type has no deadline
	DueProvisional bool      // the calendar had no holiday data for the deadline's year
	Overdue        bool
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// CaseFilter selects cases in a list. Zero fields do not filter.
type CaseFilter struct {
	Type      string
	State     CaseState
	Direction Direction
	Overdue   *bool
	Offset    int
	Limit     int
}
