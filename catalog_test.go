package yipanqi_test

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"yipanqi"
	"yipanqi/idcard"
)

// TestCatalogConsistency checks the catalog as the architecture asks of every entry.
func TestCatalogConsistency(t *testing.T) {
	cat := yipanqi.Catalog()
	types := cat.Types()
	if len(types) == 0 {
		t.Fatal("the catalog is empty")
	}
	seen := map[string]bool{}
	for _, ct := range types {
		t.Run(ct.Name, func(t *testing.T) {
			if seen[ct.Name] {
				t.Errorf("name %s twice", ct.Name)
			}
			seen[ct.Name] = true
			if ct.Label == "" || ct.Purpose == "" || ct.Seed == "" {
				t.Errorf("label %q, purpose %q, seed %q: none may be empty", ct.Label, ct.Purpose, ct.Seed)
			}
			if len(ct.Fields) == 0 {
				t.Error("no fields")
			}
			if ct.NeedsReply != (len(ct.Replies) > 0) {
				t.Errorf("NeedsReply %v with %d replies", ct.NeedsReply, len(ct.Replies))
			}
			if ct.Sensitive && (ct.Consent == nil || !ct.Consent.Separate || ct.Consent.Purpose == "") {
				t.Errorf("sensitive without separate consent and its purpose: %+v", ct.Consent)
			}
			if ct.Sensitive {
				// SCOPE.md: the minimum, never free-text clinical notes. A short text is a name.
				for _, f := range ct.Fields {
					if f.Kind == yipanqi.KindText && f.MaxLen > 100 {
						t.Errorf("sensitive type has free text %s of %d characters", f.Name, f.MaxLen)
					}
				}
			}
			for i, d := range ct.Deadlines {
				units := 0
				for _, n := range []int{d.WorkingDays, d.CalendarDays, d.Hours} {
					if n > 0 {
						units++
					}
				}
				if units != 1 || d.Text() == "" || (i == 0 && d.From != yipanqi.FromReceipt) {
					t.Errorf("deadline %d %+v: want exactly one unit, and the first from receipt", i, d)
				}
			}
			if ct.Answer == yipanqi.AnswerStaff && len(ct.Deadlines) == 0 {
				t.Error("a person answers but there is no deadline")
			}
			got, err := cat.Type(ct.Name)
			if err != nil || got.Name != ct.Name {
				t.Errorf("Type(%q) = %v, %v", ct.Name, got, err)
			}
		})
	}
	// Types is a stable order.
	again := yipanqi.Catalog().Types()
	for i := range types {
		if again[i].Name != types[i].Name {
			t.Fatalf("Types()[%d] is %s, then %s", i, types[i].Name, again[i].Name)
		}
	}
	const unknown = "no.such.type"
	if _, err := cat.Type(unknown); yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND || !strings.Contains(yipanqi.ErrorMessage(err), unknown) {
		t.Errorf("Type(%q) = %v, want ENOTFOUND naming it", unknown, err)
	}
}

// staffType returns a copy of the catalog's first type that a person answers by a deadline.
func staffType(tb testing.TB) yipanqi.CaseType {
	tb.Helper()
	for _, ct := range yipanqi.Catalog().Types() {
		if ct.Answer == yipanqi.AnswerStaff && len(ct.Deadlines) > 0 && len(ct.Reminders) > 0 {
			return *ct
		}
	}
	tb.Fatal("no staff-answered type in the catalog")
	return yipanqi.CaseType{}
}

// TestNewCatalogRejects: each defect in an otherwise valid entry is refused.
func TestNewCatalogRejects(t *testing.T) {
	tests := []struct {
		name   string
		change func(ct *yipanqi.CaseType, extra *[]yipanqi.CaseType)
		valid  bool
	}{
		{"unchanged", func(*yipanqi.CaseType, *[]yipanqi.CaseType) {}, true},
		{"bad name", func(ct *yipanqi.CaseType, _ *[]yipanqi.CaseType) { ct.Name = "Verify-Identity" }, false},
		{"duplicate name", func(ct *yipanqi.CaseType, extra *[]yipanqi.CaseType) { *extra = append(*extra, *ct) }, false},
		{"no label", func(ct *yipanqi.CaseType, _ *[]yipanqi.CaseType) { ct.Label = "" }, false},
		{"no purpose", func(ct *yipanqi.CaseType, _ *[]yipanqi.CaseType) { ct.Purpose = "" }, false},
		{"no fields", func(ct *yipanqi.CaseType, _ *[]yipanqi.CaseType) { ct.Fields = nil }, false},
		{"unknown side", func(ct *yipanqi.CaseType, _ *[]yipanqi.CaseType) { ct.From = "anywhere" }, false},
		{"no levels", func(ct *yipanqi.CaseType, _ *[]yipanqi.CaseType) { ct.Levels = nil }, false},
		{"replies without NeedsReply", func(ct *yipanqi.CaseType, _ *[]yipanqi.CaseType) {
			ct.NeedsReply, ct.Answer, ct.Deadlines, ct.Reminders, ct.Escalation = false, yipanqi.AnswerReceipt, nil, nil, nil
		}, false},
		{"NeedsReply without replies", func(ct *yipanqi.CaseType, _ *[]yipanqi.CaseType) { ct.Replies = nil }, false},
		{"sensitive without consent", func(ct *yipanqi.CaseType, _ *[]yipanqi.CaseType) { ct.Sensitive = true }, false},
		{"consent not separate", func(ct *yipanqi.CaseType, _ *[]yipanqi.CaseType) {
			ct.Sensitive, ct.Consent = true, &yipanqi.ConsentRule{Purpose: "x", Recipient: yipanqi.SideHometown}
		}, false},
		{"staff answer without deadline", func(ct *yipanqi.CaseType, _ *[]yipanqi.CaseType) {
			ct.Deadlines, ct.Reminders, ct.Escalation = nil, nil, nil
		}, false},
		{"deadline with two units", func(ct *yipanqi.CaseType, _ *[]yipanqi.CaseType) {
			ct.Deadlines = append([]yipanqi.DeadlineSpec(nil), ct.Deadlines...)
			ct.Deadlines[0].Hours = 24
		}, false},
		{"first deadline from acceptance", func(ct *yipanqi.CaseType, _ *[]yipanqi.CaseType) {
			ct.Deadlines = append([]yipanqi.DeadlineSpec(nil), ct.Deadlines...)
			ct.Deadlines[0].From = yipanqi.FromAcceptance
		}, false},
		{"reminder after the deadline", func(ct *yipanqi.CaseType, _ *[]yipanqi.CaseType) {
			d := ct.Deadlines[0]
			ct.Reminders = []yipanqi.Reminder{{WorkingDays: d.WorkingDays + d.CalendarDays, Hours: d.Hours}}
		}, false},
		{"escalation not rising", func(ct *yipanqi.CaseType, _ *[]yipanqi.CaseType) {
			ct.Escalation = []yipanqi.Escalation{{LevelsUp: 1}, {LevelsUp: 1, AfterWorkingDays: 2}}
		}, false},
		{"enum without options", func(ct *yipanqi.CaseType, _ *[]yipanqi.CaseType) {
			ct.Fields = append(ct.Fields[:len(ct.Fields):len(ct.Fields)], yipanqi.FieldSpec{Name: "kind", Label: "类别", Kind: yipanqi.KindEnum})
		}, false},
		{"text without length", func(ct *yipanqi.CaseType, _ *[]yipanqi.CaseType) {
			ct.Fields = append(ct.Fields[:len(ct.Fields):len(ct.Fields)], yipanqi.FieldSpec{Name: "memo", Label: "说明", Kind: yipanqi.KindText})
		}, false},
		{"duplicate field", func(ct *yipanqi.CaseType, _ *[]yipanqi.CaseType) {
			ct.Fields = append(ct.Fields[:len(ct.Fields):len(ct.Fields)], ct.Fields[0])
		}, false},
		{"unknown kind", func(ct *yipanqi.CaseType, _ *[]yipanqi.CaseType) {
			ct.Fields = append(ct.Fields[:len(ct.Fields):len(ct.Fields)], yipanqi.FieldSpec{Name: "blob", Label: "附件", Kind: "blob"})
		}, false},
		{"duplicate reply", func(ct *yipanqi.CaseType, _ *[]yipanqi.CaseType) {
			ct.Replies = append(ct.Replies[:len(ct.Replies):len(ct.Replies)], ct.Replies[0])
		}, false},
		{"reason options without reason", func(ct *yipanqi.CaseType, _ *[]yipanqi.CaseType) {
			ct.Replies = append(ct.Replies[:len(ct.Replies):len(ct.Replies)],
				yipanqi.ReplySpec{Value: "maybe", Label: "待定", ReasonOptions: []yipanqi.Option{{Value: "x", Label: "某"}}})
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := staffType(t)
			var extra []yipanqi.CaseType
			tt.change(&ct, &extra)
			_, err := yipanqi.NewCatalog(append([]yipanqi.CaseType{ct}, extra...))
			if tt.valid && err != nil {
				t.Fatalf("NewCatalog: %v", err)
			}
			if !tt.valid && (yipanqi.ErrorCode(err) != yipanqi.EINVALID || !strings.Contains(yipanqi.ErrorMessage(err), ct.Name)) {
				t.Fatalf("NewCatalog = %v, want EINVALID naming %s", err, ct.Name)
			}
		})
	}
}

// validIDNumber is a resident ID number with a right check character.
var validIDNumber = idcard.Make("440106", yipanqi.Date{Year: 1990, Month: 3, Day: 14}, 123)

// sample returns a valid value for f, given the type (corrections name one of its fields).
func sample(ct *yipanqi.CaseType, f *yipanqi.FieldSpec) any {
	switch f.Kind {
	case yipanqi.KindText:
		return strings.Repeat("字", min(f.MaxLen, 3))
	case yipanqi.KindDate:
		return "2025-09-26"
	case yipanqi.KindDivision:
		return "440106"
	case yipanqi.KindIDNumber:
		return validIDNumber
	case yipanqi.KindEnum:
		return f.Options[len(f.Options)-1].Value
	case yipanqi.KindBool:
		return false
	case yipanqi.KindNumber:
		return 2
	case yipanqi.KindCorrections:
		for i := range ct.Fields {
			if ct.Fields[i].IsString() {
				return map[string]any{ct.Fields[i].Name: sample(ct, &ct.Fields[i])}
			}
		}
	case yipanqi.KindList:
		return []any{sampleObject(ct, f.Items)}
	}
	return nil
}

// wrong returns a value of the wrong kind or shape for f.
func wrong(f *yipanqi.FieldSpec) any {
	switch f.Kind {
	case yipanqi.KindText:
		return strings.Repeat("字", f.MaxLen+1)
	case yipanqi.KindDate:
		return "2025-02-30"
	case yipanqi.KindDivision:
		return "44010"
	case yipanqi.KindIDNumber:
		last := validIDNumber[17]
		return validIDNumber[:17] + map[bool]string{true: "0", false: "1"}[last != '0']
	case yipanqi.KindEnum:
		return "no_such_option"
	case yipanqi.KindBool:
		return "yes"
	case yipanqi.KindNumber:
		return 1.5
	case yipanqi.KindCorrections:
		return map[string]any{"no_such_field": "x"}
	case yipanqi.KindList:
		return "not a list"
	}
	return nil
}

func sampleObject(ct *yipanqi.CaseType, specs []yipanqi.FieldSpec) map[string]any {
	obj := map[string]any{}
	for i := range specs {
		obj[specs[i].Name] = sample(ct, &specs[i])
	}
	return obj
}

func mustJSON(tb testing.TB, v any) json.RawMessage {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// wantInvalid fails unless err is EINVALID about field with a message holding every part.
func wantInvalid(tb testing.TB, err error, field string, parts ...string) {
	tb.Helper()
	if yipanqi.ErrorCode(err) != yipanqi.EINVALID || yipanqi.ErrorField(err) != field {
		tb.Fatalf("error %v, want EINVALID on field %q", err, field)
	}
	for _, p := range parts {
		if !strings.Contains(yipanqi.ErrorMessage(err), p) {
			tb.Errorf("message %q does not contain %q", yipanqi.ErrorMessage(err), p)
		}
	}
}

// TestValidateRequest, for every type: a request with every field valid passes; without a
// required field, with a value of the wrong kind, or with a field the type does not declare,
// it is EINVALID naming the field.
func TestValidateRequest(t *testing.T) {
	cat := yipanqi.Catalog()
	for _, ct := range cat.Types() {
		t.Run(ct.Name, func(t *testing.T) {
			full := sampleObject(ct, ct.Fields)
			if err := cat.ValidateRequest(ct.Name, mustJSON(t, full)); err != nil {
				t.Fatalf("every field valid: %v", err)
			}
			for i := range ct.Fields {
				f := &ct.Fields[i]
				obj := sampleObject(ct, ct.Fields)
				if f.Required {
					delete(obj, f.Name)
					wantInvalid(t, ct.ValidateRequest(mustJSON(t, obj)), f.Name, "缺少必填字段", f.Label)
				} else {
					delete(obj, f.Name)
					if err := ct.ValidateRequest(mustJSON(t, obj)); err != nil {
						t.Errorf("without optional %s: %v", f.Name, err)
					}
				}
				obj = sampleObject(ct, ct.Fields)
				obj[f.Name] = wrong(f)
				err := ct.ValidateRequest(mustJSON(t, obj))
				if yipanqi.ErrorCode(err) != yipanqi.EINVALID || !strings.HasPrefix(yipanqi.ErrorField(err), f.Name) {
					t.Errorf("%s = %v: error %v, want EINVALID on it", f.Name, obj[f.Name], err)
				}
			}
			obj := sampleObject(ct, ct.Fields)
			obj["remarks_added_by_sender"] = "x"
			wantInvalid(t, ct.ValidateRequest(mustJSON(t, obj)), "remarks_added_by_sender", ct.Label)
			wantInvalid(t, ct.ValidateRequest(json.RawMessage(`["not","an","object"]`)), "fields")
		})
	}
	if err := cat.ValidateRequest("no.such.type", json.RawMessage(`{}`)); yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
		t.Errorf("unknown type: %v, want ENOTFOUND", err)
	}
}

// TestValidateRequestExchangeFields: the fields the exchange and the demo already send for
// the verify.* types stay valid.
func TestValidateRequestExchangeFields(t *testing.T) {
	cat := yipanqi.Catalog()
	demo := map[string]string{"id_number": validIDNumber, "name": "张三", "hukou_code": "440106001", "hukou_address": "天河区某街1号"}
	for _, name := range []string{"verify.identity", "verify.urgent"} {
		if err := cat.ValidateRequest(name, mustJSON(t, demo)); err != nil {
			t.Errorf("%s with the demo's fields: %v", name, err)
		}
		if err := cat.ValidateRequest(name, mustJSON(t, map[string]string{"id_number": validIDNumber, "reason": "核实户籍地址"})); err != nil {
			t.Errorf("%s with the engine tests' fields: %v", name, err)
		}
	}
}

// TestValidateReply, for every reply of every type: valid fields pass; a missing required
// field, a missing reason, a reason outside the options and "other" without its text are
// EINVALID naming the field; a reply the type does not take is refused.
func TestValidateReply(t *testing.T) {
	cat := yipanqi.Catalog()
	for _, ct := range cat.Types() {
		if len(ct.Replies) == 0 {
			t.Run(ct.Name, func(t *testing.T) {
				wantInvalid(t, ct.ValidateReply("confirmed", nil), "reply", ct.Label)
			})
			continue
		}
		for _, r := range ct.Replies {
			t.Run(ct.Name+"/"+r.Value, func(t *testing.T) {
				valid := func() map[string]any {
					obj := sampleObject(ct, r.Fields)
					if r.ReasonRequired {
						obj[yipanqi.ReasonField] = "原因"
						if len(r.ReasonOptions) > 0 {
							obj[yipanqi.ReasonField] = r.ReasonOptions[0].Value
						}
					}
					return obj
				}
				if err := cat.ValidateReply(ct.Name, r.Value, mustJSON(t, valid())); err != nil {
					t.Fatalf("valid reply: %v", err)
				}
				for _, f := range r.Fields {
					if f.Required {
						obj := valid()
						delete(obj, f.Name)
						wantInvalid(t, ct.ValidateReply(r.Value, mustJSON(t, obj)), f.Name, f.Label)
					}
				}
				obj := valid()
				obj["extra"] = "x"
				wantInvalid(t, ct.ValidateReply(r.Value, mustJSON(t, obj)), "extra", r.Label)
				if !r.ReasonRequired {
					return
				}
				obj = valid()
				delete(obj, yipanqi.ReasonField)
				wantInvalid(t, ct.ValidateReply(r.Value, mustJSON(t, obj)), yipanqi.ReasonField, "“"+r.Label+"”答复必须说明原因")
				if len(r.ReasonOptions) == 0 {
					return
				}
				obj = valid()
				obj[yipanqi.ReasonField] = "查无此人：底册无记录"
				wantInvalid(t, ct.ValidateReply(r.Value, mustJSON(t, obj)), yipanqi.ReasonField)
				obj = valid()
				obj[yipanqi.ReasonField] = yipanqi.OtherReason
				wantInvalid(t, ct.ValidateReply(r.Value, mustJSON(t, obj)), yipanqi.ReasonTextField)
				obj[yipanqi.ReasonTextField] = "户籍信息与来函所列姓名不一致"
				if err := ct.ValidateReply(r.Value, mustJSON(t, obj)); err != nil {
					t.Errorf("other with its text: %v", err)
				}
			})
		}
		t.Run(ct.Name+"/unknown reply", func(t *testing.T) {
			wantInvalid(t, ct.ValidateReply("no_such_reply", nil), "reply", "no_such_reply")
		})
	}
}

// declined are the words of the items SCOPE.md declines (pregnancy "compliance" checks,
// terminations and "remedial measures", contraception as a duty, the social maintenance fee
// and its enforcement cases). 上环/取环 are matched as words: 取环境变量 is not one.
var declined = regexp.MustCompile(`(?i)政策外|计划外|补救|终止妊娠|引产|流产|社会抚养费|抚养费|超生|征收|强制|` +
	`上环(?:[^境]|$)|取环(?:[^境]|$)|结扎|长效避孕|避孕节育措施落实|落实避孕|孕检|孕情|怀孕|违法生育|非诉|` +
	`policy.compliance|out.of.policy|remedial|terminat\w*.pregnan|abortion|social.maintenance|maintenance.fee|` +
	`non.litigation|\bIUD\b|sterili[sz]ation`)

// TestCatalogDeclinedItems: no type, field, option, reply, label, purpose or document of the
// catalog names an item SCOPE.md declines.
func TestCatalogDeclinedItems(t *testing.T) {
	for _, ct := range yipanqi.Catalog().Types() {
		// The JSON form holds every name, label, option and document of the entry.
		b, err := json.Marshal(ct)
		if err != nil {
			t.Fatal(err)
		}
		if m := declined.FindAllString(string(b), -1); m != nil {
			t.Errorf("%s names declined items: %q", ct.Name, m)
		}
	}
	// The pattern itself must catch what it is for, or the test above proves nothing.
	for _, s := range []string{"政策外怀孕", "社会抚养费征收", "上环", "social maintenance fee"} {
		if !declined.MatchString(s) {
			t.Errorf("the declined pattern misses %q", s)
		}
	}
	if declined.MatchString("默认取环境变量") {
		t.Error("the declined pattern matches 取环境变量")
	}
}

// scannedExt are the files of the repository the declined-items scan reads: code, templates,
// SQL and data shipped in the binary. docs/*.md explain what is declined and are not read;
// neither are tests, which may spell declined words to check they are refused.
var scannedExt = map[string]bool{".go": true, ".html": true, ".tmpl": true, ".sql": true, ".toml": true, ".json": true, ".csv": true, ".js": true, ".css": true}

// TestRepositoryDeclinedItems: no non-test source or template of the module names a declined
// item.
func TestRepositoryDeclinedItems(t *testing.T) {
	scanned := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || path == "docs") {
				return filepath.SkipDir
			}
			return nil
		}
		if !scannedExt[filepath.Ext(path)] || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !utf8.Valid(b) {
			return nil // GBK test data and the like; no declined word can be read from it here
		}
		scanned++
		for i, line := range strings.Split(string(b), "\n") {
			if m := declined.FindAllString(line, -1); m != nil {
				t.Errorf("%s:%d names declined items: %q", path, i+1, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if scanned == 0 {
		t.Fatal("no file scanned: is the test running from the module root?")
	}
}
