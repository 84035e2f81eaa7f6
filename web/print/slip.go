package print

import (
	"io"

	"yipanqi"
)

// PostingSlip is the slip that goes with a certificate posted from the hometown to the
// residence township or community (the cert.reissue reply). It names units only: the holder
// is not on the envelope.
type PostingSlip struct {
	TrackingNo        string
	From, FromAddress string // the sending unit and its postal address
	To, ToAddress     string // the receiving township or community and its postal address
	CertificateNumber string // contents: 婚育证明 No.<number>
	Date              yipanqi.Date
}

// WritePostingSlip writes s as a printable page. EINVALID naming the field for a blank
// required field or a missing date.
func WritePostingSlip(w io.Writer, s PostingSlip) error {
	if err := required("tracking_number", "邮件单号", s.TrackingNo, "from", "寄件单位", s.From,
		"to", "收件单位", s.To, "number", "婚育证明编号", s.CertificateNumber); err != nil {
		return err
	}
	if s.Date.IsZero() {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "posted_on", "寄出日期不能为空")
	}
	return render(w, slipTmpl, "婚育证明寄送单", struct {
		PostingSlip
		Contents string
	}{s, "婚育证明 No." + s.CertificateNumber})
}
