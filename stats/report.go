package stats

import (
	"sort"
	"strings"
	"time"

	"yipanqi"
)

// Snapshot describes the stored aggregates of one month (taken by "yipanqi stats snapshot").
type Snapshot struct {
	Month   Month
	TakenAt time.Time
	Actor   string
	People  int // people present at the end of the month, the whole node
}

// PopGroup is one group of people present at the end of the month: their residence code cut
// to the report's child width, sex, age band and marital status, and how many they are.
type PopGroup struct {
	Code    string
	Sex     yipanqi.Sex
	Band    int
	Marital yipanqi.MaritalStatus
	People  int
}

// FlowGroup counts the flow events of the month with one kind, origin and destination
// (full division codes, "" where not known).
type FlowGroup struct {
	Kind   yipanqi.FlowKind
	From   string
	To     string
	Events int
}

// Tally is what the store hands over for a report: aggregates only, never a person.
type Tally struct {
	Unit       string // the scope's division code
	Month      Month
	Snapshot   *Snapshot // the snapshot read; nil when computed live
	Population []PopGroup
	Flows      []FlowGroup // every event of the month whose origin or destination is in the unit
}

// Counts are the figures of one row of the report.
type Counts struct {
	People  int
	Male    int
	Female  int
	Age     [NumBands]int
	Marital [NumMarital]int
	Inflow  int // 流入：arrivals, and moves from outside into the row's unit
	Outflow int // 流出：departures, returns home, and moves from the row's unit to outside it
}

// Row is one line of the report: a child unit, or the total.
type Row struct {
	Code string
	Name string
	Counts
}

// Report is the monthly floating-population report on one unit.
type Report struct {
	Unit     string
	UnitName string // full name, e.g. 广东省广州市天河区
	Month    Month
	Snapshot *Snapshot // nil: computed live
	Rows     []Row     // one per child unit with any figure, in code order
	Total    Row       // 合计 of the unit itself
	// Exchange is the month's exchange volumes and timeliness (NewExchange); nil leaves the
	// table out.
	Exchange *Exchange
}

// NameFunc names a division code for a row heading.
type NameFunc func(code string) string

// NewReport builds the report on t.Unit from the store's aggregates. Population rows are the
// groups summed per code; the total is their sum. Flows are counted per row by the boundary
// rule of Crossing, so the total counts only movements across the unit's own boundary.
func NewReport(t *Tally, unitName string, name NameFunc) *Report {
	r := &Report{Unit: t.Unit, UnitName: unitName, Month: t.Month, Snapshot: t.Snapshot}
	width := ChildWidth(len(t.Unit))
	hasRows := width > len(t.Unit)
	rows := map[string]*Counts{}
	row := func(code string) *Counts {
		c := rows[code]
		if c == nil {
			c = &Counts{}
			rows[code] = c
		}
		return c
	}
	for _, g := range t.Population {
		r.Total.add(g)
		if hasRows {
			row(g.Code).add(g)
		}
	}
	for _, f := range t.Flows {
		in, out := Crossing(f, t.Unit)
		if in {
			r.Total.Inflow += f.Events
		}
		if out {
			r.Total.Outflow += f.Events
		}
		if !hasRows {
			continue
		}
		// The row an event enters and the row it leaves, each only if inside the unit.
		if dest := Destination(f); strings.HasPrefix(dest, t.Unit) {
			if in, _ := Crossing(f, cut(dest, width)); in {
				row(cut(dest, width)).Inflow += f.Events
			}
		}
		if strings.HasPrefix(f.From, t.Unit) && f.From != "" {
			if _, out := Crossing(f, cut(f.From, width)); out {
				row(cut(f.From, width)).Outflow += f.Events
			}
		}
	}
	codes := make([]string, 0, len(rows))
	for c := range rows {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, c := range codes {
		n := "（本级）" // people registered at the unit itself, not at a child of it
		if c != t.Unit {
			n = name(c)
		}
		r.Rows = append(r.Rows, Row{Code: c, Name: n, Counts: *rows[c]})
	}
	r.Total.Code, r.Total.Name = t.Unit, "合计"
	return r
}

func cut(code string, width int) string {
	if len(code) > width {
		return code[:width]
	}
	return code
}

func (c *Counts) add(g PopGroup) {
	c.People += g.People
	switch g.Sex {
	case yipanqi.Male:
		c.Male += g.People
	case yipanqi.Female:
		c.Female += g.People
	}
	if g.Band >= 0 && g.Band < NumBands {
		c.Age[g.Band] += g.People
	}
	c.Marital[maritalIndex(g.Marital)] += g.People
}

// Destination is where a flow event took the person: its to_code, or for an arrival recorded
// without one, the residence it was recorded at (from_code). A move or departure without a
// to_code went somewhere unknown: "".
func Destination(f FlowGroup) string {
	if f.To == "" && f.Kind == yipanqi.FlowArrived {
		return f.From
	}
	return f.To
}

// Crossing reports whether the events of f are an inflow into, or an outflow from, the unit
// with the code:
//   - an arrival (流入) whose destination lies in the unit is an inflow wherever it came from;
//   - a move on (再流动) is an inflow of the unit it enters and an outflow of the unit it leaves,
//     but neither for a unit that holds both ends — a move within a county is not the county's
//     migration; a move to an unknown place is an outflow only;
//   - leaving (离开) and returning home (返乡) are outflows of the unit left.
func Crossing(f FlowGroup, unit string) (in, out bool) {
	inUnit := func(code string) bool { return code != "" && strings.HasPrefix(code, unit) }
	switch f.Kind {
	case yipanqi.FlowArrived:
		return inUnit(Destination(f)), false
	case yipanqi.FlowMovedOn:
		from, to := inUnit(f.From), inUnit(f.To)
		return to && !from, from && !to
	case yipanqi.FlowLeft, yipanqi.FlowReturned:
		return false, inUnit(f.From)
	}
	return false, false
}
