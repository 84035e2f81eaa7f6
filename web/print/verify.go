package print

import (
	"bytes"
	"context"
	"html/template"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"yipanqi"
)

// PublicActor is the username under which reads made for the public verification page are
// audited (by a lookup that audits; sqlstore.DB.PublicCertificate does not).
const PublicActor = "public"

// verifyPage is what the public page shows: nothing but the number, a masked name, the
// validity and the status, and what a signed payload stated when one came with the request.
type verifyPage struct {
	Number               string
	Name                 string
	IssuedOn, ValidUntil yipanqi.Date
	Today                yipanqi.Date
	Status               yipanqi.CertificateStatus
	Registry             bool          // Status is the registry's
	Signed               *SignedFields // the verified payload, if any
}

// SignedFields is what a verified signed payload (the QR code's p=) states.
type SignedFields struct {
	Number, MaskedName   string
	IssuedOn, ValidUntil yipanqi.Date
	SignedOn             yipanqi.Date
	KeyID                string
	Own                  bool // signed with a key of this node, so the registry is asked too
}

// Results counted by Verifier.Count.
const (
	VerifyMalformed     = "malformed"
	VerifyNotFound      = "not_found"
	VerifyLimited       = "limited"
	VerifyError         = "error"
	VerifySignedValid   = "signed_valid"
	VerifySignedInvalid = "signed_invalid"
)

// Verifier serves the public certificate verification page (no sign-in), mounted at
// VerifyPath ("/verify/cert/"): the certificate number is the last segment of the path. It
// shows the number, the holder's masked name (张*明), the validity and the status on today's
// date in China (有效 / 已过期 / 已注销); a malformed or unknown number gets a 404 page in
// Chinese (查无此证) and Lookup is not called for a malformed one.
//
// With a query parameter p (the signed payload of the printed QR code) it first checks the
// payload with CheckPayload, from the signature alone: an invalid one, or one for another
// number, is a 400 page 核验码无效 and nothing is looked up; a valid one shows what it states
// (签名有效) and, when it is signed by this node (Own), the registry's status beside it. A
// valid payload of another node's certificate needs no lookup at all.
type Verifier struct {
	// Lookup is the registry's public lookup (sqlstore.DB.PublicCertificate): ENOTFOUND for a
	// number this node did not issue. Its context's user is PublicActor.
	Lookup func(ctx context.Context, number string) (*yipanqi.Certificate, error)
	// Now gives the day the status is computed for; default time.Now.
	Now func() time.Time
	// CheckPayload verifies a payload; nil: a request with p is answered as without it.
	CheckPayload func(p string) (*SignedFields, error)
	// Limit, if set, limits requests per client address (429 with a Chinese page).
	Limit *Limiter
	// Count, if set, counts each request by its result: a status value (valid, expired,
	// revoked) or one of the Verify* constants.
	Count func(result string)
}

// VerifyHandler is a Verifier with only a lookup and a clock.
func VerifyHandler(lookup func(ctx context.Context, number string) (*yipanqi.Certificate, error), now func() time.Time) http.Handler {
	return &Verifier{Lookup: lookup, Now: now}
}

func (v *Verifier) count(result string) {
	if v.Count != nil {
		v.Count(result)
	}
}

func (v *Verifier) now() time.Time {
	if v.Now == nil {
		return time.Now()
	}
	return v.Now()
}

func (v *Verifier) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Robots-Tag", "noindex, nofollow")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		writePage(w, http.StatusMethodNotAllowed, notFoundTmpl, "婚育证明核验", "只支持查看（GET）。")
		return
	}
	if v.Limit != nil {
		if ok, wait := v.Limit.Allow(ClientAddr(r)); !ok {
			v.count(VerifyLimited)
			h.Set("Retry-After", strconv.Itoa(int(wait.Seconds()+0.999)))
			writePage(w, http.StatusTooManyRequests, limitedTmpl, "查询过于频繁", int(wait.Seconds()+0.999))
			return
		}
	}
	number := yipanqi.NormalizeCertificateNumber(path.Base(strings.TrimRight(r.URL.Path, "/")))
	if !yipanqi.PlausibleCertificateNumber(number) {
		v.count(VerifyMalformed)
		writePage(w, http.StatusNotFound, notFoundTmpl, "查无此证", "证明编号格式不正确。")
		return
	}
	today := yipanqi.DateOf(v.now().In(yipanqi.Shanghai))
	var signed *SignedFields
	if p := r.URL.Query().Get("p"); p != "" && v.CheckPayload != nil {
		s, err := v.CheckPayload(p)
		if err == nil && s.Number != number {
			err = yipanqi.Errorf(yipanqi.EFORBIDDEN, "核验码所载编号与网址中的编号不符")
		}
		if err != nil {
			v.count(VerifySignedInvalid)
			writePage(w, http.StatusBadRequest, invalidTmpl, "核验码无效", yipanqi.ErrorMessage(err))
			return
		}
		v.count(VerifySignedValid)
		signed = s
		if !s.Own {
			writePage(w, http.StatusOK, verifyTmpl, "婚育证明核验", signedPage(s, today))
			return
		}
	}
	ctx := yipanqi.NewContextWithUser(r.Context(), &yipanqi.User{Username: PublicActor})
	c, err := v.Lookup(ctx, number)
	switch yipanqi.ErrorCode(err) {
	case "":
	case yipanqi.ENOTFOUND:
		v.count(VerifyNotFound)
		if signed != nil { // signed by this node, yet not in its registry
			writePage(w, http.StatusOK, verifyTmpl, "婚育证明核验", signedPage(signed, today))
			return
		}
		writePage(w, http.StatusNotFound, notFoundTmpl, "查无此证", "编号为 "+number+" 的婚育证明未登记。")
		return
	default:
		v.count(VerifyError)
		writePage(w, http.StatusInternalServerError, notFoundTmpl, "核验暂不可用", "系统暂时无法核验，请稍后再试。")
		return
	}
	status := c.StatusOn(today)
	v.count(string(status))
	writePage(w, http.StatusOK, verifyTmpl, "婚育证明核验", verifyPage{
		Number: c.Number, Name: MaskName(c.HolderName), IssuedOn: c.IssuedOn, ValidUntil: c.ValidUntil,
		Today: today, Status: status, Registry: true, Signed: signed,
	})
}

// signedPage is the page of a verified payload alone: its status is read from its dates.
func signedPage(s *SignedFields, today yipanqi.Date) verifyPage {
	c := yipanqi.Certificate{ValidUntil: s.ValidUntil}
	return verifyPage{Number: s.Number, Name: s.MaskedName, IssuedOn: s.IssuedOn, ValidUntil: s.ValidUntil, Today: today,
		Status: c.StatusOn(today), Signed: s}
}

// writePage renders a whole page before sending the status, so that a template error is a
// plain 500 rather than half a page.
func writePage(w http.ResponseWriter, status int, t *template.Template, title string, doc any) {
	var b bytes.Buffer
	if err := render(&b, t, title, doc); err != nil {
		http.Error(w, "内部错误", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes()) // the client may have gone; nothing to do about it
}
