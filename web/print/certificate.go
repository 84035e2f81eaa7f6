package print

import (
	"html/template"
	"io"

	"yipanqi"
	"yipanqi/idcard"
)

// CertificateDoc is a 《流动人口婚育证明》 to print.
type CertificateDoc struct {
	Cert       *yipanqi.Certificate
	IssuerName string // the issuing unit's name, e.g. 南昌县某镇人民政府
	// VerifyBase is the node's public address ([http] public_url); the QR code encodes
	// VerifyURL(VerifyBase, Cert.Number) and, when Payload is set, "?p=" and Payload.
	VerifyBase string
	// Payload is the certificate's signed payload (exchange.SignCertPayload), "" for none.
	Payload string
}

// certPage is what the template sees.
type certPage struct {
	Cert       *yipanqi.Certificate
	IssuerName string
	Sex        yipanqi.Sex
	BirthDate  yipanqi.Date
	VerifyURL  string
	QRContent  string // what the QR code encodes: VerifyURL, and ?p= with the payload
	QR         template.HTML
}

// WriteCertificate writes the certificate as a printable A4 page with a QR code of its
// public verification address. Sex and birth date are read from the holder's ID number.
// EINVALID naming the field for a missing number, name, issuer or base address, or an
// invalid ID number; nothing is written then.
func WriteCertificate(w io.Writer, d CertificateDoc) error {
	if d.Cert == nil {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "number", "婚育证明不能为空")
	}
	if err := required("number", "婚育证明编号", d.Cert.Number, "holder_name", "持证人姓名", d.Cert.HolderName,
		"issuer_name", "签发单位", d.IssuerName, "verify_base", "核验网址", d.VerifyBase); err != nil {
		return err
	}
	id, err := idcard.Parse(d.Cert.IDNumber, yipanqi.Date{})
	if err != nil {
		return err
	}
	url := VerifyURL(d.VerifyBase, d.Cert.Number)
	content := url
	if d.Payload != "" {
		content += "?p=" + d.Payload // base64url and dots: nothing to escape
	}
	qr, err := QRSVG(content, "婚育证明核验二维码", 32)
	if err != nil {
		return err
	}
	return render(w, certTmpl, "流动人口婚育证明 No."+d.Cert.Number, certPage{
		Cert: d.Cert, IssuerName: d.IssuerName, Sex: id.Sex, BirthDate: id.Birth, VerifyURL: url, QRContent: content, QR: qr,
	})
}
