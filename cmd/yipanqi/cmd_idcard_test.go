package main

import (
	"strings"
	"testing"
	"time"
)

// runIDCardCLI runs Main with the given clock and returns the exit code, stdout and stderr.
func runIDCardCLI(t *testing.T, now time.Time, args ...string) (int, string, string) {
	t.Helper()
	return cliRun(t, now, nil, args...)
}

func TestIDCardCommand(t *testing.T) {
	now := time.Date(2025, 6, 15, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string // a substring; "" means stderr must be empty
	}{
		{
			name:   "valid",
			args:   []string{"idcard", "check", "11010519491231002X"},
			stdout: "11010519491231002X ok 11010519491231002X 1949-12-31 女\n",
		},
		{
			name:   "lower-case x and a legacy number",
			args:   []string{"idcard", "check", "11010519491231002x", "440103820615123"},
			stdout: "11010519491231002x ok 11010519491231002X 1949-12-31 女\n440103820615123 ok 440103198206151238 1982-06-15 男\n",
		},
		{
			name: "one invalid among valid ones",
			args: []string{"idcard", "check", "11010519491231002X", "110105194912310021", "12345"},
			code: 1,
			stdout: "11010519491231002X ok 11010519491231002X 1949-12-31 女\n" +
				"110105194912310021 invalid: 校验码（第 18 位）错误：与前 17 位不符\n" +
				"12345 invalid: 公民身份号码应为 18 位（或 15 位旧号码），实际为 5 位\n",
		},
		{
			name:   "bad date",
			args:   []string{"idcard", "check", "440103199902301230"},
			code:   1,
			stdout: "440103199902301230 invalid: 出生日期（第 7–14 位）不是有效日期\n",
		},
		{"no subcommand", []string{"idcard"}, 2, "", "缺少子命令"},
		{"no numbers", []string{"idcard", "check"}, 2, "", "缺少参数 ID"},
		{"unknown subcommand", []string{"idcard", "verify", "x"}, 2, "", "未知子命令“verify”"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runIDCardCLI(t, now, tt.args...)
			if code != tt.code {
				t.Errorf("exit code = %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if stdout != tt.stdout {
				t.Errorf("stdout = %q\nwant     %q", stdout, tt.stdout)
			}
			if tt.stderr == "" && stderr != "" || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tt.stderr)
			}
		})
	}
}

// TestIDCardCommandTodayInShanghai: at 20:00 UTC on 14 June it is already 15 June in Shanghai,
// so a person born on 15 June is not born in the future.
func TestIDCardCommandTodayInShanghai(t *testing.T) {
	const born15June = "440103202506151239"
	code, stdout, _ := runIDCardCLI(t, time.Date(2025, 6, 14, 20, 0, 0, 0, time.UTC), "idcard", "check", born15June)
	if code != 0 || !strings.Contains(stdout, " ok ") {
		t.Errorf("at 04:00 Shanghai on 15 June: exit %d, %q; want accepted", code, stdout)
	}
	code, stdout, _ = runIDCardCLI(t, time.Date(2025, 6, 14, 15, 0, 0, 0, time.UTC), "idcard", "check", born15June)
	if code != 1 || !strings.Contains(stdout, "晚于今天") {
		t.Errorf("at 23:00 Shanghai on 14 June: exit %d, %q; want rejected as in the future", code, stdout)
	}
}
