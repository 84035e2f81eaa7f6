package web

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"yipanqi"
	"yipanqi/casework"
)

// typeChoice is one line of the 发起 page.
type typeChoice struct {
	Name, Label, Purpose, From, To, Deadline, URL string
	Sensitive                                     bool
}

// sendable returns the types a user may start: those whose levels include the level of the
// user's unit and that go to one addressee (not directory.update, which goes to all nodes).
func (a *App) sendable(u *yipanqi.User) []*yipanqi.CaseType {
	lvl := yipanqi.LevelOf(u.OrgUnit)
	var out []*yipanqi.CaseType
	for _, t := range a.cfg.Catalog.Types() {
		if t.To == yipanqi.SideAll || !slices.Contains(t.Levels, lvl) {
			continue
		}
		out = append(out, t)
	}
	return out
}

// newCaseTypes is 发起: the types the user may start.
func (a *App) newCaseTypes(w http.ResponseWriter, r *http.Request) {
	var list []typeChoice
	for _, t := range a.sendable(currentUser(r)) {
		c := typeChoice{Name: t.Name, Label: t.Label, Purpose: t.Purpose, From: t.From.Label(), To: t.To.Label(),
			URL: a.url("/new/" + t.Name), Sensitive: t.Sensitive}
		if len(t.Deadlines) > 0 {
			c.Deadline = t.Deadlines[0].Text()
		} else {
			c.Deadline = t.Answer.Label()
		}
		list = append(list, c)
	}
	a.render(w, r, "new_types", list)
}

// newCasePage is what templates/app/new_case.html renders.
type newCasePage struct {
	Type         *yipanqi.CaseType
	Action       string
	HasPerson    bool    // the type carries an ID number: the form can look the person up
	Person       string  // "" or the person found: name and hukou, for the user to check
	PeerUnit     Field   // the addressee
	Fields       []Field // the catalog's fields
	Consent      string  // when the type needs the person's separate consent: what it is for
	ConsentError string
	// ConsentCheck is whether the person looked up has a live consent for this type and
	// addressee (nil: no person looked up).
	ConsentCheck *consentCheck
	Errors       FormErrors
}

// consentCheck says whether the person of the form has a live consent, recorded in my
// subtree, that covers the type sent to the addressee; without one, the person's page where
// it is recorded.
type consentCheck struct {
	Covered   bool
	Text      string
	PersonURL string
}

// checkConsent reads the consents of person p recorded in my subtree (audited by the store:
// person.consents) and says whether one covers a case of type t addressed to peer (the
// hometown unit when peer is empty). The engine checks again when it sends.
func (a *App) checkConsent(r *http.Request, t *yipanqi.CaseType, p *yipanqi.Person, peer string) (*consentCheck, error) {
	if peer == "" {
		peer = hometownUnit(p.HukouCode)
	}
	cs, err := a.cfg.Store.Consents(r.Context(), scopeOf(r), p.IDNumber)
	if err != nil {
		return nil, err
	}
	now := a.cfg.Now()
	for _, c := range cs {
		if c.Covers(t.Name, peer, now) {
			return &consentCheck{Covered: true, Text: "已登记本人的单独同意（同意书 " + strconv.FormatInt(c.ID, 10) + "，接收方 " +
				c.Recipient + "，同意时间 " + clock(c.GivenAt) + "），可以发送。"}, nil
		}
	}
	return &consentCheck{PersonURL: a.url("/people/" + strconv.FormatInt(p.ID, 10)),
		Text: "本辖区没有登记本人对“" + t.Label + "”发往 " + peer + " 的有效单独同意（未登记、已撤回，或接收方不符）。" +
			"请先征得本人同意，在其人员页面的“本人单独同意”中登记，再发送。"}, nil
}

// fieldPrefix is put before the catalog fields' names in forms, so that they cannot clash
// with the form's own (csrf, action, peer_unit).
const fieldPrefix = "f."

func (a *App) caseType(w http.ResponseWriter, r *http.Request) *yipanqi.CaseType {
	t, err := a.cfg.Catalog.Type(r.PathValue("type"))
	if err != nil || !slices.Contains(a.sendable(currentUser(r)), t) {
		a.failStatus(w, r, http.StatusNotFound, "没有这种案件类型，或您的单位不能发起它。")
		return nil
	}
	return t
}

// newCaseForm shows the empty form of a type.
func (a *App) newCaseForm(w http.ResponseWriter, r *http.Request) {
	t := a.caseType(w, r)
	if t == nil {
		return
	}
	a.render(w, r, "new_case", a.newCaseView(t, nil, FormErrors{}))
}

// newCaseView builds the form of type t with the values posted (nil: empty) and the errors.
func (a *App) newCaseView(t *yipanqi.CaseType, form map[string]string, fe FormErrors) newCasePage {
	p := newCasePage{Type: t, Action: a.url("/new/" + t.Name), HasPerson: t.Field("id_number") != nil, Errors: fe}
	p.PeerUnit = Field{Name: "peer_unit", Label: "受理单位（对方行政区划代码）", Input: "text", Required: true, MaxLen: 12,
		Value: form["peer_unit"], Error: fe["peer_unit"],
		Hint: "默认为人员户籍地的乡镇（街道）或县；前两位是对方省级节点"}
	for _, spec := range t.Fields {
		f := catalogField(spec, fieldPrefix)
		f.Value, f.Error = form[f.Name], fe[f.Name]
		p.Fields = append(p.Fields, f)
	}
	if t.Consent != nil {
		p.Consent = "此类案件含敏感个人信息，发送前须已登记本人的单独同意（用途：" + t.Consent.Purpose +
			"；接收方：" + t.Consent.Recipient.Label() + "）。没有登记的同意，交换引擎拒绝发送。"
		p.ConsentError = fe["consent"]
	}
	return p
}

// newCase handles the form: "lookup" fills in the person from the registry; "send" sends
// the case and goes to its page (POST/redirect/GET). Errors are shown next to their fields
// with what the user typed, and nothing is stored.
func (a *App) newCase(w http.ResponseWriter, r *http.Request) {
	t := a.caseType(w, r)
	if t == nil {
		return
	}
	u := currentUser(r)
	fe := formErrors(r)
	form := map[string]string{"peer_unit": strings.TrimSpace(r.PostForm.Get("peer_unit"))}
	for _, spec := range t.Fields {
		form[fieldPrefix+spec.Name] = strings.TrimSpace(r.PostForm.Get(fieldPrefix + spec.Name))
	}
	idNumber := strings.ToUpper(form[fieldPrefix+"id_number"])
	if idNumber != "" {
		form[fieldPrefix+"id_number"] = idNumber
	}
	lookup := r.PostForm.Get("action") == "lookup"
	// The person: looked up on demand, or to default the addressee; for a type that needs
	// the person's consent, also when the form is shown again, to say whether it is on record.
	var person *yipanqi.Person
	looked := false
	findPerson := func() error {
		looked = true
		p, err := a.cfg.Store.FindPerson(r.Context(), scopeOf(r), idNumber)
		if err == nil {
			person = p
		}
		return err
	}
	show := func(status int) {
		page := a.newCaseView(t, form, fe)
		if t.Consent != nil && idNumber != "" && fe[fieldPrefix+"id_number"] == "" {
			if !looked {
				if err := findPerson(); err != nil && yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
					a.fail(w, r, err)
					return
				}
			}
			if person != nil {
				check, err := a.checkConsent(r, t, person, form["peer_unit"])
				if err != nil {
					a.fail(w, r, err)
					return
				}
				page.ConsentCheck = check
			}
		}
		a.renderStatus(w, r, status, "new_case", page)
	}
	if t.Field("id_number") != nil && idNumber != "" && (lookup || form["peer_unit"] == "") && fe[fieldPrefix+"id_number"] == "" {
		err := findPerson()
		p := person
		switch {
		case err == nil:
			fill := func(name, v string) {
				if t.Field(name) != nil && form[fieldPrefix+name] == "" {
					form[fieldPrefix+name] = v
				}
			}
			fill("name", p.Name)
			fill("hukou_code", p.HukouCode)
			fill("hukou_address", p.HukouAddress)
			if form["peer_unit"] == "" {
				form["peer_unit"] = hometownUnit(p.HukouCode)
			}
		case yipanqi.ErrorCode(err) == yipanqi.ENOTFOUND:
			if lookup {
				fe.Set(fieldPrefix+"id_number", "本辖区登记的流动人口中没有这个公民身份号码")
			}
		default:
			a.fail(w, r, err)
			return
		}
	}
	if lookup {
		if fe.Any() {
			show(http.StatusUnprocessableEntity)
			return
		}
		show(http.StatusOK)
		return
	}
	fields, peer := a.requestFields(t, form, fe)
	if fe.Any() {
		show(http.StatusUnprocessableEntity)
		return
	}
	if a.cfg.Node == nil {
		fe.Set("", "本节点未连接交换引擎，暂时不能发送案件")
		show(http.StatusServiceUnavailable)
		return
	}
	c := &yipanqi.Case{Type: t.Name, OrgUnit: u.OrgUnit, PeerNode: peer[:2], PeerUnit: peer}
	var err error
	if t.Name == casework.CertReissue {
		// The 《限期补办通知书》 is given with the request (its number, date and the person's
		// deadline on the timeline; the case page offers its print).
		_, err = a.cfg.Node.StartReissue(r.Context(), c, fields)
	} else {
		err = a.cfg.Node.Send(r.Context(), c, fields)
	}
	if err != nil {
		if code := yipanqi.ErrorCode(err); code != yipanqi.EINVALID && code != yipanqi.ECONFLICT {
			a.fail(w, r, err)
			return
		}
		addSendError(fe, t, err)
		show(http.StatusUnprocessableEntity)
		return
	}
	http.Redirect(w, r, a.url("/cases/"+c.ID), http.StatusSeeOther)
}

// addSendError puts an error of the engine next to the form field it names: the catalog's
// fields carry fieldPrefix, the addressee is peer_unit; others go above the form.
func addSendError(fe FormErrors, t *yipanqi.CaseType, err error) {
	name, _, _ := strings.Cut(yipanqi.ErrorField(err), ".")
	switch {
	case name != "" && t.Field(name) != nil:
		fe.Add(err, fieldPrefix)
	case name == "peer_unit" || name == "consent":
		fe.Add(err, "")
	default:
		fe.Set("", yipanqi.ErrorMessage(err))
	}
}

// hometownUnit is the unit a case about a person with this hukou code goes to: the hukou
// township (9 digits) or county.
func hometownUnit(hukou string) string {
	if len(hukou) > 9 {
		return hukou[:9]
	}
	return hukou
}

// requestFields turns the form into the request's JSON fields and the addressee, with the
// catalog's check; errors go to fe.
func (a *App) requestFields(t *yipanqi.CaseType, form map[string]string, fe FormErrors) (json.RawMessage, string) {
	peer := form["peer_unit"]
	switch {
	case peer == "":
		fe.Set("peer_unit", "请填写受理单位（可先按公民身份号码查找人员，自动填入户籍地）")
	case !yipanqi.ValidDivisionCode(peer) || len(peer) < 4:
		fe.Set("peer_unit", "“受理单位”须为 4、6、9 或 12 位数字的行政区划代码")
	}
	obj := map[string]any{}
	for _, spec := range t.Fields {
		v := form[fieldPrefix+spec.Name]
		if v == "" {
			continue
		}
		switch spec.Kind {
		case yipanqi.KindBool:
			if v != "true" && v != "false" {
				fe.Set(fieldPrefix+spec.Name, "“"+spec.Label+"”须选择“是”或“否”")
				continue
			}
			obj[spec.Name] = v == "true"
		case yipanqi.KindNumber:
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				fe.Set(fieldPrefix+spec.Name, "“"+spec.Label+"”须为不小于 0 的整数")
				continue
			}
			obj[spec.Name] = n
		case yipanqi.KindCorrections, yipanqi.KindList:
			continue // not in request forms of the catalog today
		default:
			obj[spec.Name] = v
		}
	}
	raw, _ := json.Marshal(obj) // strings, numbers and bools only
	if err := t.ValidateRequest(raw); err != nil {
		fe.Add(err, fieldPrefix)
	}
	return raw, peer
}
