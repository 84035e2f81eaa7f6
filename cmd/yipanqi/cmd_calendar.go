package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"yipanqi"
	"yipanqi/calendar"
)

const calendarUsage = `用法：
  yipanqi calendar due --from 接收时间 (--working-days N | --hours N) [--holidays FILE]
      输出期限（RFC3339，北京时间）；接收时间为 RFC3339，如 2025-09-26T10:00:00+08:00
  yipanqi calendar workdays FROM TO [--holidays FILE]
      输出 FROM 之后至 TO（含）的工作日数；日期为 YYYY-MM-DD
节假日覆盖文件可由 --holidays 或环境变量 YIPANQI_HOLIDAYS 指定（--holidays 优先）。
期限经过无节假日数据的年份时只按周末计算，并在标准错误输出 provisional。`

// calendarHolidaysEnv names the override file when --holidays is not given.
const calendarHolidaysEnv = "YIPANQI_HOLIDAYS"

// runCalendar computes deadlines and counts working days.
func runCalendar(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return usageError("缺少子命令\n%s", calendarUsage)
	}
	switch args[0] {
	case "due":
		return calendarDue(env, args[1:])
	case "workdays":
		return calendarWorkdays(env, args[1:])
	case "help", "-h", "--help":
		fmt.Fprintln(env.Stdout, calendarUsage)
		return nil
	}
	return usageError("未知子命令“%s”\n%s", args[0], calendarUsage)
}

func calendarDue(env *Env, args []string) error {
	flags, rest, err := calendarFlags(args, "from", "working-days", "hours", "holidays")
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError("calendar due 不接受参数“%s”\n%s", rest[0], calendarUsage)
	}
	from, ok := flags["from"]
	if !ok {
		return usageError("缺少 --from（接收时间，RFC3339 格式，如 2025-09-26T10:00:00+08:00）")
	}
	received, err := time.Parse(time.RFC3339, from)
	if err != nil {
		return usageError("--from “%s” 不是 RFC3339 时间（如 2025-09-26T10:00:00+08:00）", from)
	}
	days, hasDays := flags["working-days"]
	hours, hasHours := flags["hours"]
	var rule calendar.Rule
	var ruleFlag string
	switch {
	case hasDays && hasHours:
		return usageError("--working-days 与 --hours 只能指定一个")
	case hasDays:
		ruleFlag = "--working-days"
		rule.WorkingDays, err = calendarPositive(ruleFlag, days)
	case hasHours:
		ruleFlag = "--hours"
		rule.Hours, err = calendarPositive(ruleFlag, hours)
	default:
		return usageError("须指定 --working-days（工作日数）或 --hours（小时数）之一")
	}
	if err != nil {
		return err
	}
	cal, err := calendarLoad(env, flags)
	if err != nil {
		return err
	}
	d, err := cal.Due(received, rule)
	if err != nil {
		return usageError("%s：%s", ruleFlag, yipanqi.ErrorMessage(err))
	}
	fmt.Fprintln(env.Stdout, d.At.Format(time.RFC3339))
	if d.Provisional {
		fmt.Fprintln(env.Stderr, "provisional")
	}
	return nil
}

func calendarWorkdays(env *Env, args []string) error {
	flags, rest, err := calendarFlags(args, "holidays")
	if err != nil {
		return err
	}
	if len(rest) != 2 {
		return usageError("calendar workdays 需要两个日期 FROM TO（YYYY-MM-DD），收到 %d 个\n%s", len(rest), calendarUsage)
	}
	var dates [2]yipanqi.Date
	for i, name := range []string{"FROM", "TO"} {
		if dates[i], err = yipanqi.ParseDate(rest[i]); err != nil {
			return usageError("%s “%s” 不是有效日期（应为 YYYY-MM-DD）", name, rest[i])
		}
	}
	cal, err := calendarLoad(env, flags)
	if err != nil {
		return err
	}
	n, provisional := cal.Workdays(dates[0], dates[1])
	fmt.Fprintln(env.Stdout, n)
	if provisional {
		fmt.Fprintln(env.Stderr, "provisional")
	}
	return nil
}

// calendarLoad reads the override file named by --holidays or, failing that, by the
// environment; none means lunar-go's data alone.
func calendarLoad(env *Env, flags map[string]string) (*calendar.Calendar, error) {
	path, source := flags["holidays"], "--holidays"
	if _, ok := flags["holidays"]; !ok {
		path, source = env.Getenv(calendarHolidaysEnv), calendarHolidaysEnv
	}
	cal, err := calendar.Load(path)
	if err != nil {
		return nil, usageError("%s：%s", source, yipanqi.ErrorMessage(err))
	}
	return cal, nil
}

// calendarPositive parses the value of a count flag.
func calendarPositive(flag, s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, usageError("%s “%s” 应为正整数", flag, s)
	}
	return n, nil
}

// calendarFlags splits args into the named flags (--name value, --name=value, or with one
// dash) and the other arguments. Unknown, repeated and value-less flags are usage errors
// that name the flag.
func calendarFlags(args []string, names ...string) (map[string]string, []string, error) {
	flags := map[string]string{}
	var rest []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			rest = append(rest, args[i+1:]...)
			break
		}
		if len(arg) < 2 || arg[0] != '-' {
			rest = append(rest, arg)
			continue
		}
		name := strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-")
		value, hasValue := "", false
		if k := strings.IndexByte(name, '='); k >= 0 {
			name, value, hasValue = name[:k], name[k+1:], true
		}
		known := false
		for _, n := range names {
			known = known || n == name
		}
		if !known {
			return nil, nil, usageError("未知参数 %s\n%s", arg, calendarUsage)
		}
		if _, dup := flags[name]; dup {
			return nil, nil, usageError("--%s 重复指定", name)
		}
		if !hasValue {
			if i+1 >= len(args) {
				return nil, nil, usageError("--%s 缺少取值", name)
			}
			i++
			value = args[i]
		}
		flags[name] = value
	}
	return flags, rest, nil
}
