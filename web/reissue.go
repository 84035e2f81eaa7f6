package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"

	"yipanqi"
	"yipanqi/casework"
	"yipanqi/web/print"
)

// 婚育证明补办 (cert.reissue) on the case page (docs/workflows.md, "cert.reissue, step by step";
// docs/web.md, "婚育证明补办"): the residence starts it with the 《限期补办通知书》 (发起 calls
// casework.Node.StartReissue), the hometown answers with a certificate it issued and posted
// (AnswerReissue), the residence records its arrival and the hand-over to the person
// (RecordCertArrival, RecordHandOver). Every form posts to the case's own routes; no personal
// data is put in a URL.

// reissueView is the cert.reissue part of a case page.
type reissueView struct {
	// The residence side (outgoing).
	Notice     string // the 《限期补办通知书》 as the timeline recorded it
	NoticeURL  string // the print of the notice with the engine's deadline; "" when it cannot be printed here
	NoticeNote string // why there is no print link
	Steps      []reissueStep

	// The hometown side (incoming, open).
	Answer   *Field // the certificate number of the answer
	Certs    []reissueCert
	IssueURL string // POST: the certificate form filled in from the case
	CertsURL string
}

// reissueStep is one form of the residence side after the hometown's "issued".
type reissueStep struct {
	Action, Legend, Button, Note string
	URL                          string
	Date                         Field
	Active                       bool
}

// reissueCert is a certificate of the case's person that this node issued.
type reissueCert struct {
	Number, URL, Status, IssuedOn, Posted string
	Ready                                 bool // issued, not revoked, posting recorded: an answer can name it
}

// The residence's steps: the action in the path, the form field, the labels.
var reissueSteps = []struct {
	action, field, kind, legend, button, note string
}{
	{"cert_arrived", "arrived_on", yipanqi.CaseEventCertArrived, "记录寄达", "记录寄达",
		"户籍地寄出的婚育证明寄到本单位的日期；记录后证明登记入本地证明库（外地证明）。"},
	{"handed_over", "handed_on", yipanqi.CaseEventHandedOver, "记录交付本人", "记录交付本人",
		"证明交到本人手中的日期，须在记录寄达之后；记录后案件办结。"},
}

// noticeDeadline reads the person's deadline from the note of the notice_given event
// (casework.Node.StartReissue writes "本人期限至 YYYY-MM-DD"): the engine's deadline, the one that
// governs, is kept nowhere else.
var noticeDeadline = regexp.MustCompile(`本人期限至 (\d{4}-\d{2}-\d{2})`)

// reissueView builds the cert.reissue part of the page of c. reply is the value of the answer
// received or given ("" for none), events the case's timeline, posted the form the user
// posted (nil: none).
func (a *App) reissueView(r *http.Request, c *yipanqi.Case, reply string, events []*yipanqi.CaseEvent,
	posted *replyForm, fe FormErrors, may bool) (*reissueView, error) {
	ctx := r.Context()
	today := a.today()
	v := &reissueView{}
	done := map[string]bool{}
	for _, e := range events {
		done[e.Kind] = true
		if e.Kind == yipanqi.CaseEventNoticeGiven {
			v.Notice = e.Note
		}
	}
	open := c.State != yipanqi.CaseClosed && c.State != yipanqi.CaseWithdrawn && c.State != yipanqi.CaseRejected
	if c.Direction == yipanqi.Outgoing {
		if v.Notice != "" && open {
			if err := a.noticeLink(r, c, v, today); err != nil {
				return nil, err
			}
		}
		if reply == "issued" && may && c.State != yipanqi.CaseWithdrawn {
			for _, s := range reissueSteps {
				if done[s.kind] {
					continue
				}
				st := reissueStep{Action: s.action, Legend: s.legend, Button: s.button, Note: s.note,
					URL: a.url("/cases/" + c.ID + "/" + s.action),
					Date: Field{Name: s.field, Label: "日期", Input: "date", Required: true, Value: today.String(),
						Hint: "格式 YYYY-MM-DD，不晚于今天", Form: s.action, Error: fe[s.field]}}
				if _, ok := fe[s.field]; ok {
					st.Active, st.Date.Value = true, r.PostForm.Get(s.field)
				}
				v.Steps = append(v.Steps, st)
			}
		}
		return v, nil
	}
	if !may || (c.State != yipanqi.CaseDelivered && c.State != yipanqi.CaseInProgress) {
		return v, nil
	}
	v.IssueURL, v.CertsURL = a.url("/cases/"+c.ID+"/issue_cert"), a.url("/certs")
	certs, err := a.cfg.Store.PersonCertificates(ctx, scopeOf(r), c.PersonIDNumber)
	if err != nil {
		return nil, err
	}
	value := ""
	for _, cert := range certs {
		if cert.Kind != yipanqi.CertIssued || !scopeOf(r).Contains(cert.IssuerCode) {
			continue
		}
		rc := reissueCert{Number: cert.Number, URL: a.url("/certs/" + cert.Number), Status: cert.StatusOn(today).Label(),
			IssuedOn: cert.IssuedOn.String(), Posted: "尚未登记寄送"}
		if cert.PostedTo != "" && cert.TrackingNo != "" {
			rc.Posted = cert.PostedOn.String() + " 寄往 " + a.unitName(ctx, cert.PostedTo) + "，邮件单号 " + cert.TrackingNo
			rc.Ready = !cert.Revoked
		}
		if rc.Ready && value == "" {
			value = cert.Number // the newest ready one
		}
		v.Certs = append(v.Certs, rc)
	}
	if posted != nil && posted.Value == "issued" {
		for _, f := range posted.Fields {
			if f.Name == "r.cert_number" {
				value = f.Value
			}
		}
	}
	v.Answer = &Field{Name: "r.cert_number", Label: "婚育证明编号", Input: "text", Required: true, MaxLen: 50, Form: "issued",
		Value: value, Error: fe["r.cert_number"],
		Hint: "本单位签发给本案当事人、已登记寄送（寄送至、邮件单号）的证明编号"}
	return v, nil
}

// noticeLink sets the print link of the 《限期补办通知书》 of the outgoing case c: the case's
// own notice (printReissueNotice), with the number, date and deadline the engine gave it.
// Only while its deadline has not passed, and for a person this node's registry holds in the
// user's scope.
func (a *App) noticeLink(r *http.Request, c *yipanqi.Case, v *reissueView, today yipanqi.Date) error {
	deadline, ok := reissueDeadline(v.Notice)
	switch {
	case !ok:
		v.NoticeNote = "办理过程中没有通知书的期限，不能在此打印。"
		return nil
	case !today.Before(deadline):
		v.NoticeNote = "通知书所载期限 " + deadline.String() + " 已到，不能再按原期限打印。"
		return nil
	}
	v.NoticeURL = a.url("/print/reissue/" + c.ID)
	return nil
}

// reissueDeadline reads the person's deadline from the note of the notice_given event.
func reissueDeadline(note string) (yipanqi.Date, bool) {
	m := noticeDeadline.FindStringSubmatch(note)
	if m == nil {
		return yipanqi.Date{}, false
	}
	d, err := yipanqi.ParseDate(m[1])
	return d, err == nil
}

// printReissueNotice prints the 《限期补办通知书》 a cert.reissue case gave the person: its
// number and date from the request, its deadline from the engine (the timeline), the person
// from this node's registry (audited by the store). 404 for a case out of scope or of
// another type; 400 when the case has no notice on its timeline.
func (a *App) printReissueNotice(w http.ResponseWriter, r *http.Request) {
	c := a.findCase(w, r)
	if c == nil {
		return
	}
	if c.Type != casework.CertReissue || c.Direction != yipanqi.Outgoing {
		a.failStatus(w, r, http.StatusNotFound, "没有这份限期补办通知书。")
		return
	}
	events, err := a.cfg.Store.CaseTimeline(r.Context(), scopeOf(r), c.ID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var deadline yipanqi.Date
	found := false
	for _, e := range events {
		if e.Kind == yipanqi.CaseEventNoticeGiven {
			deadline, found = reissueDeadline(e.Note)
		}
	}
	var req struct {
		NoticeNumber string `json:"notice_number"`
		NoticeDate   string `json:"notice_date"`
	}
	_ = json.Unmarshal(c.Data, &req)
	issued, err := yipanqi.ParseDate(req.NoticeDate)
	if !found || err != nil {
		a.failStatus(w, r, http.StatusBadRequest, "本案的办理过程中没有限期补办通知书。")
		return
	}
	p, err := a.cfg.Store.FindPerson(r.Context(), scopeOf(r), c.PersonIDNumber)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	u := currentUser(r)
	n := print.Notice{Number: req.NoticeNumber, Name: p.Name, IDNumber: p.IDNumber, ResidenceUnit: a.unitName(r.Context(), p.ResidenceCode),
		ResidenceAddress: p.ResidenceAddress, IssuedOn: issued, Deadline: deadline, IssuingUnit: a.unitName(r.Context(), c.OrgUnit)}
	if u != nil && c.OrgUnit == "" {
		n.IssuingUnit = a.unitName(r.Context(), u.OrgUnit)
	}
	a.writePrinted(w, r, "notice", c.ID, func(b *bytes.Buffer) error { return print.WriteNotice(b, n) })
}

// answerReissue answers the incoming cert.reissue c with the certificate number posted
// (r.cert_number): casework.Node.AnswerReissue reads the registry and sends "issued".
// Its refusal is shown next to the number, with what was typed; nothing is stored then.
func (a *App) answerReissue(w http.ResponseWriter, r *http.Request, c *yipanqi.Case) {
	fe := formErrors(r)
	number := strings.TrimSpace(r.PostForm.Get("r.cert_number"))
	const name = "r.cert_number"
	switch {
	case number == "":
		fe.Set(name, "请填写婚育证明编号")
	case tooLong("婚育证明编号", number, 50) != "":
		fe.Set(name, tooLong("婚育证明编号", number, 50))
	}
	if !fe.Any() {
		err := a.cfg.Node.AnswerReissue(r.Context(), c.ID, number)
		switch yipanqi.ErrorCode(err) {
		case "":
			http.Redirect(w, r, a.url("/cases/"+c.ID), http.StatusSeeOther)
			return
		case yipanqi.EINVALID, yipanqi.ECONFLICT:
			fe.Set(name, yipanqi.ErrorMessage(err))
		default:
			a.fail(w, r, err)
			return
		}
	}
	posted := &replyForm{Value: "issued", Fields: []Field{{Name: name, Value: number}}}
	p, err := a.caseView(r, c, posted, fe)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.renderStatus(w, r, http.StatusUnprocessableEntity, "case", p)
}

// reissueStepAction records the residence's step action ("cert_arrived" or "handed_over") of
// the outgoing cert.reissue c on the posted date. A refusal (no date, a future one, out of
// order, already recorded, no "issued" yet) is shown next to the date; nothing is stored then.
func (a *App) reissueStepAction(w http.ResponseWriter, r *http.Request, c *yipanqi.Case, action string) {
	if c.Direction != yipanqi.Outgoing || c.Type != casework.CertReissue {
		a.failStatus(w, r, http.StatusBadRequest, "只有本单位发出的婚育证明补办案件可以记录寄达和交付。")
		return
	}
	field := "arrived_on"
	record := a.cfg.Node.RecordCertArrival
	if action == "handed_over" {
		field, record = "handed_on", a.cfg.Node.RecordHandOver
	}
	fe := formErrors(r)
	raw := strings.TrimSpace(r.PostForm.Get(field))
	var on yipanqi.Date
	if raw == "" {
		fe.Set(field, "请填写日期")
	} else if d, err := yipanqi.ParseDate(raw); err != nil {
		fe.Set(field, "日期格式应为 YYYY-MM-DD")
	} else {
		on = d
	}
	if !fe.Any() {
		err := record(r.Context(), c.ID, on)
		switch yipanqi.ErrorCode(err) {
		case "":
			http.Redirect(w, r, a.url("/cases/"+c.ID), http.StatusSeeOther)
			return
		case yipanqi.EINVALID, yipanqi.ECONFLICT:
			fe.Set(field, yipanqi.ErrorMessage(err))
		default:
			a.fail(w, r, err)
			return
		}
	}
	if _, ok := fe[field]; !ok { // an encoding error of another input: show it at the date too
		for k, msg := range fe {
			delete(fe, k)
			fe.Set(field, msg)
		}
	}
	p, err := a.caseView(r, c, nil, fe)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.renderStatus(w, r, http.StatusUnprocessableEntity, "case", p)
}

// issueCertForm shows the certificate form (签发婚育证明, posted to /certs/new) filled in from
// the incoming cert.reissue c: the holder's ID number, name and hukou address as the request
// names them, today's date. The data comes from the case, not from the request's URL or form;
// showing it is a view of the case (audited).
func (a *App) issueCertForm(w http.ResponseWriter, r *http.Request, c *yipanqi.Case) {
	if c.Direction != yipanqi.Incoming || c.Type != casework.CertReissue {
		a.failStatus(w, r, http.StatusBadRequest, "只有收到的婚育证明补办案件可以在此签发证明。")
		return
	}
	if err := a.auditView(r, "case.view", c.ID); err != nil {
		a.fail(w, r, err)
		return
	}
	var req struct {
		Name         string `json:"name"`
		HukouAddress string `json:"hukou_address"`
	}
	_ = json.Unmarshal(c.Data, &req)
	today := a.today()
	form := map[string]string{"kind": string(yipanqi.CertIssued), "id_number": c.PersonIDNumber, "holder_name": req.Name,
		"hukou_address": req.HukouAddress, "issued_on": today.String(), "valid_until": today.AddDays(3 * 365).String()}
	v := a.certFormView(form, FormErrors{})
	v.Found = "补办案件所载当事人" + req.Name + "（婚姻状况请按户籍底册选择；签发后在证明页登记寄送，再回到案件以证明编号答复）"
	a.render(w, r, "cert_new", v)
}
