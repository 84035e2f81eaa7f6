// Package stats is the domain of the monthly floating-population statistics (S1.1): the
// reporting month, the age bands, the definitions of presence, inflow and outflow, the report
// built from a store's aggregates (Tally → Report), the origin × destination flow matrix, and
// their rendering as an aligned table, JSON or an xlsx workbook.
//
// The store (sqlstore) computes the aggregates with set-based SQL and keeps monthly snapshots
// of them; nothing here sees a person, only counts. See docs/stats.md.
package stats

import (
	"fmt"
	"regexp"
	"strconv"
	"time"

	"yipanqi"
)

// Month is a reporting month.
type Month struct {
	Year  int
	Month time.Month
}

var monthRE = regexp.MustCompile(`^([0-9]{4})-([0-9]{2})$`)

// ParseMonth parses "YYYY-MM". Anything else ("2026-13", "2026/10", "2026-1") is EINVALID
// naming the field "month".
func ParseMonth(s string) (Month, error) {
	m := monthRE.FindStringSubmatch(s)
	if m == nil {
		return Month{}, yipanqi.FieldErrorf(yipanqi.EINVALID, "month", "--month“%s”格式错误：应为 YYYY-MM，例如 2026-10", s)
	}
	y, _ := strconv.Atoi(m[1])
	mo, _ := strconv.Atoi(m[2])
	if mo < 1 || mo > 12 || y < 1900 {
		return Month{}, yipanqi.FieldErrorf(yipanqi.EINVALID, "month", "--month“%s”不是有效的月份", s)
	}
	return Month{Year: y, Month: time.Month(mo)}, nil
}

// MonthOf returns the month of t in China time, the zone every date of the registry is in.
func MonthOf(t time.Time) Month {
	y, m, _ := t.In(yipanqi.Shanghai).Date()
	return Month{Year: y, Month: m}
}

// String returns "YYYY-MM".
func (m Month) String() string { return fmt.Sprintf("%04d-%02d", m.Year, int(m.Month)) }

// Label returns the month as a Chinese heading writes it: "2026年10月".
func (m Month) Label() string { return fmt.Sprintf("%d年%d月", m.Year, int(m.Month)) }

// First returns the first day of the month.
func (m Month) First() yipanqi.Date { return yipanqi.Date{Year: m.Year, Month: m.Month, Day: 1} }

// Last returns the last day of the month: the day presence is counted at.
func (m Month) Last() yipanqi.Date {
	return yipanqi.DateOf(time.Date(m.Year, m.Month+1, 0, 0, 0, 0, 0, time.UTC))
}

// Compare returns -1, 0 or +1 as m is before, equal to or after o.
func (m Month) Compare(o Month) int {
	a, b := m.Year*12+int(m.Month), o.Year*12+int(o.Month)
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// CheckReportable refuses a month after the one that contains now (EINVALID naming "month"):
// nothing can be counted there yet.
func CheckReportable(m Month, now time.Time) error {
	if cur := MonthOf(now); m.Compare(cur) > 0 {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "month", "--month %s 是未来的月份（当前为 %s），无法统计", m, cur)
	}
	return nil
}

// Ended reports whether the month is over at now (China time), so that its figures can no
// longer change through new events dated in it and a snapshot of it may be taken.
func (m Month) Ended(now time.Time) bool { return m.Compare(MonthOf(now)) < 0 }

// AgeBand is an age range of the report: Min years and older, younger than the next band's Min.
type AgeBand struct {
	Key   string // stable JSON key
	Label string // column heading
	Min   int
}

// AgeBands are the report's age bands, youngest first; age is counted at the last day of the
// month from the birth date.
var AgeBands = [NumBands]AgeBand{
	{"0-15", "0–15岁", 0},
	{"16-29", "16–29岁", 16},
	{"30-44", "30–44岁", 30},
	{"45-59", "45–59岁", 45},
	{"60+", "60岁及以上", 60},
}

// NumBands is the number of age bands.
const NumBands = 5

// BandCuts returns, for each band but the first, the latest birth date of a person who has
// reached the band's Min age on day: someone born on or before BandCuts(day)[k-1] is in band k
// or older. The store turns these into a CASE over birth_date, so age needs no date
// arithmetic in SQL. A 29 February that the earlier year lacks becomes 28 February: the person
// born on 1 March has not had that birthday yet.
func BandCuts(day yipanqi.Date) []yipanqi.Date {
	cuts := make([]yipanqi.Date, NumBands-1)
	for k := 1; k < NumBands; k++ {
		y := day.Year - AgeBands[k].Min
		d := day.Day
		if last := (Month{y, day.Month}).Last().Day; d > last {
			d = last
		}
		cuts[k-1] = yipanqi.Date{Year: y, Month: day.Month, Day: d}
	}
	return cuts
}

// BandOf returns the band of a person born on birth, on day, by the same rule as BandCuts.
func BandOf(birth, day yipanqi.Date) int {
	b := 0
	for k, cut := range BandCuts(day) {
		if !cut.Before(birth) { // birth <= cut
			b = k + 1
		}
	}
	return b
}

// MaritalKeys are the marital-status columns of the report: the statuses of
// yipanqi.MaritalStatuses in their order, then "" for a status the registry does not hold.
var MaritalKeys = func() []yipanqi.MaritalStatus {
	out := make([]yipanqi.MaritalStatus, 0, len(yipanqi.MaritalStatuses)+1)
	for _, s := range yipanqi.MaritalStatuses {
		out = append(out, s.Status)
	}
	return append(out, "")
}()

// NumMarital is the number of marital-status columns, the unknown one included.
const NumMarital = 6

// maritalIndex returns the column of a status; an unknown or empty one is the last.
func maritalIndex(s yipanqi.MaritalStatus) int {
	for i, k := range MaritalKeys[:NumMarital-1] {
		if k == s {
			return i
		}
	}
	return NumMarital - 1
}

// maritalLabel is the column heading of a marital-status column.
func maritalLabel(i int) string {
	if i == NumMarital-1 {
		return "未详"
	}
	return MaritalKeys[i].Label()
}

// maritalKey is the JSON key of a marital-status column.
func maritalKey(i int) string {
	if i == NumMarital-1 {
		return "unknown"
	}
	return string(MaritalKeys[i])
}

// ChildWidth returns the code length of the rows of a report on a unit whose code has n
// digits: the unit's children (province → cities, city → counties, county → townships,
// township → villages). A village has no children: 12.
func ChildWidth(n int) int {
	switch n {
	case 2:
		return 4
	case 4:
		return 6
	case 6:
		return 9
	}
	return 12
}
