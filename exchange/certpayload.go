package exchange

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emmansun/gmsm/sm2"

	"yipanqi"
)

// The signed payload of a printed certificate (docs/certificates.md, "Offline check"): the
// QR code carries, besides the address of the public verification page, a compact statement
// signed with the issuing node's SM2 key, which the page — and anyone holding the region's
// trust list — checks without asking any database:
//
//	p = "1." + base64url(body) + "." + base64url(signature)
//	body = number "|" masked name "|" issued on "|" valid until "|" signed on "|" key id
//
// base64url is RFC 4648 §5 without padding; dates are YYYYMMDD; the body is UTF-8. The
// signature is SM2 with SM3 and the default user id (as envelopes, Sign), DER, over
// CertPayloadDomain + body. The payload holds no ID number and no full name: the name is
// masked (张*明) and SignCertPayload refuses a name without a mask.

// CertPayloadDomain is what the signed message starts with, so that a certificate payload's
// signature can never pass for another signed object's.
const CertPayloadDomain = "yipanqi-cert-v1\n"

// certPayloadVersion is the first part of a payload.
const certPayloadVersion = "1"

// CertPayload is what a certificate's signed payload states.
type CertPayload struct {
	Number     string // the certificate number (yipanqi.CertificateNumber form)
	MaskedName string // the holder's name masked, e.g. 张*明
	IssuedOn   yipanqi.Date
	ValidUntil yipanqi.Date
	SignedOn   yipanqi.Date // the day the payload was signed (printed), in China
	KeyID      string       // the signing key, e.g. "44-1a2b3c4d"
}

// maxCertPayload bounds the payload accepted for parsing (a real one is about 220 characters).
const maxCertPayload = 600

func payloadDate(d yipanqi.Date) string { return fmt.Sprintf("%04d%02d%02d", d.Year, d.Month, d.Day) }

func parsePayloadDate(s string) (yipanqi.Date, bool) {
	if len(s) != 8 {
		return yipanqi.Date{}, false
	}
	d, err := yipanqi.ParseDate(s[:4] + "-" + s[4:6] + "-" + s[6:])
	return d, err == nil
}

// body returns the signed body of c, or EINVALID naming what may not be signed.
func (c *CertPayload) body() (string, error) {
	switch {
	case !certNumberOK(c.Number):
		return "", yipanqi.FieldErrorf(yipanqi.EINVALID, "number", "婚育证明编号“%s”不是本系统签发的编号", quoteShort(c.Number))
	case !nameMasked(c.MaskedName):
		return "", yipanqi.FieldErrorf(yipanqi.EINVALID, "masked_name", "签名载荷中的姓名须已遮盖（如 张*明），不能是全名")
	case c.IssuedOn.IsZero() || c.ValidUntil.IsZero() || c.SignedOn.IsZero():
		return "", yipanqi.FieldErrorf(yipanqi.EINVALID, "issued_on", "签名载荷须有签发日期、有效期至与签名日期")
	}
	return strings.Join([]string{c.Number, c.MaskedName, payloadDate(c.IssuedOn), payloadDate(c.ValidUntil),
		payloadDate(c.SignedOn), c.KeyID}, "|"), nil
}

// issuedIn reports whether the certificate number names an issuer in the province node: a
// node vouches only for its own units' certificates.
func issuedIn(number, node string) bool {
	issuer, _, _, _, ok := yipanqi.ParseCertificateNumber(number)
	return ok && strings.HasPrefix(issuer, node)
}

func certNumberOK(n string) bool {
	_, _, _, _, ok := yipanqi.ParseCertificateNumber(n)
	return ok
}

// nameMasked: a masked name has at least one "*", no "|", and at most 50 characters.
func nameMasked(s string) bool {
	return strings.Contains(s, "*") && !strings.Contains(s, "|") && utf8.ValidString(s) && utf8.RuneCountInString(s) <= 50
}

// SignCertPayload signs c with key (the node's signing key; c.KeyID is set to key.ID) and
// returns the payload for the QR code. EINVALID for a number not in this system's form, a
// name that is not masked, a missing date, or a number whose issuer is not a unit of key's
// node.
func SignCertPayload(key *PrivateKey, c CertPayload) (string, error) {
	c.KeyID = key.ID
	body, err := c.body()
	if err != nil {
		return "", err
	}
	if !issuedIn(c.Number, key.Node) {
		return "", yipanqi.FieldErrorf(yipanqi.EINVALID, "number", "婚育证明“%s”不是节点 %s 的单位签发的，不能用密钥 %s 签名", c.Number, key.Node, key.ID)
	}
	sig, err := key.key.Sign(rand.Reader, []byte(CertPayloadDomain+body), sm2.DefaultSM2SignerOpts)
	if err != nil {
		return "", fmt.Errorf("sign certificate payload: %w", err)
	}
	enc := base64.RawURLEncoding
	return certPayloadVersion + "." + enc.EncodeToString([]byte(body)) + "." + enc.EncodeToString(sig), nil
}

func badPayload(format string, args ...any) error {
	return yipanqi.FieldErrorf(yipanqi.EINVALID, "p", "核验码格式错误："+format, args...)
}

// ParseCertPayload reads a payload without checking its signature: what it states, and the
// signed message and signature to check. EINVALID (field p) for anything malformed.
func ParseCertPayload(p string) (c *CertPayload, msg, sig []byte, err error) {
	if len(p) > maxCertPayload {
		return nil, nil, nil, badPayload("过长")
	}
	parts := strings.Split(p, ".")
	if len(parts) != 3 || parts[0] != certPayloadVersion {
		return nil, nil, nil, badPayload("应为“1.内容.签名”三段")
	}
	enc := base64.RawURLEncoding
	body, err1 := enc.DecodeString(parts[1])
	sig, err2 := enc.DecodeString(parts[2])
	if err1 != nil || err2 != nil || len(sig) == 0 {
		return nil, nil, nil, badPayload("不是 base64url 编码")
	}
	f := strings.Split(string(body), "|")
	if len(f) != 6 || !utf8.Valid(body) {
		return nil, nil, nil, badPayload("内容应有 6 项")
	}
	c = &CertPayload{Number: f[0], MaskedName: f[1], KeyID: f[5]}
	var ok1, ok2, ok3 bool
	c.IssuedOn, ok1 = parsePayloadDate(f[2])
	c.ValidUntil, ok2 = parsePayloadDate(f[3])
	c.SignedOn, ok3 = parsePayloadDate(f[4])
	if !ok1 || !ok2 || !ok3 {
		return nil, nil, nil, badPayload("日期应为 8 位数字 YYYYMMDD")
	}
	if _, err := c.body(); err != nil {
		return nil, nil, nil, badPayload("%s", yipanqi.ErrorMessage(err))
	}
	if _, ok := keyIDNode(c.KeyID); !ok {
		return nil, nil, nil, badPayload("密钥编号“%s”无效", quoteShort(c.KeyID))
	}
	return c, []byte(CertPayloadDomain + string(body)), sig, nil
}

func notIssuedBy(c *CertPayload, node string) error {
	return yipanqi.FieldErrorf(yipanqi.EFORBIDDEN, "p", "核验码由节点 %s 的密钥签名，而证明编号 %s 不属于该节点的签发单位", node, c.Number)
}

// VerifyCertPayloadKey checks p against the public key pub alone (whose id must be the
// payload's key id) and returns what it states. EINVALID for a malformed payload;
// EFORBIDDEN (field p) when the key is another or the signature does not verify.
func VerifyCertPayloadKey(pub *PublicKey, p string) (*CertPayload, error) {
	c, msg, sig, err := ParseCertPayload(p)
	if err != nil {
		return nil, err
	}
	if c.KeyID != pub.ID {
		return nil, yipanqi.FieldErrorf(yipanqi.EFORBIDDEN, "p", "核验码由密钥 %s 签名，不是密钥 %s", c.KeyID, pub.ID)
	}
	if !issuedIn(c.Number, pub.Node) {
		return nil, notIssuedBy(c, pub.Node)
	}
	if !sm2.VerifyASN1WithSM2(pub.key, nil, msg, sig) {
		return nil, yipanqi.FieldErrorf(yipanqi.EFORBIDDEN, "p", "核验码签名无效：内容可能被篡改")
	}
	return c, nil
}

// VerifyCertPayload checks p against the trust list: its key must be on the list under the
// node its id names, the number's issuer must be a unit of that node (its code starts with
// the node's), the key must be valid on the day it was signed (some instant of that day in China
// within NotBefore ≤ t < NotAfter), and the SM2 signature must verify. It returns what the
// payload states; EINVALID for a malformed payload, EFORBIDDEN (field p) otherwise. It does
// not look at the clock: whether the certificate is still valid today is the caller's
// reading of ValidUntil, and only the issuer's registry knows of a revocation.
func (tl *TrustList) VerifyCertPayload(p string) (*CertPayload, error) {
	c, msg, sig, err := ParseCertPayload(p)
	if err != nil {
		return nil, err
	}
	node, _ := keyIDNode(c.KeyID) // checked by ParseCertPayload
	k, ok := tl.keys[c.KeyID]
	if !ok || k.node != node {
		return nil, yipanqi.FieldErrorf(yipanqi.EFORBIDDEN, "p", "核验码的签名密钥 %s 不在信任列表（第 %d 版）中", c.KeyID, tl.Version)
	}
	if !issuedIn(c.Number, node) {
		return nil, notIssuedBy(c, node)
	}
	start := time.Date(c.SignedOn.Year, c.SignedOn.Month, c.SignedOn.Day, 0, 0, 0, 0, shanghai)
	if !k.NotBefore.Before(start.Add(24*time.Hour)) || !start.Before(k.NotAfter) {
		return nil, yipanqi.FieldErrorf(yipanqi.EFORBIDDEN, "p", "核验码的签名日期 %s 不在密钥 %s 的有效期内", c.SignedOn, c.KeyID)
	}
	if !sm2.VerifyASN1WithSM2(k.pub, nil, msg, sig) {
		return nil, yipanqi.FieldErrorf(yipanqi.EFORBIDDEN, "p", "核验码签名无效：内容可能被篡改")
	}
	return c, nil
}

// shanghai is the zone a payload's signing date is a day in (China keeps no DST).
var shanghai = yipanqi.Shanghai
