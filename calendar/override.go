package calendar

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"yipanqi"
)

// errField is the Error.Field of override file errors.
const errField = "holidays"

// Load returns the calendar of lunar-go's data corrected and extended by the override file at
// overridePath; an empty path means no override, as New. A file that cannot be read or holds a
// bad line is an EINVALID error naming the file (and the line).
func Load(overridePath string) (*Calendar, error) {
	if overridePath == "" {
		return New(), nil
	}
	f, err := os.Open(overridePath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, errField, "节假日文件 %s 不存在", overridePath)
	} else if err != nil {
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, errField, "无法读取节假日文件 %s：%v", overridePath, err)
	}
	defer f.Close()
	return Parse(f, overridePath)
}

// Parse returns the calendar of lunar-go's data corrected and extended by the override text
// read from r; name (usually the file's path) is quoted in errors. The format, one item a line:
//
//	# a comment: text from "#" to the end of the line is ignored, and so are blank lines
//	year 2028                  the year's holiday data is complete (even with no entries)
//	2028-01-03 holiday 元旦     a rest day (a holiday, or a weekend day that is not made up)
//	2028-01-29 workday 春节调休 a working day (a make-up day, or a weekday lunar-go got wrong)
//
// The name after the kind is optional and free text. An entry replaces whatever lunar-go says
// about that day. A year is known when lunar-go holds its holidays, when a "year" line declares
// it, or when an entry falls in it. Each date may appear once and each year line once. A bad
// line is an EINVALID error naming the file, the line number and what is wrong.
func Parse(r io.Reader, name string) (*Calendar, error) {
	base := lunarData()
	var entries []dayEntry
	years := make(map[int]bool, len(base.years))
	for y := range base.years {
		years[y] = true
	}
	seenDay := map[int]int{}  // day number -> line
	seenYear := map[int]int{} // year -> line
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if line == 1 {
			text = strings.TrimPrefix(text, "\ufeff") // a byte-order mark from Windows editors
		}
		if !utf8.ValidString(text) {
			return nil, lineError(name, line, "不是 UTF-8 文本")
		}
		if i := strings.Index(text, "#"); i >= 0 {
			text = text[:i]
		}
		f := strings.Fields(text)
		if len(f) == 0 {
			continue
		}
		if f[0] == "year" {
			if len(f) != 2 {
				return nil, lineError(name, line, "应为“year 年份”，如 year 2028")
			}
			y, err := strconv.Atoi(f[1])
			if err != nil || len(f[1]) != 4 {
				return nil, lineError(name, line, "年份“%s”应为 4 位数字", f[1])
			}
			if y < minYear || y > maxYear {
				return nil, lineError(name, line, "年份 %d 超出范围 %d–%d", y, minYear, maxYear)
			}
			if prev, ok := seenYear[y]; ok {
				return nil, lineError(name, line, "year %d 与第 %d 行重复", y, prev)
			}
			seenYear[y] = line
			years[y] = true
			continue
		}
		if len(f) < 2 {
			return nil, lineError(name, line, "应为“日期 holiday|workday [名称]”或“year 年份”，实际为“%s”", strings.TrimSpace(text))
		}
		d, err := yipanqi.ParseDate(f[0])
		if err != nil {
			return nil, lineError(name, line, "“%s”不是有效日期（应为 YYYY-MM-DD）", f[0])
		}
		if d.Year < minYear || d.Year > maxYear {
			return nil, lineError(name, line, "日期 %s 超出范围 %d–%d 年", f[0], minYear, maxYear)
		}
		var work bool
		switch f[1] {
		case "holiday":
			work = false
		case "workday":
			work = true
		default:
			return nil, lineError(name, line, "类别“%s”应为 holiday（休息日）或 workday（工作日）", f[1])
		}
		dn := dateNumber(d)
		if prev, ok := seenDay[dn]; ok {
			return nil, lineError(name, line, "日期 %s 与第 %d 行重复", f[0], prev)
		}
		seenDay[dn] = line
		entries = append(entries, dayEntry{day: dn, work: work})
		years[d.Year] = true
	}
	if err := sc.Err(); err != nil {
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, errField, "无法读取节假日文件 %s：%v", name, err)
	}
	return build(New(), entries, years), nil
}

func lineError(name string, line int, format string, args ...any) error {
	return yipanqi.FieldErrorf(yipanqi.EINVALID, errField, "节假日文件 %s 第 %d 行：%s", name, line, fmt.Sprintf(format, args...))
}
