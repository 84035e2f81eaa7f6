package assess

import (
	_ "embed"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"yipanqi"
)

// Rules are the scoring rules of an assessment (deploy/assessment.sample.toml, described in
// docs/assessment.md): a unit starts from Base, earns each weight in proportion to its rate,
// gains bonus points and loses deductions per case (each capped), adds the manual entries of
// the level above (capped), and the total is kept between Floor and Cap.
type Rules struct {
	Name       string             `toml:"name"`
	Base       float64            `toml:"base"`  // 基础分
	Full       float64            `toml:"full"`  // 满分: Base + the weights
	Cap        float64            `toml:"cap"`   // 封顶, with bonus points
	Floor      float64            `toml:"floor"` // 保底
	Weights    map[string]float64 `toml:"weights"`
	Bonus      map[string]PerCase `toml:"bonus"`
	Deductions map[string]PerCase `toml:"deductions"`
	// Manual caps the sums of the manual bonus and deduction entries ([manual_cap]).
	Manual struct{ Bonus, Deduction float64 } `toml:"manual_cap"`
}

// PerCase is points per Per cases of a figure, at most Cap in all.
type PerCase struct {
	Points float64 `toml:"points"`
	Per    int64   `toml:"per"`
	Cap    float64 `toml:"cap"`
}

// Rate and count names the rules may use, with their Chinese labels.
var (
	rateLabels = map[string]string{
		"on_time_rate":          "按时答复率",
		"cert_7d_rate":          "婚育证明7个工作日内办结率",
		"petition_outcome_rate": "信访转办结果反馈率",
	}
	countLabels = map[string]string{
		"received":          "收件",
		"late":              "逾期答复",
		"overdue":           "仍超期未答复",
		"service_results":   "服务结果通报签收",
		"petitions_outcome": "信访转办结果反馈",
	}
)

// DefaultRules are the rules of deploy/assessment.sample.toml.
func DefaultRules() *Rules {
	r, err := ParseRules(SampleRules, "assessment.sample.toml")
	if err != nil {
		panic("assess: sample rules: " + err.Error())
	}
	return r
}

// LoadRules reads a rules file. Errors as ParseRules, and EINVALID for a file that cannot be
// read.
func LoadRules(path string) (*Rules, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "rules", "无法读取评分规则文件 %s：%v", path, err)
	}
	return ParseRules(string(b), path)
}

// ParseRules reads rules from TOML text. A file that does not parse, an unknown key or metric,
// a negative number, or weights that do not add up (Base + weights ≠ Full, Full > Cap,
// Floor > Base) is EINVALID with a message naming the file, the line and the key.
func ParseRules(src, name string) (*Rules, error) {
	var r Rules
	r.Cap, r.Floor = math.NaN(), 0
	md, err := toml.Decode(src, &r)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "rules", "评分规则文件 %s 第 %d 行无法解析：%s", name, pe.Position.Line, pe.Message)
		}
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "rules", "评分规则文件 %s 无法解析：%v", name, err)
	}
	bad := func(key, format string, args ...any) error {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "rules", "评分规则文件 %s 第 %d 行（%s）：%s", name, lineOf(src, key), key,
			fmt.Sprintf(format, args...))
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, bad(und[0].String(), "未知的配置项")
	}
	if !md.IsDefined("base") || !md.IsDefined("full") {
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "rules", "评分规则文件 %s 缺少 base（基础分）或 full（满分）", name)
	}
	if math.IsNaN(r.Cap) {
		r.Cap = r.Full
	}
	// TOML has nan and inf: no score may be one (NaN passes every comparison below).
	type num struct {
		key string
		v   float64
	}
	nums := []num{{"base", r.Base}, {"full", r.Full}, {"cap", r.Cap}, {"floor", r.Floor},
		{"manual_cap", r.Manual.Bonus}, {"manual_cap", r.Manual.Deduction}}
	for k, w := range r.Weights {
		nums = append(nums, num{"weights." + k, w})
	}
	for k, p := range r.Bonus {
		nums = append(nums, num{"bonus." + k, p.Points}, num{"bonus." + k, p.Cap})
	}
	for k, p := range r.Deductions {
		nums = append(nums, num{"deductions." + k, p.Points}, num{"deductions." + k, p.Cap})
	}
	for _, n := range nums {
		if math.IsNaN(n.v) || math.IsInf(n.v, 0) {
			return nil, bad(n.key, "分值须为有限的数，不能是 nan 或 inf")
		}
	}
	sum := r.Base
	for _, k := range sortedKeys(r.Weights) {
		w := r.Weights[k]
		switch {
		case rateLabels[k] == "":
			return nil, bad("weights."+k, "未知的比率指标，可用：%s", strings.Join(sortedKeys(rateLabels), "、"))
		case w < 0:
			return nil, bad("weights."+k, "分值不能为负数")
		}
		sum += w
	}
	for _, sec := range []struct {
		name string
		m    map[string]PerCase
	}{{"bonus", r.Bonus}, {"deductions", r.Deductions}} {
		for _, k := range sortedKeys(sec.m) {
			p := sec.m[k]
			switch {
			case countLabels[k] == "":
				return nil, bad(sec.name+"."+k, "未知的计件指标，可用：%s", strings.Join(sortedKeys(countLabels), "、"))
			case p.Points < 0 || p.Cap < 0 || p.Per < 0:
				return nil, bad(sec.name+"."+k, "分值、件数和上限不能为负数")
			}
			if p.Per == 0 {
				p.Per = 1
				sec.m[k] = p
			}
		}
	}
	switch {
	case r.Base < 0 || r.Manual.Bonus < 0 || r.Manual.Deduction < 0:
		return nil, bad("base", "基础分与人工加减分上限不能为负数")
	case math.Abs(sum-r.Full) > 1e-9:
		return nil, bad("full", "权重不一致：基础分 %g 加各项权重之和为 %g，不等于满分 %g", r.Base, sum, r.Full)
	case r.Cap < r.Full:
		return nil, bad("cap", "封顶分 %g 低于满分 %g", r.Cap, r.Full)
	case r.Floor > r.Base:
		return nil, bad("floor", "保底分 %g 高于基础分 %g", r.Floor, r.Base)
	}
	if r.Name == "" {
		r.Name = name
	}
	return &r, nil
}

// lineOf finds the line of a key ("weights.on_time_rate", "bonus.late", "full") in the
// TOML text: the key's line inside its table, or the table's header; 0 when not found.
func lineOf(src, key string) int {
	table, leaf := "", key
	if i := strings.LastIndex(key, "."); i >= 0 {
		table, leaf = key[:i], key[i+1:]
	}
	cur, header := "", 0
	for n, line := range strings.Split(src, "\n") {
		s := strings.TrimSpace(line)
		if strings.HasPrefix(s, "[") {
			cur = strings.Trim(s, "[] ")
			if i := strings.IndexByte(cur, '#'); i >= 0 {
				cur = strings.TrimSpace(cur[:i])
			}
			if cur == key {
				header = n + 1
			}
			continue
		}
		k, _, ok := strings.Cut(s, "=")
		if ok && cur == table && strings.Trim(strings.TrimSpace(k), `"`) == leaf {
			return n + 1
		}
	}
	return header
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Item is one line of a score.
type Item struct {
	Name   string  `json:"name"`
	Label  string  `json:"label"`
	Value  float64 `json:"value"` // the rate or the count it is scored on
	Points float64 `json:"points"`
}

// Score is a unit's score and how it was made.
type Score struct {
	Base       float64 `json:"base"`
	Weighted   []Item  `json:"weighted"`
	Bonus      []Item  `json:"bonus"`
	Deductions []Item  `json:"deductions"`
	Manual     float64 `json:"manual"` // the manual entries' sum after their caps
	Total      float64 `json:"total"`
}

// Score scores figures with the manual entries' bonus (≥ 0) and deduction (≥ 0) sums.
func (r *Rules) Score(f *Figures, manualBonus, manualDeduction float64) Score {
	s := Score{Base: r.Base}
	total := r.Base
	for _, k := range sortedKeys(r.Weights) {
		v := f.rate(k)
		p := round2(r.Weights[k] * v)
		s.Weighted = append(s.Weighted, Item{Name: k, Label: rateLabels[k], Value: v, Points: p})
		total += p
	}
	per := func(m map[string]PerCase, sign float64) []Item {
		var out []Item
		for _, k := range sortedKeys(m) {
			pc := m[k]
			n := f.count(k)
			p := float64(n/pc.Per) * pc.Points
			if pc.Cap > 0 {
				p = min(p, pc.Cap)
			}
			p = round2(p)
			out = append(out, Item{Name: k, Label: countLabels[k], Value: float64(n), Points: sign * p})
			total += sign * p
		}
		return out
	}
	s.Bonus = per(r.Bonus, 1)
	s.Deductions = per(r.Deductions, -1)
	s.Manual = round2(min(manualBonus, r.Manual.Bonus) - min(manualDeduction, r.Manual.Deduction))
	total += s.Manual
	s.Total = round2(max(r.Floor, min(r.Cap, total)))
	return s
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// SampleRules is the text of deploy/assessment.sample.toml (a test keeps the two the same).
//
//go:embed assessment.sample.toml
var SampleRules string
