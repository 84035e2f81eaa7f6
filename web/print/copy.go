package print

import (
	"io"
	"time"

	"yipanqi"
)

// PersonalCopy is a person's own copy of what a node holds about them (SCOPE.md, "The
// person's own copy"): the registry record in full, the flow history, the certificates and
// every exchange (case) about them. It is printed for that person only, so nothing is
// masked; the caller audits the reads that fill it.
type PersonalCopy struct {
	Person       *yipanqi.Person
	Flows        []*yipanqi.FlowEvent
	Certificates []*yipanqi.Certificate
	Exchanges    []*yipanqi.Case // only type, date, direction, peer and state are printed
	HoldingUnit  string          // name of the unit giving the copy
	PrintedAt    time.Time
	// UnitName names a division code (e.g. from package division); nil prints the code.
	UnitName func(code string) string
}

// copyPage adds the helpers the template calls.
type copyPage struct {
	PersonalCopy
}

// Name returns the name of a division code, the code itself when unknown.
func (p copyPage) Name(code string) string {
	if code == "" {
		return ""
	}
	if p.UnitName != nil {
		if n := p.UnitName(code); n != "" {
			return n
		}
	}
	return code
}

// Status is a certificate's status on the day the copy is printed.
func (p copyPage) Status(c *yipanqi.Certificate) yipanqi.CertificateStatus {
	return c.StatusOn(yipanqi.DateOf(p.PrintedAt.In(yipanqi.Shanghai)))
}

// Peer names the other side of a case: its unit, else its node.
func (p copyPage) Peer(c *yipanqi.Case) string {
	if c.PeerUnit != "" {
		return p.Name(c.PeerUnit)
	}
	return p.Name(c.PeerNode)
}

// WritePersonalCopy writes c as a printable A4 page. EINVALID when there is no person, no
// holding unit or no print time.
func WritePersonalCopy(w io.Writer, c PersonalCopy) error {
	if c.Person == nil {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "id_number", "人员信息不能为空")
	}
	if err := required("holding_unit", "出具单位", c.HoldingUnit); err != nil {
		return err
	}
	if c.PrintedAt.IsZero() {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "printed_at", "出具时间不能为空")
	}
	return render(w, copyTmpl, "本人信息副本", copyPage{c})
}
