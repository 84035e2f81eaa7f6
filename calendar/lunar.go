package calendar

import (
	"sync"

	"github.com/6tail/lunar-go/HolidayUtil"
)

// lunarSet is lunar-go's holiday data, read once: lunar-go searches a long string on every
// call, which is too slow to ask per day.
type lunarSet struct {
	entries []dayEntry
	years   map[int]bool // years whose holidays lunar-go holds
}

var (
	lunarOnce sync.Once
	lunar     lunarSet
)

func lunarData() lunarSet {
	lunarOnce.Do(func() {
		lunar.years = map[int]bool{}
		for y := minYear; y <= maxYear; y++ {
			l := HolidayUtil.GetHolidaysByYear(y)
			for e := l.Front(); e != nil; e = e.Next() {
				h := e.Value.(*HolidayUtil.Holiday)
				day, ok := parseISO(h.GetDay())
				if !ok {
					continue
				}
				lunar.entries = append(lunar.entries, dayEntry{day: day, work: h.IsWork()})
				// A year counts as known by the holidays it holds (the target), not by the day:
				// lunar-go's data opens with 2001-12-29, a make-up day for New Year 2002, and
				// holds nothing else of 2001.
				if target, ok := parseISO(h.GetTarget()); ok {
					lunar.years[yearOf(target)] = true
				}
			}
		}
	})
	return lunar
}

// parseISO reads "YYYY-MM-DD" as lunar-go writes it.
func parseISO(s string) (int, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, false
	}
	n := [3]int{}
	for k, part := range [3]string{s[0:4], s[5:7], s[8:10]} {
		for i := 0; i < len(part); i++ {
			c := part[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n[k] = n[k]*10 + int(c-'0')
		}
	}
	return dayNumber(n[0], n[1], n[2]), true
}
