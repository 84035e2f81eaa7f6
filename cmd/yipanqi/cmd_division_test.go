package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runDivisionCLI runs Main with the given arguments and environment variables and returns the
// exit status, stdout and stderr.
func runDivisionCLI(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	return cliRun(t, time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC), vars, args...)
}

func TestDivisionCommand(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string   // exact; "" means empty
		stderrHas  []string // texts stderr must contain
	}{
		{
			name:     "show village",
			args:     []string{"division", "show", "440106001001"},
			wantCode: 0,
			wantStdout: "44 广东省\n4401 广州市\n440106 天河区\n440106001 五山街道\n440106001001 岳洲社区居委会\n" +
				"全称：广东省广州市天河区五山街道岳洲社区居委会\n",
		},
		{
			name:       "show keeps placeholders in the path, not in the full name",
			args:       []string{"division", "show", "500101"},
			wantStdout: "50 重庆市\n5001 市辖区\n500101 万州区\n全称：重庆市万州区\n",
		},
		{
			name:       "show directly governed county",
			args:       []string{"division", "show", "429004"},
			wantStdout: "42 湖北省\n4290 省直辖县级行政区划\n429004 仙桃市\n全称：湖北省仙桃市\n",
		},
		{
			name:      "show unknown code",
			args:      []string{"division", "show", "440199"},
			wantCode:  1,
			stderrHas: []string{"行政区划代码“440199”不存在"},
		},
		{
			name:      "show malformed code",
			args:      []string{"division", "show", "44x1"},
			wantCode:  1,
			stderrHas: []string{"行政区划代码“44x1”格式错误"},
		},
		{
			name:      "show village outside Pan-PRD",
			args:      []string{"division", "show", "110101001001"},
			wantCode:  1,
			stderrHas: []string{"泛珠三角"},
		},
		{
			name:      "show without code",
			args:      []string{"division", "show"},
			wantCode:  2,
			stderrHas: []string{"缺少参数 CODE", "用法"},
		},
		{
			name:      "show with two codes",
			args:      []string{"division", "show", "44", "45"},
			wantCode:  2,
			stderrHas: []string{"只接受一个"},
		},
		{
			name:      "no subcommand",
			args:      []string{"division"},
			wantCode:  2,
			stderrHas: []string{"缺少子命令"},
		},
		{
			name:      "unknown subcommand",
			args:      []string{"division", "list"},
			wantCode:  2,
			stderrHas: []string{"未知子命令“list”"},
		},
		{
			name:       "children",
			args:       []string{"division", "children", "4290"},
			wantStdout: "429004 仙桃市\n429005 潜江市\n429006 天门市\n429021 神农架林区\n",
		},
		{
			name:       "children of a village",
			args:       []string{"division", "children", "440106001001"},
			wantStdout: "",
		},
		{
			name:      "children unknown",
			args:      []string{"division", "children", "99"},
			wantCode:  1,
			stderrHas: []string{"“99”不存在"},
		},
		{
			name:       "search, shallow levels first",
			args:       []string{"division", "search", "-n", "2", "仙桃"},
			wantStdout: "429004 湖北省仙桃市\n500112023 重庆市渝北区仙桃街道\n",
			stderrHas:  []string{"只列出前 2 条"},
		},
		{
			name:       "search finds villages",
			args:       []string{"division", "search", "岳洲社区"},
			wantStdout: "440106001001 广东省广州市天河区五山街道岳洲社区居委会\n",
		},
		{
			name:       "search stops at the limit",
			args:       []string{"division", "search", "-n", "1", "天河"},
			wantStdout: "440106 广东省广州市天河区\n",
			stderrHas:  []string{"只列出前 1 条"},
		},
		{
			name:      "search finds nothing",
			args:      []string{"division", "search", "不存在的地名"},
			stderrHas: []string{"没有名称含“不存在的地名”"},
		},
		{
			name:      "search bad limit",
			args:      []string{"division", "search", "-n", "0", "天河"},
			wantCode:  2,
			stderrHas: []string{"-n 应为正整数"},
		},
		{
			name:      "search without name",
			args:      []string{"division", "search"},
			wantCode:  2,
			stderrHas: []string{"NAME"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runDivisionCLI(t, nil, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr: %s", code, tt.wantCode, stderr)
			}
			if stdout != tt.wantStdout {
				t.Errorf("stdout:\n%s\nwant:\n%s", stdout, tt.wantStdout)
			}
			for _, w := range tt.stderrHas {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q lacks %q", stderr, w)
				}
			}
			if len(tt.stderrHas) == 0 && stderr != "" {
				t.Errorf("unexpected stderr: %s", stderr)
			}
		})
	}
}

// TestDivisionCommandDataDir points YIPANQI_DIVISIONS at a directory of newer data: the
// command uses it instead of the embedded data, and reports bad data naming the variable.
func TestDivisionCommandDataDir(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"provinces.csv": "code,name\n44,\"广东省\"\n",
		"cities.csv":    "code,name,provinceCode\n4401,\"广州市\",44\n",
		"areas.csv":     "code,name,cityCode,provinceCode\n440199,\"新区\",4401,44\n",
		"streets.csv":   "code,name,areaCode,provinceCode,cityCode\n440199001,\"新街道\",440199,44,4401\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	vars := map[string]string{"YIPANQI_DIVISIONS": dir}
	code, stdout, stderr := runDivisionCLI(t, vars, "division", "show", "440199001")
	if code != 0 || stdout != "44 广东省\n4401 广州市\n440199 新区\n440199001 新街道\n全称：广东省广州市新区新街道\n" {
		t.Errorf("show with newer data: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	// 440106 is in the embedded data but not in the newer set.
	if code, _, stderr := runDivisionCLI(t, vars, "division", "show", "440106"); code != 1 || !strings.Contains(stderr, "不存在") {
		t.Errorf("show 440106 with newer data: exit %d, stderr %q", code, stderr)
	}

	if err := os.Remove(filepath.Join(dir, "streets.csv")); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runDivisionCLI(t, vars, "division", "show", "44")
	if code != 1 || !strings.Contains(stderr, "YIPANQI_DIVISIONS") || !strings.Contains(stderr, "缺少文件 streets.csv") {
		t.Errorf("show with incomplete data: exit %d, stderr %q", code, stderr)
	}
}
