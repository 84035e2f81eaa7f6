package yipanqi

import (
	"context"
	"time"
)

// Sex as written on a resident ID number: an odd sequence number is male.
type Sex string

// Sexes.
const (
	Male   Sex = "M"
	Female Sex = "F"
)

// Label returns the Chinese label: 男 or 女.
func (s Sex) Label() string {
	switch s {
	case Male:
		return "男"
	case Female:
		return "女"
	}
	return ""
}

// MaritalStatus of a person, with the categories of the marriage-and-childbirth certificate.
type MaritalStatus string

// Marital statuses.
const (
	Unmarried    MaritalStatus = "unmarried"
	FirstMarried MaritalStatus = "first_married"
	Remarried    MaritalStatus = "remarried"
	Divorced     MaritalStatus = "divorced"
	Widowed      MaritalStatus = "widowed"
)

// MaritalStatuses lists every status with its Chinese label, in the order forms show them.
var MaritalStatuses = []struct {
	Status MaritalStatus
	Label  string
}{
	{Unmarried, "未婚"},
	{FirstMarried, "初婚"},
	{Remarried, "再婚"},
	{Divorced, "离婚"},
	{Widowed, "丧偶"},
}

// Label returns the Chinese label of the status, or "" for an unknown one.
func (m MaritalStatus) Label() string {
	for _, s := range MaritalStatuses {
		if s.Status == m {
			return s.Label
		}
	}
	return ""
}

// ParseMaritalStatus maps a Chinese label (as typed in a spreadsheet) or a status code to a
// MaritalStatus. "已婚" is read as 初婚, the common meaning on township sheets.
func ParseMaritalStatus(s string) (MaritalStatus, bool) {
	if s == "已婚" {
		return FirstMarried, true
	}
	for _, m := range MaritalStatuses {
		if s == m.Label || s == string(m.Status) {
			return m.Status, true
		}
	}
	return "", false
}

// FlowKind is what happened in a person's movement.
type FlowKind string

// Flow kinds: the person arrived at the residence, left it, moved on to another place, or
// returned to the hometown.
const (
	FlowArrived  FlowKind = "arrived"
	FlowLeft     FlowKind = "left"
	FlowMovedOn  FlowKind = "moved_on"
	FlowReturned FlowKind = "returned"
)

// Label returns the Chinese label of the flow kind.
func (k FlowKind) Label() string {
	switch k {
	case FlowArrived:
		return "流入"
	case FlowLeft:
		return "离开"
	case FlowMovedOn:
		return "再流动"
	case FlowReturned:
		return "返乡"
	}
	return ""
}

// Person is one entry of the floating-population registry (S1.1), keyed by the 18-digit
// resident ID number.
type Person struct {
	ID               int64
	IDNumber         string
	Name             string
	Sex              Sex
	BirthDate        Date
	MaritalStatus    MaritalStatus
	HukouCode        string // division code of the household registration (户籍地)
	HukouAddress     string
	ResidenceCode    string // division code of the current residence (现居住地)
	ResidenceAddress string
	Phone            string
	ArrivedOn        Date     // 流入日期
	FlowStatus       FlowKind // the kind of the latest flow event
	Version          int      // 1 when created, +1 on every change
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// FlowEvent is one step of a person's flow history.
type FlowEvent struct {
	ID         int64
	PersonID   int64
	Kind       FlowKind
	On         Date
	FromCode   string // division left, "" when not known
	ToCode     string // division reached, "" when not known
	Note       string
	RecordedAt time.Time
}

// PersonFilter selects people in a list. Zero fields do not filter.
type PersonFilter struct {
	Name       string // prefix of the name
	IDNumber   string // exact
	HukouCode  string // prefix: people from this division's subtree
	FlowStatus FlowKind
	Offset     int
	Limit      int // 0 means a default page size
}

// ImportStats counts the outcome of a bulk upsert of people.
type ImportStats struct {
	Imported int // new people
	Updated  int // people whose record changed
	Same     int // rows identical to what was held
}

// PersonService reads and writes the registry. Every read takes a Scope and sees only people
// whose residence lies in it.
type PersonService interface {
	// FindPerson returns the person with the ID number. ENOTFOUND when there is none in scope;
	// EFORBIDDEN for the zero Scope.
	FindPerson(ctx context.Context, scope Scope, idNumber string) (*Person, error)

	// ListPeople returns a page of people and the total count matching the filter.
	// EFORBIDDEN for the zero Scope.
	ListPeople(ctx context.Context, scope Scope, f PersonFilter) ([]*Person, int, error)

	// FlowHistory returns the flow events of a person in scope, oldest first. ENOTFOUND when
	// the person is not in scope.
	FlowHistory(ctx context.Context, scope Scope, idNumber string) ([]*FlowEvent, error)
}
