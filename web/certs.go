package web

import (
	"net/http"
	"strings"

	"yipanqi"
	"yipanqi/idcard"
	"yipanqi/sqlstore"
	"yipanqi/web/print"
)

// 婚育证明: issue (the hometown side) or record a seen certificate, the list for a person,
// checking a number, revoking (county level and above), recording the posting. The ID
// number is always POSTed; a certificate's page is reached by its number, which identifies
// a document, not a person (docs/printing.md).

// canRevoke: revoking a certificate is for staff of the county level and above.
var canRevoke = roles(yipanqi.RoleCountySupervisor, yipanqi.RoleCitySupervisor, yipanqi.RoleProvinceSupervisor,
	yipanqi.RoleProvinceAdmin)

var maritalOptions = []yipanqi.Option{
	{Value: string(yipanqi.Unmarried), Label: yipanqi.Unmarried.Label()},
	{Value: string(yipanqi.FirstMarried), Label: yipanqi.FirstMarried.Label()},
	{Value: string(yipanqi.Remarried), Label: yipanqi.Remarried.Label()},
	{Value: string(yipanqi.Divorced), Label: yipanqi.Divorced.Label()},
	{Value: string(yipanqi.Widowed), Label: yipanqi.Widowed.Label()},
}

var certKindOptions = []yipanqi.Option{
	{Value: string(yipanqi.CertIssued), Label: yipanqi.CertIssued.Label() + "（本单位签发）"},
	{Value: string(yipanqi.CertSeen), Label: yipanqi.CertSeen.Label() + "（外地或纸质证明，按证上编号登记）"},
}

// certLineOf is a certificate as the lists show it, with its status today.
func (a *App) certLineOf(r *http.Request, c *yipanqi.Certificate, today yipanqi.Date) certLine {
	return certLine{URL: a.url("/certs/" + c.Number), Number: c.Number, Kind: c.Kind.Label(),
		Issuer: a.unitName(r.Context(), c.IssuerCode), IssuedOn: c.IssuedOn.String(), ValidUntil: c.ValidUntil.String(),
		Status: c.StatusOn(today).Label()}
}

func (a *App) today() yipanqi.Date { return yipanqi.DateOf(a.cfg.Now().In(yipanqi.Shanghai)) }

// certCheckResult is the answer to checking a number: what the public page shows, and a
// link to the record when the user may see it.
type certCheckResult struct {
	Number, Name, Status, Issuer string
	IssuedOn, ValidUntil         string
	URL                          string
}

// certsPage is what templates/app/certs.html renders.
type certsPage struct {
	Check, IDNumber Field
	Errors          FormErrors
	Result          *certCheckResult
	Listed          bool
	List            []certLine
	CheckURL        string
	ListURL         string
	NewURL          string
}

func (a *App) certsView(number, idNumber string, fe FormErrors) *certsPage {
	return &certsPage{Errors: fe, CheckURL: a.url("/certs/check"), ListURL: a.url("/certs/list"), NewURL: a.url("/certs/new"),
		Check: Field{Name: "number", Label: "婚育证明编号", Input: "text", Required: true, MaxLen: 50, Value: number, Error: fe["number"],
			Hint: "如 430524101-2026-000017-K7QX2M"},
		IDNumber: Field{Name: "id_number", Label: "持证人公民身份号码", Input: "text", Required: true, MaxLen: 18, Value: idNumber,
			Error: fe["id_number"]}}
}

// certsHome is 婚育证明: check a number, list a person's certificates, issue one.
func (a *App) certsHome(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, "certs", a.certsView("", "", FormErrors{}))
}

// certCheck shows the status of a certificate number, as the public page does (masked name,
// validity, status); the store audits the lookup in the user's name.
func (a *App) certCheck(w http.ResponseWriter, r *http.Request) {
	fe := formErrors(r)
	number := yipanqi.NormalizeCertificateNumber(r.PostForm.Get("number"))
	if number == "" {
		fe.Set("number", "请填写婚育证明编号")
	}
	if fe.Any() {
		a.renderStatus(w, r, http.StatusUnprocessableEntity, "certs", a.certsView(number, "", fe))
		return
	}
	c, err := a.cfg.Store.Certificate(r.Context(), number)
	if yipanqi.ErrorCode(err) == yipanqi.ENOTFOUND { // not issued here: a seen record the user may see
		c, err = a.cfg.Store.CertificateInScope(r.Context(), scopeOf(r), number)
	}
	switch yipanqi.ErrorCode(err) {
	case "":
	case yipanqi.ENOTFOUND:
		fe.Set("number", "查无此证：编号“"+number+"”未登记")
		a.renderStatus(w, r, http.StatusUnprocessableEntity, "certs", a.certsView(number, "", fe))
		return
	default:
		a.fail(w, r, err)
		return
	}
	p := a.certsView(number, "", fe)
	p.Result = &certCheckResult{Number: c.Number, Name: print.MaskName(c.HolderName), Status: c.StatusOn(a.today()).Label(),
		Issuer: a.unitName(r.Context(), c.IssuerCode), IssuedOn: c.IssuedOn.String(), ValidUntil: c.ValidUntil.String(),
		URL: a.url("/certs/" + c.Number)}
	a.render(w, r, "certs", p)
}

// certList lists the certificates of the holder with the POSTed ID number that the user
// may see (audited by the store).
func (a *App) certList(w http.ResponseWriter, r *http.Request) {
	fe := formErrors(r)
	idNumber := strings.ToUpper(strings.TrimSpace(r.PostForm.Get("id_number")))
	if idNumber == "" {
		fe.Set("id_number", "请填写公民身份号码")
	} else if _, err := idcard.Parse(idNumber, yipanqi.Date{}); err != nil {
		fe.Set("id_number", "公民身份号码无效："+yipanqi.ErrorMessage(err))
	}
	p := a.certsView("", idNumber, fe)
	if fe.Any() {
		a.renderStatus(w, r, http.StatusUnprocessableEntity, "certs", p)
		return
	}
	certs, err := a.cfg.Store.PersonCertificates(r.Context(), scopeOf(r), idNumber)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	p.Listed = true
	for _, c := range certs {
		p.List = append(p.List, a.certLineOf(r, c, a.today()))
	}
	a.render(w, r, "certs", p)
}

// certForm is what templates/app/cert_new.html renders.
type certForm struct {
	Fields []Field
	Errors FormErrors
	Action string
	Found  string // the person found in the registry, for the user to check
}

var certFormFields = []string{"kind", "id_number", "holder_name", "hukou_address", "marital_status", "issued_on", "valid_until",
	"number", "issuer_code"}

func (a *App) certFormView(form map[string]string, fe FormErrors) *certForm {
	f := func(name, label, input string, required bool, max int, hint string) Field {
		return Field{Name: name, Label: label, Input: input, Required: required, MaxLen: max, Value: form[name], Error: fe[name], Hint: hint}
	}
	kind := f("kind", "类别", "select", true, 0, "")
	kind.Options = certKindOptions
	marital := f("marital_status", "婚姻状况", "select", true, 0, "")
	marital.Options = maritalOptions
	return &certForm{Errors: fe, Action: a.url("/certs/new"), Fields: []Field{
		kind,
		f("id_number", "持证人公民身份号码", "text", true, 18, "可先按号码查找本辖区登记的人员，自动填入姓名和户籍地址"),
		f("holder_name", "持证人姓名", "text", true, 50, ""),
		f("hukou_address", "户籍地址", "text", false, 200, ""),
		marital,
		f("issued_on", "签发日期", "date", true, 0, "格式 YYYY-MM-DD，不晚于今天"),
		f("valid_until", "有效期至", "date", true, 0, "格式 YYYY-MM-DD，晚于签发日期"),
		f("number", "证明编号", "text", false, 50, "本单位签发的留空，由系统按“单位代码-年份-序号-校验码”编号；外地证明按证上所印编号填写"),
		f("issuer_code", "签发单位代码（外地证明）", "text", false, 12, "外地证明填写签发单位的行政区划代码；本单位签发的留空"),
	}}
}

// certNewForm shows the empty form, with today's date and a validity of three years.
func (a *App) certNewForm(w http.ResponseWriter, r *http.Request) {
	today := a.today()
	form := map[string]string{"kind": string(yipanqi.CertIssued), "issued_on": today.String(),
		"valid_until": today.AddDays(3 * 365).String()}
	a.render(w, r, "cert_new", a.certFormView(form, FormErrors{}))
}

// certIssue handles the form: "lookup" fills the holder in from the registry (audited as a
// view by the store); otherwise the certificate is issued or recorded and its page shown.
func (a *App) certIssue(w http.ResponseWriter, r *http.Request) {
	fe := formErrors(r)
	form := map[string]string{}
	for _, n := range certFormFields {
		form[n] = strings.TrimSpace(r.PostForm.Get(n))
	}
	form["id_number"] = strings.ToUpper(form["id_number"])
	today := a.today()
	if form["kind"] == "" {
		form["kind"] = string(yipanqi.CertIssued)
	}
	if form["issued_on"] == "" && r.PostForm.Get("action") == "lookup" {
		form["issued_on"], form["valid_until"] = today.String(), today.AddDays(3*365).String()
	}
	show := func(status int, found string) {
		v := a.certFormView(form, fe)
		v.Found = found
		a.renderStatus(w, r, status, "cert_new", v)
	}
	if r.PostForm.Get("action") == "lookup" {
		if form["id_number"] == "" {
			fe.Set("id_number", "请填写公民身份号码")
			show(http.StatusUnprocessableEntity, "")
			return
		}
		p, err := a.cfg.Store.FindPerson(r.Context(), scopeOf(r), form["id_number"])
		switch yipanqi.ErrorCode(err) {
		case "":
			form["holder_name"], form["hukou_address"], form["marital_status"] = p.Name, p.HukouAddress, string(p.MaritalStatus)
			show(http.StatusOK, p.Name+"，户籍地 "+p.HukouAddress)
		case yipanqi.ENOTFOUND:
			fe.Set("id_number", "本辖区登记的人员中没有这个公民身份号码，请直接填写持证人信息")
			show(http.StatusUnprocessableEntity, "")
		default:
			a.fail(w, r, err)
		}
		return
	}
	u := currentUser(r)
	c := &yipanqi.Certificate{Kind: yipanqi.CertificateKind(form["kind"]), IDNumber: form["id_number"], HolderName: form["holder_name"],
		HukouAddress: form["hukou_address"], MaritalStatus: yipanqi.MaritalStatus(form["marital_status"]), Number: form["number"]}
	for _, d := range []struct {
		name, label string
		to          *yipanqi.Date
	}{{"issued_on", "签发日期", &c.IssuedOn}, {"valid_until", "有效期至", &c.ValidUntil}} {
		if form[d.name] == "" {
			fe.Set(d.name, d.label+"不能为空")
		} else if v, err := yipanqi.ParseDate(form[d.name]); err != nil {
			fe.Set(d.name, d.label+"格式应为 YYYY-MM-DD")
		} else {
			*d.to = v
		}
	}
	switch c.Kind {
	case yipanqi.CertIssued:
		c.IssuerCode = u.OrgUnit
		if form["issuer_code"] != "" && form["issuer_code"] != u.OrgUnit {
			fe.Set("issuer_code", "本单位签发的证明，签发单位即本单位（"+u.OrgUnit+"）；请留空")
		}
	case yipanqi.CertSeen:
		c.IssuerCode, c.OrgUnit = form["issuer_code"], u.OrgUnit
		if c.IssuerCode == "" {
			fe.Set("issuer_code", "外地证明须填写签发单位的行政区划代码")
		}
	default:
		fe.Set("kind", "请选择类别")
	}
	if !fe.Any() {
		err := a.cfg.Store.IssueCertificate(r.Context(), c)
		switch yipanqi.ErrorCode(err) {
		case "":
			http.Redirect(w, r, a.url("/certs/"+c.Number), http.StatusSeeOther)
			return
		case yipanqi.EINVALID, yipanqi.ECONFLICT:
			fe.Add(err, "")
		default:
			a.fail(w, r, err)
			return
		}
	}
	// A field the form does not show (org_unit, revoked) goes above the form.
	for k, msg := range fe {
		if k != "" && !containsString(certFormFields, k) {
			delete(fe, k)
			fe.Set("", msg)
		}
	}
	show(http.StatusUnprocessableEntity, "")
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// certPageData is what templates/app/cert.html renders.
type certPageData struct {
	Cert                         *yipanqi.Certificate
	Kind, Status, Issuer, Holder string
	PostedTo                     string
	Marital                      string
	CanRevoke, CanPost           bool
	CanHandover                  bool
	Handover                     *sqlstore.CertificateHandover
	HandoverUnit                 string
	HandedOn                     Field
	HandoverURL                  string
	Reason                       Field
	PostFields                   []Field
	Errors                       FormErrors
	RevokeURL, PostURL           string
	PrintURL, SlipURL, VerifyURL string
}

// findCert reads the certificate of the path within the user's scope (audited), or answers
// 404 and returns nil.
func (a *App) findCert(w http.ResponseWriter, r *http.Request) *yipanqi.Certificate {
	c, err := a.cfg.Store.CertificateInScope(r.Context(), scopeOf(r), r.PathValue("number"))
	if err != nil {
		a.fail(w, r, err)
		return nil
	}
	return c
}

// certPage shows a certificate with its status, and the forms to revoke it or record its
// posting for those who may.
func (a *App) certPage(w http.ResponseWriter, r *http.Request) {
	c := a.findCert(w, r)
	if c == nil {
		return
	}
	a.showCert(w, r, http.StatusOK, c, FormErrors{})
}

func (a *App) showCert(w http.ResponseWriter, r *http.Request, status int, c *yipanqi.Certificate, fe FormErrors) {
	u, scope := currentUser(r), scopeOf(r)
	holds := scope.Contains(c.OrgUnit) // the user's subtree holds the record
	base := a.url("/certs/" + c.Number)
	d := &certPageData{Cert: c, Kind: c.Kind.Label(), Status: c.StatusOn(a.today()).Label(), Issuer: a.unitName(r.Context(), c.IssuerCode),
		Marital: c.MaritalStatus.Label(), Errors: fe, RevokeURL: base + "/revoke", PostURL: base + "/posting",
		PrintURL: a.url("/print/cert/" + c.Number), VerifyURL: a.url(print.VerifyPath + c.Number)}
	if c.PostedTo != "" {
		d.PostedTo = a.unitName(r.Context(), c.PostedTo)
		d.SlipURL = a.url("/print/slip/" + c.Number)
	}
	h, err := a.cfg.Store.CertificateHandoverOf(r.Context(), c.Number)
	switch yipanqi.ErrorCode(err) {
	case "":
		d.Handover, d.HandoverUnit = h, a.unitName(r.Context(), h.OrgUnit)
	case yipanqi.ENOTFOUND:
	default:
		a.fail(w, r, err)
		return
	}
	d.HandoverURL = base + "/handover"
	d.CanHandover = !c.Revoked
	handedOn := r.PostForm.Get("handed_on")
	if handedOn == "" {
		handedOn = a.today().String()
	}
	d.HandedOn = Field{Name: "handed_on", Label: "交付本人日期", Input: "date", Required: true, Value: handedOn, Error: fe["handed_on"],
		Hint: "格式 YYYY-MM-DD"}
	d.CanRevoke = holds && !c.Revoked && canRevoke(u)
	d.CanPost = holds && !c.Revoked && c.Kind == yipanqi.CertIssued
	d.Reason = Field{Name: "reason", Label: "注销原因", Input: "text", Required: true, MaxLen: 200,
		Value: r.PostForm.Get("reason"), Error: fe["reason"]}
	postedOn := r.PostForm.Get("posted_on")
	if postedOn == "" {
		postedOn = a.today().String()
	}
	d.PostFields = []Field{
		{Name: "posted_to", Label: "寄送至（乡镇（街道）或社区的行政区划代码）", Input: "text", Required: true, MaxLen: 12,
			Value: r.PostForm.Get("posted_to"), Error: fe["posted_to"]},
		{Name: "tracking_number", Label: "邮件单号", Input: "text", Required: true, MaxLen: 50,
			Value: r.PostForm.Get("tracking_number"), Error: fe["tracking_number"]},
		{Name: "posted_on", Label: "寄送日期", Input: "date", Required: true, Value: postedOn, Error: fe["posted_on"], Hint: "格式 YYYY-MM-DD"},
	}
	a.renderStatus(w, r, status, "cert", d)
}

// certRevoke revokes a certificate held in the user's subtree, with a reason.
func (a *App) certRevoke(w http.ResponseWriter, r *http.Request) {
	c := a.findCert(w, r)
	if c == nil {
		return
	}
	if !scopeOf(r).Contains(c.OrgUnit) {
		a.failStatus(w, r, http.StatusForbidden, "只有签发或登记这份证明的单位及其上级可以注销它。")
		return
	}
	fe := formErrors(r)
	if !fe.Any() {
		err := a.cfg.Store.RevokeCertificateKind(r.Context(), c.Number, c.Kind, r.PostForm.Get("reason"))
		switch yipanqi.ErrorCode(err) {
		case "":
			http.Redirect(w, r, a.url("/certs/"+c.Number), http.StatusSeeOther)
			return
		case yipanqi.EINVALID, yipanqi.ECONFLICT:
			fe.Set("reason", yipanqi.ErrorMessage(err))
		default:
			a.fail(w, r, err)
			return
		}
	}
	a.showCert(w, r, http.StatusUnprocessableEntity, c, fe)
}

// certPosting records where and how an issued certificate was posted.
func (a *App) certPosting(w http.ResponseWriter, r *http.Request) {
	c := a.findCert(w, r)
	if c == nil {
		return
	}
	if !scopeOf(r).Contains(c.OrgUnit) || c.Kind != yipanqi.CertIssued {
		a.failStatus(w, r, http.StatusForbidden, "只有签发这份证明的单位可以登记寄送。")
		return
	}
	fe := formErrors(r)
	f := r.PostForm
	postedTo, tracking := strings.TrimSpace(f.Get("posted_to")), strings.TrimSpace(f.Get("tracking_number"))
	var on yipanqi.Date
	if v := strings.TrimSpace(f.Get("posted_on")); v == "" {
		fe.Set("posted_on", "寄送日期不能为空")
	} else if d, err := yipanqi.ParseDate(v); err != nil {
		fe.Set("posted_on", "寄送日期格式应为 YYYY-MM-DD")
	} else {
		on = d
	}
	if postedTo == "" {
		fe.Set("posted_to", "请填写寄送至的乡镇（街道）或社区代码")
	}
	if !fe.Any() {
		err := a.cfg.Store.RecordCertificatePosting(r.Context(), c.Number, postedTo, tracking, on)
		switch yipanqi.ErrorCode(err) {
		case "":
			http.Redirect(w, r, a.url("/certs/"+c.Number), http.StatusSeeOther)
			return
		case yipanqi.EINVALID:
			fe.Add(err, "")
		case yipanqi.ECONFLICT:
			fe.Set("", yipanqi.ErrorMessage(err))
		default:
			a.fail(w, r, err)
			return
		}
	}
	a.showCert(w, r, http.StatusUnprocessableEntity, c, fe)
}

// certHandover records that the certificate was handed to its holder (by the unit that
// posted it, or the one it was posted to).
func (a *App) certHandover(w http.ResponseWriter, r *http.Request) {
	c := a.findCert(w, r)
	if c == nil {
		return
	}
	fe := formErrors(r)
	var on yipanqi.Date
	if v := strings.TrimSpace(r.PostForm.Get("handed_on")); v == "" {
		fe.Set("handed_on", "交付日期不能为空")
	} else if d, err := yipanqi.ParseDate(v); err != nil {
		fe.Set("handed_on", "交付日期格式应为 YYYY-MM-DD")
	} else {
		on = d
	}
	if !fe.Any() {
		err := a.cfg.Store.RecordCertificateHandover(r.Context(), scopeOf(r), c.Number, on)
		switch yipanqi.ErrorCode(err) {
		case "":
			http.Redirect(w, r, a.url("/certs/"+c.Number), http.StatusSeeOther)
			return
		case yipanqi.EINVALID:
			fe.Add(err, "")
		case yipanqi.ECONFLICT:
			fe.Set("", yipanqi.ErrorMessage(err))
		default:
			a.fail(w, r, err)
			return
		}
	}
	a.showCert(w, r, http.StatusUnprocessableEntity, c, fe)
}
