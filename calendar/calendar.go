// Package calendar knows China's working days — weekends, statutory holidays and the make-up
// working days (调休) that go with them — and computes statutory deadlines from them, always in
// Asia/Shanghai.
//
// Holiday data comes from github.com/6tail/lunar-go (HolidayUtil), read once, plus an optional
// override file for a year announced after that release or a day to correct (see Parse). A year
// with no holiday data is counted on weekends alone, and every answer that depends on such a year
// says so (provisional).
package calendar

import (
	"math/bits"
	"sync"
	"time"

	"yipanqi"
)

// The calendar holds a bitset for the years minYear..maxYear; outside them, days are counted on
// weekends alone (and reported as provisional, as for any year without holiday data).
const (
	minYear = 1900
	maxYear = 2399
)

// Limits of a Rule, far beyond any statutory deadline; they keep a typo from running away.
const (
	maxWorkingDays = 1000
	maxHours       = 100000
)

// Calendar answers which days are working days and when deadlines fall. It is immutable once
// built and safe for concurrent use.
type Calendar struct {
	base  int      // day number of minYear-01-01
	days  int      // days held: minYear-01-01 .. maxYear-12-31
	work  []uint64 // bit i of word i/64: day base+i is a working day
	rank  []int32  // rank[w]: working days in words 0..w-1
	known []bool   // known[y-minYear]: the year's holiday data is complete

	// unknownBefore[i]: years among minYear..minYear+i-1 without data, so that "does this
	// range touch a year without data?" is one subtraction.
	unknownBefore []int32
}

// Rule is a deadline rule: exactly one of WorkingDays and Hours is non-zero.
type Rule struct {
	WorkingDays int // ends at 23:59:59 on the N-th working day after the day of receipt
	Hours       int // ends N clock hours after receipt
}

// Deadline is when a rule ends for one receipt.
type Deadline struct {
	At time.Time // in Asia/Shanghai
	// Provisional is true when the counting passed through a year without holiday data, so
	// that At was computed on weekends alone and may move when the year's holidays are known.
	Provisional bool
}

// dayEntry is one day whose status differs from the weekend rule's default, or confirms it.
type dayEntry struct {
	day  int // day number
	work bool
}

var (
	defaultOnce sync.Once
	defaultCal  *Calendar
)

// New returns the calendar of lunar-go's holiday data alone. The result is shared: building it
// once is enough because a Calendar never changes.
func New() *Calendar {
	defaultOnce.Do(func() {
		d := lunarData()
		defaultCal = build(nil, d.entries, d.years)
	})
	return defaultCal
}

// build makes a calendar from entries applied in order (later ones win) and the set of years
// whose data is complete. from, if not nil, is a calendar whose days the entries amend;
// otherwise they amend the weekend rule.
func build(from *Calendar, entries []dayEntry, years map[int]bool) *Calendar {
	base := dayNumber(minYear, 1, 1)
	n := dayNumber(maxYear+1, 1, 1) - base
	c := &Calendar{
		base:          base,
		days:          n,
		work:          make([]uint64, (n+63)/64),
		known:         make([]bool, maxYear-minYear+1),
		unknownBefore: make([]int32, maxYear-minYear+2),
	}
	if from != nil {
		copy(c.work, from.work)
	} else {
		for i := 0; i < n; i++ {
			if weekday(base + i) {
				c.work[i/64] |= 1 << (i % 64)
			}
		}
	}
	for _, e := range entries {
		i := e.day - base
		if i < 0 || i >= n {
			continue
		}
		if e.work {
			c.work[i/64] |= 1 << (i % 64)
		} else {
			c.work[i/64] &^= 1 << (i % 64)
		}
	}
	c.rank = make([]int32, len(c.work)+1)
	for w, bitsw := range c.work {
		c.rank[w+1] = c.rank[w] + int32(bits.OnesCount64(bitsw))
	}
	for y := minYear; y <= maxYear; y++ {
		c.known[y-minYear] = years[y]
		c.unknownBefore[y-minYear+1] = c.unknownBefore[y-minYear]
		if !years[y] {
			c.unknownBefore[y-minYear+1]++
		}
	}
	return c
}

// Known reports whether the calendar holds complete holiday data for year.
func (c *Calendar) Known(year int) bool {
	if year < minYear || year > maxYear {
		return false
	}
	return c.known[year-minYear]
}

// IsWorkday reports whether d is a working day — a make-up working day, or a Monday to Friday
// that is not a holiday — and whether d's year has holiday data (known). When it has not, work
// follows the weekend rule alone.
func (c *Calendar) IsWorkday(d yipanqi.Date) (work bool, known bool) {
	dn := dateNumber(d)
	return c.isWork(dn), c.Known(yearOf(dn))
}

func (c *Calendar) isWork(dn int) bool {
	i := dn - c.base
	if i < 0 || i >= c.days {
		return weekday(dn)
	}
	return c.work[i/64]&(1<<(i%64)) != 0
}

// rankOf returns the number of working days on or before day dn, counted from an origin
// just before minYear-01-01 (so it is negative before it). Differences of ranks count the
// working days in a range.
func (c *Calendar) rankOf(dn int) int {
	i := dn - c.base
	switch {
	case i < 0:
		return -weekdaysIn(dn+1, c.base-1)
	case i >= c.days:
		last := c.base + c.days - 1
		return int(c.rank[len(c.work)]) + weekdaysIn(last+1, dn)
	}
	w := i / 64
	mask := uint64(1)<<(i%64+1) - 1 // bits 0..i%64; wraps to all ones at 63
	return int(c.rank[w]) + bits.OnesCount64(c.work[w]&mask)
}

// provisional reports whether any day in a..b (day numbers, a <= b) lies in a year without
// holiday data.
func (c *Calendar) provisional(a, b int) bool {
	if a > b {
		return false
	}
	ya, yb := yearOf(a), yearOf(b)
	if ya < minYear || yb > maxYear {
		return true
	}
	return c.unknownBefore[yb-minYear+1]-c.unknownBefore[ya-minYear] > 0
}

// Workdays returns how many working days lie after from, up to and including to. When to is
// before from the count is negative (minus the working days after to up to and including
// from); it is 0 when they are equal. provisional is true when that range touches a year
// without holiday data.
func (c *Calendar) Workdays(from, to yipanqi.Date) (n int, provisional bool) {
	a, b := dateNumber(from), dateNumber(to)
	n = c.rankOf(b) - c.rankOf(a)
	if a <= b {
		return n, c.provisional(a+1, b)
	}
	return n, c.provisional(b+1, a)
}

// Due returns when rule r ends for a case received at receivedAt (any zone; the day of receipt
// is taken in Asia/Shanghai). "N working days" ends at 23:59:59 Asia/Shanghai on the N-th
// working day after the day of receipt; "N hours" ends N clock hours after receipt.
//
// A rule that is not exactly one positive number (within 1000 working days or 100000 hours) is
// an EINVALID error.
func (c *Calendar) Due(receivedAt time.Time, r Rule) (Deadline, error) {
	if err := r.validate(); err != nil {
		return Deadline{}, err
	}
	loc := yipanqi.Shanghai
	if r.Hours > 0 {
		return Deadline{At: receivedAt.Add(time.Duration(r.Hours) * time.Hour).In(loc)}, nil
	}
	y, m, d := receivedAt.In(loc).Date()
	start := dayNumber(y, int(m), d)
	end := c.nthWorkday(start, r.WorkingDays)
	ey, em, ed := civil(end)
	return Deadline{
		At:          time.Date(ey, time.Month(em), ed, 23, 59, 59, 0, loc),
		Provisional: c.provisional(start+1, end),
	}, nil
}

// nthWorkday returns the day of the n-th (n >= 1) working day after day start.
func (c *Calendar) nthWorkday(start, n int) int {
	target := c.rankOf(start) + n
	// Grow the window until it holds n working days, then binary-search the first day whose
	// rank reaches the target. Every week outside holiday data has five working days, so the
	// doubling ends.
	lo, hi := start, start+n+n/2+14
	for c.rankOf(hi) < target {
		lo, hi = hi, hi+(hi-start)
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if c.rankOf(mid) >= target {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

func (r Rule) validate() error {
	switch {
	case r.WorkingDays < 0:
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "working_days", "工作日数不能为负数：%d", r.WorkingDays)
	case r.Hours < 0:
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "hours", "小时数不能为负数：%d", r.Hours)
	case r.WorkingDays == 0 && r.Hours == 0:
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "working_days", "期限规则须指定工作日数或小时数之一，两者均为 0")
	case r.WorkingDays != 0 && r.Hours != 0:
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "working_days", "期限规则只能指定工作日数或小时数之一，不能同时指定")
	case r.WorkingDays > maxWorkingDays:
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "working_days", "工作日数 %d 超过上限 %d", r.WorkingDays, maxWorkingDays)
	case r.Hours > maxHours:
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "hours", "小时数 %d 超过上限 %d", r.Hours, maxHours)
	}
	return nil
}
