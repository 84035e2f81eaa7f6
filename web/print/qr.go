package print

import (
	"fmt"
	"html/template"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// VerifyPath is the path of the public verification page of a certificate, without the
// number: the page for number N is VerifyPath + N.
const VerifyPath = "/verify/cert/"

// VerifyURL returns the public verification address of a certificate: base (the node's
// public address, e.g. "https://yipanqi.example.gov.cn") + VerifyPath + number. A trailing
// slash of base is dropped.
func VerifyURL(base, number string) string {
	return strings.TrimRight(base, "/") + VerifyPath + number
}

// qrLevel is the error correction of the printed QR code: medium (15 %) survives a fold or
// a stamp over a corner and keeps the symbol small.
const qrLevel = qrcode.Medium

// QRMatrix returns the module matrix of the QR code of content, quiet zone included: true
// is a dark module.
func QRMatrix(content string) ([][]bool, error) {
	q, err := qrcode.New(content, qrLevel)
	if err != nil {
		return nil, fmt.Errorf("qr code: %w", err)
	}
	return q.Bitmap(), nil
}

// QRSVG returns the QR code of content as an inline SVG sized in millimetres: one path of
// unit squares, one per dark module, on a white square, so it prints sharp at any scale and
// needs no image file. label becomes its accessible title.
func QRSVG(content, label string, sizeMM float64) (template.HTML, error) {
	m, err := QRMatrix(content)
	if err != nil {
		return "", err
	}
	n := len(m)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="qr" role="img" width="%gmm" height="%gmm" viewBox="0 0 %d %d" shape-rendering="crispEdges">`,
		sizeMM, sizeMM, n, n)
	fmt.Fprintf(&b, `<title>%s</title>`, template.HTMLEscapeString(label))
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n)
	for y, row := range m {
		for x, dark := range row {
			if dark {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x, y)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return template.HTML(b.String()), nil
}
