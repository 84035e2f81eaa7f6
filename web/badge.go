package web

import (
	"math"
	"time"

	"yipanqi"
)

// Badge is a case's deadline as the lists show it: 剩余N个工作日, 剩余N小时 or 已超期N天.
type Badge struct {
	Text  string
	Class string // ok, soon (within DueSoonWorkdays or a day), overdue, done
}

// DueSoonWorkdays: a deadline this many working days away or fewer is "due soon".
const DueSoonWorkdays = 3

// badge is the deadline badge of a case at now: hours when less than a day is left (or the
// deadline counts hours), working days after today otherwise, counted with the calendar; days overdue
// once it has passed; an answered case shows whether it was answered in time. A case
// without a deadline, or withdrawn, transferred or returned, gets none.
func (a *App) badge(c *yipanqi.Case, now time.Time) Badge {
	if c.DueAt.IsZero() {
		return Badge{}
	}
	if c.State == yipanqi.CaseReplied || c.State == yipanqi.CaseClosed {
		// Answered: whether on time, by the time of the last change (the answer).
		if !c.UpdatedAt.After(c.DueAt) {
			return Badge{Text: "按期答复", Class: "done"}
		}
		return Badge{Text: "超期" + itoa(max(int(civilDays(c.DueAt.In(yipanqi.Shanghai), c.UpdatedAt.In(yipanqi.Shanghai))), 1)) + "天答复", Class: "late"}
	}
	if !c.State.IsOpen() {
		return Badge{}
	}
	due := c.DueAt.In(yipanqi.Shanghai)
	now = now.In(yipanqi.Shanghai)
	if now.After(due) {
		days := int(civilDays(due, now))
		if days < 1 {
			days = 1
		}
		return Badge{Text: "已超期" + itoa(days) + "天", Class: "overdue"}
	}
	left := due.Sub(now)
	if left < 24*time.Hour || a.hourly(c.Type) {
		h := int(math.Ceil(left.Hours()))
		class := "ok"
		if left < 24*time.Hour {
			class = "soon"
		}
		return Badge{Text: "剩余" + itoa(h) + "小时", Class: class}
	}
	n, _ := a.cfg.Calendar.Workdays(yipanqi.DateOf(now), yipanqi.DateOf(due))
	class := "ok"
	if n <= DueSoonWorkdays {
		class = "soon"
	}
	return Badge{Text: "剩余" + itoa(n) + "个工作日", Class: class}
}

// hourly reports whether the type's deadline counts clock hours (verify.urgent).
func (a *App) hourly(typ string) bool {
	t, err := a.cfg.Catalog.Type(typ)
	return err == nil && len(t.Deadlines) > 0 && t.Deadlines[0].Hours > 0
}

// civilDays counts the calendar days from a's date to b's date (Asia/Shanghai).
func civilDays(a, b time.Time) int64 {
	da := time.Date(a.Year(), a.Month(), a.Day(), 0, 0, 0, 0, time.UTC)
	db := time.Date(b.Year(), b.Month(), b.Day(), 0, 0, 0, 0, time.UTC)
	return int64(db.Sub(da).Hours() / 24)
}
