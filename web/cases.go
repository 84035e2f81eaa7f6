package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"yipanqi"
	"yipanqi/casework"
	"yipanqi/exchange"
	"yipanqi/sqlstore"
)

// caseList is 案件: the cases of my subtree, newest first, by direction and state.
func (a *App) caseList(w http.ResponseWriter, r *http.Request) {
	page, offset := pageOf(r)
	q := r.URL.Query()
	f := yipanqi.CaseFilter{Offset: offset, Limit: PageSize}
	p := listPage{States: CaseStates}
	if d := yipanqi.Direction(q.Get("dir")); d == yipanqi.Incoming || d == yipanqi.Outgoing {
		f.Direction, p.Direction = d, string(d)
	}
	if s := yipanqi.CaseState(q.Get("state")); slices.Contains(CaseStates, s) {
		f.State, p.State = s, string(s)
	}
	cases, total, err := a.cfg.Store.ListCases(r.Context(), scopeOf(r), f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	keep := url.Values{}
	if p.Direction != "" {
		keep.Set("dir", p.Direction)
	}
	if p.State != "" {
		keep.Set("state", p.State)
	}
	p.Rows = a.caseRows(r.Context(), cases, a.cfg.Now())
	p.Pager = a.pager("/cases", keep, page, total)
	a.render(w, r, "cases", p)
}

// kv is one labelled value of a case's data.
type kv struct{ Label, Value string }

// logLine is one message of the signed message log.
type logLine struct {
	ID, Kind, Dir, From, To, URL string
	At                           time.Time
}

// event is one step of the timeline.
type event struct {
	At          time.Time
	Label, Note string
	Who         string
}

// replyForm is the form of one reply option.
type replyForm struct {
	Value, Label string
	Fields       []Field
	Active       bool // the form the user posted, shown with its values and errors
}

// casePage is what templates/app/case.html renders.
type casePage struct {
	Case        *yipanqi.Case
	TypeLabel   string
	Dir         string
	Unit, Peer  string
	Badge       Badge
	Request     []kv
	Reply       []kv   // the answer, once there is one
	ReplyLabel  string // the answer's label
	Timeline    []event
	Log         []logLine
	Replies     []replyForm // the reply forms, when the user may answer
	CanWithdraw bool
	CanTransfer bool
	Transfer    Field
	Reason      Field
	Errors      FormErrors
	ReplyURL    string
	ActionURL   string
	Reissue     *reissueView // cert.reissue: the notice, the answer by certificate, arrival and hand-over
}

// findCase reads the case of the path in the user's scope: 404 when it is not there.
func (a *App) findCase(w http.ResponseWriter, r *http.Request) *yipanqi.Case {
	c, err := a.cfg.Store.FindCase(r.Context(), scopeOf(r), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return nil
	}
	return c
}

// casePage shows a case: header, request, answer, timeline, reply forms, message log.
// Seeing it is audited (it shows the person's data).
func (a *App) casePage(w http.ResponseWriter, r *http.Request) {
	c := a.findCase(w, r)
	if c == nil {
		return
	}
	p, err := a.caseView(r, c, nil, FormErrors{})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, r, "case", p)
}

// auditView records that the user saw a case's data.
func (a *App) auditView(r *http.Request, action, object string) error {
	u := currentUser(r)
	return a.cfg.Store.Audit(r.Context(), &yipanqi.AuditEntry{Actor: u.Username, OrgUnit: u.OrgUnit, Action: action, Object: object})
}

// caseView builds the case page; posted is the reply form the user posted (nil: none).
func (a *App) caseView(r *http.Request, c *yipanqi.Case, posted *replyForm, fe FormErrors) (*casePage, error) {
	ctx := r.Context()
	if err := a.auditView(r, "case.view", c.ID); err != nil {
		return nil, err
	}
	t, _ := a.cfg.Catalog.Type(c.Type)
	p := &casePage{Case: c, TypeLabel: a.typeLabel(c.Type), Dir: dirLabel(c.Direction), Unit: a.unitName(ctx, c.OrgUnit),
		Peer: a.unitName(ctx, c.PeerUnit), Badge: a.badge(c, a.cfg.Now()), Errors: fe,
		ReplyURL: a.url("/cases/" + c.ID + "/reply"), ActionURL: a.url("/cases/" + c.ID)}
	p.Request = fieldValues(t, nil, c.Data)
	msgs, err := a.cfg.Store.CaseMessages(ctx, scopeOf(r), c.ID)
	if err != nil {
		return nil, err
	}
	replyValue := ""
	for _, m := range msgs {
		l := logLine{ID: m.ID, Dir: dirLabel(m.Direction), From: m.Source, To: m.Dest, At: m.RecordedAt,
			URL: a.url("/cases/" + c.ID + "/messages/" + m.ID), Kind: messageKind(m)}
		p.Log = append(p.Log, l)
		if m.Type == c.Type && m.ReplyTo != "" && t != nil {
			if reply, fields, ok := replyOf(m); ok {
				replyValue = reply
				if rs := t.Reply(reply); rs != nil {
					p.ReplyLabel = rs.Label
					p.Reply = fieldValues(t, replySpecs(rs), fields)
				}
			}
		}
	}
	events, err := a.cfg.Store.CaseTimeline(ctx, scopeOf(r), c.ID)
	if err != nil {
		return nil, err
	}
	for _, e := range events {
		who := e.Actor
		if e.OrgUnit != "" {
			who = a.unitName(ctx, e.OrgUnit) + " · " + e.Actor
		}
		p.Timeline = append(p.Timeline, event{At: e.At, Label: e.Label(), Note: e.Note, Who: who})
	}
	may := canSend(currentUser(r)) && a.cfg.Node != nil
	if c.Direction == yipanqi.Incoming && c.State.IsOpen() && may && t != nil {
		for _, rs := range t.Replies {
			if c.Type == casework.CertReissue && rs.Value == "issued" {
				continue // answered with a certificate of the registry: the reissue form (reissue.go)
			}
			rf := replyForm{Value: rs.Value, Label: rs.Label}
			active := posted != nil && posted.Value == rs.Value
			for _, spec := range replySpecs(&rs) {
				if spec.Kind == yipanqi.KindCorrections {
					for _, req := range t.Fields {
						f := catalogField(req, "r."+spec.Name+".")
						f.Label = "更正后的" + req.Label
						f.Required = false
						rf.Fields = append(rf.Fields, f)
					}
					continue
				}
				rf.Fields = append(rf.Fields, catalogField(spec, "r."))
			}
			for i := range rf.Fields {
				rf.Fields[i].Form = rs.Value
			}
			if active {
				rf.Active = true
				for i := range rf.Fields {
					for _, pf := range posted.Fields {
						if pf.Name == rf.Fields[i].Name {
							rf.Fields[i].Value = pf.Value
						}
					}
					rf.Fields[i].Error = fe[rf.Fields[i].Name]
				}
			}
			p.Replies = append(p.Replies, rf)
		}
		p.CanTransfer = true
		p.Transfer = Field{Name: "to_unit", Label: "转办至（本省机构的行政区划代码）", Input: "text", MaxLen: 12,
			Value: r.PostForm.Get("to_unit"), Error: fe["to_unit"]}
	}
	if c.Direction == yipanqi.Outgoing && yipanqi.ActWithdraw.Allows(c.State) && may {
		p.CanWithdraw = true
	}
	if p.CanWithdraw || p.CanTransfer {
		p.Reason = Field{Name: "reason", Label: "原因", Input: "text", MaxLen: 200, Value: r.PostForm.Get("reason"), Error: fe["reason"]}
	}
	if c.Type == casework.CertReissue {
		if p.Reissue, err = a.reissueView(r, c, replyValue, events, posted, fe, may); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// replySpecs are the fields a reply carries: its own and, when it needs one, the reason
// (one of its reason options, with the explanation for 其他) — as the catalog checks them.
func replySpecs(rs *yipanqi.ReplySpec) []yipanqi.FieldSpec {
	specs := append([]yipanqi.FieldSpec(nil), rs.Fields...)
	if !rs.ReasonRequired {
		return specs
	}
	if len(rs.ReasonOptions) == 0 {
		return append(specs, yipanqi.FieldSpec{Name: yipanqi.ReasonField, Label: "原因", Required: true, Kind: yipanqi.KindText, MaxLen: 500})
	}
	return append(specs,
		yipanqi.FieldSpec{Name: yipanqi.ReasonField, Label: "原因", Required: true, Kind: yipanqi.KindEnum, Options: rs.ReasonOptions},
		yipanqi.FieldSpec{Name: yipanqi.ReasonTextField, Label: "具体原因（原因为“其他”时必填）", Kind: yipanqi.KindText, MaxLen: 500})
}

// messageKind names a logged message for the log.
func messageKind(m *sqlstore.LoggedMessage) string {
	switch {
	case m.Type == casework.TypeReceipt:
		return "签收回执"
	case m.Type == casework.TypeReceipts:
		return "签收回执（批量，同批签收多件）"
	case m.Type == casework.TypeRejected:
		return "退回通知"
	case m.ReplyTo == "":
		return "请求（" + m.Type + "）"
	}
	return "答复或通知（" + m.Type + "）"
}

// replyOf reads the reply value and fields of a reply message.
func replyOf(m *sqlstore.LoggedMessage) (string, json.RawMessage, bool) {
	e, err := exchange.Decode(m.Body)
	if err != nil {
		return "", nil, false
	}
	var d struct {
		Reply  string          `json:"reply"`
		Fields json.RawMessage `json:"fields"`
	}
	if json.Unmarshal(e.Data, &d) != nil || d.Reply == "" {
		return "", nil, false
	}
	return d.Reply, d.Fields, true
}

// fieldValues lists the values of data by the specs (the request's when specs is nil), with
// option labels; fields the specs do not know are listed by name.
func fieldValues(t *yipanqi.CaseType, specs []yipanqi.FieldSpec, data json.RawMessage) []kv {
	var obj map[string]any
	if len(data) == 0 || json.Unmarshal(data, &obj) != nil {
		return nil
	}
	if specs == nil && t != nil {
		specs = t.Fields
	}
	var out []kv
	seen := map[string]bool{}
	for _, s := range specs {
		v, ok := obj[s.Name]
		if !ok {
			continue
		}
		seen[s.Name] = true
		out = append(out, kv{s.Label, valueText(t, s, v)})
	}
	var rest []string
	for k := range obj {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		out = append(out, kv{k, fmt.Sprint(obj[k])})
	}
	return out
}

func valueText(t *yipanqi.CaseType, s yipanqi.FieldSpec, v any) string {
	switch x := v.(type) {
	case string:
		for _, o := range s.Options {
			if o.Value == x {
				return o.Label
			}
		}
		return x
	case bool:
		if x {
			return "是"
		}
		return "否"
	case map[string]any:
		var parts []string
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			label := k
			if t != nil {
				if f := t.Field(k); f != nil {
					label = f.Label
				}
			}
			parts = append(parts, label+"："+fmt.Sprint(x[k]))
		}
		return strings.Join(parts, "；")
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// replyCase answers an incoming case with the reply of the form posted. Errors are shown next
// to their fields in that form, with what the user typed; nothing is stored then.
func (a *App) replyCase(w http.ResponseWriter, r *http.Request) {
	c := a.findCase(w, r)
	if c == nil {
		return
	}
	t, err := a.cfg.Catalog.Type(c.Type)
	if err != nil || c.Direction != yipanqi.Incoming || a.cfg.Node == nil {
		a.failStatus(w, r, http.StatusBadRequest, "这件案件不能在这里答复。")
		return
	}
	value := r.PostForm.Get("reply")
	if c.Type == casework.CertReissue && value == "issued" {
		a.answerReissue(w, r, c)
		return
	}
	fe := formErrors(r)
	rs := t.Reply(value)
	if rs == nil {
		a.failStatus(w, r, http.StatusBadRequest, "答复选项无效。")
		return
	}
	posted := &replyForm{Value: value}
	obj := map[string]any{}
	for _, spec := range replySpecs(rs) {
		if spec.Kind == yipanqi.KindCorrections {
			corr := map[string]any{}
			for _, req := range t.Fields {
				name := "r." + spec.Name + "." + req.Name
				if v := strings.TrimSpace(r.PostForm.Get(name)); v != "" {
					corr[req.Name] = v
					posted.Fields = append(posted.Fields, Field{Name: name, Value: v})
				}
			}
			if len(corr) > 0 {
				obj[spec.Name] = corr
			}
			continue
		}
		name := "r." + spec.Name
		v := strings.TrimSpace(r.PostForm.Get(name))
		posted.Fields = append(posted.Fields, Field{Name: name, Value: v})
		if v != "" {
			obj[spec.Name] = v
		}
	}
	if !fe.Any() {
		raw, _ := json.Marshal(obj)
		if err := t.ValidateReply(value, raw); err != nil {
			fe.Add(err, "r.")
		} else if err := a.cfg.Node.Reply(r.Context(), c.ID, value, raw); err != nil {
			switch yipanqi.ErrorCode(err) {
			case yipanqi.EINVALID:
				fe.Add(err, "r.")
			case yipanqi.ECONFLICT:
				fe.Set("", yipanqi.ErrorMessage(err))
			default:
				a.fail(w, r, err)
				return
			}
		} else {
			http.Redirect(w, r, a.url("/cases/"+c.ID), http.StatusSeeOther)
			return
		}
	}
	// An error about "corrected" as a whole belongs to the first correction input.
	if msg, ok := fe["r.corrected"]; ok && len(t.Fields) > 0 {
		fe["r.corrected."+t.Fields[0].Name] = msg
	}
	p, err := a.caseView(r, c, posted, fe)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.renderStatus(w, r, http.StatusUnprocessableEntity, "case", p)
}

// caseAction withdraws (outgoing) or transfers (incoming) a case, with a reason; for a
// cert.reissue it also records the certificate's arrival and hand-over (outgoing) or shows the
// certificate form filled in from the case (incoming) — reissue.go.
func (a *App) caseAction(w http.ResponseWriter, r *http.Request) {
	c := a.findCase(w, r)
	if c == nil {
		return
	}
	if a.cfg.Node == nil {
		a.failStatus(w, r, http.StatusServiceUnavailable, "本节点未连接交换引擎。")
		return
	}
	switch action := r.PathValue("action"); action {
	case "cert_arrived", "handed_over":
		a.reissueStepAction(w, r, c, action)
		return
	case "issue_cert":
		a.issueCertForm(w, r, c)
		return
	}
	fe := formErrors(r)
	reason := strings.TrimSpace(r.PostForm.Get("reason"))
	var err error
	switch r.PathValue("action") {
	case "withdraw":
		if c.Direction != yipanqi.Outgoing {
			a.failStatus(w, r, http.StatusBadRequest, "只能撤回本单位发出的案件。")
			return
		}
		err = a.cfg.Node.Withdraw(r.Context(), c.ID, reason)
	case "transfer":
		if c.Direction != yipanqi.Incoming {
			a.failStatus(w, r, http.StatusBadRequest, "只能转办收到的案件。")
			return
		}
		to := strings.TrimSpace(r.PostForm.Get("to_unit"))
		if to == "" {
			fe.Set("to_unit", "请填写转办单位的行政区划代码")
		}
		if !fe.Any() {
			err = a.cfg.Node.Transfer(r.Context(), c.ID, to, reason)
		}
	default:
		a.failStatus(w, r, http.StatusNotFound, "没有这个操作。")
		return
	}
	if err == nil && !fe.Any() {
		next := "/cases/" + c.ID
		if r.PathValue("action") == "transfer" && !scopeOf(r).Contains(strings.TrimSpace(r.PostForm.Get("to_unit"))) {
			next = "/todo" // the case has left my subtree
		}
		http.Redirect(w, r, a.url(next), http.StatusSeeOther)
		return
	}
	if err != nil {
		switch yipanqi.ErrorCode(err) {
		case yipanqi.EINVALID:
			fe.Add(err, "")
		case yipanqi.ECONFLICT:
			fe.Set("", yipanqi.ErrorMessage(err))
		default:
			a.fail(w, r, err)
			return
		}
	}
	p, err := a.caseView(r, c, nil, fe)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.renderStatus(w, r, http.StatusUnprocessableEntity, "case", p)
}

// messagePage is what templates/app/message.html renders.
type messagePage struct {
	CaseURL string
	ID      string
	Kind    string
	Body    string // the envelope, indented
}

// caseMessage shows one signed envelope of a case's log as it was signed (indented for
// reading). It carries personal data: seeing it is audited.
func (a *App) caseMessage(w http.ResponseWriter, r *http.Request) {
	msgs, err := a.cfg.Store.CaseMessages(r.Context(), scopeOf(r), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	for _, m := range msgs {
		if m.ID != r.PathValue("mid") {
			continue
		}
		if err := a.auditView(r, "message.view", m.ID); err != nil {
			a.fail(w, r, err)
			return
		}
		var buf bytes.Buffer
		if json.Indent(&buf, m.Body, "", "  ") != nil {
			buf.Reset()
			buf.Write(m.Body)
		}
		a.render(w, r, "message", messagePage{CaseURL: a.url("/cases/" + m.CaseID), ID: m.ID, Kind: messageKind(m), Body: buf.String()})
		return
	}
	a.fail(w, r, yipanqi.Errorf(yipanqi.ENOTFOUND, "未找到该消息"))
}
