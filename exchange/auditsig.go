package exchange

import (
	"crypto/rand"
	"encoding/base64"
	"time"

	"github.com/emmansun/gmsm/sm2"

	"yipanqi"
)

// AuditHeadSigner signs audit heads with a node key. It is a sqlstore.AuditSigner (the store
// names the interface; this package imports no store).
type AuditHeadSigner struct{ k *PrivateKey }

// AuditSigner returns the signer of the node's audit heads (sqlstore.DB.SetAuditSigner).
func (k *PrivateKey) AuditSigner() AuditHeadSigner { return AuditHeadSigner{k} }

// AuditKeyID is the id of the signing key.
func (s AuditHeadSigner) AuditKeyID() string { return s.k.ID }

// SignAuditHead returns the base64 SM2 signature of msg (sqlstore.AuditHead.SigningBytes).
func (s AuditHeadSigner) SignAuditHead(msg []byte) (string, error) {
	sig, err := s.k.key.Sign(rand.Reader, msg, sm2.DefaultSM2SignerOpts)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// VerifyAuditHeadSig checks the signature of an audit head (the fields of a
// sqlstore.AuditHead; casework.VerifyAuditHead passes them): its key is on the trust list, of
// node when set, valid at at, and the base64 SM2 signature sig verifies over msg (the head's
// SigningBytes). EFORBIDDEN naming the field otherwise, in Chinese.
func (tl *TrustList) VerifyAuditHeadSig(node, keyID string, at time.Time, seq int64, msg []byte, sig string) error {
	if sig == "" {
		return yipanqi.FieldErrorf(yipanqi.EFORBIDDEN, "sig", "审计链头没有签名")
	}
	k, ok := tl.keys[keyID]
	if !ok || (node != "" && k.node != node) {
		return yipanqi.FieldErrorf(yipanqi.EFORBIDDEN, "key_id",
			"密钥不在信任列表：信任列表第 %d 版中没有节点 %s 的密钥“%s”", tl.Version, quoteShort(node), quoteShort(keyID))
	}
	if at.Before(k.NotBefore) || !at.Before(k.NotAfter) {
		return yipanqi.FieldErrorf(yipanqi.EFORBIDDEN, "at",
			"密钥 %s 在链头时间 %s 不在有效期内", keyID, at.UTC().Format(timeLayout))
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || !sm2.VerifyASN1WithSM2(k.pub, nil, msg, raw) {
		return yipanqi.FieldErrorf(yipanqi.EFORBIDDEN, "sig", "签名无效：用密钥 %s 核验第 %d 号链头未通过", keyID, seq)
	}
	return nil
}
