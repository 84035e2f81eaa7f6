package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"yipanqi"
	"yipanqi/casework"
	"yipanqi/idcard"
	"yipanqi/sqlstore"
	"yipanqi/web/print"
)

// The JSON API under /api/v1 (docs/api.md; the OpenAPI 3.1 document is openapi.json, served
// at /api/openapi.json). Every request carries "Authorization: Bearer <token>"; a token
// belongs to a user and acts with the user's scope and role, so the store's scoping and
// auditing apply as on the pages. No cookies, so no CSRF. Errors are
// {"error":{"code","field","message"}} with the message in Chinese.

// apiRoute is one operation of the API.
type apiRoute struct {
	method, path string
	allow        roleCheck // required: the roles whose tokens may use it (docs/web.md)
	handle       http.HandlerFunc
}

// apiTable is the API: every operation, as the OpenAPI document must describe it.
func (a *App) apiTable() []apiRoute {
	return []apiRoute{
		{"GET", "/api/v1/todo", caseStaff, a.apiTodo},
		{"POST", "/api/v1/cases", canSend, a.apiStartCase},
		{"GET", "/api/v1/cases/{id}", caseStaff, a.apiCase},
		{"POST", "/api/v1/cases/{id}/reply", canSend, a.apiReply},
		{"POST", "/api/v1/people/search", caseStaff, a.apiSearchPeople},
		{"GET", "/api/v1/people/{id}", caseStaff, a.apiPerson},
		{"GET", "/api/v1/catalog", signedIn, a.apiCatalog},
	}
}

// apiStatuses are the statuses each operation's handler can write, by "METHOD /path": the
// bearer check's (401, 403), readJSON's (400, 408, 413), apiFail's for what the store and
// the engine can return, and 500 for anything unexpected. TestOpenAPIStatuses requires the
// OpenAPI document to list exactly these and drives every operation to see that it writes
// nothing else; change both with a handler.
var apiStatuses = map[string][]int{
	"GET /api/v1/todo":              {200, 401, 403, 500},
	"POST /api/v1/cases":            {201, 400, 401, 403, 408, 413, 422, 500, 503},
	"GET /api/v1/cases/{id}":        {200, 401, 403, 404, 500},
	"POST /api/v1/cases/{id}/reply": {200, 400, 401, 403, 404, 408, 409, 413, 422, 500, 503},
	"POST /api/v1/people/search":    {200, 400, 401, 403, 408, 413, 422, 500},
	"GET /api/v1/people/{id}":       {200, 401, 403, 404, 500},
	"GET /api/v1/catalog":           {200, 401, 403, 500},
}

// APIStatuses returns the statuses an operation ("METHOD /path" as APIRoutes gives it) can
// answer with, for tests and docs.
func APIStatuses(op string) []int { return slices.Clone(apiStatuses[op]) }

// APIRoutes lists the operations of the API as "METHOD /path", for tests and docs.
func (a *App) APIRoutes() []string {
	var out []string
	for _, rt := range a.apiTable() {
		out = append(out, rt.method+" "+rt.path)
	}
	return out
}

// apiRoutes are the API's entries of the route table: served directly, each behind the
// bearer-token check, and a JSON 404 for everything else under /api/.
func (a *App) apiRoutes() []route {
	rs := []route{
		{pattern: "GET /api/openapi.json", public: true, direct: true, handle: a.openAPIDoc},
		{pattern: "/api/", public: true, direct: true, handle: func(w http.ResponseWriter, r *http.Request) {
			apiError(w, http.StatusNotFound, "not_found", "", "没有这个接口，见 /api/openapi.json")
		}},
	}
	for _, rt := range a.apiTable() {
		rs = append(rs, route{pattern: rt.method + " " + rt.path, direct: true, allow: rt.allow, handle: a.bearer(rt.allow, rt.handle)})
	}
	return rs
}

// bearer authenticates a request by its token: the user in the context as a session would
// put them (so scopeOf and the store's audit work), then the role check.
func (a *App) bearer(allow roleCheck, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		auth := r.Header.Get("Authorization")
		token, ok := strings.CutPrefix(auth, "Bearer ")
		token = strings.TrimSpace(token)
		if !ok || token == "" || len(token) > 200 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="yipanqi"`)
			apiError(w, http.StatusUnauthorized, "unauthorized", "", "缺少令牌：请在 Authorization 头中提供 Bearer 令牌")
			return
		}
		t, err := a.cfg.Store.APITokenByHash(r.Context(), tokenHash(token))
		if yipanqi.ErrorCode(err) == yipanqi.ENOTFOUND {
			w.Header().Set("WWW-Authenticate", `Bearer realm="yipanqi", error="invalid_token"`)
			apiError(w, http.StatusUnauthorized, "unauthorized", "", "令牌无效、已吊销或其用户已停用")
			return
		} else if err != nil {
			a.apiFail(w, r, err)
			return
		}
		st := &reqState{sess: &sqlstore.Session{User: t.User}}
		ctx := yipanqi.NewContextWithUser(context.WithValue(r.Context(), stateKey, st), t.User)
		r = r.WithContext(ctx)
		if allow == nil || !allow(t.User) {
			apiError(w, http.StatusForbidden, "forbidden", "", "令牌所属用户的角色无权使用此接口")
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, MaxFormBytes)
		}
		h(w, r)
	}
}

// NewAPIToken returns a new API token, shown once to whoever asked for it, and the hash the
// store keeps (APITokenHash). The token is "ypq_" and 256 random bits, URL-safe base64.
func NewAPIToken() (token, hash string) {
	token = "ypq_" + newToken()
	return token, APITokenHash(token)
}

// APITokenHash is the SHA-256 (hex) of a token, as the store keeps it.
func APITokenHash(token string) string { return tokenHash(token) }

// apiErrorBody is the JSON of an error.
type apiErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Field   string `json:"field,omitempty"`
		Message string `json:"message"`
	} `json:"error"`
}

func apiError(w http.ResponseWriter, status int, code, field, msg string) {
	var b apiErrorBody
	b.Error.Code, b.Error.Field, b.Error.Message = code, field, msg
	writeJSON(w, status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client went away
}

// apiFail answers with the error's status: 422 EINVALID, 404 ENOTFOUND, 409 ECONFLICT, 403
// EFORBIDDEN, 401 EUNAUTHORIZED, 500 (logged, without personal data) for anything else.
func (a *App) apiFail(w http.ResponseWriter, r *http.Request, err error) {
	field, msg := yipanqi.ErrorField(err), yipanqi.ErrorMessage(err)
	switch yipanqi.ErrorCode(err) {
	case yipanqi.EINVALID:
		apiError(w, http.StatusUnprocessableEntity, "invalid", field, msg)
	case yipanqi.ENOTFOUND:
		apiError(w, http.StatusNotFound, "not_found", "", "未找到，或不在令牌所属用户的管辖范围内")
	case yipanqi.ECONFLICT:
		apiError(w, http.StatusConflict, "conflict", field, msg)
	case yipanqi.EFORBIDDEN:
		apiError(w, http.StatusForbidden, "forbidden", field, msg)
	case yipanqi.EUNAUTHORIZED:
		apiError(w, http.StatusUnauthorized, "unauthorized", field, msg)
	default:
		a.cfg.Logger.Error("api: request failed", "method", r.Method, "route", r.Pattern, "err", err)
		apiError(w, http.StatusInternalServerError, "internal", "", "系统内部错误，请稍后再试或联系管理员")
	}
}

// readJSON decodes the request body into v; unknown fields are refused. false when it
// answered with the error: 413 for a body over MaxFormBytes, 408 for one that did not arrive
// within the server's read timeout, 400 otherwise, naming the member when the decoder knows
// it (an unknown member, a value of the wrong type).
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("trailing data")
	}
	if err == nil {
		return true
	}
	var tooBig *http.MaxBytesError
	var timeout interface{ Timeout() bool }
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		apiError(w, http.StatusRequestEntityTooLarge, "invalid", "", "请求体过大（上限 "+itoa(MaxFormBytes>>10)+" KB）")
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &timeout) && timeout.Timeout():
		apiError(w, http.StatusRequestTimeout, "timeout", "", "请求体未能在时限内传完，未保存任何内容")
	case errors.As(err, &typeErr) && typeErr.Field != "":
		apiError(w, http.StatusBadRequest, "invalid", typeErr.Field, "成员“"+typeErr.Field+"”的类型不对（见 /api/openapi.json）")
	case strings.HasPrefix(err.Error(), `json: unknown field "`):
		name := strings.TrimSuffix(strings.TrimPrefix(err.Error(), `json: unknown field "`), `"`)
		if len(name) > 64 || !utf8.ValidString(name) {
			name = "(…)" // not echoed whole: a member name is the sender's text
		}
		apiError(w, http.StatusBadRequest, "invalid", name, "接口未定义成员“"+name+"”（见 /api/openapi.json）")
	default:
		apiError(w, http.StatusBadRequest, "invalid", "", "请求体不是有效的 JSON 对象，或含有接口未定义的成员（见 /api/openapi.json）")
	}
	return false
}

// apiCaseJSON is a case in the API. Lists carry the person's ID number masked; one case,
// whose reading is audited, carries it whole with the request's data and the timeline.
type apiCaseJSON struct {
	ID             string          `json:"id"`
	Type           string          `json:"type"`
	TypeLabel      string          `json:"type_label"`
	Direction      string          `json:"direction"`
	State          string          `json:"state"`
	OrgUnit        string          `json:"org_unit"`
	PeerNode       string          `json:"peer_node"`
	PeerUnit       string          `json:"peer_unit"`
	Person         string          `json:"person_id_number,omitempty"`
	PersonMasked   string          `json:"person_id_number_masked,omitempty"`
	DueAt          *time.Time      `json:"due_at,omitempty"`
	DueProvisional bool            `json:"due_provisional,omitempty"`
	Overdue        bool            `json:"overdue"`
	ReceivedAt     *time.Time      `json:"received_at,omitempty"`
	CreatedAt      time.Time       `json:"created_at"`
	Data           json.RawMessage `json:"data,omitempty"`
	Timeline       *[]apiEventJSON `json:"timeline,omitempty"` // one case only
}

type apiEventJSON struct {
	At      time.Time `json:"at"`
	Kind    string    `json:"kind"`
	Label   string    `json:"label"`
	Actor   string    `json:"actor"`
	OrgUnit string    `json:"org_unit,omitempty"`
	Note    string    `json:"note,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (a *App) caseJSON(c *yipanqi.Case, whole bool) apiCaseJSON {
	j := apiCaseJSON{ID: c.ID, Type: c.Type, TypeLabel: a.typeLabel(c.Type), Direction: string(c.Direction),
		State: string(c.State), OrgUnit: c.OrgUnit, PeerNode: c.PeerNode, PeerUnit: c.PeerUnit, DueAt: timePtr(c.DueAt),
		DueProvisional: c.DueProvisional, Overdue: c.Overdue, ReceivedAt: timePtr(c.ReceivedAt), CreatedAt: c.CreatedAt}
	if whole {
		j.Person, j.Data = c.PersonIDNumber, c.Data
	} else if c.PersonIDNumber != "" {
		j.PersonMasked = MaskIDNumber(c.PersonIDNumber)
	}
	return j
}

// apiPage reads ?page= (from 1) and returns it with its offset.
func apiPage(r *http.Request) (page, offset int) { return pageOf(r) }

// apiTodo is my to-do list: the incoming cases of my subtree waiting for work, by deadline.
func (a *App) apiTodo(w http.ResponseWriter, r *http.Request) {
	page, offset := apiPage(r)
	cases, total, err := a.cfg.Store.ListCasesByDue(r.Context(), scopeOf(r),
		yipanqi.CaseFilter{Direction: yipanqi.Incoming, Offset: offset, Limit: PageSize}, yipanqi.OpenStates()...)
	if err != nil {
		a.apiFail(w, r, err)
		return
	}
	out := struct {
		Total    int           `json:"total"`
		Page     int           `json:"page"`
		PageSize int           `json:"page_size"`
		Cases    []apiCaseJSON `json:"cases"`
	}{Total: total, Page: page, PageSize: PageSize, Cases: []apiCaseJSON{}}
	for _, c := range cases {
		out.Cases = append(out.Cases, a.caseJSON(c, false))
	}
	writeJSON(w, http.StatusOK, out)
}

// apiCase is one case of my subtree with its data and timeline; reading it is audited.
func (a *App) apiCase(w http.ResponseWriter, r *http.Request) {
	c, err := a.cfg.Store.FindCase(r.Context(), scopeOf(r), r.PathValue("id"))
	if err != nil {
		a.apiFail(w, r, err)
		return
	}
	a.writeCase(w, r, http.StatusOK, c)
}

// writeCase answers with the whole case and its timeline, auditing the view.
func (a *App) writeCase(w http.ResponseWriter, r *http.Request, status int, c *yipanqi.Case) {
	ctx := r.Context()
	events, err := a.cfg.Store.CaseTimeline(ctx, scopeOf(r), c.ID)
	if err == nil {
		err = a.auditView(r, "case.view", c.ID)
	}
	if err != nil {
		a.apiFail(w, r, err)
		return
	}
	j := a.caseJSON(c, true)
	tl := []apiEventJSON{}
	for _, e := range events {
		tl = append(tl, apiEventJSON{At: e.At, Kind: e.Kind, Label: e.Label(), Actor: e.Actor, OrgUnit: e.OrgUnit, Note: e.Note})
	}
	j.Timeline = &tl
	writeJSON(w, status, j)
}

// apiNewCase is the body of POST /api/v1/cases.
type apiNewCase struct {
	Type     string          `json:"type"`
	PeerUnit string          `json:"peer_unit"`
	Fields   json.RawMessage `json:"fields"`
	Consent  bool            `json:"consent"`
}

// apiStartCase starts a case: the catalog checks the fields before anything is stored.
func (a *App) apiStartCase(w http.ResponseWriter, r *http.Request) {
	var in apiNewCase
	if !readJSON(w, r, &in) {
		return
	}
	u := currentUser(r)
	t, err := a.cfg.Catalog.Type(in.Type)
	if err != nil || !slices.Contains(a.sendable(u), t) {
		apiError(w, http.StatusUnprocessableEntity, "invalid", "type", "没有案件类型“"+in.Type+"”，或令牌所属用户的单位不能发起它")
		return
	}
	switch {
	case in.PeerUnit == "":
		apiError(w, http.StatusUnprocessableEntity, "invalid", "peer_unit", "请填写受理单位（对方行政区划代码）")
		return
	case !yipanqi.ValidDivisionCode(in.PeerUnit) || len(in.PeerUnit) < 4:
		apiError(w, http.StatusUnprocessableEntity, "invalid", "peer_unit", "“受理单位”须为 4、6、9 或 12 位数字的行政区划代码")
		return
	}
	if len(in.Fields) == 0 {
		in.Fields = json.RawMessage("{}")
	}
	if err := t.ValidateRequest(in.Fields); err != nil {
		a.apiFieldsFail(w, r, err)
		return
	}
	if t.Consent != nil && !in.Consent {
		apiError(w, http.StatusUnprocessableEntity, "invalid", "consent", "此类案件含敏感个人信息，须先取得本人的单独同意（consent: true）")
		return
	}
	if a.cfg.Node == nil {
		apiError(w, http.StatusServiceUnavailable, "unavailable", "", "本节点未连接交换引擎，暂时不能发送案件")
		return
	}
	c := &yipanqi.Case{Type: t.Name, OrgUnit: u.OrgUnit, PeerNode: in.PeerUnit[:2], PeerUnit: in.PeerUnit}
	if t.Name == casework.CertReissue {
		// As on the page: the 《限期补办通知书》 is given with the request (on the timeline).
		_, err = a.cfg.Node.StartReissue(r.Context(), c, in.Fields)
	} else {
		err = a.cfg.Node.Send(r.Context(), c, in.Fields)
	}
	if err != nil {
		a.apiFieldsFail(w, r, err)
		return
	}
	w.Header().Set("Location", a.url("/api/v1/cases/"+c.ID))
	a.writeCase(w, r, http.StatusCreated, c)
}

// apiFieldsFail answers with an error about the request's fields: a field of the catalog is
// named "fields.<name>".
func (a *App) apiFieldsFail(w http.ResponseWriter, r *http.Request, err error) {
	if yipanqi.ErrorCode(err) == yipanqi.EINVALID {
		field := yipanqi.ErrorField(err)
		if field != "" && field != "peer_unit" && field != "type" && field != "reply" {
			field = "fields." + field
		}
		apiError(w, http.StatusUnprocessableEntity, "invalid", field, yipanqi.ErrorMessage(err))
		return
	}
	a.apiFail(w, r, err)
}

// apiReplyBody is the body of POST /api/v1/cases/{id}/reply.
type apiReplyBody struct {
	Reply  string          `json:"reply"`
	Fields json.RawMessage `json:"fields"`
}

// apiReply answers an incoming case of my subtree.
func (a *App) apiReply(w http.ResponseWriter, r *http.Request) {
	var in apiReplyBody
	if !readJSON(w, r, &in) {
		return
	}
	c, err := a.cfg.Store.FindCase(r.Context(), scopeOf(r), r.PathValue("id"))
	if err != nil {
		a.apiFail(w, r, err)
		return
	}
	t, err := a.cfg.Catalog.Type(c.Type)
	if err != nil || c.Direction != yipanqi.Incoming {
		apiError(w, http.StatusConflict, "conflict", "", "只能答复收到的案件")
		return
	}
	if len(in.Fields) == 0 {
		in.Fields = json.RawMessage("{}")
	}
	if err := t.ValidateReply(in.Reply, in.Fields); err != nil {
		a.apiFieldsFail(w, r, err)
		return
	}
	if a.cfg.Node == nil {
		apiError(w, http.StatusServiceUnavailable, "unavailable", "", "本节点未连接交换引擎，暂时不能答复")
		return
	}
	if err := a.cfg.Node.Reply(r.Context(), c.ID, in.Reply, in.Fields); err != nil {
		a.apiFieldsFail(w, r, err)
		return
	}
	if c, err = a.cfg.Store.FindCase(r.Context(), scopeOf(r), c.ID); err != nil {
		a.apiFail(w, r, err)
		return
	}
	a.writeCase(w, r, http.StatusOK, c)
}

// The bounds of a people search, the search page's and the API's: the name's characters
// and the last page.
const (
	maxSearchName = 50
	maxPage       = 100000
)

// apiPeopleQuery is the body of POST /api/v1/people/search: in the body, never the address,
// since it may hold an ID number or a name.
type apiPeopleQuery struct {
	Name       string `json:"name"`
	IDNumber   string `json:"id_number"`
	HukouCode  string `json:"hukou_code"`
	FlowStatus string `json:"flow_status"`
	Page       int    `json:"page"`
}

// apiPersonLine is a person in a search result: masked, with the opaque id to fetch the
// record.
type apiPersonLine struct {
	ID            string `json:"id"`
	IDNumber      string `json:"id_number_masked"`
	Name          string `json:"name_masked"`
	Sex           string `json:"sex"`
	BirthYear     int    `json:"birth_year"`
	HukouCode     string `json:"hukou_code"`
	ResidenceCode string `json:"residence_code"`
	FlowStatus    string `json:"flow_status,omitempty"`
}

// apiSearchPeople searches the people of my subtree; results are masked and the search is
// audited by the store ("people.search").
func (a *App) apiSearchPeople(w http.ResponseWriter, r *http.Request) {
	var in apiPeopleQuery
	if !readJSON(w, r, &in) {
		return
	}
	in.IDNumber = strings.ToUpper(strings.TrimSpace(in.IDNumber))
	in.Name = strings.TrimSpace(in.Name)
	// The bounds of the search page (peopleView, peopleSearch): a name of at most 50
	// characters, a whole ID number, a page up to 100,000.
	invalid := func(field, msg string) { apiError(w, http.StatusUnprocessableEntity, "invalid", field, msg) }
	switch {
	case in.Name == "" && in.IDNumber == "" && in.HukouCode == "" && in.FlowStatus == "":
		invalid("name", "请至少给出一个条件：姓名、公民身份号码、户籍地或流动状态")
		return
	case tooLong("姓名", in.Name, maxSearchName) != "":
		invalid("name", tooLong("姓名", in.Name, maxSearchName))
		return
	case in.HukouCode != "" && !yipanqi.ValidDivisionCode(in.HukouCode):
		invalid("hukou_code", "“户籍地”须为行政区划代码")
		return
	case in.FlowStatus != "" && yipanqi.FlowKind(in.FlowStatus).Label() == "":
		invalid("flow_status", "“流动状态”须为 arrived、left、moved_on 或 returned")
		return
	case in.Page > maxPage:
		invalid("page", "“页码”不得大于 "+itoa(maxPage))
		return
	}
	if in.IDNumber != "" {
		id, err := idcard.Parse(in.IDNumber, yipanqi.Date{})
		if err != nil {
			invalid("id_number", "“公民身份号码”无效："+yipanqi.ErrorMessage(err))
			return
		}
		in.IDNumber = id.Number
	}
	page := max(in.Page, 1)
	f := yipanqi.PersonFilter{Name: in.Name, IDNumber: in.IDNumber, HukouCode: in.HukouCode,
		FlowStatus: yipanqi.FlowKind(in.FlowStatus), Offset: (page - 1) * PageSize, Limit: PageSize}
	people, total, err := a.cfg.Store.ListPeople(r.Context(), scopeOf(r), f)
	if err != nil {
		a.apiFail(w, r, err)
		return
	}
	out := struct {
		Total  int             `json:"total"`
		Page   int             `json:"page"`
		People []apiPersonLine `json:"people"`
	}{Total: total, Page: page, People: []apiPersonLine{}}
	for _, p := range people {
		out.People = append(out.People, apiPersonLine{ID: strconv.FormatInt(p.ID, 10), IDNumber: MaskIDNumber(p.IDNumber),
			Name: print.MaskName(p.Name), Sex: string(p.Sex), BirthYear: p.BirthDate.Year, HukouCode: p.HukouCode,
			ResidenceCode: p.ResidenceCode, FlowStatus: string(p.FlowStatus)})
	}
	writeJSON(w, http.StatusOK, out)
}

// apiPersonJSON is one person's record, whole: reading it is audited.
type apiPersonJSON struct {
	ID               string `json:"id"`
	IDNumber         string `json:"id_number"`
	Name             string `json:"name"`
	Sex              string `json:"sex"`
	BirthDate        string `json:"birth_date"`
	MaritalStatus    string `json:"marital_status"`
	HukouCode        string `json:"hukou_code"`
	HukouAddress     string `json:"hukou_address"`
	ResidenceCode    string `json:"residence_code"`
	ResidenceAddress string `json:"residence_address"`
	Phone            string `json:"phone"`
	ArrivedOn        string `json:"arrived_on,omitempty"`
	FlowStatus       string `json:"flow_status,omitempty"`
}

// apiPerson is one person of my subtree by the opaque id a search gave.
func (a *App) apiPerson(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		apiError(w, http.StatusNotFound, "not_found", "", "未找到，或不在令牌所属用户的管辖范围内")
		return
	}
	p, err := a.cfg.Store.FindPersonByID(r.Context(), scopeOf(r), id)
	if err != nil {
		a.apiFail(w, r, err)
		return
	}
	j := apiPersonJSON{ID: strconv.FormatInt(p.ID, 10), IDNumber: p.IDNumber, Name: p.Name, Sex: string(p.Sex),
		BirthDate: p.BirthDate.String(), MaritalStatus: string(p.MaritalStatus), HukouCode: p.HukouCode,
		HukouAddress: p.HukouAddress, ResidenceCode: p.ResidenceCode, ResidenceAddress: p.ResidenceAddress,
		Phone: p.Phone, FlowStatus: string(p.FlowStatus)}
	if !p.ArrivedOn.IsZero() {
		j.ArrivedOn = p.ArrivedOn.String()
	}
	writeJSON(w, http.StatusOK, j)
}

// apiCatalog is the case-type catalog: what each type carries and its replies and deadlines.
func (a *App) apiCatalog(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, struct {
		Types []*yipanqi.CaseType `json:"types"`
	}{a.cfg.Catalog.Types()})
}
