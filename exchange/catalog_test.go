package exchange_test

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/calendar"
	"yipanqi/exchange"
)

// TestCaseTypesFrom: every catalog type is in the engine's table with its first deadline,
// its required string fields and its reply values; DefaultCaseTypes is that table.
func TestCaseTypesFrom(t *testing.T) {
	cat := yipanqi.Catalog()
	table := exchange.CaseTypesFrom(cat)
	if len(table) != len(cat.Types()) {
		t.Errorf("%d engine types for %d catalog types", len(table), len(cat.Types()))
	}
	for _, ct := range cat.Types() {
		t.Run(ct.Name, func(t *testing.T) {
			got, ok := table[ct.Name]
			if !ok || got.Name != ct.Name {
				t.Fatalf("missing from the engine's table: %+v", got)
			}
			var want calendar.Rule
			if len(ct.Deadlines) > 0 {
				d := ct.Deadlines[0]
				want = calendar.Rule{WorkingDays: d.WorkingDays, Hours: d.Hours + 24*d.CalendarDays}
			}
			if got.Deadline != want {
				t.Errorf("deadline %+v, want %+v from %+v", got.Deadline, want, ct.Deadlines)
			}
			for _, f := range ct.Fields {
				in := slices.Contains(got.Required, f.Name)
				if in != (f.Required && f.IsString()) {
					t.Errorf("field %s (required %v, kind %s): in the engine's Required = %v", f.Name, f.Required, f.Kind, in)
				}
			}
			if len(got.Required) > len(ct.Fields) {
				t.Errorf("Required %v holds fields the catalog does not declare", got.Required)
			}
			if !slices.Equal(got.Replies, ct.ReplyValues()) {
				t.Errorf("replies %v, want %v", got.Replies, ct.ReplyValues())
			}
		})
	}
	if !reflect.DeepEqual(exchange.DefaultCaseTypes(), table) {
		t.Error("DefaultCaseTypes is not CaseTypesFrom(yipanqi.Catalog())")
	}
}

// TestCaseTypesFromCalendarDays: a deadline of N calendar days becomes a rule that ends no
// later than the end of the N-th day after receipt, and less than a day before it.
func TestCaseTypesFromCalendarDays(t *testing.T) {
	cal := calendar.New()
	sh := calendar.Shanghai()
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
		rule := exchange.CaseTypesFrom(cat)[ct.Name].Deadline
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
