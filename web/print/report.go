package print

import (
	"io"

	"yipanqi"
)

// ServiceReport is a 《流动人口避孕节育情况报告单》, made from a service.result case and nothing
// more (SCOPE.md): the person, the service kind, its date and provider, and whether a
// check-up was done. It has no field for notes or findings, on purpose.
type ServiceReport struct {
	Number      string // optional
	Name        string
	IDNumber    string
	ServiceKind string // the catalog code of service.result's service_kind, e.g. "health_checkup"
	ServiceDate yipanqi.Date
	Provider    string
	CheckupDone bool
	IssuingUnit string
	IssuedOn    yipanqi.Date
}

// ServiceKindLabel returns the Chinese label of a service_kind code from the catalog's
// service.result type, "" for a code it does not list.
func ServiceKindLabel(code string) string {
	t, err := yipanqi.Catalog().Type("service.result")
	if err != nil {
		return ""
	}
	if f := t.Field("service_kind"); f != nil {
		for _, o := range f.Options {
			if o.Value == code {
				return o.Label
			}
		}
	}
	return ""
}

// WriteServiceReport writes r as a printable A4 page. EINVALID naming the field for a blank
// required field, a service kind the catalog does not list, or a missing date.
func WriteServiceReport(w io.Writer, r ServiceReport) error {
	if err := required("name", "姓名", r.Name, "id_number", "公民身份号码", r.IDNumber,
		"provider", "服务机构", r.Provider, "issuing_unit", "出具单位", r.IssuingUnit); err != nil {
		return err
	}
	label := ServiceKindLabel(r.ServiceKind)
	if label == "" {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "service_kind", "服务项目“%s”无效", r.ServiceKind)
	}
	if r.ServiceDate.IsZero() {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "service_date", "服务日期不能为空")
	}
	if r.IssuedOn.IsZero() {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "issued_on", "出具日期不能为空")
	}
	return render(w, reportTmpl, "流动人口避孕节育情况报告单", struct {
		ServiceReport
		ServiceLabel string
	}{r, label})
}
