package casework

import (
	"yipanqi"
	"yipanqi/calendar"
)

// CaseTypesFrom maps each type of the catalog to what the engine reads of it (see CaseType):
//   - Deadline is the type's first deadline, which always counts from receipt; a type with
//     none (answered by the registry, acknowledged by the receipt) gets the zero Rule.
//     Calendar days, which calendar.Rule does not count, become N×24 clock hours from
//     receipt: at most a day earlier than the end of the N-th day, never later.
//   - ValidateRequest and ValidateReply are the type's own (yipanqi.CaseType): the catalog
//     decides which fields a request or a reply carries and what they hold, on both sides.
func CaseTypesFrom(cat *yipanqi.CaseCatalog) CaseTypes {
	out := make(CaseTypes)
	for _, t := range cat.Types() {
		ct := CaseType{Name: t.Name, ValidateRequest: t.ValidateRequest, ValidateReply: t.ValidateReply, Spec: t}
		if len(t.Deadlines) > 0 {
			ct.Deadline = ruleOf(t.Deadlines[0])
		}
		out[t.Name] = ct
	}
	return out
}

// ruleOf is the calendar rule of a catalog deadline.
func ruleOf(d yipanqi.DeadlineSpec) calendar.Rule {
	switch {
	case d.WorkingDays > 0:
		return calendar.Rule{WorkingDays: d.WorkingDays}
	case d.CalendarDays > 0:
		return calendar.Rule{Hours: 24 * d.CalendarDays}
	}
	return calendar.Rule{Hours: d.Hours}
}
