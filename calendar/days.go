package calendar

import (
	"time"

	"yipanqi"
)

// Days are handled as day numbers (days since 1970-01-01) so that the calendar never builds a
// time.Time per day. The conversions are Howard Hinnant's days_from_civil and civil_from_days.

func dayNumber(y, m, d int) int {
	if m < 1 || m > 12 {
		// Not a valid month: let the time package normalise it, as time.Date would.
		t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
		y, m, d = t.Year(), int(t.Month()), t.Day()
	}
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func civil(dn int) (y, m, d int) {
	z := dn + 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	y = yoe + era*400
	if m <= 2 {
		y++
	}
	return y, m, d
}

func dateNumber(d yipanqi.Date) int { return dayNumber(d.Year, int(d.Month), d.Day) }

func yearOf(dn int) int {
	y, _, _ := civil(dn)
	return y
}

// weekday reports whether day dn is Monday to Friday. Day 0 (1970-01-01) was a Thursday, so
// day 4 was a Monday.
func weekday(dn int) bool { return floorMod(dn-4, 7) < 5 }

// weekdaysIn counts the Mondays to Fridays in days a..b (0 when b < a).
func weekdaysIn(a, b int) int {
	if b < a {
		return 0
	}
	return weekdaysUpTo(b) - weekdaysUpTo(a-1)
}

// weekdaysUpTo counts Mondays to Fridays from Monday day 4 up to day x (negative before it).
func weekdaysUpTo(x int) int {
	t := x - 4
	return 5*floorDiv(t, 7) + min(floorMod(t, 7)+1, 5)
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int) int { return a - floorDiv(a, b)*b }
