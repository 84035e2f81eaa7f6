package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runCalendarCLI runs Main with the given environment variables and returns the exit code,
// stdout and stderr.
func runCalendarCLI(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	return cliRun(t, time.Date(2025, 9, 26, 2, 0, 0, 0, time.UTC), vars, append([]string{"calendar"}, args...)...)
}

// writeHolidays writes an override file in a temporary directory and returns its path.
func writeHolidays(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "holidays.txt")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCalendarCommand(t *testing.T) {
	// 2028 declared, with Monday 6 March a holiday; 2025-10-10 corrected to a holiday.
	file := writeHolidays(t, "year 2028\n2028-03-06 holiday 测试\n")
	other := writeHolidays(t, "2025-10-10 holiday 更正\n")
	bad := writeHolidays(t, "year 2028\n2028-03-06 rest\n")
	tests := []struct {
		name   string
		vars   map[string]string
		args   []string
		code   int
		stdout string
		stderr string // exact when want exact, else a substring
		exact  bool
	}{
		{name: "15 working days over National Day 2025",
			args: []string{"due", "--from", "2025-09-26T10:00:00+08:00", "--working-days", "15"}, stdout: "2025-10-23T23:59:59+08:00\n", exact: true},
		{name: "equals form and UTC input already next day in Shanghai",
			args: []string{"due", "--from=2025-09-27T16:30:00Z", "--working-days=1"}, stdout: "2025-09-29T23:59:59+08:00\n", exact: true},
		{name: "hours across midnight",
			args: []string{"due", "--hours", "24", "--from", "2025-09-30T20:00:00+08:00"}, stdout: "2025-10-01T20:00:00+08:00\n", exact: true},
		{name: "provisional year",
			args: []string{"due", "--from", "2028-03-01T10:00:00+08:00", "--working-days", "5"}, stdout: "2028-03-08T23:59:59+08:00\n", stderr: "provisional\n", exact: true},
		{name: "override file makes 2028 known",
			args: []string{"due", "--from", "2028-03-01T10:00:00+08:00", "--working-days", "5", "--holidays", file}, stdout: "2028-03-09T23:59:59+08:00\n", exact: true},
		{name: "override from the environment",
			vars: map[string]string{"YIPANQI_HOLIDAYS": file},
			args: []string{"due", "--from", "2028-03-01T10:00:00+08:00", "--working-days", "5"}, stdout: "2028-03-09T23:59:59+08:00\n", exact: true},
		{name: "flag wins over the environment",
			vars: map[string]string{"YIPANQI_HOLIDAYS": file},
			args: []string{"due", "--from", "2025-09-26T10:00:00+08:00", "--working-days", "15", "--holidays", other}, stdout: "2025-10-24T23:59:59+08:00\n", exact: true},
		{name: "workdays",
			args: []string{"workdays", "2025-09-30", "2025-10-10"}, stdout: "2\n", exact: true},
		{name: "workdays reversed",
			args: []string{"workdays", "2025-10-23", "2025-09-26"}, stdout: "-15\n", exact: true},
		{name: "workdays provisional",
			args: []string{"workdays", "2027-12-24", "2028-01-07"}, stdout: "10\n", stderr: "provisional\n", exact: true},
		{name: "workdays with override after the dates",
			args: []string{"workdays", "2028-03-01", "2028-03-08", "--holidays", file}, stdout: "4\n", exact: true},

		{name: "no subcommand", args: nil, code: 2, stderr: "缺少子命令"},
		{name: "unknown subcommand", args: []string{"deadline"}, code: 2, stderr: "未知子命令“deadline”"},
		{name: "missing --from", args: []string{"due", "--hours", "24"}, code: 2, stderr: "缺少 --from"},
		{name: "bad --from", args: []string{"due", "--from", "2025-09-26 10:00", "--hours", "24"}, code: 2, stderr: "--from “2025-09-26 10:00” 不是 RFC3339 时间"},
		{name: "date without time", args: []string{"due", "--from", "2025-09-26", "--hours", "24"}, code: 2, stderr: "--from “2025-09-26” 不是 RFC3339 时间"},
		{name: "both rules", args: []string{"due", "--from", "2025-09-26T10:00:00+08:00", "--hours", "24", "--working-days", "15"}, code: 2, stderr: "--working-days 与 --hours 只能指定一个"},
		{name: "neither rule", args: []string{"due", "--from", "2025-09-26T10:00:00+08:00"}, code: 2, stderr: "须指定 --working-days（工作日数）或 --hours（小时数）之一"},
		{name: "zero days", args: []string{"due", "--from", "2025-09-26T10:00:00+08:00", "--working-days", "0"}, code: 2, stderr: "--working-days “0” 应为正整数"},
		{name: "negative hours", args: []string{"due", "--from", "2025-09-26T10:00:00+08:00", "--hours", "-3"}, code: 2, stderr: "--hours “-3” 应为正整数"},
		{name: "days not a number", args: []string{"due", "--from", "2025-09-26T10:00:00+08:00", "--working-days", "十五"}, code: 2, stderr: "--working-days “十五” 应为正整数"},
		{name: "too many days", args: []string{"due", "--from", "2025-09-26T10:00:00+08:00", "--working-days", "5000"}, code: 2, stderr: "--working-days：工作日数 5000 超过上限"},
		{name: "value missing", args: []string{"due", "--working-days", "15", "--from"}, code: 2, stderr: "--from 缺少取值"},
		{name: "unknown flag", args: []string{"due", "--form", "2025-09-26T10:00:00+08:00"}, code: 2, stderr: "未知参数 --form"},
		{name: "repeated flag", args: []string{"due", "--hours", "1", "--hours", "2"}, code: 2, stderr: "--hours 重复指定"},
		{name: "stray argument", args: []string{"due", "--from", "2025-09-26T10:00:00+08:00", "--hours", "1", "15"}, code: 2, stderr: "calendar due 不接受参数“15”"},
		{name: "workdays one date", args: []string{"workdays", "2025-09-30"}, code: 2, stderr: "需要两个日期 FROM TO（YYYY-MM-DD），收到 1 个"},
		{name: "workdays bad date", args: []string{"workdays", "2025-09-30", "2025-02-30"}, code: 2, stderr: "TO “2025-02-30” 不是有效日期"},
		{name: "missing holidays file", args: []string{"workdays", "2025-09-30", "2025-10-10", "--holidays", "/nonexistent/h.txt"}, code: 2, stderr: "--holidays：节假日文件 /nonexistent/h.txt 不存在"},
		{name: "bad holidays file from env",
			vars: map[string]string{"YIPANQI_HOLIDAYS": bad},
			args: []string{"workdays", "2025-09-30", "2025-10-10"}, code: 2, stderr: "YIPANQI_HOLIDAYS：节假日文件 " + bad + " 第 2 行：类别“rest”应为"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCalendarCLI(t, tt.vars, tt.args...)
			if code != tt.code {
				t.Errorf("exit code = %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if stdout != tt.stdout {
				t.Errorf("stdout = %q, want %q", stdout, tt.stdout)
			}
			if tt.exact && stderr != tt.stderr || !tt.exact && !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr = %q, want %q", stderr, tt.stderr)
			}
		})
	}
}
