package print

import (
	"bytes"
	"context"
	"html/template"
	"net/http"
	"path"
	"strings"
	"time"

	"yipanqi"
)

// PublicActor is the username under which reads made for the public verification page are
// audited.
const PublicActor = "public"

// verifyPage is what the public page shows: nothing but the number, a masked name, the
// validity and the status.
type verifyPage struct {
	Number               string
	Name                 string
	IssuedOn, ValidUntil yipanqi.Date
	Today                yipanqi.Date
	Status               yipanqi.CertificateStatus
}

// VerifyHandler serves the public certificate verification page (no sign-in), mounted at
// VerifyPath ("/verify/cert/"): the certificate number is the last segment of the path. It
// shows the number, the holder's masked name (张*明), the validity and the status on today's
// date in China (有效 / 已过期 / 已注销); a malformed or unknown number gets a 404 page in
// Chinese (查无此证) and lookup is not called for a malformed one.
//
// lookup is the registry's unscoped lookup (sqlstore.DB.Certificate): it must return
// ENOTFOUND for an unknown number and must audit the read; VerifyHandler gives it a context
// whose user is PublicActor ("public"), so the audit entry names that actor. now gives the
// day the status is computed for.
func VerifyHandler(lookup func(ctx context.Context, number string) (*yipanqi.Certificate, error), now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
		number := path.Base(strings.TrimRight(r.URL.Path, "/"))
		if !yipanqi.PlausibleCertificateNumber(number) {
			writePage(w, http.StatusNotFound, notFoundTmpl, "查无此证", "证明编号格式不正确。")
			return
		}
		ctx := yipanqi.NewContextWithUser(r.Context(), &yipanqi.User{Username: PublicActor})
		c, err := lookup(ctx, number)
		switch yipanqi.ErrorCode(err) {
		case "":
		case yipanqi.ENOTFOUND:
			writePage(w, http.StatusNotFound, notFoundTmpl, "查无此证", "编号为 "+number+" 的婚育证明未登记。")
			return
		default:
			writePage(w, http.StatusInternalServerError, notFoundTmpl, "核验暂不可用", "系统暂时无法核验，请稍后再试。")
			return
		}
		today := yipanqi.DateOf(now().In(shanghai))
		writePage(w, http.StatusOK, verifyTmpl, "婚育证明核验", verifyPage{
			Number: c.Number, Name: MaskName(c.HolderName), IssuedOn: c.IssuedOn, ValidUntil: c.ValidUntil,
			Today: today, Status: c.StatusOn(today),
		})
	})
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
