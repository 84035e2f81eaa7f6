package web

import (
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"yipanqi"
)

// FormErrors maps a form field's name to the Chinese message shown next to it; the key ""
// holds an error about the form as a whole.
type FormErrors map[string]string

// formErrors starts the errors of a posted form with the fields the middleware found not to
// be UTF-8 (their values were emptied).
func formErrors(r *http.Request) FormErrors {
	fe := FormErrors{}
	for k, v := range state(r).badEncoding {
		fe[k] = v
	}
	return fe
}

// Add records err next to the field it names (yipanqi.ErrorField), or for the whole form.
// prefix is put before the field name, for forms whose inputs carry one (e.g. "f.").
func (fe FormErrors) Add(err error, prefix string) {
	field := yipanqi.ErrorField(err)
	if field != "" {
		field = prefix + field
	}
	if _, taken := fe[field]; !taken {
		fe[field] = yipanqi.ErrorMessage(err)
	}
}

// Set records msg next to field, unless it already has a message.
func (fe FormErrors) Set(field, msg string) {
	if _, taken := fe[field]; !taken {
		fe[field] = msg
	}
}

// Any reports whether there is an error.
func (fe FormErrors) Any() bool { return len(fe) > 0 }

// Field is one input of a form as the "field" partial renders it: the label, the input, what
// the user typed, the error next to it.
type Field struct {
	Name     string // the input's name, also its id (with "f-" before it)
	Label    string
	Input    string // text, date, select, checkbox, textarea, password, number
	Required bool
	MaxLen   int // characters; 0 for none
	Options  []yipanqi.Option
	Value    string
	Hint     string
	Error    string
	Auto     string // the autocomplete attribute, "" for none
	Form     string // tells apart the inputs of several forms on one page (their ids)
}

// ID is the input's HTML id.
func (f Field) ID() string {
	id := "f-" + strings.NewReplacer(".", "-", "[", "-", "]", "").Replace(f.Name)
	if f.Form != "" {
		id = "f-" + f.Form + id[1:]
	}
	return id
}

// Checked reports whether a checkbox is ticked.
func (f Field) Checked() bool { return f.Value == "true" || f.Value == "on" }

// catalogField is the input of a catalog field spec, named prefix+spec.Name.
func catalogField(spec yipanqi.FieldSpec, prefix string) Field {
	f := Field{Name: prefix + spec.Name, Label: spec.Label, Required: spec.Required, Input: "text"}
	switch spec.Kind {
	case yipanqi.KindText:
		f.MaxLen = spec.MaxLen
		if spec.MaxLen > 100 {
			f.Input = "textarea"
		}
	case yipanqi.KindDate:
		f.Input, f.Hint = "date", "格式 YYYY-MM-DD"
	case yipanqi.KindDivision:
		f.MaxLen, f.Hint = 12, "2、4、6、9 或 12 位数字的行政区划代码"
	case yipanqi.KindIDNumber:
		f.MaxLen, f.Hint = 18, "18 位公民身份号码"
	case yipanqi.KindEnum:
		f.Input, f.Options = "select", spec.Options
	case yipanqi.KindBool:
		// A select, not a checkbox: an unticked box cannot tell "no" from "not answered".
		f.Input, f.Options = "select", []yipanqi.Option{{Value: "true", Label: "是"}, {Value: "false", Label: "否"}}
	case yipanqi.KindNumber:
		f.Input = "number"
	}
	return f
}

// tooLong is the error of a value over max characters, or "".
func tooLong(label, v string, max int) string {
	if n := utf8.RuneCountInString(v); max > 0 && n > max {
		return "“" + label + "”不得超过 " + itoa(max) + " 个字（现有 " + itoa(n) + " 个）"
	}
	return ""
}

func itoa(n int) string { return strconv.Itoa(n) }
