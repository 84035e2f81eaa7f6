package casework_test

import (
	"encoding/json"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/calendar"
	"yipanqi/casework"
	"yipanqi/sqlstore/storetest"
)

// TestCaseTypesFrom: every catalog type is in the engine's table with its first deadline and
// the catalog's own validation of requests and replies; DefaultCaseTypes is that table.
func TestCaseTypesFrom(t *testing.T) {
	cat := yipanqi.Catalog()
	table := casework.CaseTypesFrom(cat)
	if len(table) != len(cat.Types()) {
		t.Errorf("%d engine types for %d catalog types", len(table), len(cat.Types()))
	}
	def := casework.DefaultCaseTypes()
	if len(def) != len(table) {
		t.Errorf("DefaultCaseTypes has %d types, CaseTypesFrom(yipanqi.Catalog()) %d", len(def), len(table))
	}
	for _, ct := range cat.Types() {
		t.Run(ct.Name, func(t *testing.T) {
			for name, tab := range map[string]casework.CaseTypes{"CaseTypesFrom": table, "DefaultCaseTypes": def} {
				got, ok := tab[ct.Name]
				if !ok || got.Name != ct.Name {
					t.Fatalf("%s: missing from the engine's table: %+v", name, got)
				}
				var want calendar.Rule
				if len(ct.Deadlines) > 0 {
					d := ct.Deadlines[0]
					want = calendar.Rule{WorkingDays: d.WorkingDays, Hours: d.Hours + 24*d.CalendarDays}
				}
				if got.Deadline != want {
					t.Errorf("%s: deadline %+v, want %+v from %+v", name, got.Deadline, want, ct.Deadlines)
				}
				if got.ValidateRequest == nil || got.ValidateReply == nil {
					t.Fatalf("%s: validation not set: request %v reply %v", name, got.ValidateRequest != nil, got.ValidateReply != nil)
				}
				// The same verdicts as the catalog's, valid input and invalid.
				requests := []string{`{}`, `{"not_a_field":"x"}`, `[]`, validRequest(t, ct)}
				for _, fields := range requests {
					sameError(t, name+" request "+fields, got.ValidateRequest(json.RawMessage(fields)), ct.ValidateRequest(json.RawMessage(fields)))
				}
				for _, reply := range append(ct.ReplyValues(), "no_such_reply") {
					for _, fields := range []string{`{}`, `{"not_a_field":"x"}`} {
						sameError(t, name+" reply "+reply+" "+fields, got.ValidateReply(reply, json.RawMessage(fields)),
							ct.ValidateReply(reply, json.RawMessage(fields)))
					}
				}
			}
		})
	}
}

// validRequest builds a request of ct that the catalog accepts, from sample values per kind.
func validRequest(t *testing.T, ct *yipanqi.CaseType) string {
	t.Helper()
	obj := map[string]any{}
	for _, f := range ct.Fields {
		if f.Required {
			obj[f.Name] = sampleValue(f)
		}
	}
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	if err := ct.ValidateRequest(b); err != nil {
		t.Fatalf("sample request %s of %s: %v", b, ct.Name, err)
	}
	return string(b)
}

// sampleValue is a valid value of field f.
func sampleValue(f yipanqi.FieldSpec) any {
	switch f.Kind {
	case yipanqi.KindDate:
		return "2025-09-26"
	case yipanqi.KindDivision:
		return "430102"
	case yipanqi.KindIDNumber:
		return storetest.IDNumber("430102", yipanqi.Date{Year: 1990, Month: 1, Day: 1}, 1)
	case yipanqi.KindEnum:
		return f.Options[0].Value
	case yipanqi.KindBool:
		return true
	case yipanqi.KindNumber:
		return 1
	case yipanqi.KindCorrections:
		return map[string]any{}
	case yipanqi.KindList:
		item := map[string]any{}
		for _, it := range f.Items {
			if it.Required {
				item[it.Name] = sampleValue(it)
			}
		}
		return []any{item}
	}
	return "样例"
}

// sameError fails unless got and want are both nil or both errors with the same code, field
// and message.
func sameError(t *testing.T, what string, got, want error) {
	t.Helper()
	if (got == nil) != (want == nil) || yipanqi.ErrorCode(got) != yipanqi.ErrorCode(want) ||
		yipanqi.ErrorField(got) != yipanqi.ErrorField(want) || yipanqi.ErrorMessage(got) != yipanqi.ErrorMessage(want) {
		t.Errorf("%s: engine says %v, catalog %v", what, got, want)
	}
}

// TestCaseTypesFromCalendarDays: a deadline of N calendar days becomes a rule that ends no
// later than the end of the N-th day after receipt, and less than a day before it.
func TestCaseTypesFromCalendarDays(t *testing.T) {
	cal := calendar.New()
	sh := yipanqi.Shanghai
	for _, days := range []int{2, 15, 60} {
		ct := yipanqi.CaseType{Name: "test.calendar_days", Label: "测试", Purpose: "测试", Seed: "S0",
			From: yipanqi.SideEither, To: yipanqi.SideEither, Levels: []yipanqi.Level{yipanqi.LevelCounty},
			Fields:     []yipanqi.FieldSpec{{Name: "x", Label: "某", Kind: yipanqi.KindDate}},
			NeedsReply: true, Answer: yipanqi.AnswerStaff, Replies: []yipanqi.ReplySpec{{Value: "done", Label: "完成"}},
			Deadlines: []yipanqi.DeadlineSpec{{Name: "reply", Label: "答复", CalendarDays: days, From: yipanqi.FromReceipt}},
			Reminders: []yipanqi.Reminder{{WorkingDays: 1}}, Escalation: []yipanqi.Escalation{{LevelsUp: 1}}}
		cat, err := yipanqi.NewCatalog([]yipanqi.CaseType{ct})
		if err != nil {
			t.Fatal(err)
		}
		rule := casework.CaseTypesFrom(cat)[ct.Name].Deadline
		for _, received := range []time.Time{
			time.Date(2025, 9, 26, 0, 0, 1, 0, sh), time.Date(2025, 9, 26, 10, 30, 0, 0, sh), time.Date(2025, 9, 26, 23, 59, 0, 0, sh),
		} {
			due, err := cal.Due(received, rule)
			if err != nil {
				t.Fatal(err)
			}
			y, m, d := received.Date()
			end := time.Date(y, m, d+days, 23, 59, 59, 0, sh)
			if due.At.After(end) || !due.At.After(end.Add(-24*time.Hour)) {
				t.Errorf("%d days from %v: due %v, want within the day before %v", days, received, due.At, end)
			}
		}
	}
}
