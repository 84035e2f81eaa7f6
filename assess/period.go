// Package assess is the performance assessment of S4.3 (ARCHITECTURE §4): what each org unit
// did with the cases it received in a period (Tally, Figures), scored by the rules of a TOML
// file (Rules) plus the manual bonus and deduction entries of the level above, rolled up the
// tree and ranked within each level (Build).
//
// Figures come from counts the store keeps up to date as cases change (sqlstore: the
// assess_counts table), keyed by month, so a year's report sums twelve months of counts
// instead of scanning cases.
package assess

import (
	"fmt"
	"regexp"
	"strconv"
	"time"

	"yipanqi"
)

// Kinds of period.
const (
	Month   = "month"
	Quarter = "quarter"
	Year    = "year"
)

// Period is a month, a quarter or a year, in Asia/Shanghai.
type Period struct {
	Kind string
	Year int
	N    int // month 1–12 or quarter 1–4; 0 for a year
}

var periodRE = regexp.MustCompile(`^(\d{4})(?:-(?:(\d{2})|Q([1-4])))?$`)

// ParsePeriod reads "2026-07" (a month), "2026-Q3" (a quarter) or "2026" (a year). A
// malformed period, or one that has not begun at now, is EINVALID naming field "period".
func ParsePeriod(s string, now time.Time) (Period, error) {
	m := periodRE.FindStringSubmatch(s)
	if m == nil {
		return Period{}, yipanqi.FieldErrorf(yipanqi.EINVALID, "period",
			"考核期间“%s”格式无效：应为 2026-07（月）、2026-Q3（季度）或 2026（年）", s)
	}
	y, _ := strconv.Atoi(m[1])
	p := Period{Kind: Year, Year: y}
	switch {
	case m[2] != "":
		n, _ := strconv.Atoi(m[2])
		if n < 1 || n > 12 {
			return Period{}, yipanqi.FieldErrorf(yipanqi.EINVALID, "period", "考核期间“%s”的月份无效：应为 01–12", s)
		}
		p = Period{Kind: Month, Year: y, N: n}
	case m[3] != "":
		n, _ := strconv.Atoi(m[3])
		p = Period{Kind: Quarter, Year: y, N: n}
	}
	if y < 2000 {
		return Period{}, yipanqi.FieldErrorf(yipanqi.EINVALID, "period", "考核期间“%s”的年份无效", s)
	}
	if p.Start().After(now) {
		return Period{}, yipanqi.FieldErrorf(yipanqi.EINVALID, "period", "考核期间“%s”尚未开始，不能考核未来的期间", s)
	}
	return p, nil
}

// String is the period as ParsePeriod reads it.
func (p Period) String() string {
	switch p.Kind {
	case Month:
		return fmt.Sprintf("%04d-%02d", p.Year, p.N)
	case Quarter:
		return fmt.Sprintf("%04d-Q%d", p.Year, p.N)
	}
	return fmt.Sprintf("%04d", p.Year)
}

// Label is the period in Chinese, e.g. 2026年第3季度.
func (p Period) Label() string {
	switch p.Kind {
	case Month:
		return fmt.Sprintf("%d年%d月", p.Year, p.N)
	case Quarter:
		return fmt.Sprintf("%d年第%d季度", p.Year, p.N)
	}
	return fmt.Sprintf("%d年", p.Year)
}

func (p Period) firstMonth() int {
	switch p.Kind {
	case Month:
		return p.N
	case Quarter:
		return 3*p.N - 2
	}
	return 1
}

func (p Period) months() int {
	switch p.Kind {
	case Month:
		return 1
	case Quarter:
		return 3
	}
	return 12
}

// Start is the first instant of the period, Asia/Shanghai.
func (p Period) Start() time.Time {
	return time.Date(p.Year, time.Month(p.firstMonth()), 1, 0, 0, 0, 0, yipanqi.Shanghai)
}

// End is the first instant after the period.
func (p Period) End() time.Time { return p.Start().AddDate(0, p.months(), 0) }

// Months are the period's months as "YYYY-MM", the keys of the stored counts.
func (p Period) Months() []string {
	out := make([]string, p.months())
	for i := range out {
		out[i] = fmt.Sprintf("%04d-%02d", p.Year, p.firstMonth()+i)
	}
	return out
}

// Contained are the periods whose manual entries count in p: p itself and every month and
// quarter inside it.
func (p Period) Contained() []string {
	out := []string{p.String()}
	if p.Kind == Year {
		for q := 1; q <= 4; q++ {
			out = append(out, Period{Kind: Quarter, Year: p.Year, N: q}.String())
		}
	}
	if p.Kind != Month {
		out = append(out, p.Months()...)
	}
	return out
}

// MonthOf is the month key ("YYYY-MM", Asia/Shanghai) of t.
func MonthOf(t time.Time) string { return t.In(yipanqi.Shanghai).Format("2006-01") }

// PeriodsOfMonth are the periods a count of month m ("YYYY-MM") is kept under: the month,
// its quarter and its year.
func PeriodsOfMonth(m string) []string {
	if len(m) != 7 {
		return []string{m}
	}
	q := (int(m[5]-'0')*10 + int(m[6]-'0') + 2) / 3
	return []string{m, fmt.Sprintf("%s-Q%d", m[:4], q), m[:4]}
}
