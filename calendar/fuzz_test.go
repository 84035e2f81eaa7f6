package calendar_test

import (
	"strings"
	"testing"

	"yipanqi"
	"yipanqi/calendar"
)

// FuzzParse: any text as a holiday override file. No panic; a refusal only as EINVALID naming
// the file; an accepted file makes every entry line true of the calendar (the day is a
// workday or not as the line says, and its year is known), and every year line's year known.
func FuzzParse(f *testing.F) {
	f.Add("year 2028\n2028-01-03 holiday 元旦\n2028-01-29 workday 春节调休\n")
	f.Add("\ufeff# 注释\n\n2031-10-01 holiday 国庆节 # 行尾注释\n")
	f.Add("2028-02-30 holiday\n")
	f.Add("year 1899\n")
	f.Add("2028-01-03 holiday\n2028-01-03 workday\n")
	f.Add("2028-01-03\tworkday\r\n")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := calendar.Parse(strings.NewReader(text), "fuzz.txt")
		if err != nil {
			if yipanqi.ErrorCode(err) != yipanqi.EINVALID || !strings.Contains(yipanqi.ErrorMessage(err), "fuzz.txt") {
				t.Fatalf("Parse: %v", err)
			}
			return
		}
		for i, line := range strings.Split(text, "\n") {
			if i == 0 {
				line = strings.TrimPrefix(line, "\ufeff")
			}
			if j := strings.Index(line, "#"); j >= 0 {
				line = line[:j]
			}
			fields := strings.Fields(line)
			if len(fields) == 0 {
				continue
			}
			if fields[0] == "year" {
				y, err := yipanqi.ParseDate(fields[1] + "-01-01")
				if err != nil || !c.Known(y.Year) {
					t.Fatalf("line %d %q accepted, year not known", i+1, line)
				}
				continue
			}
			d, err := yipanqi.ParseDate(fields[0])
			if err != nil {
				t.Fatalf("line %d %q accepted with a bad date", i+1, line)
			}
			work, known := c.IsWorkday(d)
			if !known || work != (fields[1] == "workday") {
				t.Fatalf("line %d %q: IsWorkday = %v, %v", i+1, line, work, known)
			}
		}
	})
}
