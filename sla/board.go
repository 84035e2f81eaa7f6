package sla

import "time"

// Counts are the open cases of a part of the tree, owed by its units (incoming cases with a
// deadline). Open counts every open case; DueSoon and Overdue are parts of it.
type Counts struct {
	Open    int64 `json:"open"`
	DueSoon int64 `json:"due_soon"`
	Overdue int64 `json:"overdue"`
}

// Add counts n cases of status s.
func (c *Counts) Add(status string, n int64) {
	c.Open += n
	switch status {
	case StatusDueSoon:
		c.DueSoon += n
	case StatusOverdue:
		c.Overdue += n
	}
}

// BoardRow is the counts of one type or one unit.
type BoardRow struct {
	Key string `json:"key"` // the type name, or the unit's code
	Counts
}

// Board is the supervision view of a unit (督办): its subtree's open, due-soon and overdue
// cases in all, by type and by the units one level down (cases held by the unit itself
// under its own code), and how many cases are on its own supervision queue — overdue cases
// of units below that have escalated to it or beyond.
type Board struct {
	Unit   string     `json:"unit"`
	At     time.Time  `json:"at"`
	Total  Counts     `json:"total"`
	ByType []BoardRow `json:"by_type"`
	ByUnit []BoardRow `json:"by_unit"`
	Queue  int64      `json:"queue"`
}

// Filter selects the cases behind a board figure (the drill-down). Zero fields do not
// filter.
type Filter struct {
	Status string // StatusDueSoon, StatusOverdue, or "queue": on the unit's supervision queue
	Type   string
	Unit   string // a unit in the subtree: only cases it or its units hold
	Offset int
	Limit  int
}

// ChildUnit is the code under which a case held by holder shows on the board of unit: the
// unit one level below unit on the way to holder, or unit itself.
func ChildUnit(unit, holder string) string {
	for _, n := range codeLengths {
		if n > len(unit) && n <= len(holder) {
			return holder[:n]
		}
	}
	return unit
}
