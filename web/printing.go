package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	neturl "net/url"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"yipanqi"
	"yipanqi/exchange"
	"yipanqi/web/print"
)

// The printed documents (package web/print, docs/printing.md), signed in. Printing is a read
// of personal data: besides the store's own audit of the reads that fill a document, each
// print writes "print.<doc>" in the same request, before the page is sent (object: the case
// id or certificate number, or the person's ID number for the person's documents — in the
// audit log, never in the URL, which carries only the opaque person id).

// printCSP lets the printed page's one inlined stylesheet apply (the application's policy
// allows only its own stylesheet file); nothing else may load.
const printCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; frame-ancestors 'none'"

// writePrinted renders a document with write into a buffer, audits the print, then sends it.
// A document the print package refuses (EINVALID) is a 400 page naming what is missing;
// nothing is audited or sent then.
func (a *App) writePrinted(w http.ResponseWriter, r *http.Request, doc, object string, write func(*bytes.Buffer) error) {
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.auditView(r, "print."+doc, object); err != nil {
		a.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", printCSP)
	_, _ = w.Write(buf.Bytes()) // the client may have gone; the print is on record either way
}

// MaxNoticeDays bounds the deadline a 《限期补办通知书》 may give.
const MaxNoticeDays = 180

// printNotice prints 《限期补办通知书》 for a person, with the deadline ?days= after today
// (default 30). A bad number is shown next to its field on the person page.
func (a *App) printNotice(w http.ResponseWriter, r *http.Request) {
	p := a.findPersonByPath(w, r)
	if p == nil {
		return
	}
	raw := strings.TrimSpace(r.URL.Query().Get("days"))
	days := print.DefaultNoticeDays
	if raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > MaxNoticeDays {
			fe := FormErrors{"days": "补办期限应为 1 至 " + itoa(MaxNoticeDays) + " 之间的整数天数"}
			a.showPerson(w, r, http.StatusUnprocessableEntity, p, fe, map[string]string{"days": raw})
			return
		}
		days = n
	}
	u := currentUser(r)
	n := print.Notice{Name: p.Name, IDNumber: p.IDNumber, ResidenceUnit: a.unitName(r.Context(), p.ResidenceCode),
		ResidenceAddress: p.ResidenceAddress, IssuedOn: a.today(), Days: days, IssuingUnit: a.unitName(r.Context(), u.OrgUnit)}
	a.writePrinted(w, r, "notice", p.IDNumber, func(b *bytes.Buffer) error { return print.WriteNotice(b, n) })
}

// maxCopyCases bounds the cases listed on a person's own copy (pages of the store's limit).
const maxCopyCases = 5000

// printCopy prints the person's own copy of what is held about them: the record, the flow
// history, the certificates and every exchange about them (not the exchanges' data).
func (a *App) printCopy(w http.ResponseWriter, r *http.Request) {
	p := a.findPersonByPath(w, r)
	if p == nil {
		return
	}
	ctx, scope := r.Context(), scopeOf(r)
	flows, err := a.cfg.Store.FlowHistory(ctx, scope, p.IDNumber)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	certs, err := a.cfg.Store.PersonCertificates(ctx, scope, p.IDNumber)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var cases []*yipanqi.Case
	for len(cases) < maxCopyCases {
		page, total, err := a.cfg.Store.PersonCases(ctx, scope, p.IDNumber, len(cases), 1000)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		cases = append(cases, page...)
		if len(page) == 0 || len(cases) >= total {
			break
		}
	}
	c := print.PersonalCopy{Person: p, Flows: flows, Certificates: certs, Exchanges: cases,
		HoldingUnit: a.unitName(ctx, currentUser(r).OrgUnit), PrintedAt: a.cfg.Now(),
		UnitName: func(code string) string { return a.unitName(ctx, code) }}
	a.writePrinted(w, r, "copy", p.IDNumber, func(b *bytes.Buffer) error { return print.WritePersonalCopy(b, c) })
}

// CheckPublicURL checks Config.PublicURL, and yipanqi serve node.toml's public_url: "" or an
// absolute http(s) address without query, fragment, user or trailing slash, e.g.
// https://ypq.gd.example.gov.cn or http://127.0.0.1:8044/44. EINVALID naming public_url.
func CheckPublicURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := neturl.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(u.Path, "/") {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "public_url",
			"对外网址“%s”无效：应为 http:// 或 https:// 开头、不以 / 结尾、不带查询参数的完整网址，如 https://ypq.gd.example.gov.cn", s)
	}
	return nil
}

// printCert prints 《流动人口婚育证明》 with the QR code of its public verification page: the
// configured public address (never the request's Host), and the payload signed with the
// node's key when the certificate is one this node issued.
func (a *App) printCert(w http.ResponseWriter, r *http.Request) {
	c := a.findCert(w, r)
	if c == nil {
		return
	}
	if a.cfg.PublicURL == "" {
		a.failStatus(w, r, http.StatusServiceUnavailable, "本节点未配置对外网址（node.toml 的 [http] public_url），无法生成证明的核验二维码。")
		return
	}
	d := print.CertificateDoc{Cert: c, IssuerName: a.unitName(r.Context(), c.IssuerCode), VerifyBase: a.cfg.PublicURL}
	if a.cfg.Key != nil && c.Kind == yipanqi.CertIssued {
		p, err := exchange.SignCertPayload(a.cfg.Key, exchange.CertPayload{Number: c.Number, MaskedName: print.MaskName(c.HolderName),
			IssuedOn: c.IssuedOn, ValidUntil: c.ValidUntil, SignedOn: a.today()})
		if err != nil {
			a.fail(w, r, err)
			return
		}
		d.Payload = p
	}
	a.writePrinted(w, r, "certificate", c.Number, func(b *bytes.Buffer) error { return print.WriteCertificate(b, d) })
}

// printSlip prints the posting slip of a certificate whose posting is recorded.
func (a *App) printSlip(w http.ResponseWriter, r *http.Request) {
	c := a.findCert(w, r)
	if c == nil {
		return
	}
	if c.PostedTo == "" {
		a.failStatus(w, r, http.StatusBadRequest, "这份证明尚未登记寄送，请先在证明页登记寄送。")
		return
	}
	s := print.PostingSlip{TrackingNo: c.TrackingNo, From: a.unitName(r.Context(), c.IssuerCode),
		To: a.unitName(r.Context(), c.PostedTo), CertificateNumber: c.Number, Date: c.PostedOn}
	a.writePrinted(w, r, "slip", c.Number, func(b *bytes.Buffer) error { return print.WritePostingSlip(b, s) })
}

// printReport prints 《流动人口避孕节育情况报告单》 from a service.result case in scope: exactly
// what the case carries (the minimum SCOPE.md allows).
func (a *App) printReport(w http.ResponseWriter, r *http.Request) {
	c := a.findCase(w, r)
	if c == nil {
		return
	}
	if c.Type != "service.result" || c.State == yipanqi.CaseWithdrawn {
		a.failStatus(w, r, http.StatusBadRequest, "只有未撤回的“服务结果通报”案件可以打印报告单。")
		return
	}
	var f struct {
		Name     string `json:"name"`
		IDNumber string `json:"id_number"`
		Kind     string `json:"service_kind"`
		Date     string `json:"service_date"`
		Provider string `json:"provider"`
		Checkup  bool   `json:"checkup_done"`
	}
	if err := json.Unmarshal(c.Data, &f); err != nil {
		a.fail(w, r, yipanqi.Errorf(yipanqi.EINVALID, "案件数据无法读取"))
		return
	}
	date, _ := yipanqi.ParseDate(f.Date) // a zero date is refused by WriteServiceReport
	if f.IDNumber == "" {
		f.IDNumber = c.PersonIDNumber
	}
	rep := print.ServiceReport{Name: f.Name, IDNumber: f.IDNumber, ServiceKind: f.Kind, ServiceDate: date, Provider: f.Provider,
		CheckupDone: f.Checkup, IssuingUnit: a.unitName(r.Context(), currentUser(r).OrgUnit), IssuedOn: a.today()}
	a.writePrinted(w, r, "report", c.ID, func(b *bytes.Buffer) error { return print.WriteServiceReport(b, rep) })
}

// verifyHits counts the public verification page's requests by node and result
// (print.Verifier.Count): the page writes no audit row per anonymous hit.
var verifyHits = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "yipanqi_cert_verify_requests_total",
	Help: "Requests to the public certificate verification page, by result (valid, expired, revoked, not_found, malformed, limited, signed_valid, signed_invalid, error)."},
	[]string{"node", "result"})

// newVerifier is the public verification page of this node: the registry's unaudited
// lookup, rate-limited per client, payloads checked against the trust list (when the node
// has one), hits counted.
func (a *App) newVerifier() *print.Verifier {
	v := &print.Verifier{Lookup: a.cfg.Store.PublicCertificate, Now: a.cfg.Now,
		Limit: print.NewLimiter(print.DefaultVerifyBurst, print.DefaultVerifyEvery, a.cfg.Now),
		Count: func(result string) { verifyHits.WithLabelValues(a.cfg.Code, result).Inc() }}
	if tl := a.cfg.Trust; tl != nil {
		v.CheckPayload = func(p string) (*print.SignedFields, error) {
			c, err := tl.VerifyCertPayload(p)
			if err != nil {
				return nil, err
			}
			return &print.SignedFields{Number: c.Number, MaskedName: c.MaskedName, IssuedOn: c.IssuedOn, ValidUntil: c.ValidUntil,
				SignedOn: c.SignedOn, KeyID: c.KeyID, Own: strings.HasPrefix(c.KeyID, a.cfg.Code+"-")}, nil
		}
	}
	return v
}

// verifyCert is the public verification page of a certificate (no sign-in).
func (a *App) verifyCert(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", printCSP)
	a.verifier.ServeHTTP(w, r)
}
