package exchange

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"

	"yipanqi"
)

// SigningBytes returns the canonical form that the signature covers: the RFC 8785 JSON of
// every attribute except ypqsig (see docs/exchange-envelope.md). It returns EINVALID if the
// envelope is not valid apart from its signature.
func SigningBytes(e *Envelope) ([]byte, error) {
	if err := e.validateUnsigned(); err != nil {
		return nil, err
	}
	if e.KeyID == "" {
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "ypqkeyid", "缺少必填字段 ypqkeyid")
	}
	data, err := e.canonicalData()
	if err != nil {
		return nil, err
	}
	return e.appendForm(make([]byte, 0, len(data)+512), data, false), nil
}

// Sign signs e with key: it sets KeyID to key.ID and Sig to the base64 DER SM2 signature
// (SM3 digest, default user id "1234567812345678") over SigningBytes. The envelope must be
// valid apart from its signature and come from key's node (EINVALID otherwise).
func Sign(e *Envelope, key *PrivateKey) error {
	node, err := NodeOf(e.Source)
	if err != nil {
		return err
	}
	if key.Node != node {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "ypqkeyid",
			"密钥 %s 属于节点 %s，不能签署来源为节点 %s 的消息", key.ID, key.Node, node)
	}
	e.KeyID, e.Sig = key.ID, ""
	msg, err := SigningBytes(e)
	if err != nil {
		e.KeyID = ""
		return err
	}
	sig, err := key.key.Sign(rand.Reader, msg, sm2.DefaultSM2SignerOpts)
	if err != nil {
		e.KeyID = ""
		return fmt.Errorf("sign %s: %w", e.ID, err)
	}
	e.Sig = base64.StdEncoding.EncodeToString(sig)
	return nil
}

// Hash returns the hex SM3 digest of the envelope's canonical form with its signature — the
// bytes Encode writes. A reply carries its request's Hash in ypqreplyto, which names that
// request exactly, signature and all.
//
// Hash is meant for envelopes from Decode or Sign. For one whose data is not valid JSON it
// digests the data as given, so the result matches no envelope that could be sent.
func Hash(e *Envelope) string {
	data, err := e.canonicalData()
	if err != nil {
		data = e.Data
	}
	sum := sm3.Sum(e.appendForm(make([]byte, 0, len(data)+512), data, true))
	return hex.EncodeToString(sum[:])
}

// Verify decides whether this node accepts e, which arrived on a NATS subject naming
// subjectSender (a node code such as "44") as its sender. It accepts only when, in this order:
//
//   - the node named in e.Source is subjectSender (else EFORBIDDEN, field source,
//     "来源节点与主题不符");
//   - e.KeyID is on the trust list among that node's keys (else EFORBIDDEN, field ypqkeyid,
//     "密钥不在信任列表");
//   - the key is valid at e.Time, NotBefore ≤ Time < NotAfter (else EFORBIDDEN, field time,
//     "密钥在消息时间不在有效期内");
//   - the SM2 signature verifies over SigningBytes(e) (else EFORBIDDEN, field ypqsig,
//     "签名无效").
//
// An envelope that is malformed is EINVALID, as from Decode. Verify does not look at the
// clock: whether the trust list itself is current is checked when it is loaded.
func (tl *TrustList) Verify(e *Envelope, subjectSender string) error {
	node, err := NodeOf(e.Source)
	if err != nil {
		return err
	}
	if node != subjectSender {
		return yipanqi.FieldErrorf(yipanqi.EFORBIDDEN, "source",
			"来源节点与主题不符：消息自称来自节点 %s，但经由节点 %s 的主题送达", node, quoteShort(subjectSender))
	}
	k, ok := tl.keys[e.KeyID]
	if !ok || k.node != node {
		return yipanqi.FieldErrorf(yipanqi.EFORBIDDEN, "ypqkeyid",
			"密钥不在信任列表：信任列表第 %d 版中节点 %s 没有密钥“%s”", tl.Version, node, quoteShort(e.KeyID))
	}
	if e.Time.Before(k.NotBefore) || !e.Time.Before(k.NotAfter) {
		return yipanqi.FieldErrorf(yipanqi.EFORBIDDEN, "time",
			"密钥在消息时间不在有效期内：密钥 %s 的有效期为 %s 至 %s（不含），消息时间为 %s",
			e.KeyID, k.NotBefore.Format(timeLayout), k.NotAfter.Format(timeLayout), e.Time.UTC().Format(timeLayout))
	}
	msg, err := SigningBytes(e)
	if err != nil {
		return err
	}
	if err := checkSig(e.Sig); err != nil {
		return err
	}
	sig, _ := base64.StdEncoding.DecodeString(e.Sig) // checked just above
	if !sm2.VerifyASN1WithSM2(k.pub, nil, msg, sig) {
		return yipanqi.FieldErrorf(yipanqi.EFORBIDDEN, "ypqsig",
			"签名无效：用密钥 %s 核验消息 %s 的签名未通过，消息可能被篡改", e.KeyID, e.ID)
	}
	return nil
}
