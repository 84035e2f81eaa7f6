package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"golang.org/x/text/width"

	"yipanqi"
)

const catalogUsage = `用法：
  yipanqi catalog [--format table|json]   案件类型目录：类型、名称、发送方→接收方、需答复、期限、文书
  yipanqi catalog [--format table|json] TYPE   一个类型的全部规定：字段、答复选项、期限、提醒、督办`

// runCatalog prints the case-type catalog (ARCHITECTURE §2), or one type of it.
func runCatalog(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("catalog", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	format := fs.String("format", "table", "")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			fmt.Fprintln(env.Stdout, catalogUsage)
			return nil
		}
		return usageError("catalog 参数错误：%v\n%s", err, catalogUsage)
	}
	if *format != "table" && *format != "json" {
		return usageError("--format 应为 table 或 json，收到“%s”", *format)
	}
	if fs.NArg() > 1 {
		return usageError("catalog 最多接受一个类型名\n%s", catalogUsage)
	}
	cat := yipanqi.Catalog()
	types := cat.Types()
	if fs.NArg() == 1 {
		t, err := cat.Type(fs.Arg(0))
		if err != nil {
			return exitCode(2, err)
		}
		types = []*yipanqi.CaseType{t}
	}
	if *format == "json" {
		return catalogJSON(env.Stdout, types, fs.NArg() == 1)
	}
	if fs.NArg() == 1 {
		catalogDetail(env.Stdout, types[0])
		return nil
	}
	catalogTable(env.Stdout, types)
	return nil
}

// catalogJSONType is a type as `catalog --format json` writes it: the catalog's own JSON
// names, with levels by name rather than number.
type catalogJSONType struct {
	*yipanqi.CaseType
	Levels []string `json:"levels"`
}

func catalogJSON(w io.Writer, types []*yipanqi.CaseType, one bool) error {
	out := make([]catalogJSONType, len(types))
	for i, t := range types {
		out[i] = catalogJSONType{CaseType: t}
		for _, l := range t.Levels {
			out[i].Levels = append(out[i].Levels, levelName(l))
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if one {
		return enc.Encode(out[0])
	}
	return enc.Encode(struct {
		Types []catalogJSONType `json:"types"`
	}{out})
}

// levelName is the English name of a level in the JSON output.
func levelName(l yipanqi.Level) string {
	switch l {
	case yipanqi.LevelProvince:
		return "province"
	case yipanqi.LevelCity:
		return "city"
	case yipanqi.LevelCounty:
		return "county"
	case yipanqi.LevelTownship:
		return "township"
	case yipanqi.LevelVillage:
		return "village"
	}
	return fmt.Sprint(int(l))
}

// catalogDirection is "现居住地→户籍地" and the like.
func catalogDirection(t *yipanqi.CaseType) string {
	to := t.To.Label()
	if t.From == yipanqi.SideEither && t.To == yipanqi.SideEither {
		to = "对方"
	}
	return t.From.Label() + "→" + to
}

// catalogDeadlines is the deadlines in words, or how the type is answered when it has none.
func catalogDeadlines(t *yipanqi.CaseType) string {
	if len(t.Deadlines) == 0 {
		return t.Answer.Label()
	}
	if len(t.Deadlines) == 1 {
		return t.Deadlines[0].Text()
	}
	parts := make([]string, len(t.Deadlines))
	for i, d := range t.Deadlines {
		parts[i] = d.Label + " " + d.Text()
		if d.From == yipanqi.FromAcceptance {
			parts[i] += "（自受理）"
		}
	}
	return strings.Join(parts, "；")
}

func yesNo(b bool) string {
	if b {
		return "是"
	}
	return "否"
}

func catalogTable(w io.Writer, types []*yipanqi.CaseType) {
	rows := [][]string{{"类型", "名称", "发送方→接收方", "需答复", "期限", "文书"}}
	for _, t := range types {
		docs := strings.Join(t.Documents, "、")
		if docs == "" {
			docs = "—"
		}
		rows = append(rows, []string{t.Name, t.Label, catalogDirection(t), yesNo(t.NeedsReply), catalogDeadlines(t), docs})
	}
	writeAligned(w, rows)
}

// writeAligned writes rows as columns two spaces apart, padded by display width (a Chinese
// character takes two columns of a terminal).
func writeAligned(w io.Writer, rows [][]string) {
	widths := map[int]int{}
	for _, row := range rows {
		for i, cell := range row {
			widths[i] = max(widths[i], displayWidth(cell))
		}
	}
	for _, row := range rows {
		var b strings.Builder
		for i, cell := range row {
			b.WriteString(cell)
			if i < len(row)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-displayWidth(cell)+2))
			}
		}
		fmt.Fprintln(w, b.String())
	}
}

func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		switch width.LookupRune(r).Kind() {
		case width.EastAsianWide, width.EastAsianFullwidth:
			n += 2
		default:
			n++
		}
	}
	return n
}

// catalogDetail prints everything one type declares.
func catalogDetail(w io.Writer, t *yipanqi.CaseType) {
	fmt.Fprintf(w, "%s  %s（依据 %s）\n", t.Name, t.Label, t.Seed)
	fmt.Fprintf(w, "用途：%s\n", t.Purpose)
	levels := make([]string, len(t.Levels))
	for i, l := range t.Levels {
		levels[i] = l.Label()
	}
	fmt.Fprintf(w, "发送：%s，%s单位\n", catalogDirection(t), strings.Join(levels, "、"))
	if t.Consent != nil {
		fmt.Fprintf(w, "敏感个人信息：须本人单独同意，目的：%s；接收方：%s\n", t.Consent.Purpose, t.Consent.Recipient.Label())
	}
	fmt.Fprintln(w, "字段：")
	writeFields(w, t.Fields, "  ")
	fmt.Fprintf(w, "答复：%s\n", t.Answer.Label())
	for _, r := range t.Replies {
		line := fmt.Sprintf("  %s（%s）", r.Value, r.Label)
		if r.ReasonRequired {
			line += "，须说明原因"
			if len(r.ReasonOptions) > 0 {
				line += "：" + optionList(r.ReasonOptions)
			}
		}
		fmt.Fprintln(w, line)
		writeFields(w, r.Fields, "    ")
	}
	for _, d := range t.Deadlines {
		from := "签收"
		if d.From == yipanqi.FromAcceptance {
			from = "受理"
		}
		fmt.Fprintf(w, "期限：%s，自%s起 %s\n", d.Label, from, d.Text())
	}
	if len(t.Reminders) > 0 {
		parts := make([]string, len(t.Reminders))
		for i, r := range t.Reminders {
			if r.Hours > 0 {
				parts[i] = fmt.Sprintf("%d小时", r.Hours)
			} else {
				parts[i] = fmt.Sprintf("%d个工作日", r.WorkingDays)
			}
		}
		fmt.Fprintf(w, "提醒：期限前 %s\n", strings.Join(parts, "、"))
	}
	for _, e := range t.Escalation {
		when := "期限届满即"
		if e.AfterWorkingDays > 0 {
			when = fmt.Sprintf("逾期 %d 个工作日后", e.AfterWorkingDays)
		}
		fmt.Fprintf(w, "督办：%s列入上 %d 级督办\n", when, e.LevelsUp)
	}
	if len(t.Documents) > 0 {
		fmt.Fprintf(w, "文书：%s\n", strings.Join(t.Documents, "、"))
	}
}

func optionList(opts []yipanqi.Option) string {
	parts := make([]string, len(opts))
	for i, o := range opts {
		parts[i] = o.Label + "（" + o.Value + "）"
	}
	return strings.Join(parts, "、")
}

// kindLabel names a field kind in the detail view.
func kindLabel(k yipanqi.FieldKind) string {
	switch k {
	case yipanqi.KindText:
		return "文本"
	case yipanqi.KindDate:
		return "日期"
	case yipanqi.KindDivision:
		return "行政区划代码"
	case yipanqi.KindIDNumber:
		return "公民身份号码"
	case yipanqi.KindEnum:
		return "选项"
	case yipanqi.KindBool:
		return "是/否"
	case yipanqi.KindNumber:
		return "整数"
	case yipanqi.KindCorrections:
		return "更正的字段及其值"
	case yipanqi.KindList:
		return "条目列表"
	}
	return string(k)
}

func writeFields(w io.Writer, fields []yipanqi.FieldSpec, indent string) {
	for _, f := range fields {
		req := "选填"
		if f.Required {
			req = "必填"
		}
		line := fmt.Sprintf("%s%s  %s  %s，%s", indent, f.Name, f.Label, req, kindLabel(f.Kind))
		switch {
		case f.Kind == yipanqi.KindText:
			line += fmt.Sprintf("，至多 %d 字", f.MaxLen)
		case f.Kind == yipanqi.KindEnum:
			line += "：" + optionList(f.Options)
		}
		fmt.Fprintln(w, line)
		writeFields(w, f.Items, indent+"    ")
	}
}
