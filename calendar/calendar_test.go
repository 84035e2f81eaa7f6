package calendar_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/6tail/lunar-go/HolidayUtil"

	"yipanqi"
	"yipanqi/calendar"
)

func date(s string) yipanqi.Date {
	d, err := yipanqi.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

func at(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// MustParse returns the calendar of lunar-go plus the override text, failing the test on error.
func MustParse(tb testing.TB, text string) *calendar.Calendar {
	tb.Helper()
	c, err := calendar.Parse(strings.NewReader(text), "test.txt")
	if err != nil {
		tb.Fatalf("Parse: %v", err)
	}
	return c
}

func TestIsWorkday(t *testing.T) {
	c := calendar.New()
	tests := []struct {
		day   string
		work  bool
		known bool
		why   string
	}{
		{"2025-10-01", false, true, "National Day, Wednesday"},
		{"2025-10-08", false, true, "last day of National Day and Mid-Autumn 2025"},
		{"2025-10-09", true, true, "Thursday after the holiday"},
		{"2025-09-28", true, true, "make-up Sunday for National Day 2025"},
		{"2025-10-11", true, true, "make-up Saturday for National Day 2025"},
		{"2025-10-04", false, true, "Saturday inside the holiday"},
		{"2025-01-26", true, true, "make-up Sunday for Spring Festival 2025"},
		{"2025-01-28", false, true, "Spring Festival eve 2025, Tuesday"},
		{"2025-02-04", false, true, "last day of Spring Festival 2025, Tuesday"},
		{"2025-02-08", true, true, "make-up Saturday for Spring Festival 2025"},
		{"2025-03-14", true, true, "ordinary Friday"},
		{"2025-03-15", false, true, "ordinary Saturday"},
		{"2024-02-04", true, true, "make-up Sunday for Spring Festival 2024"},
		{"2024-02-12", false, true, "Spring Festival 2024, Monday"},
		{"2026-01-02", false, true, "New Year 2026, Friday"},
		{"2026-01-04", true, true, "make-up Sunday for New Year 2026"},
		{"2026-02-28", true, true, "make-up Saturday for Spring Festival 2026"},
		{"2027-02-14", true, true, "make-up Sunday for Spring Festival 2027 (lunar-go 1.4.7)"},
		{"2028-01-03", true, false, "Monday in a year without data"},
		{"2028-01-01", false, false, "Saturday in a year without data"},
		{"2001-12-29", true, false, "make-up day for New Year 2002; 2001's own holidays are not held"},
		{"1850-01-01", true, false, "Tuesday before the calendar's range"},
		{"2500-01-01", true, false, "Friday after the calendar's range"},
		{"2500-01-02", false, false, "Saturday after the calendar's range"},
	}
	for _, tt := range tests {
		t.Run(tt.day, func(t *testing.T) {
			work, known := c.IsWorkday(date(tt.day))
			if work != tt.work || known != tt.known {
				t.Errorf("IsWorkday(%s) = %v, %v; want %v, %v (%s)", tt.day, work, known, tt.work, tt.known, tt.why)
			}
		})
	}
}

// TestAgreesWithLunarGo compares every day of the years lunar-go holds with lunar-go itself,
// asked day by day as the calendar does not.
func TestAgreesWithLunarGo(t *testing.T) {
	c := calendar.New()
	for d := date("2002-01-01"); d.Year <= 2027; d = d.AddDays(1) {
		want := d.In(time.UTC).Weekday() != time.Saturday && d.In(time.UTC).Weekday() != time.Sunday
		if h := HolidayUtil.GetHoliday(d.String()); h != nil {
			want = h.IsWork()
		}
		work, known := c.IsWorkday(d)
		if work != want || !known {
			t.Fatalf("IsWorkday(%s) = %v, %v; lunar-go says work=%v", d, work, known, want)
		}
	}
}

func TestKnown(t *testing.T) {
	c := calendar.New()
	for y := 2002; y <= 2027; y++ {
		if !c.Known(y) {
			t.Errorf("Known(%d) = false, lunar-go holds it", y)
		}
	}
	for _, y := range []int{1899, 1990, 2001, 2028, 2030, 2500} {
		if c.Known(y) {
			t.Errorf("Known(%d) = true, lunar-go does not hold it", y)
		}
	}
}

func TestDue(t *testing.T) {
	c := calendar.New()
	est := time.FixedZone("EST", -5*3600)
	tests := []struct {
		name        string
		received    time.Time
		rule        calendar.Rule
		want        string
		provisional bool
	}{
		// Sat 27 rest, Sun 28 make-up (1), 29 (2), 30 (3), Oct 1-8 holiday, 9 (4), 10 (5),
		// Sat 11 make-up (6), 13-17 (7-11), 20-23 (12-15).
		{"before National Day 2025", at(t, "2025-09-26T10:00:00+08:00"), calendar.Rule{WorkingDays: 15}, "2025-10-23T23:59:59+08:00", false},
		{"one day before National Day", at(t, "2025-09-30T16:00:00+08:00"), calendar.Rule{WorkingDays: 1}, "2025-10-09T23:59:59+08:00", false},
		// Oct 9 (1), 10 (2), Sat 11 (3), 13 (4) … 16 (7).
		{"on a holiday", at(t, "2025-10-03T09:00:00+08:00"), calendar.Rule{WorkingDays: 7}, "2025-10-16T23:59:59+08:00", false},
		// Received on make-up Sunday Jan 26: Mon 27 (1), Jan 28-Feb 4 holiday, Feb 5-7 (2-4),
		// make-up Saturday Feb 8 (5).
		{"on a make-up workday", at(t, "2025-01-26T15:00:00+08:00"), calendar.Rule{WorkingDays: 5}, "2025-02-08T23:59:59+08:00", false},
		{"weekend, one day", at(t, "2025-03-15T11:00:00+08:00"), calendar.Rule{WorkingDays: 1}, "2025-03-17T23:59:59+08:00", false},
		// Mar 17-21 (5), 24-28 (10), Mar 31-Apr 3 (14), Qingming Fri Apr 4, Mon Apr 7 (15).
		{"weekend, over Qingming", at(t, "2025-03-15T11:00:00+08:00"), calendar.Rule{WorkingDays: 15}, "2025-04-07T23:59:59+08:00", false},
		{"just before midnight counts as that day", at(t, "2025-03-14T23:59:59+08:00"), calendar.Rule{WorkingDays: 1}, "2025-03-17T23:59:59+08:00", false},
		// Thursday evening in UTC is already Friday in Shanghai.
		{"UTC evening is next day", at(t, "2025-03-13T20:00:00Z"), calendar.Rule{WorkingDays: 1}, "2025-03-17T23:59:59+08:00", false},
		// Saturday 27 Sep in UTC is the make-up Sunday 28 in Shanghai: day 1 is Monday 29.
		{"UTC Saturday is Shanghai make-up Sunday", at(t, "2025-09-27T16:30:00Z"), calendar.Rule{WorkingDays: 1}, "2025-09-29T23:59:59+08:00", false},
		// Friday Feb 7 in New York is make-up Saturday Feb 8 in Shanghai: day 1 is Monday 10.
		{"New York Friday is Shanghai make-up Saturday", time.Date(2025, 2, 7, 12, 0, 0, 0, est), calendar.Rule{WorkingDays: 1}, "2025-02-10T23:59:59+08:00", false},
		// Received on make-up Sunday Feb 4 2024: Feb 5-9 (1-5), Feb 10-17 holiday, make-up
		// Sunday Feb 18 (6).
		{"Spring Festival 2024", at(t, "2024-02-04T09:00:00+08:00"), calendar.Rule{WorkingDays: 6}, "2024-02-18T23:59:59+08:00", false},
		// 2026: Sep 21-24 (1-4), Mid-Autumn Sep 25-27, Sep 28-30 (5-7), Oct 1-7 holiday,
		// Oct 8-9 (8-9), Sat Oct 10 make-up (10).
		{"Mid-Autumn and National Day 2026", at(t, "2026-09-20T08:00:00+08:00"), calendar.Rule{WorkingDays: 10}, "2026-10-10T23:59:59+08:00", false},
		{"24 hours across midnight", at(t, "2025-09-30T20:00:00+08:00"), calendar.Rule{Hours: 24}, "2025-10-01T20:00:00+08:00", false},
		{"hours from UTC", at(t, "2025-03-14T22:00:00Z"), calendar.Rule{Hours: 5}, "2025-03-15T11:00:00+08:00", false},
		{"hours in a year without data", at(t, "2028-03-01T10:00:00+08:00"), calendar.Rule{Hours: 48}, "2028-03-03T10:00:00+08:00", false},
		// 2028 has no data: weekends only. Mar 1 is a Wednesday: Thu 2 (1) … Wed 8 (5).
		{"provisional year", at(t, "2028-03-01T10:00:00+08:00"), calendar.Rule{WorkingDays: 5}, "2028-03-08T23:59:59+08:00", true},
		// Dec 27-31 (5), Jan 3-7 2028 (10).
		{"counting into a year without data", at(t, "2027-12-24T10:00:00+08:00"), calendar.Rule{WorkingDays: 10}, "2028-01-07T23:59:59+08:00", true},
		{"staying inside the last known year", at(t, "2027-12-10T10:00:00+08:00"), calendar.Rule{WorkingDays: 5}, "2027-12-17T23:59:59+08:00", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := c.Due(tt.received, tt.rule)
			if err != nil {
				t.Fatalf("Due: %v", err)
			}
			if got := d.At.Format(time.RFC3339); got != tt.want || d.Provisional != tt.provisional {
				t.Errorf("Due(%s, %+v) = %s provisional=%v; want %s provisional=%v",
					tt.received.Format(time.RFC3339), tt.rule, got, d.Provisional, tt.want, tt.provisional)
			}
			if d.At.Location() != yipanqi.Shanghai {
				t.Errorf("At is in %v, want Asia/Shanghai", d.At.Location())
			}
		})
	}
}

// TestDueWhateverTheLocalZone checks that the server's own zone plays no part.
func TestDueWhateverTheLocalZone(t *testing.T) {
	c := calendar.New()
	received := at(t, "2025-09-27T16:30:00Z")
	want, err := c.Due(received, calendar.Rule{WorkingDays: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"America/Los_Angeles", "Pacific/Kiritimati", "UTC"} {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Due(received.In(loc), calendar.Rule{WorkingDays: 3})
		if err != nil {
			t.Fatal(err)
		}
		if !got.At.Equal(want.At) {
			t.Errorf("received in %s: %s, want %s", name, got.At, want.At)
		}
	}
}

func TestDueBadRule(t *testing.T) {
	c := calendar.New()
	tests := []struct {
		name  string
		rule  calendar.Rule
		field string
	}{
		{"neither", calendar.Rule{}, "working_days"},
		{"both", calendar.Rule{WorkingDays: 15, Hours: 24}, "working_days"},
		{"negative days", calendar.Rule{WorkingDays: -1}, "working_days"},
		{"negative hours", calendar.Rule{Hours: -24}, "hours"},
		{"too many days", calendar.Rule{WorkingDays: 1_000_000}, "working_days"},
		{"too many hours", calendar.Rule{Hours: 1 << 40}, "hours"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Due(at(t, "2025-03-14T10:00:00+08:00"), tt.rule)
			if yipanqi.ErrorCode(err) != yipanqi.EINVALID || yipanqi.ErrorField(err) != tt.field {
				t.Fatalf("Due(%+v) error = %v, want EINVALID on %s", tt.rule, err, tt.field)
			}
			if msg := yipanqi.ErrorMessage(err); !strings.Contains(msg, "工作日数") && !strings.Contains(msg, "小时数") {
				t.Errorf("message %q names neither working days nor hours", msg)
			}
		})
	}
}

func TestWorkdays(t *testing.T) {
	c := calendar.New()
	tests := []struct {
		from, to    string
		want        int
		provisional bool
		why         string
	}{
		{"2025-09-30", "2025-10-10", 2, false, "Oct 1-8 are holidays"},
		{"2025-09-26", "2025-10-23", 15, false, "as TestDue"},
		{"2025-10-23", "2025-09-26", -15, false, "reversed"},
		{"2025-10-01", "2025-10-01", 0, false, "same day"},
		{"2025-03-14", "2025-03-16", 0, false, "Friday to Sunday"},
		{"2025-03-14", "2025-03-17", 1, false, "Friday to Monday"},
		// 365 days - 104 weekend days - 13 statutory holidays; make-up days balance the
		// weekdays taken off in addition.
		{"2024-12-31", "2025-12-31", 248, false, "working days of 2025"},
		// 366 - 104 - 11 (the 2024 holidays before the two added in 2025).
		{"2023-12-31", "2024-12-31", 251, false, "working days of 2024"},
		{"2025-12-31", "2026-12-31", 248, false, "working days of 2026: 365 - 104 - 13"},
		// 2028: 366 days, Jan 1 a Saturday, so 52 weeks and Sat+Sun: 260 weekdays.
		{"2027-12-31", "2028-12-31", 260, true, "a year without data"},
		{"2027-12-24", "2028-01-07", 10, true, "into a year without data"},
		{"2028-01-07", "2027-12-24", -10, true, "reversed, from a year without data"},
		{"2027-12-30", "2027-12-31", 1, false, "end of the last known year"},
		// 2400-01-01 is a Saturday; 2399-12-31 a Friday: across the end of the bitset.
		{"2399-12-30", "2400-01-03", 2, true, "across the calendar's range"},
		{"1899-12-29", "1900-01-02", 2, true, "across the start of the calendar's range"},
	}
	for _, tt := range tests {
		t.Run(tt.from+"_"+tt.to, func(t *testing.T) {
			n, prov := c.Workdays(date(tt.from), date(tt.to))
			if n != tt.want || prov != tt.provisional {
				t.Errorf("Workdays(%s, %s) = %d, %v; want %d, %v (%s)", tt.from, tt.to, n, prov, tt.want, tt.provisional, tt.why)
			}
		})
	}
}

// TestWorkdaysMatchesDue: the deadline of N working days is the first day on which
// Workdays from the day of receipt reaches N.
func TestWorkdaysMatchesDue(t *testing.T) {
	c := calendar.New()
	sh := yipanqi.Shanghai
	for d := date("2024-12-01"); d.Before(date("2026-02-01")); d = d.AddDays(3) {
		for _, n := range []int{1, 5, 15, 30} {
			due, err := c.Due(d.In(sh).Add(10*time.Hour), calendar.Rule{WorkingDays: n})
			if err != nil {
				t.Fatal(err)
			}
			end := yipanqi.DateOf(due.At)
			if got, _ := c.Workdays(d, end); got != n {
				t.Fatalf("Workdays(%s, %s) = %d, want %d", d, end, got, n)
			}
			if got, _ := c.Workdays(d, end.AddDays(-1)); got != n-1 {
				t.Fatalf("Workdays(%s, %s) = %d, want %d", d, end.AddDays(-1), got, n-1)
			}
			if work, _ := c.IsWorkday(end); !work {
				t.Fatalf("deadline %s of %d days from %s is not a working day", end, n, d)
			}
		}
	}
}

func TestOverride(t *testing.T) {
	const text = `# 2028 as announced (test data)
year 2028
2028-03-06 holiday 测试假日
2028-03-04 workday 测试调休   # a Saturday

# corrections to 2025
2025-10-10 holiday 更正
2025-10-11 holiday 更正：取消调休
2025-10-08 workday
`
	c := MustParse(t, text)
	days := []struct {
		day        string
		work, base bool
	}{
		{"2028-03-06", false, true},
		{"2028-03-04", true, false},
		{"2025-10-10", false, true},
		{"2025-10-11", false, true},
		{"2025-10-08", true, false},
		{"2025-10-09", true, true},
	}
	for _, tt := range days {
		work, known := c.IsWorkday(date(tt.day))
		if work != tt.work || !known {
			t.Errorf("with override, IsWorkday(%s) = %v, %v; want %v, true", tt.day, work, known, tt.work)
		}
		if work, _ := calendar.New().IsWorkday(date(tt.day)); work != tt.base {
			t.Errorf("without override, IsWorkday(%s) = %v, want %v", tt.day, work, tt.base)
		}
	}
	if !c.Known(2028) || calendar.New().Known(2028) {
		t.Errorf("Known(2028) = %v with override, %v without; want true, false", c.Known(2028), calendar.New().Known(2028))
	}

	// Mar 2 (1), 3 (2), Sat 4 (3), Mon 6 holiday, 7 (4), 8 (5).
	d, err := c.Due(at(t, "2028-03-01T10:00:00+08:00"), calendar.Rule{WorkingDays: 5})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.At.Format(time.RFC3339); got != "2028-03-08T23:59:59+08:00" || d.Provisional {
		t.Errorf("Due in declared 2028 = %s provisional=%v; want 2028-03-08T23:59:59+08:00, false", got, d.Provisional)
	}
	// Sep 28 (1), 29 (2), 30 (3), Oct 8 (4), 9 (5), 13-17 (6-10), 20-24 (11-15).
	d, err = c.Due(at(t, "2025-09-26T10:00:00+08:00"), calendar.Rule{WorkingDays: 15})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.At.Format(time.RFC3339); got != "2025-10-24T23:59:59+08:00" {
		t.Errorf("Due over corrected 2025 days = %s, want 2025-10-24T23:59:59+08:00", got)
	}
}

func TestOverrideYearOnly(t *testing.T) {
	c := MustParse(t, "year 2029\n")
	if !c.Known(2029) || c.Known(2028) {
		t.Fatalf("Known(2029), Known(2028) = %v, %v; want true, false", c.Known(2029), c.Known(2028))
	}
	d, err := c.Due(at(t, "2029-05-02T10:00:00+08:00"), calendar.Rule{WorkingDays: 3})
	if err != nil {
		t.Fatal(err)
	}
	if d.Provisional {
		t.Errorf("Due inside declared 2029 is provisional")
	}
}

func TestOverrideEntryMakesYearKnown(t *testing.T) {
	c := MustParse(t, "\ufeff2030-01-01 holiday 元旦\n")
	if !c.Known(2030) {
		t.Errorf("Known(2030) = false after an entry in 2030")
	}
}

func TestOverrideErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		msg  string
	}{
		{"bad kind", "2028-01-01 rest 元旦\n", "节假日文件 test.txt 第 1 行：类别“rest”应为 holiday（休息日）或 workday（工作日）"},
		{"impossible date", "# x\n\n2027-02-30 holiday\n", "节假日文件 test.txt 第 3 行：“2027-02-30”不是有效日期（应为 YYYY-MM-DD）"},
		{"slashes", "2027/10/01 holiday\n", "节假日文件 test.txt 第 1 行：“2027/10/01”不是有效日期（应为 YYYY-MM-DD）"},
		{"date alone", "2027-10-01\n", "节假日文件 test.txt 第 1 行：应为“日期 holiday|workday [名称]”或“year 年份”，实际为“2027-10-01”"},
		{"duplicate date", "2027-10-01 holiday\n2027-10-01 workday\n", "节假日文件 test.txt 第 2 行：日期 2027-10-01 与第 1 行重复"},
		{"year without number", "year\n", "节假日文件 test.txt 第 1 行：应为“year 年份”，如 year 2028"},
		{"year not a number", "year 二〇二八\n", "节假日文件 test.txt 第 1 行：年份“二〇二八”应为 4 位数字"},
		{"year out of range", "year 1800\n", "节假日文件 test.txt 第 1 行：年份 1800 超出范围 1900–2399"},
		{"duplicate year", "year 2028\nyear 2028\n", "节假日文件 test.txt 第 2 行：year 2028 与第 1 行重复"},
		{"date out of range", "2400-01-03 holiday\n", "节假日文件 test.txt 第 1 行：日期 2400-01-03 超出范围 1900–2399 年"},
		{"not utf-8", "2028-01-01 holiday \xff\n", "节假日文件 test.txt 第 1 行：不是 UTF-8 文本"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := calendar.Parse(strings.NewReader(tt.text), "test.txt")
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want an error", tt.text, c)
			}
			if yipanqi.ErrorCode(err) != yipanqi.EINVALID {
				t.Errorf("code = %q, want invalid", yipanqi.ErrorCode(err))
			}
			if msg := yipanqi.ErrorMessage(err); msg != tt.msg {
				t.Errorf("message = %q\nwant      %q", msg, tt.msg)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "holidays.txt")
	if err := os.WriteFile(path, []byte("year 2028\n2028-01-03 holiday 元旦\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := calendar.Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if work, known := c.IsWorkday(date("2028-01-03")); work || !known {
		t.Errorf("IsWorkday(2028-01-03) = %v, %v; want false, true", work, known)
	}

	c, err = calendar.Load("")
	if err != nil || c.Known(2028) {
		t.Errorf("Load(\"\") = known 2028 %v, err %v; want lunar-go alone", c != nil && c.Known(2028), err)
	}

	missing := filepath.Join(dir, "nope.txt")
	_, err = calendar.Load(missing)
	if want := fmt.Sprintf("节假日文件 %s 不存在", missing); yipanqi.ErrorMessage(err) != want {
		t.Errorf("Load(missing) error = %q, want %q", yipanqi.ErrorMessage(err), want)
	}

	bad := filepath.Join(dir, "bad.txt")
	if err := os.WriteFile(bad, []byte("year 2028\n2028-13-01 holiday\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = calendar.Load(bad)
	if msg := yipanqi.ErrorMessage(err); !strings.HasPrefix(msg, "节假日文件 "+bad+" 第 2 行：") {
		t.Errorf("Load(bad) error = %q, want it to name %s and line 2", msg, bad)
	}
}

func TestConcurrentUse(t *testing.T) {
	c := MustParse(t, "year 2028\n")
	var wg sync.WaitGroup
	results := make([]string, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := c.Due(at(t, "2025-09-26T10:00:00+08:00"), calendar.Rule{WorkingDays: 15})
			if err == nil {
				results[i] = d.At.Format(time.RFC3339)
			}
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r != results[0] || r == "" {
			t.Fatalf("goroutine %d got %q, goroutine 0 %q", i, r, results[0])
		}
	}
}

func BenchmarkDue(b *testing.B) {
	c := calendar.New()
	start := at(b, "2024-01-01T09:30:00+08:00")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		// A different receipt day each time, over three years.
		received := start.Add(time.Duration(i%1096) * 24 * time.Hour)
		if _, err := c.Due(received, calendar.Rule{WorkingDays: 15}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkWorkdays(b *testing.B) {
	c := calendar.New()
	// Ranges of 40 days starting on each day of three years, made before the clock starts.
	var from, to []yipanqi.Date
	for d := date("2024-01-01"); d.Year < 2027; d = d.AddDays(1) {
		from, to = append(from, d), append(to, d.AddDays(40))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Workdays(from[i%len(from)], to[i%len(to)])
		i++
	}
}

func BenchmarkParse(b *testing.B) {
	const text = "year 2028\n2028-01-03 holiday 元旦\n2028-01-29 workday 春节调休\n"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := calendar.Parse(strings.NewReader(text), "bench.txt"); err != nil {
			b.Fatal(err)
		}
	}
}
