package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"yipanqi"
	"yipanqi/idcard"
	"yipanqi/web/print"
)

// 人员: the people residing in the user's subtree. A person is reached by the registry row id
// (an opaque number that says nothing about them; out of scope it is a 404 like any missing
// page), never by the ID number, and searches are POSTed so that no name or ID number ever
// stands in a URL. Every read goes through a store method that audits it.

// peopleRoutes are the pages of 人员, 婚育证明 and the printed documents (people.go, certs.go,
// printing.go).
func (a *App) peopleRoutes() []route {
	return []route{
		{pattern: "GET /people", nav: "人员", allow: canSend, handle: a.peopleForm},
		{pattern: "POST /people", allow: canSend, handle: a.peopleSearch},
		{pattern: "GET /people/{id}", allow: canSend, handle: a.personPage},
		{pattern: "POST /people/{id}/flow", allow: canSend, handle: a.personFlow},
		{pattern: "POST /people/{id}/consents", allow: canSend, handle: a.personConsent},
		{pattern: "POST /people/{id}/consents/{cid}/revoke", allow: canSend, handle: a.personConsentRevoke},

		{pattern: "GET /certs", nav: "婚育证明", allow: canSend, handle: a.certsHome},
		{pattern: "POST /certs/check", allow: canSend, handle: a.certCheck},
		{pattern: "POST /certs/list", allow: canSend, handle: a.certList},
		{pattern: "GET /certs/new", allow: canSend, handle: a.certNewForm},
		{pattern: "POST /certs/new", allow: canSend, handle: a.certIssue},
		{pattern: "GET /certs/{number}", allow: canSend, handle: a.certPage},
		{pattern: "POST /certs/{number}/revoke", allow: canRevoke, handle: a.certRevoke},
		{pattern: "POST /certs/{number}/posting", allow: canSend, handle: a.certPosting},
		{pattern: "POST /certs/{number}/handover", allow: canSend, handle: a.certHandover},

		{pattern: "GET /print/notice/{id}", allow: canSend, handle: a.printNotice},
		{pattern: "GET /print/reissue/{id}", allow: canSend, handle: a.printReissueNotice},
		{pattern: "GET /print/copy/{id}", allow: canSend, handle: a.printCopy},
		{pattern: "GET /print/cert/{number}", allow: canSend, handle: a.printCert},
		{pattern: "GET /print/slip/{number}", allow: canSend, handle: a.printSlip},
		{pattern: "GET /print/report/{id}", allow: canSend, handle: a.printReport},
		{pattern: "GET " + print.VerifyPath + "{number}", public: true, handle: a.verifyCert},
	}
}

// flowKinds are the flow statuses, in the order of the forms.
var flowKinds = []yipanqi.FlowKind{yipanqi.FlowArrived, yipanqi.FlowLeft, yipanqi.FlowMovedOn, yipanqi.FlowReturned}

func flowOptions() []yipanqi.Option {
	out := make([]yipanqi.Option, len(flowKinds))
	for i, k := range flowKinds {
		out[i] = yipanqi.Option{Value: string(k), Label: k.Label()}
	}
	return out
}

// personRow is one line of the people list: ID number and phone masked.
type personRow struct {
	URL, Name, IDNumber, Phone string
	Residence, Hukou, Flow     string
	ArrivedOn                  string
}

// searchValues are the filters of a people search as posted (kept in the paging forms).
type searchValues struct {
	IDNumber, Name, Unit, Flow string
}

// peoplePage is what templates/app/people.html renders.
type peoplePage struct {
	Fields   []Field
	Errors   FormErrors
	Searched bool
	Values   searchValues
	Rows     []personRow
	Total    int
	Page     int
	Pages    int
	Prev     int // 0: none
	Next     int
	Action   string
	Notice   string
}

func (a *App) peopleView(v searchValues, fe FormErrors) *peoplePage {
	return &peoplePage{Values: v, Errors: fe, Action: a.url("/people"), Fields: []Field{
		{Name: "id_number", Label: "公民身份号码", Input: "text", MaxLen: 18, Value: v.IDNumber, Error: fe["id_number"],
			Hint: "完整的 18 位号码（精确查找）"},
		{Name: "name", Label: "姓名", Input: "text", MaxLen: maxSearchName, Value: v.Name, Error: fe["name"], Hint: "姓名或姓名的开头"},
		{Name: "unit", Label: "现居住地（本辖区内的单位）", Input: "text", MaxLen: 12, Value: v.Unit, Error: fe["unit"],
			Hint: "行政区划代码，如乡镇（街道）9 位、社区 12 位；留空为整个辖区"},
		{Name: "flow", Label: "流动状态", Input: "select", Options: flowOptions(), Value: v.Flow, Error: fe["flow"]},
	}}
}

// peopleForm is 人员: the search form.
func (a *App) peopleForm(w http.ResponseWriter, r *http.Request) {
	p := a.peopleView(searchValues{}, FormErrors{})
	if r.URL.Query().Get("moved") == "1" {
		p.Notice = "再流动已登记。该人员的现居住地已不在您的管辖范围内，其记录由新的居住地管理。"
	}
	a.render(w, r, "people", p)
}

// peopleSearch lists the people matching the posted filters, a page at a time (the page is
// posted too); the store audits the search.
func (a *App) peopleSearch(w http.ResponseWriter, r *http.Request) {
	fe := formErrors(r)
	f := r.PostForm
	v := searchValues{IDNumber: strings.ToUpper(strings.TrimSpace(f.Get("id_number"))), Name: strings.TrimSpace(f.Get("name")),
		Unit: strings.TrimSpace(f.Get("unit")), Flow: f.Get("flow")}
	filter := yipanqi.PersonFilter{Name: v.Name, Limit: PageSize}
	if v.IDNumber != "" {
		id, err := idcard.Parse(v.IDNumber, yipanqi.Date{})
		if err != nil {
			fe.Set("id_number", "公民身份号码无效："+yipanqi.ErrorMessage(err))
		} else {
			filter.IDNumber = id.Number
		}
	}
	if msg := tooLong("姓名", v.Name, maxSearchName); msg != "" {
		fe.Set("name", msg)
	}
	scope := scopeOf(r)
	if v.Unit != "" {
		s, err := yipanqi.NewScope(v.Unit)
		switch {
		case err != nil:
			fe.Set("unit", "“现居住地”须为 2、4、6、9 或 12 位数字的行政区划代码")
		case !scope.Contains(v.Unit):
			fe.Set("unit", "单位“"+v.Unit+"”不在您的管辖范围内")
		default:
			scope = s
		}
	}
	if v.Flow != "" {
		k := yipanqi.FlowKind(v.Flow)
		if k.Label() == "" {
			fe.Set("flow", "流动状态无效")
		}
		filter.FlowStatus = k
	}
	page, err := strconv.Atoi(f.Get("page"))
	if err != nil || page < 1 || page > maxPage {
		page = 1
	}
	filter.Offset = (page - 1) * PageSize
	p := a.peopleView(v, fe)
	if fe.Any() {
		a.renderStatus(w, r, http.StatusUnprocessableEntity, "people", p)
		return
	}
	people, total, err := a.cfg.Store.ListPeople(r.Context(), scope, filter)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	p.Searched, p.Total, p.Page = true, total, page
	p.Pages = (total + PageSize - 1) / PageSize
	if page > 1 {
		p.Prev = page - 1
	}
	if page < p.Pages {
		p.Next = page + 1
	}
	for _, x := range people {
		p.Rows = append(p.Rows, personRow{URL: a.personURL(x), Name: x.Name, IDNumber: MaskIDNumber(x.IDNumber),
			Phone: print.MaskPhone(x.Phone), Residence: a.unitName(r.Context(), x.ResidenceCode),
			Hukou: a.unitName(r.Context(), x.HukouCode), Flow: x.FlowStatus.Label(), ArrivedOn: x.ArrivedOn.String()})
	}
	a.render(w, r, "people", p)
}

// personURL is the address of a person's page: by the row id, never the ID number.
func (a *App) personURL(p *yipanqi.Person) string {
	return a.url("/people/" + strconv.FormatInt(p.ID, 10))
}

// findPersonByPath reads the person of the path's opaque id in the user's scope (audited
// as person.view by the store); it answers 404 itself and returns nil when there is none.
func (a *App) findPersonByPath(w http.ResponseWriter, r *http.Request) *yipanqi.Person {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		a.fail(w, r, yipanqi.Errorf(yipanqi.ENOTFOUND, "未找到该人员"))
		return nil
	}
	p, err := a.cfg.Store.PersonByID(r.Context(), scopeOf(r), id)
	if err != nil {
		a.fail(w, r, err)
		return nil
	}
	return p
}

type flowLine struct {
	Kind, On, From, To, Note string
	RecordedAt               time.Time
}

type certLine struct {
	URL, Number, Kind, Issuer string
	IssuedOn, ValidUntil      string
	Status                    string
}

type serviceLine struct {
	CaseURL, PrintURL, Kind, Date, Provider, Checkup, From string
	ReceivedAt                                             time.Time
}

type consentLine struct {
	ID, Type, Purpose, Recipient string
	GivenAt, RecordedAt          time.Time
	RecordedBy                   string
	Live                         bool
	RevokedAt                    time.Time
	RevokedBy, RevokeReason      string
	RevokeURL                    string
	Reason                       Field
}

// personPageData is what templates/app/person.html renders.
type personPageData struct {
	Person                       *yipanqi.Person
	Sex, Marital, Flow           string
	Residence, Hukou             string
	Flows                        []flowLine
	Certs                        []certLine
	Services                     []serviceLine
	NoTripHome                   string
	Consents                     []consentLine
	Cases                        []caseLine
	CasesPager                   Pager
	FlowFields, ConsentFields    []Field
	NoticeDays                   Field
	Errors                       FormErrors
	FlowURL, ConsentURL          string
	NoticeURL, CopyURL, IssueURL string
	CertsURL                     string
}

// personPage shows a person: the record, flows, certificates, services received, consents,
// the exchanges about them, and the forms to record a move or a consent.
func (a *App) personPage(w http.ResponseWriter, r *http.Request) {
	p := a.findPersonByPath(w, r)
	if p == nil {
		return
	}
	a.showPerson(w, r, http.StatusOK, p, FormErrors{}, nil)
}

// showPerson renders the person page with status; posted holds what the user typed into the
// form that failed (nil: the forms' defaults), fe its errors.
func (a *App) showPerson(w http.ResponseWriter, r *http.Request, status int, p *yipanqi.Person, fe FormErrors, posted map[string]string) {
	d, err := a.personView(r, p, fe, posted)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.renderStatus(w, r, status, "person", d)
}

func (a *App) personView(r *http.Request, p *yipanqi.Person, fe FormErrors, posted map[string]string) (*personPageData, error) {
	ctx, scope, now := r.Context(), scopeOf(r), a.cfg.Now()
	today := yipanqi.DateOf(now.In(yipanqi.Shanghai))
	base := a.personURL(p)
	d := &personPageData{Person: p, Sex: p.Sex.Label(), Marital: p.MaritalStatus.Label(), Flow: p.FlowStatus.Label(),
		Residence: a.unitName(ctx, p.ResidenceCode), Hukou: a.unitName(ctx, p.HukouCode), Errors: fe,
		FlowURL: base + "/flow", ConsentURL: base + "/consents", NoticeURL: a.url("/print/notice/" + r.PathValue("id")),
		CopyURL: a.url("/print/copy/" + r.PathValue("id")), IssueURL: a.url("/certs/new"), CertsURL: a.url("/certs"),
		NoTripHome: noTripHomeLabel}
	val := func(name, def string) string {
		if posted != nil {
			if v, ok := posted[name]; ok {
				return v
			}
		}
		return def
	}

	flows, err := a.cfg.Store.FlowHistory(ctx, scope, p.IDNumber)
	if err != nil {
		return nil, err
	}
	for _, e := range flows {
		d.Flows = append(d.Flows, flowLine{Kind: e.Kind.Label(), On: e.On.String(), From: a.unitName(ctx, e.FromCode),
			To: a.unitName(ctx, e.ToCode), Note: e.Note, RecordedAt: e.RecordedAt})
	}
	certs, err := a.cfg.Store.PersonCertificates(ctx, scope, p.IDNumber)
	if err != nil {
		return nil, err
	}
	for _, c := range certs {
		d.Certs = append(d.Certs, a.certLineOf(r, c, today))
	}
	services, err := a.cfg.Store.ServiceResults(ctx, scope, p.IDNumber)
	if err != nil {
		return nil, err
	}
	for _, s := range services {
		checkup := "否"
		if s.CheckupDone {
			checkup = "是"
		}
		d.Services = append(d.Services, serviceLine{CaseURL: a.url("/cases/" + s.CaseID), PrintURL: a.url("/print/report/" + s.CaseID),
			Kind: print.ServiceKindLabel(s.ServiceKind), Date: s.ServiceDate.String(), Provider: s.Provider, Checkup: checkup,
			From: a.unitName(ctx, s.From), ReceivedAt: s.ReceivedAt})
	}
	consents, err := a.cfg.Store.Consents(ctx, scope, p.IDNumber)
	if err != nil {
		return nil, err
	}
	for _, c := range consents {
		id := strconv.FormatInt(c.ID, 10)
		l := consentLine{ID: id, Type: a.typeLabel(c.CaseType), Purpose: c.Purpose, Recipient: a.unitName(ctx, c.Recipient),
			GivenAt: c.GivenAt, RecordedAt: c.RecordedAt, RecordedBy: c.RecordedBy, Live: c.Live(now), RevokedAt: c.RevokedAt,
			RevokedBy: c.RevokedBy, RevokeReason: c.RevokeReason, RevokeURL: base + "/consents/" + id + "/revoke"}
		name := "r" + id + ".reason"
		l.Reason = Field{Name: name, Label: "撤回原因", Input: "text", Required: true, MaxLen: 200, Value: val(name, ""), Error: fe[name]}
		d.Consents = append(d.Consents, l)
	}
	page, offset := pageOf(r)
	cases, total, err := a.cfg.Store.PersonCases(ctx, scope, p.IDNumber, offset, PageSize)
	if err != nil {
		return nil, err
	}
	d.Cases = a.caseRows(ctx, cases, now)
	d.CasesPager = a.pager("/people/"+r.PathValue("id"), nil, page, total)

	d.FlowFields = []Field{
		{Name: "f.kind", Label: "变动类型", Input: "select", Required: true, Options: flowOptions(), Value: val("f.kind", ""), Error: fe["f.kind"]},
		{Name: "f.on", Label: "变动日期", Input: "date", Required: true, Value: val("f.on", today.String()), Error: fe["f.on"], Hint: "格式 YYYY-MM-DD"},
		{Name: "f.to_code", Label: "流向地行政区划代码", Input: "text", MaxLen: 12, Value: val("f.to_code", ""), Error: fe["f.to_code"],
			Hint: "流入、再流动时填写新的现居住地（流入须在本辖区内）；离开、返乡可留空"},
		{Name: "f.note", Label: "备注", Input: "text", MaxLen: 200, Value: val("f.note", ""), Error: fe["f.note"]},
	}
	var typeOpts []yipanqi.Option
	for _, t := range a.cfg.Catalog.Types() {
		if a.cfg.Catalog.ConsentNeeded(t.Name) != nil {
			typeOpts = append(typeOpts, yipanqi.Option{Value: t.Name, Label: t.Label})
		}
	}
	defType := ""
	if len(typeOpts) == 1 {
		defType = typeOpts[0].Value
	}
	d.ConsentFields = []Field{
		{Name: "c.case_type", Label: "同意的事项", Input: "select", Required: true, Options: typeOpts, Value: val("c.case_type", defType), Error: fe["c.case_type"]},
		{Name: "c.purpose", Label: "目的", Input: "text", MaxLen: 200, Value: val("c.purpose", ""), Error: fe["c.purpose"], Hint: "留空则为该事项在目录中声明的目的"},
		{Name: "c.recipient", Label: "接收方（行政区划代码）", Input: "text", Required: true, MaxLen: 12,
			Value: val("c.recipient", hometownUnit(p.HukouCode)), Error: fe["c.recipient"], Hint: "默认为户籍地；同意覆盖该单位及其下级"},
		{Name: "c.given_at", Label: "本人同意的时间", Input: "datetime-local", Required: true,
			Value: val("c.given_at", now.In(yipanqi.Shanghai).Format(dateTimeLocal)), Error: fe["c.given_at"], Hint: "格式 YYYY-MM-DDTHH:MM（北京时间）"},
	}
	d.NoticeDays = Field{Name: "days", Label: "补办期限（天）", Input: "number", Required: true,
		Value: val("days", strconv.Itoa(print.DefaultNoticeDays)), Error: fe["days"], Hint: "自今天起的天数，1 至 180"}
	return d, nil
}

// noTripHomeLabel is what a received service result shows: the person need not come back.
const noTripHomeLabel = "已收到——无需返乡"

// dateTimeLocal is the value format of an <input type="datetime-local">.
const dateTimeLocal = "2006-01-02T15:04"

// personFlow records an arrival, departure, move on or return of the person; with an
// exchange engine, the change opens its move.notice to the hometown in the same transaction.
func (a *App) personFlow(w http.ResponseWriter, r *http.Request) {
	p := a.findPersonByPath(w, r)
	if p == nil {
		return
	}
	fe := formErrors(r)
	f := r.PostForm
	posted := map[string]string{"f.kind": f.Get("f.kind"), "f.on": strings.TrimSpace(f.Get("f.on")),
		"f.to_code": strings.TrimSpace(f.Get("f.to_code")), "f.note": strings.TrimSpace(f.Get("f.note"))}
	ev := &yipanqi.FlowEvent{Kind: yipanqi.FlowKind(posted["f.kind"]), ToCode: posted["f.to_code"], Note: posted["f.note"]}
	if ev.Kind.Label() == "" {
		fe.Set("f.kind", "请选择变动类型")
	}
	today := yipanqi.DateOf(a.cfg.Now().In(yipanqi.Shanghai))
	if posted["f.on"] == "" {
		fe.Set("f.on", "请填写变动日期")
	} else if on, err := yipanqi.ParseDate(posted["f.on"]); err != nil {
		fe.Set("f.on", "变动日期格式应为 YYYY-MM-DD")
	} else if today.Before(on) {
		fe.Set("f.on", "变动日期不能晚于今天")
	} else {
		ev.On = on
	}
	scope := scopeOf(r)
	switch {
	case ev.ToCode != "" && !yipanqi.ValidDivisionCode(ev.ToCode):
		fe.Set("f.to_code", "流向地须为 2、4、6、9 或 12 位数字的行政区划代码")
	case ev.Kind == yipanqi.FlowArrived && ev.ToCode != "" && !scope.Contains(ev.ToCode):
		fe.Set("f.to_code", "流入地须在本辖区内")
	case ev.Kind == yipanqi.FlowMovedOn && ev.ToCode == "":
		fe.Set("f.to_code", "再流动须填写流向地")
	}
	if msg := tooLong("备注", ev.Note, 200); msg != "" {
		fe.Set("f.note", msg)
	}
	if !fe.Any() {
		var err error
		if a.cfg.Node != nil {
			// The registry change and its move.notice to the hometown, in one transaction.
			_, err = a.cfg.Node.RecordFlow(r.Context(), scope, p.IDNumber, ev)
		} else {
			err = a.cfg.Store.RecordFlow(r.Context(), scope, p.IDNumber, ev)
		}
		if err == nil {
			to := a.personURL(p)
			if ev.Kind == yipanqi.FlowMovedOn && !scope.Contains(ev.ToCode) {
				to = a.url("/people?moved=1") // no longer in the user's subtree
			}
			http.Redirect(w, r, to, http.StatusSeeOther)
			return
		}
		if yipanqi.ErrorCode(err) != yipanqi.EINVALID {
			a.fail(w, r, err)
			return
		}
		fe.Add(err, "f.")
	}
	a.showPerson(w, r, http.StatusUnprocessableEntity, p, fe, posted)
}

// personConsent records the person's separate consent.
func (a *App) personConsent(w http.ResponseWriter, r *http.Request) {
	p := a.findPersonByPath(w, r)
	if p == nil {
		return
	}
	fe := formErrors(r)
	f := r.PostForm
	posted := map[string]string{"c.case_type": f.Get("c.case_type"), "c.purpose": strings.TrimSpace(f.Get("c.purpose")),
		"c.recipient": strings.TrimSpace(f.Get("c.recipient")), "c.given_at": strings.TrimSpace(f.Get("c.given_at"))}
	c := &yipanqi.Consent{IDNumber: p.IDNumber, CaseType: posted["c.case_type"], Purpose: posted["c.purpose"], Recipient: posted["c.recipient"]}
	if c.CaseType == "" {
		fe.Set("c.case_type", "请选择同意的事项")
	}
	if c.Recipient == "" {
		fe.Set("c.recipient", "请填写接收方的行政区划代码")
	}
	if posted["c.given_at"] == "" {
		fe.Set("c.given_at", "请填写本人同意的时间")
	} else if t, err := time.ParseInLocation(dateTimeLocal, posted["c.given_at"], yipanqi.Shanghai); err != nil {
		fe.Set("c.given_at", "时间格式应为 YYYY-MM-DDTHH:MM")
	} else {
		c.GivenAt = t
	}
	if !fe.Any() {
		err := a.cfg.Store.RecordConsent(r.Context(), scopeOf(r), c)
		if err == nil {
			http.Redirect(w, r, a.personURL(p), http.StatusSeeOther)
			return
		}
		if yipanqi.ErrorCode(err) != yipanqi.EINVALID {
			a.fail(w, r, err)
			return
		}
		fe.Add(err, "c.")
	}
	a.showPerson(w, r, http.StatusUnprocessableEntity, p, fe, posted)
}

// personConsentRevoke revokes a consent, with a reason.
func (a *App) personConsentRevoke(w http.ResponseWriter, r *http.Request) {
	p := a.findPersonByPath(w, r)
	if p == nil {
		return
	}
	cid, err := strconv.ParseInt(r.PathValue("cid"), 10, 64)
	if err != nil || cid <= 0 {
		a.fail(w, r, yipanqi.Errorf(yipanqi.ENOTFOUND, "未找到该同意记录"))
		return
	}
	fe := formErrors(r)
	name := "r" + r.PathValue("cid") + ".reason"
	reason := strings.TrimSpace(r.PostForm.Get(name))
	posted := map[string]string{name: reason}
	if msg := tooLong("撤回原因", reason, 200); msg != "" {
		fe.Set(name, msg)
	}
	if !fe.Any() {
		err := a.cfg.Store.RevokeConsent(r.Context(), scopeOf(r), cid, reason)
		switch yipanqi.ErrorCode(err) {
		case "":
			http.Redirect(w, r, a.personURL(p), http.StatusSeeOther)
			return
		case yipanqi.EINVALID, yipanqi.ECONFLICT:
			fe.Set(name, yipanqi.ErrorMessage(err))
		default:
			a.fail(w, r, err)
			return
		}
	}
	a.showPerson(w, r, http.StatusUnprocessableEntity, p, fe, posted)
}
