package print

import (
	"io"

	"yipanqi"
)

// DefaultNoticeDays is how many calendar days a 《限期补办通知书》 gives when Notice.Deadline
// and Notice.Days are not set.
const DefaultNoticeDays = 30

// Notice is a 《限期补办通知书》: the residence unit tells a person without a marriage-and-
// childbirth certificate how to obtain one, by when, and what their rights are.
type Notice struct {
	Number           string // the notice's own number, optional (cert.reissue's notice_number)
	Name             string // the person's name
	IDNumber         string // printed masked
	ResidenceUnit    string // name of the residence township or community, e.g. 天河区某街道
	ResidenceAddress string // optional
	IssuedOn         yipanqi.Date
	Deadline         yipanqi.Date // zero: IssuedOn + Days
	Days             int          // zero: DefaultNoticeDays
	IssuingUnit      string       // the unit that signs and seals
	Contact          string       // office address and telephone, optional
}

// WriteNotice writes n as a printable A4 page. EINVALID naming the field when a required
// one is blank, the issue date is missing or the deadline is not after it; nothing is
// written then.
func WriteNotice(w io.Writer, n Notice) error {
	if err := required("name", "姓名", n.Name, "id_number", "公民身份号码", n.IDNumber,
		"residence_unit", "现居住地", n.ResidenceUnit, "issuing_unit", "通知单位", n.IssuingUnit); err != nil {
		return err
	}
	if n.IssuedOn.IsZero() {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "issued_on", "通知日期不能为空")
	}
	if n.Deadline.IsZero() {
		days := n.Days
		if days <= 0 {
			days = DefaultNoticeDays
		}
		n.Deadline = n.IssuedOn.AddDays(days)
	}
	if !n.IssuedOn.Before(n.Deadline) {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "deadline", "补办期限 %s 应晚于通知日期 %s", n.Deadline, n.IssuedOn)
	}
	return render(w, noticeTmpl, "限期补办通知书", n)
}
