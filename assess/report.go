package assess

import (
	"sort"
	"time"

	"yipanqi"
)

// Adjustment is a manual bonus (Points > 0) or deduction (Points < 0) for a unit and period,
// entered by a user of a unit above it, with a reason.
type Adjustment struct {
	ID        int64     `json:"id"`
	OrgUnit   string    `json:"org_unit"`
	Period    string    `json:"period"`
	Points    float64   `json:"points"` // two decimals
	Reason    string    `json:"reason"`
	Actor     string    `json:"actor"`
	ActorUnit string    `json:"actor_unit"`
	CreatedAt time.Time `json:"created_at"`
}

// Row is one unit of a report.
type Row struct {
	Unit    string        `json:"unit"`
	Level   yipanqi.Level `json:"level"`
	Figures Figures       `json:"figures"`
	Score   Score         `json:"score"`
	Rank    int           `json:"rank"`    // among the report's units of the same level
	RankOf  int           `json:"rank_of"` // how many units of that level
	Manual  []Adjustment  `json:"manual,omitempty"`
}

// Report is the assessment of a unit and every unit below it that has figures or entries.
type Report struct {
	Unit   string    `json:"unit"`
	Period string    `json:"period"`
	Label  string    `json:"label"`
	Rules  string    `json:"rules"`
	At     time.Time `json:"at"`
	Rows   []*Row    `json:"rows"` // the unit first, then by level, then by rank
}

// Build rolls counts (summed over the period, by holding unit) up the tree below unit,
// scores every unit with rules and its own manual entries, and ranks the units of each level
// by total score (ties share a rank; equal scores list by code).
func Build(unit string, p Period, counts []Count, adjustments []Adjustment, r *Rules, at time.Time) *Report {
	rows := map[string]*Row{}
	row := func(code string) *Row {
		x := rows[code]
		if x == nil {
			x = &Row{Unit: code, Level: yipanqi.LevelOf(code)}
			rows[code] = x
		}
		return x
	}
	row(unit)
	for _, c := range counts {
		if len(c.OrgUnit) < len(unit) || c.OrgUnit[:len(unit)] != unit {
			continue
		}
		for _, n := range codeLengths {
			if n >= len(unit) && n <= len(c.OrgUnit) {
				row(c.OrgUnit[:n]).Figures.Add(c)
			}
		}
	}
	for _, a := range adjustments {
		if len(a.OrgUnit) >= len(unit) && a.OrgUnit[:len(unit)] == unit {
			x := row(a.OrgUnit)
			x.Manual = append(x.Manual, a)
		}
	}
	byLevel := map[yipanqi.Level][]*Row{}
	for _, x := range rows {
		x.Figures.finish()
		var bonus, deduction float64
		for _, a := range x.Manual {
			if a.Points > 0 {
				bonus += a.Points
			} else {
				deduction -= a.Points
			}
		}
		x.Score = r.Score(&x.Figures, bonus, deduction)
		byLevel[x.Level] = append(byLevel[x.Level], x)
	}
	rep := &Report{Unit: unit, Period: p.String(), Label: p.Label(), Rules: r.Name, At: at}
	levels := make([]int, 0, len(byLevel))
	for l := range byLevel {
		levels = append(levels, int(l))
	}
	sort.Ints(levels)
	for _, l := range levels {
		xs := byLevel[yipanqi.Level(l)]
		sort.Slice(xs, func(i, j int) bool {
			if xs[i].Score.Total != xs[j].Score.Total {
				return xs[i].Score.Total > xs[j].Score.Total
			}
			return xs[i].Unit < xs[j].Unit
		})
		for i, x := range xs {
			x.Rank, x.RankOf = i+1, len(xs)
			if i > 0 && x.Score.Total == xs[i-1].Score.Total {
				x.Rank = xs[i-1].Rank
			}
		}
		rep.Rows = append(rep.Rows, xs...)
	}
	return rep
}

// codeLengths are the lengths of division codes, province down.
var codeLengths = []int{2, 4, 6, 9, 12}
