package exchange

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"

	"yipanqi"
)

// TrustList is the region's signed list of nodes and the public keys each may sign with
// (ARCHITECTURE §1, like X-Road's global configuration). Build one with NewTrustList and
// sign it with the region key (Sign); every node loads it with LoadTrustList, which checks
// the region signature before anything in it is used.
type TrustList struct {
	Version    int64     // increases with every issue; a node refuses to go back to a lower one (casework.AcceptTrustList)
	IssuedAt   time.Time // UTC
	NextUpdate time.Time // UTC; the list is refused from this instant on
	Nodes      []TrustedNode

	keys map[string]trustedKey // by key id
}

// TrustedNode is one node on the trust list.
type TrustedNode struct {
	Code string // province code, e.g. "44"
	Name string // e.g. "广东"
	Keys []TrustedKey
}

// TrustedKey is one key of a node and when it may sign: NotBefore ≤ message time < NotAfter.
type TrustedKey struct {
	ID           string
	PublicKeyPEM string // SubjectPublicKeyInfo PEM, without the attribute lines of key files
	NotBefore    time.Time
	NotAfter     time.Time
}

type trustedKey struct {
	node                string
	NotBefore, NotAfter time.Time
	pub                 *ecdsa.PublicKey
}

// TrustKey returns the trust list entry for pub valid in [notBefore, notAfter).
func TrustKey(pub *PublicKey, notBefore, notAfter time.Time) (TrustedKey, error) {
	bare := &PublicKey{key: pub.key}
	block, err := bare.MarshalPEM()
	if err != nil {
		return TrustedKey{}, err
	}
	// MarshalPEM writes attribute lines first; the list keeps only the PEM block.
	block = block[bytes.Index(block, []byte("-----BEGIN ")):]
	return TrustedKey{ID: pub.ID, PublicKeyPEM: string(block), NotBefore: notBefore.UTC(), NotAfter: notAfter.UTC()}, nil
}

// NewTrustList checks and indexes a trust list: version ≥ 1, IssuedAt before NextUpdate,
// node codes valid and unique, every node with a name and at least one key, every key id
// matching its public key and node and unique, every NotBefore before its NotAfter. It
// returns EINVALID naming what is wrong.
func NewTrustList(version int64, issuedAt, nextUpdate time.Time, nodes []TrustedNode) (*TrustList, error) {
	tl := &TrustList{
		Version:    version,
		IssuedAt:   issuedAt.UTC(),
		NextUpdate: nextUpdate.UTC(),
		Nodes:      nodes,
		keys:       make(map[string]trustedKey),
	}
	if version < 1 {
		return nil, trustInvalid("version", "版本号须为正整数，实为 %d", version)
	}
	if issuedAt.IsZero() || nextUpdate.IsZero() || !issuedAt.Before(nextUpdate) {
		return nil, trustInvalid("next_update", "下次更新时间（next_update）须晚于签发时间（issued_at）")
	}
	if len(nodes) == 0 {
		return nil, trustInvalid("nodes", "没有任何节点")
	}
	seen := make(map[string]bool)
	for i := range nodes {
		n := &nodes[i]
		if !ValidNodeCode(n.Code) {
			return nil, trustInvalid("nodes", "节点代码“%s”无效，应为两位省级代码", quoteShort(n.Code))
		}
		if seen[n.Code] {
			return nil, trustInvalid("nodes", "节点 %s 重复出现", n.Code)
		}
		seen[n.Code] = true
		if strings.TrimSpace(n.Name) == "" {
			return nil, trustInvalid("nodes", "节点 %s 缺少名称", n.Code)
		}
		if len(n.Keys) == 0 {
			return nil, trustInvalid("nodes", "节点 %s 没有任何密钥", n.Code)
		}
		for j := range n.Keys {
			k := &n.Keys[j]
			k.NotBefore, k.NotAfter = k.NotBefore.UTC(), k.NotAfter.UTC()
			pub, err := ParsePublicKeyPEM([]byte(k.PublicKeyPEM), n.Code)
			if err != nil {
				return nil, trustInvalid("nodes", "节点 %s 的密钥“%s”：%s", n.Code, quoteShort(k.ID), yipanqi.ErrorMessage(err))
			}
			if pub.ID != k.ID {
				return nil, trustInvalid("nodes", "节点 %s 的密钥编号“%s”与公钥不符（应为 %s）", n.Code, quoteShort(k.ID), pub.ID)
			}
			if _, dup := tl.keys[k.ID]; dup {
				return nil, trustInvalid("nodes", "密钥 %s 重复出现", k.ID)
			}
			if k.NotBefore.IsZero() || !k.NotBefore.Before(k.NotAfter) {
				return nil, trustInvalid("nodes", "节点 %s 的密钥 %s：生效时间须早于失效时间", n.Code, k.ID)
			}
			tl.keys[k.ID] = trustedKey{node: n.Code, NotBefore: k.NotBefore, NotAfter: k.NotAfter, pub: pub.key}
		}
	}
	return tl, nil
}

func trustInvalid(field, format string, args ...any) error {
	return yipanqi.FieldErrorf(yipanqi.EINVALID, field, "信任列表无效："+format, args...)
}

// Node returns the node with the given code.
func (tl *TrustList) Node(code string) (TrustedNode, bool) {
	for _, n := range tl.Nodes {
		if n.Code == code {
			return n, true
		}
	}
	return TrustedNode{}, false
}

// Current returns EFORBIDDEN (field next_update) if the list has expired at now: a node must
// fetch the next issue before it goes on trusting keys.
func (tl *TrustList) Current(now time.Time) error {
	if !now.Before(tl.NextUpdate) {
		return yipanqi.FieldErrorf(yipanqi.EFORBIDDEN, "next_update",
			"信任列表已过期：第 %d 版应在 %s 前更新，现在是 %s，请向区域获取新版信任列表",
			tl.Version, tl.NextUpdate.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// The JSON document. Times are RFC 3339 UTC strings.
type trustDoc struct {
	Version    int64          `json:"version"`
	IssuedAt   string         `json:"issued_at"`
	NextUpdate string         `json:"next_update"`
	Nodes      []trustNodeDoc `json:"nodes"`
	Signature  *trustSigDoc   `json:"signature,omitempty"`
}

type trustNodeDoc struct {
	Code string        `json:"code"`
	Name string        `json:"name"`
	Keys []trustKeyDoc `json:"keys"`
}

type trustKeyDoc struct {
	ID           string `json:"id"`
	PublicKeyPEM string `json:"public_key_pem"`
	NotBefore    string `json:"not_before"`
	NotAfter     string `json:"not_after"`
}

type trustSigDoc struct {
	KeyID string `json:"key_id"`
	Value string `json:"value"`
}

func formatTrustTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func (tl *TrustList) doc() *trustDoc {
	d := &trustDoc{
		Version:    tl.Version,
		IssuedAt:   formatTrustTime(tl.IssuedAt),
		NextUpdate: formatTrustTime(tl.NextUpdate),
		Nodes:      make([]trustNodeDoc, 0, len(tl.Nodes)),
	}
	nodes := append([]TrustedNode(nil), tl.Nodes...)
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Code < nodes[j].Code })
	for _, n := range nodes {
		nd := trustNodeDoc{Code: n.Code, Name: n.Name}
		for _, k := range n.Keys {
			nd.Keys = append(nd.Keys, trustKeyDoc{
				ID:           k.ID,
				PublicKeyPEM: k.PublicKeyPEM,
				NotBefore:    formatTrustTime(k.NotBefore),
				NotAfter:     formatTrustTime(k.NotAfter),
			})
		}
		d.Nodes = append(d.Nodes, nd)
	}
	return d
}

func marshalTrustDoc(d *trustDoc) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("marshal trust list: %w", err)
	}
	return buf.Bytes(), nil
}

// Sign returns the trust list as a signed JSON document: the list's members plus an embedded
// "signature" member {key_id, value}, value being the base64 DER SM2 signature by region (a
// RegionNode key) over the RFC 8785 canonical form of the document without "signature".
func (tl *TrustList) Sign(region *PrivateKey) ([]byte, error) {
	if region.Node != RegionNode {
		return nil, yipanqi.Errorf(yipanqi.EINVALID, "签署信任列表须用区域密钥（节点 region），而密钥 %s 属于节点 %s", region.ID, region.Node)
	}
	d := tl.doc()
	unsigned, err := marshalTrustDoc(d)
	if err != nil {
		return nil, err
	}
	msg, err := Canonicalize(unsigned)
	if err != nil {
		return nil, fmt.Errorf("sign trust list: %w", err)
	}
	sig, err := region.key.Sign(rand.Reader, msg, sm2.DefaultSM2SignerOpts)
	if err != nil {
		return nil, fmt.Errorf("sign trust list: %w", err)
	}
	d.Signature = &trustSigDoc{KeyID: region.ID, Value: base64.StdEncoding.EncodeToString(sig)}
	return marshalTrustDoc(d)
}

// ParseTrustList checks a signed trust list document and returns the list. In this order:
// the document is strict JSON (as envelope data is), its embedded signature verifies with
// regionPub over the canonical form of the rest (EFORBIDDEN, field signature, otherwise),
// the content is well-formed (EINVALID), and the list has not expired at now (EFORBIDDEN,
// field next_update).
func ParseTrustList(data []byte, regionPub *PublicKey, now time.Time) (*TrustList, error) {
	if regionPub == nil {
		return nil, errors.New("parse trust list: no region public key")
	}
	v, err := parseJSON(data, "")
	if err != nil {
		return nil, trustInvalid("", "%s", yipanqi.ErrorMessage(err))
	}
	if v.kind != jsonObject {
		return nil, trustInvalid("", "须为 JSON 对象")
	}
	sigv, ok := v.member("signature")
	if !ok {
		return nil, yipanqi.FieldErrorf(yipanqi.EFORBIDDEN, "signature", "信任列表没有签名（缺少 signature 字段）")
	}
	var sigDoc trustSigDoc
	if err := StrictUnmarshal(appendCanonical(nil, sigv), &sigDoc); err != nil || sigDoc.Value == "" {
		return nil, trustInvalid("signature", "signature 字段须为 {\"key_id\":…, \"value\":…}")
	}
	rest := jsonValue{kind: jsonObject}
	for _, m := range v.obj {
		if m.name != "signature" {
			rest.obj = append(rest.obj, m)
		}
	}
	msg := appendCanonical(nil, &rest)
	sig, err := base64.StdEncoding.Strict().DecodeString(sigDoc.Value)
	if err != nil || !sm2.VerifyASN1WithSM2(regionPub.key, nil, msg, sig) {
		if sigDoc.KeyID != regionPub.ID {
			return nil, yipanqi.FieldErrorf(yipanqi.EFORBIDDEN, "signature",
				"信任列表签名无效：它声称由密钥“%s”签署，而本节点配置的区域公钥是 %s", quoteShort(sigDoc.KeyID), regionPub.ID)
		}
		return nil, yipanqi.FieldErrorf(yipanqi.EFORBIDDEN, "signature",
			"信任列表签名无效：用区域公钥 %s 核验未通过，文件可能被改动", regionPub.ID)
	}

	var d trustDoc
	if err := StrictUnmarshal(msg, &d); err != nil {
		return nil, trustInvalid("", "结构不符合格式（%v）", err)
	}
	times := map[string]string{"issued_at": d.IssuedAt, "next_update": d.NextUpdate}
	parsed := make(map[string]time.Time)
	for name, s := range times {
		t, err := parseTrustTime(s)
		if err != nil {
			return nil, trustInvalid(name, "%s“%s”不是 UTC 的 RFC 3339 时间", name, quoteShort(s))
		}
		parsed[name] = t
	}
	nodes := make([]TrustedNode, 0, len(d.Nodes))
	for _, nd := range d.Nodes {
		n := TrustedNode{Code: nd.Code, Name: nd.Name}
		for _, kd := range nd.Keys {
			nb, err1 := parseTrustTime(kd.NotBefore)
			na, err2 := parseTrustTime(kd.NotAfter)
			if err := errors.Join(err1, err2); err != nil {
				return nil, trustInvalid("nodes", "节点 %s 的密钥“%s”的有效期不是 UTC 的 RFC 3339 时间", quoteShort(nd.Code), quoteShort(kd.ID))
			}
			n.Keys = append(n.Keys, TrustedKey{ID: kd.ID, PublicKeyPEM: kd.PublicKeyPEM, NotBefore: nb, NotAfter: na})
		}
		nodes = append(nodes, n)
	}
	tl, err := NewTrustList(d.Version, parsed["issued_at"], parsed["next_update"], nodes)
	if err != nil {
		return nil, err
	}
	if err := tl.Current(now); err != nil {
		return nil, err
	}
	return tl, nil
}

func parseTrustTime(s string) (time.Time, error) {
	if !isTimeText(s) {
		return time.Time{}, errors.New("not an RFC 3339 UTC time")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t.UTC(), err
}

// StrictUnmarshal decodes canonical JSON into v, refusing members v has no field for.
func StrictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// LoadTrustList reads and checks the trust list file at path; see ParseTrustList.
func LoadTrustList(path string, regionPub *PublicKey, now time.Time) (*TrustList, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, yipanqi.Errorf(yipanqi.ENOTFOUND, "信任列表文件 %s 不存在", path)
	} else if err != nil {
		return nil, fmt.Errorf("load trust list: %w", err)
	}
	tl, err := ParseTrustList(data, regionPub, now)
	if err != nil {
		return nil, inFile(path, err)
	}
	return tl, nil
}

// WriteTrustList writes a signed trust list document to path atomically (a temporary file in
// the same directory, then rename), so a node reading it never sees half a list.
func WriteTrustList(path string, doc []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".trust-*.json")
	if err != nil {
		return fmt.Errorf("write trust list: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(doc)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write trust list: %w", err)
	}
	return nil
}

// Digest returns the SM3 digest, in hex, of the canonical form of the list without its
// signature: two issues with the same digest say the same thing.
func (tl *TrustList) Digest() string {
	b, err := marshalTrustDoc(tl.doc())
	if err == nil {
		b, err = Canonicalize(b)
	}
	if err != nil {
		// doc() holds strings and numbers only; this cannot fail.
		panic("exchange: trust list digest: " + err.Error())
	}
	sum := sm3.Sum(b)
	return hex.EncodeToString(sum[:])
}

// CheckTrustUpdate decides whether a node that holds version prevVersion (digest prevDigest)
// of the trust list may take next instead: a higher version, or the same one unchanged. A
// lower version (a rollback to an issue that may still trust a key since withdrawn) and the
// same version with other content (two different issues under one number) are EFORBIDDEN,
// field version. prevVersion 0 means the node held none.
func CheckTrustUpdate(prevVersion int64, prevDigest string, next *TrustList) error {
	switch {
	case prevVersion == 0 || next.Version > prevVersion:
		return nil
	case next.Version < prevVersion:
		return yipanqi.FieldErrorf(yipanqi.EFORBIDDEN, "version",
			"信任列表版本回退：本节点已采用第 %d 版，不接受较低的第 %d 版；请向区域获取最新版信任列表", prevVersion, next.Version)
	case prevDigest != "" && next.Digest() != prevDigest:
		return yipanqi.FieldErrorf(yipanqi.EFORBIDDEN, "version",
			"信任列表第 %d 版与本节点已采用的同一版本内容不同：同一版本号不得重新签发不同内容，请向区域核实", next.Version)
	}
	return nil
}
