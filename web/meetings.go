package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"yipanqi"
	"yipanqi/meeting"
)

// 联席会议 (S4.2, docs/meetings.md): the rotation of the convening province, the meetings with
// their agenda, minutes and resolutions, and each resolution followed up as a consult case
// (consult.case) started through the exchange. Meetings hold no personal data, so reading
// them is not audited; every change is, by the store.

// meetingReaders may read the meetings: the supervisors of every level and the regional
// observer. A township worker does not take part in the joint meeting and does not see it.
var meetingReaders = roles(yipanqi.RoleCountySupervisor, yipanqi.RoleCitySupervisor, yipanqi.RoleProvinceSupervisor,
	yipanqi.RoleProvinceAdmin, yipanqi.RoleRegionalObserver)

// meetingEditors may record meetings, minutes and resolutions and follow resolutions up: the
// province's staff (the store also requires a province-level unit).
var meetingEditors = roles(yipanqi.RoleProvinceAdmin, yipanqi.RoleProvinceSupervisor)

// meetingRoutes are the pages of 联席会议.
func (a *App) meetingRoutes() []route {
	return []route{
		{pattern: "GET /meetings", nav: "联席会议", allow: meetingReaders, handle: a.meetings},
		{pattern: "POST /meetings", allow: meetingEditors, handle: a.meetingCreate},
		{pattern: "GET /meetings/{id}", allow: meetingReaders, handle: a.meetingPage},
		{pattern: "POST /meetings/{id}/minutes", allow: meetingEditors, handle: a.meetingMinutes},
		{pattern: "POST /meetings/{id}/resolutions", allow: meetingEditors, handle: a.meetingResolution},
		{pattern: "POST /meetings/{id}/resolutions/{rid}/follow", allow: meetingEditors, handle: a.meetingFollow},
	}
}

// rotation is the node's rotation of the convening province.
func (a *App) rotation() meeting.Rotation {
	if a.cfg.MeetingRotation != nil {
		return *a.cfg.MeetingRotation
	}
	return meeting.DefaultRotation()
}

// canEditMeetings reports whether u records meetings: province staff of a province-level unit.
func canEditMeetings(u *yipanqi.User) bool {
	return u != nil && meetingEditors(u) && yipanqi.LevelOf(u.OrgUnit) == yipanqi.LevelProvince
}

// provinceOptions are the 11 provinces in the plan's order, for the selects.
func provinceOptions() []yipanqi.Option {
	provinces := yipanqi.RegionProvinces()
	out := make([]yipanqi.Option, len(provinces))
	for i, p := range provinces {
		out[i] = yipanqi.Option{Value: p.Code, Label: p.Name}
	}
	return out
}

// provinceName is the short name of a province of the region, or its code.
func provinceName(code string) string {
	if n := yipanqi.ProvinceName(code); n != "" {
		return n
	}
	return code
}

// rotationLine is one year of the rotation.
type rotationLine struct {
	Year     int
	Host     string // the province convening by the rotation
	Next     bool   // the next meeting to be held
	Meetings []meetingRef
}

// meetingRef links a recorded meeting.
type meetingRef struct{ URL, Text string }

// meetingLine is one meeting of the list.
type meetingLine struct {
	URL, Date, Label, Host, Place, Agenda string
	Resolutions, Followed                 int
}

// meetingsPage is what templates/app/meetings.html renders.
type meetingsPage struct {
	Rotation  []rotationLine
	FirstYear int
	Meetings  []meetingLine
	CanEdit   bool
	Form      []Field // the form recording a meeting
	FormError string
}

// meetingFields is the form recording a meeting, with what was posted and the errors.
func meetingFields(posted url.Values, fe FormErrors, rot meeting.Rotation, year int) []Field {
	fs := []Field{
		{Name: "held_on", Label: "会议日期", Input: "date", Required: true, Hint: "格式 YYYY-MM-DD；会议年度即日期所在年度"},
		{Name: "host", Label: "召集省份", Input: "select", Options: provinceOptions(),
			Hint: "不选则按轮值（" + strconv.Itoa(year) + " 年为" + provinceName(rot.Host(year)) + "）；经上次会议商定调换的，选实际召集的省份"},
		{Name: "place", Label: "会议地点", Input: "text", MaxLen: 200},
		{Name: "agenda", Label: "会议议程", Input: "textarea", Required: true, MaxLen: 5000},
	}
	for i := range fs {
		fs[i].Value, fs[i].Error = posted.Get(fs[i].Name), fe[fs[i].Name]
	}
	return fs
}

// meetings is 联席会议: the rotation, the meetings, and for province staff the form
// recording one.
func (a *App) meetings(w http.ResponseWriter, r *http.Request) {
	page, err := a.meetingsView(r, nil, FormErrors{})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, r, "meetings", page)
}

// meetingsView builds the list page with the posted form and its errors.
func (a *App) meetingsView(r *http.Request, posted url.Values, fe FormErrors) (*meetingsPage, error) {
	ms, err := a.cfg.Store.Meetings(r.Context(), 0)
	if err != nil {
		return nil, err
	}
	rot := a.rotation()
	now := a.cfg.Now().In(yipanqi.Shanghai)
	today := yipanqi.DateOf(now)
	year := now.Year()
	// The next meeting: this year's, unless this year's has already met.
	next := year
	byYear := map[int][]meetingRef{}
	page := &meetingsPage{FirstYear: rot.FirstYear, CanEdit: canEditMeetings(currentUser(r))}
	for i := len(ms) - 1; i >= 0; i-- { // newest first
		m := ms[i]
		u := a.url("/meetings/" + strconv.FormatInt(m.ID, 10))
		if m.Year == year && !today.Before(m.HeldOn) {
			next = year + 1
		}
		byYear[m.Year] = append(byYear[m.Year], meetingRef{URL: u, Text: m.HeldOn.String() + " " + provinceName(m.Host) + "召集"})
		l := meetingLine{URL: u, Date: m.HeldOn.String(), Label: m.Label(), Host: provinceName(m.Host), Place: m.Place,
			Agenda: shorten(m.Agenda, 80), Resolutions: len(m.Resolutions)}
		for _, x := range m.Resolutions {
			if x.CaseID != "" {
				l.Followed++
			}
		}
		page.Meetings = append(page.Meetings, l)
	}
	start := max(year-1, rot.FirstYear)
	for y := start; y < start+len(rot.Order); y++ {
		page.Rotation = append(page.Rotation, rotationLine{Year: y, Host: provinceName(rot.Host(y)), Next: y == next, Meetings: byYear[y]})
	}
	if page.CanEdit {
		page.Form = meetingFields(posted, fe, rot, next)
		page.FormError = fe[""]
	}
	return page, nil
}

// shorten cuts s to n characters, marking the cut.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "……"
}

// meetingCreate records a meeting; errors go next to their field with what was typed, and
// nothing is saved.
func (a *App) meetingCreate(w http.ResponseWriter, r *http.Request) {
	fe := formErrors(r)
	form := r.PostForm
	m := &meeting.Meeting{Host: strings.TrimSpace(form.Get("host")), Place: strings.TrimSpace(form.Get("place")),
		Agenda: strings.TrimSpace(form.Get("agenda"))}
	switch s := strings.TrimSpace(form.Get("held_on")); {
	case s == "":
		fe.Set("held_on", "请填写会议日期")
	default:
		d, err := yipanqi.ParseDate(s)
		if err != nil {
			fe.Set("held_on", "会议日期“"+s+"”无效：格式应为 YYYY-MM-DD")
		}
		m.HeldOn, m.Year = d, d.Year
	}
	if msg := tooLong("会议地点", m.Place, 200); msg != "" {
		fe.Set("place", msg)
	}
	if msg := tooLong("会议议程", m.Agenda, 5000); msg != "" {
		fe.Set("agenda", msg)
	}
	if m.Agenda == "" {
		fe.Set("agenda", "会议议程不能为空")
	}
	if m.Host != "" && yipanqi.ProvinceName(m.Host) == "" {
		fe.Set("host", "召集省份“"+m.Host+"”不是泛珠三角区域的省份")
	}
	if !fe.Any() {
		if err := a.cfg.Store.CreateMeeting(r.Context(), a.rotation(), m); err != nil {
			if !meetingFormError(fe, err, "") {
				a.fail(w, r, err)
				return
			}
		}
	}
	if fe.Any() {
		page, err := a.meetingsView(r, form, fe)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		a.renderStatus(w, r, http.StatusUnprocessableEntity, "meetings", page)
		return
	}
	http.Redirect(w, r, a.url("/meetings/"+strconv.FormatInt(m.ID, 10)+"?saved=meeting"), http.StatusSeeOther)
}

// meetingFormError puts a store error that the user can correct into fe (the year is the
// date's, so its errors go to the date) and reports whether it did.
func meetingFormError(fe FormErrors, err error, prefix string) bool {
	switch yipanqi.ErrorCode(err) {
	case yipanqi.EINVALID, yipanqi.ECONFLICT:
		if yipanqi.ErrorField(err) == "year" {
			fe.Set(prefix+"held_on", yipanqi.ErrorMessage(err))
			return true
		}
		fe.Add(err, prefix)
		return true
	case yipanqi.EFORBIDDEN:
		fe.Set("", yipanqi.ErrorMessage(err))
		return true
	}
	return false
}

// resolutionLine is one resolution of the meeting page.
type resolutionLine struct {
	ID                      int64
	Seq                     int
	Text, Lead, Counterpart string
	CaseURL, CaseID, State  string
	// The follow-up form, when this node leads it and no case follows it yet.
	Follow      []Field
	FollowURL   string
	FollowError string
	FollowNote  string // why there is no form
}

// meetingPageData is what templates/app/meeting.html renders.
type meetingPageData struct {
	ID, Label, Host, Date, Place, Rotation string
	AgendaLines, MinutesLines              []string
	Resolutions                            []resolutionLine
	CanEdit                                bool
	Saved                                  string
	MinutesField                           Field
	MinutesURL                             string
	MinutesError                           string // an error of the minutes form as a whole
	ResolutionFields                       []Field
	ResolutionURL                          string
	ResolutionError                        string
	Alert                                  string // an error about a resolution's follow-up
}

// lines are the non-blank lines of a text, shown as paragraphs.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// meetingByID reads the meeting of the path's {id}. ENOTFOUND when there is none.
func (a *App) meetingByID(r *http.Request) (*meeting.Meeting, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return nil, yipanqi.Errorf(yipanqi.ENOTFOUND, "未找到该联席会议")
	}
	ms, err := a.cfg.Store.Meetings(r.Context(), 0)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if m.ID == id {
			return m, nil
		}
	}
	return nil, yipanqi.Errorf(yipanqi.ENOTFOUND, "未找到第 %d 号联席会议", id)
}

// meetingPage is one meeting: agenda, minutes, resolutions and their follow-up, and the
// forms of province staff.
func (a *App) meetingPage(w http.ResponseWriter, r *http.Request) {
	m, err := a.meetingByID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	p := a.meetingView(r, m, "", nil, FormErrors{})
	p.Saved = r.URL.Query().Get("saved")
	a.render(w, r, "meeting", p)
}

// followForm names a resolution's follow-up form (and its inputs' ids).
func followForm(id int64) string { return "r" + strconv.FormatInt(id, 10) }

// meetingView builds the meeting page; which names the form posted ("minutes",
// "resolution" or a followForm), shown again with posted and fe.
func (a *App) meetingView(r *http.Request, m *meeting.Meeting, which string, posted url.Values, fe FormErrors) *meetingPageData {
	base := "/meetings/" + strconv.FormatInt(m.ID, 10)
	rot := a.rotation()
	p := &meetingPageData{ID: strconv.FormatInt(m.ID, 10), Label: m.Label(), Host: provinceName(m.Host), Date: m.HeldOn.String(),
		Place: m.Place, AgendaLines: lines(m.Agenda), MinutesLines: lines(m.Minutes), CanEdit: canEditMeetings(currentUser(r)),
		MinutesURL: a.url(base + "/minutes"), ResolutionURL: a.url(base + "/resolutions")}
	if byRot := rot.Host(m.Year); byRot != m.Host {
		p.Rotation = "按轮值本年度应由" + provinceName(byRot) + "召集，经商定由" + provinceName(m.Host) + "召集。"
	}
	get := func(form, name string) (string, string) {
		if form != which {
			return "", ""
		}
		return posted.Get(name), fe[name]
	}
	for _, x := range m.Resolutions {
		l := resolutionLine{ID: x.ID, Seq: x.Seq, Text: x.Text, Lead: provinceName(x.Lead), Counterpart: provinceName(x.Counterpart)}
		switch {
		case x.CaseID != "":
			l.CaseID, l.CaseURL, l.State = x.CaseID, a.url("/cases/"+x.CaseID), stateLabel(x.CaseState)
			if x.CaseState == "" {
				l.State = "（本节点无此案件）"
			}
		case x.Lead != a.cfg.Code:
			l.FollowNote = "由" + provinceName(x.Lead) + "牵头，在其节点发起会商。"
		case p.CanEdit:
			name := followForm(x.ID)
			l.FollowURL = a.url(base + "/resolutions/" + strconv.FormatInt(x.ID, 10) + "/follow")
			topic, detail := shorten("落实"+m.Label()+"第"+strconv.Itoa(x.Seq)+"项决议", 200),
				shorten(m.Label()+"（"+m.HeldOn.String()+"）第"+strconv.Itoa(x.Seq)+"项决议："+x.Text, 4000)
			fs := []Field{
				{Name: "topic", Label: "会商事项", Input: "text", Required: true, MaxLen: 200, Value: topic},
				{Name: "detail", Label: "情况说明", Input: "textarea", Required: true, MaxLen: 4000, Value: detail},
				{Name: "proposal", Label: "建议方案", Input: "textarea", MaxLen: 2000},
			}
			for i := range fs {
				fs[i].Form = name
				if which == name {
					fs[i].Value, fs[i].Error = posted.Get(fs[i].Name), fe[fs[i].Name]
				}
			}
			l.Follow = fs
			if which == name {
				l.FollowError = fe[""]
			}
		default:
			l.FollowNote = "尚未跟进。"
		}
		p.Resolutions = append(p.Resolutions, l)
	}
	p.MinutesField = Field{Name: "minutes", Label: "会议纪要", Input: "textarea", Required: true, MaxLen: 50000, Value: m.Minutes}
	if which == "minutes" {
		p.MinutesField.Value, p.MinutesField.Error = get("minutes", "minutes")
		p.MinutesError = fe[""]
	}
	p.ResolutionFields = []Field{
		{Name: "text", Label: "决议内容", Input: "textarea", Required: true, MaxLen: 2000},
		{Name: "lead", Label: "牵头省份", Input: "select", Required: true, Options: provinceOptions(), Value: a.cfg.Code},
		{Name: "counterpart", Label: "会商对方省份", Input: "select", Required: true, Options: provinceOptions(),
			Hint: "跟进时向该省发起省际会商案件"},
	}
	if which == "resolution" {
		for i := range p.ResolutionFields {
			f := &p.ResolutionFields[i]
			f.Value, f.Error = get("resolution", f.Name)
		}
		p.ResolutionError = fe[""]
	}
	return p
}

// meetingFormFail shows the meeting page again with the form which and its errors (422).
func (a *App) meetingFormFail(w http.ResponseWriter, r *http.Request, m *meeting.Meeting, which string, fe FormErrors) {
	a.renderStatus(w, r, http.StatusUnprocessableEntity, "meeting", a.meetingView(r, m, which, r.PostForm, fe))
}

// meetingMinutes records the minutes of a meeting.
func (a *App) meetingMinutes(w http.ResponseWriter, r *http.Request) {
	m, err := a.meetingByID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	fe := formErrors(r)
	text := strings.TrimSpace(r.PostForm.Get("minutes"))
	if msg := tooLong("会议纪要", text, 50000); msg != "" {
		fe.Set("minutes", msg)
	}
	if text == "" {
		fe.Set("minutes", "会议纪要不能为空")
	}
	if !fe.Any() {
		if err := a.cfg.Store.SetMinutes(r.Context(), m.ID, text); err != nil && !meetingFormError(fe, err, "") {
			a.fail(w, r, err)
			return
		}
	}
	if fe.Any() {
		a.meetingFormFail(w, r, m, "minutes", fe)
		return
	}
	http.Redirect(w, r, a.url("/meetings/"+strconv.FormatInt(m.ID, 10)+"?saved=minutes#minutes"), http.StatusSeeOther)
}

// meetingResolution adds a resolution to a meeting.
func (a *App) meetingResolution(w http.ResponseWriter, r *http.Request) {
	m, err := a.meetingByID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	fe := formErrors(r)
	form := r.PostForm
	x := &meeting.Resolution{Text: strings.TrimSpace(form.Get("text")), Lead: strings.TrimSpace(form.Get("lead")),
		Counterpart: strings.TrimSpace(form.Get("counterpart"))}
	if x.Lead == "" {
		fe.Set("lead", "请选择牵头省份")
	}
	if x.Counterpart == "" {
		fe.Set("counterpart", "请选择会商对方省份")
	}
	if !fe.Any() {
		if err := a.cfg.Store.AddResolution(r.Context(), m.ID, x); err != nil && !meetingFormError(fe, err, "") {
			a.fail(w, r, err)
			return
		}
	} else if err := x.Check(); err != nil {
		fe.Add(err, "")
	}
	if fe.Any() {
		a.meetingFormFail(w, r, m, "resolution", fe)
		return
	}
	http.Redirect(w, r, a.url("/meetings/"+strconv.FormatInt(m.ID, 10)+"?saved=resolution#resolutions"), http.StatusSeeOther)
}

// meetingFollow follows a resolution up: it starts a consult.case from this province to the
// resolution's counterpart through the exchange engine (which signs, stores and audits it),
// then links it to the resolution (LinkResolutionCase). The checks LinkResolutionCase makes
// are made first, so that a case is not sent that could not be linked; errors go next to
// their field, with what was typed, and nothing is sent.
func (a *App) meetingFollow(w http.ResponseWriter, r *http.Request) {
	m, err := a.meetingByID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var x *meeting.Resolution
	for _, y := range m.Resolutions {
		if strconv.FormatInt(y.ID, 10) == r.PathValue("rid") {
			x = y
		}
	}
	if x == nil {
		a.fail(w, r, yipanqi.Errorf(yipanqi.ENOTFOUND, "未找到该决议"))
		return
	}
	u := currentUser(r)
	which := followForm(x.ID)
	fe := formErrors(r)
	switch {
	case x.CaseID != "":
		fe.Set("", "该决议已由会商案件“"+x.CaseID+"”跟进")
	case x.Lead != a.cfg.Code:
		fe.Set("", "该决议由"+provinceName(x.Lead)+"牵头，须在其节点发起会商")
	case yipanqi.LevelOf(u.OrgUnit) != yipanqi.LevelProvince:
		fe.Set("", "只有省级单位可以发起省际会商")
	}
	if fe.Any() {
		// The resolution has no form to show the error next to: say it on the page.
		a.renderStatus(w, r, http.StatusUnprocessableEntity, "meeting", a.meetingViewNote(r, m, fe[""]))
		return
	}
	t, err := a.cfg.Catalog.Type("consult.case")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	obj := map[string]string{}
	for _, spec := range t.Fields {
		v := strings.TrimSpace(r.PostForm.Get(spec.Name))
		if msg := tooLong(spec.Label, v, spec.MaxLen); msg != "" {
			fe.Set(spec.Name, msg)
		}
		if v != "" {
			obj[spec.Name] = v
		}
	}
	raw, _ := json.Marshal(obj) // strings only
	if err := t.ValidateRequest(raw); err != nil {
		fe.Add(err, "")
	}
	if !fe.Any() && a.cfg.Node == nil {
		fe.Set("", "本节点未连接交换引擎，暂时不能发起会商")
	}
	if fe.Any() {
		a.meetingFormFail(w, r, m, which, fe)
		return
	}
	c := &yipanqi.Case{Type: t.Name, OrgUnit: u.OrgUnit, PeerNode: x.Counterpart, PeerUnit: x.Counterpart}
	if err := a.cfg.Node.Send(r.Context(), c, raw); err != nil {
		if code := yipanqi.ErrorCode(err); code != yipanqi.EINVALID && code != yipanqi.ECONFLICT {
			a.fail(w, r, err)
			return
		}
		name, _, _ := strings.Cut(yipanqi.ErrorField(err), ".")
		if t.Field(name) != nil {
			fe.Set(name, yipanqi.ErrorMessage(err))
		} else {
			fe.Set("", yipanqi.ErrorMessage(err))
		}
		a.meetingFormFail(w, r, m, which, fe)
		return
	}
	if err := a.cfg.Store.LinkResolutionCase(r.Context(), x.ID, c.ID); err != nil {
		// Only a concurrent follow-up of the same resolution gets here: the case is sent (it
		// cannot be unsent), so say which it is.
		if !meetingFormError(fe, err, "") {
			a.fail(w, r, err)
			return
		}
		msg := "会商案件 " + c.ID + " 已发出，但未能记为该决议的跟进：" + yipanqi.ErrorMessage(err)
		a.renderStatus(w, r, http.StatusConflict, "meeting", a.meetingViewNote(r, m, msg))
		return
	}
	http.Redirect(w, r, a.url("/meetings/"+strconv.FormatInt(m.ID, 10)+"?saved=follow#resolutions"), http.StatusSeeOther)
}

// meetingViewNote is the meeting page, read again, with an error above the resolutions.
func (a *App) meetingViewNote(r *http.Request, m *meeting.Meeting, msg string) *meetingPageData {
	if fresh, err := a.meetingByID(r); err == nil {
		m = fresh
	}
	p := a.meetingView(r, m, "", nil, FormErrors{})
	p.Alert = msg
	return p
}
