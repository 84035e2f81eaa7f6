// Package print renders the printable A4 documents of a node — 《限期补办通知书》,
// 《流动人口婚育证明》 with its QR code, 《流动人口避孕节育情况报告单》, the posting slip and a
// person's own copy of what is held about them — and the public certificate verification
// page. Each document is a function that writes a complete HTML page from a plain data
// struct: embedded templates, one print stylesheet (A4, black on white, a serif CJK font
// stack), no external assets, so a browser's "print" gives the paper form.
//
// The functions only render. Reading the data — and auditing that read, as every read of
// personal data is — is the caller's job; so is deciding who may print what.
package print

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"yipanqi"
)

//go:embed templates/*.html templates/print.css
var files embed.FS

// css is the one stylesheet, inlined into every page.
var css = func() template.CSS {
	b, err := files.ReadFile("templates/print.css")
	if err != nil {
		panic(err)
	}
	return template.CSS(b)
}()

var funcs = template.FuncMap{
	"date":       dateCN,
	"maskName":   MaskName,
	"maskID":     MaskIDNumber,
	"maskPhone":  MaskPhone,
	"typeLabel":  caseTypeLabel,
	"stateLabel": caseStateLabel,
	"dirLabel":   directionLabel,
	"flowLabel":  func(k yipanqi.FlowKind) string { return k.Label() },
	"sexLabel":   func(s yipanqi.Sex) string { return s.Label() },
	"maritalLabel": func(m yipanqi.MaritalStatus) string {
		return m.Label()
	},
	"timeCN": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(yipanqi.Shanghai).Format("2006年1月2日 15:04")
	},
}

// page parses the layout with one document's template.
func page(name string) *template.Template {
	return template.Must(template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/"+name))
}

var (
	noticeTmpl   = page("notice.html")
	certTmpl     = page("certificate.html")
	reportTmpl   = page("report.html")
	slipTmpl     = page("slip.html")
	copyTmpl     = page("copy.html")
	verifyTmpl   = page("verify.html")
	notFoundTmpl = page("notfound.html")
	limitedTmpl  = page("limited.html")
	invalidTmpl  = page("invalid.html")
)

// layoutData is what the layout needs around a document's own data.
type layoutData struct {
	Title string
	CSS   template.CSS
	Doc   any
}

// render executes t into a buffer first, so that a failing template writes nothing to w.
func render(w io.Writer, t *template.Template, title string, doc any) error {
	var b bytes.Buffer
	if err := t.Execute(&b, layoutData{Title: title, CSS: css, Doc: doc}); err != nil {
		return fmt.Errorf("print %s: %w", title, err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// dateCN writes a date the way Chinese forms do: 2026年6月15日; "" for the zero Date.
func dateCN(d yipanqi.Date) string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%d年%d月%d日", d.Year, int(d.Month), d.Day)
}

// caseTypeLabel is the Chinese label of a catalog type, or the type's name when the catalog
// has no such type.
func caseTypeLabel(name string) string {
	if t, err := yipanqi.Catalog().Type(name); err == nil {
		return t.Label
	}
	return name
}

var caseStates = map[yipanqi.CaseState]string{
	yipanqi.CaseDrafted:     "草稿",
	yipanqi.CaseSent:        "已发送",
	yipanqi.CaseDelivered:   "已送达",
	yipanqi.CaseInProgress:  "办理中",
	yipanqi.CaseReplied:     "已答复",
	yipanqi.CaseClosed:      "已办结",
	yipanqi.CaseTransferred: "已转办",
	yipanqi.CaseWithdrawn:   "已撤回",
	yipanqi.CaseRejected:    "已退回",
}

func caseStateLabel(s yipanqi.CaseState) string {
	if l, ok := caseStates[s]; ok {
		return l
	}
	return string(s)
}

func directionLabel(d yipanqi.Direction) string {
	switch d {
	case yipanqi.Outgoing:
		return "发出"
	case yipanqi.Incoming:
		return "收到"
	}
	return string(d)
}

// required returns EINVALID naming the first field whose value is blank. pairs holds field
// name, Chinese label and value, in turn.
func required(pairs ...string) error {
	for i := 0; i+2 < len(pairs); i += 3 {
		if strings.TrimSpace(pairs[i+2]) == "" {
			return yipanqi.FieldErrorf(yipanqi.EINVALID, pairs[i], "%s不能为空", pairs[i+1])
		}
	}
	return nil
}
