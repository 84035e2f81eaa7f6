package exchange

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"

	"yipanqi"
)

// RegionNode is the node name of the region's own key, the one that signs the trust list.
const RegionNode = "region"

// Key file attribute names, written as "Name: value" lines before the PEM block. PEM readers
// (Go's encoding/pem, OpenSSL) ignore text outside the BEGIN/END lines, so the files stay
// ordinary PKCS#8 and SubjectPublicKeyInfo PEM.
const (
	attrKeyID     = "Key-Id"
	attrNode      = "Node"
	attrNotBefore = "Not-Before"
	attrNotAfter  = "Not-After"
)

// PrivateKey is a node's SM2 signing key together with its key id.
type PrivateKey struct {
	ID   string // "<node>-<first 8 hex digits of SM3(public key DER)>"
	Node string // province code, or RegionNode
	key  *sm2.PrivateKey
}

// PublicKey is a node's SM2 public key with its key id and, when known, the validity its
// owner asked for (the trust list has the final say on validity).
type PublicKey struct {
	ID        string
	Node      string
	NotBefore time.Time // zero if not recorded
	NotAfter  time.Time // zero if not recorded
	key       *ecdsa.PublicKey
}

func validKeyNode(node string) bool { return node == RegionNode || ValidNodeCode(node) }

// keyIDNode splits the node off a key id of the form "<node>-<8 hex>".
func keyIDNode(id string) (string, bool) {
	node, h, ok := strings.Cut(id, "-")
	if !ok || !validKeyNode(node) || !IsLowerHex(h, 8) {
		return "", false
	}
	return node, true
}

// KeyID returns the key id of pub for node: the node, a hyphen, and the first eight hex digits
// of the SM3 digest of the public key's DER SubjectPublicKeyInfo.
func KeyID(node string, pub *ecdsa.PublicKey) (string, error) {
	der, err := smx509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("key id: marshal public key: %w", err)
	}
	sum := sm3.Sum(der)
	return node + "-" + hex.EncodeToString(sum[:4]), nil
}

func badNode(node string) error {
	return yipanqi.FieldErrorf(yipanqi.EINVALID, "node",
		"节点代码“%s”无效：应为两位省级代码（如 44）或 region", quoteShort(node))
}

// GenerateKey makes a new SM2 key for node (a province code or RegionNode).
func GenerateKey(node string) (*PrivateKey, error) {
	if !validKeyNode(node) {
		return nil, badNode(node)
	}
	k, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return newPrivateKey(node, k)
}

func newPrivateKey(node string, k *sm2.PrivateKey) (*PrivateKey, error) {
	id, err := KeyID(node, &k.PublicKey)
	if err != nil {
		return nil, err
	}
	return &PrivateKey{ID: id, Node: node, key: k}, nil
}

// Public returns the public half of k, with no validity recorded.
func (k *PrivateKey) Public() *PublicKey {
	return &PublicKey{ID: k.ID, Node: k.Node, key: &k.key.PublicKey}
}

// SM2 returns the underlying gmsm key.
func (k *PrivateKey) SM2() *sm2.PrivateKey { return k.key }

// SM2 returns the underlying public key.
func (k *PublicKey) SM2() *ecdsa.PublicKey { return k.key }

func writeAttrs(buf *bytes.Buffer, id, node string, nb, na time.Time) {
	fmt.Fprintf(buf, "%s: %s\n%s: %s\n", attrKeyID, id, attrNode, node)
	if !nb.IsZero() {
		fmt.Fprintf(buf, "%s: %s\n", attrNotBefore, nb.UTC().Format(time.RFC3339))
	}
	if !na.IsZero() {
		fmt.Fprintf(buf, "%s: %s\n", attrNotAfter, na.UTC().Format(time.RFC3339))
	}
}

// MarshalPEM returns the private key as PKCS#8 PEM ("PRIVATE KEY"), preceded by Key-Id and
// Node lines.
func (k *PrivateKey) MarshalPEM() ([]byte, error) {
	der, err := smx509.MarshalPKCS8PrivateKey(k.key)
	if err != nil {
		return nil, fmt.Errorf("marshal private key %s: %w", k.ID, err)
	}
	var buf bytes.Buffer
	writeAttrs(&buf, k.ID, k.Node, time.Time{}, time.Time{})
	if err := pem.Encode(&buf, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		return nil, fmt.Errorf("marshal private key %s: %w", k.ID, err)
	}
	return buf.Bytes(), nil
}

// MarshalPEM returns the public key as SubjectPublicKeyInfo PEM ("PUBLIC KEY"), preceded by
// Key-Id, Node and, when set, Not-Before and Not-After lines.
func (k *PublicKey) MarshalPEM() ([]byte, error) {
	der, err := smx509.MarshalPKIXPublicKey(k.key)
	if err != nil {
		return nil, fmt.Errorf("marshal public key %s: %w", k.ID, err)
	}
	var buf bytes.Buffer
	writeAttrs(&buf, k.ID, k.Node, k.NotBefore, k.NotAfter)
	if err := pem.Encode(&buf, &pem.Block{Type: "PUBLIC KEY", Bytes: der}); err != nil {
		return nil, fmt.Errorf("marshal public key %s: %w", k.ID, err)
	}
	return buf.Bytes(), nil
}

// pemBody returns the single PEM block of type want in data, with the attribute lines that
// precede it.
func pemBody(data []byte, want, what string) (*pem.Block, map[string]string, error) {
	block, rest := pem.Decode(data)
	if block == nil || block.Type != want {
		return nil, nil, yipanqi.Errorf(yipanqi.EINVALID, "%s不是 PEM 格式的“%s”", what, want)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, nil, yipanqi.Errorf(yipanqi.EINVALID, "%s在 PEM 块之后还有多余内容", what)
	}
	if len(block.Headers) != 0 {
		return nil, nil, yipanqi.Errorf(yipanqi.EINVALID, "%s的 PEM 块带有加密或其他头部，不支持", what)
	}
	attrs := make(map[string]string)
	head := data[:bytes.Index(data, []byte("-----BEGIN "))]
	sc := bufio.NewScanner(bytes.NewReader(head))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if ok {
			attrs[strings.TrimSpace(name)] = strings.TrimSpace(value)
		}
	}
	return block, attrs, nil
}

// checkAttrs checks the Node and Key-Id lines of a key file against the key itself. The
// key id is always recomputed; a Key-Id line only has to agree with it.
func checkAttrs(attrs map[string]string, node string, pub *ecdsa.PublicKey, what string) (string, error) {
	if node == "" {
		return "", yipanqi.Errorf(yipanqi.EINVALID, "%s缺少“Node:”行，无法确定所属节点", what)
	}
	if !validKeyNode(node) {
		return "", badNode(node)
	}
	id, err := KeyID(node, pub)
	if err != nil {
		return "", err
	}
	if got, ok := attrs[attrKeyID]; ok && got != id {
		return "", yipanqi.Errorf(yipanqi.EINVALID, "%s的“Key-Id: %s”与密钥不符（应为 %s），文件可能被改动", what, quoteShort(got), id)
	}
	return id, nil
}

// ParsePrivateKeyPEM reads a private key file written by MarshalPEM. The PKCS#8 key must be
// SM2 and the Node line must be present.
func ParsePrivateKeyPEM(data []byte) (*PrivateKey, error) {
	const what = "私钥文件"
	block, attrs, err := pemBody(data, "PRIVATE KEY", what)
	if err != nil {
		return nil, err
	}
	parsed, err := smx509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, yipanqi.Errorf(yipanqi.EINVALID, "%s不是合法的 PKCS#8 私钥", what)
	}
	k, ok := parsed.(*sm2.PrivateKey)
	if !ok {
		return nil, yipanqi.Errorf(yipanqi.EINVALID, "%s不是 SM2 私钥", what)
	}
	node := attrs[attrNode]
	if _, err := checkAttrs(attrs, node, &k.PublicKey, what); err != nil {
		return nil, err
	}
	return newPrivateKey(node, k)
}

// ParsePublicKeyPEM reads a public key. Node may be "" to take the node from the file's Node
// line; if both are given they must agree. Not-Before and Not-After lines, if present, fill
// NotBefore and NotAfter.
func ParsePublicKeyPEM(data []byte, node string) (*PublicKey, error) {
	const what = "公钥文件"
	block, attrs, err := pemBody(data, "PUBLIC KEY", what)
	if err != nil {
		return nil, err
	}
	parsed, err := smx509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, yipanqi.Errorf(yipanqi.EINVALID, "%s不是合法的公钥", what)
	}
	pub, ok := parsed.(*ecdsa.PublicKey)
	if !ok || !sm2.IsSM2PublicKey(pub) {
		return nil, yipanqi.Errorf(yipanqi.EINVALID, "%s不是 SM2 公钥", what)
	}
	if fileNode, ok := attrs[attrNode]; ok {
		if node != "" && fileNode != node {
			return nil, yipanqi.Errorf(yipanqi.EINVALID, "%s属于节点 %s，不是节点 %s", what, quoteShort(fileNode), node)
		}
		node = fileNode
	}
	id, err := checkAttrs(attrs, node, pub, what)
	if err != nil {
		return nil, err
	}
	k := &PublicKey{ID: id, Node: node, key: pub}
	for name, dst := range map[string]*time.Time{attrNotBefore: &k.NotBefore, attrNotAfter: &k.NotAfter} {
		if s, ok := attrs[name]; ok {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return nil, yipanqi.Errorf(yipanqi.EINVALID, "%s的“%s: %s”不是 RFC 3339 时间", what, name, quoteShort(s))
			}
			*dst = t.UTC()
		}
	}
	return k, nil
}

// LoadPrivateKey reads a private key file; see ParsePrivateKeyPEM. Like ssh, it refuses a
// file that the group or others may read or write (EINVALID naming the file and the fix,
// chmod 600): a node's signing key must be its own user's alone.
func LoadPrivateKey(path string) (*PrivateKey, error) {
	if err := CheckPrivateKeyMode(path); err != nil {
		return nil, err
	}
	data, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	k, err := ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, inFile(path, err)
	}
	return k, nil
}

// CheckPrivateKeyMode says whether path may hold a private key: EINVALID, naming the file
// and chmod 600, when the group or others may read or write it (not checked on Windows,
// whose files have no such bits). A missing file passes; reading it says so.
func CheckPrivateKeyMode(path string) error { return CheckSecretFileMode(path, "私钥文件") }

// CheckSecretFileMode is CheckPrivateKeyMode for any file of secrets (NATS credentials, a
// password, a TLS key); what names the kind of file in the message.
func CheckSecretFileMode(path, what string) error {
	fi, err := os.Stat(path)
	if err != nil || runtime.GOOS == "windows" || fi.Mode().Perm()&0o077 == 0 {
		return nil
	}
	return yipanqi.Errorf(yipanqi.EINVALID, "%s %s 的权限为 %04o，同组或其他用户也能访问；请执行 chmod 600 %s，只让本节点的运行用户读取",
		what, path, fi.Mode().Perm(), path)
}

// LoadPublicKey reads a public key file; see ParsePublicKeyPEM.
func LoadPublicKey(path, node string) (*PublicKey, error) {
	data, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	k, err := ParsePublicKeyPEM(data, node)
	if err != nil {
		return nil, inFile(path, err)
	}
	return k, nil
}

// inFile prefixes the user message of err with the file it is about, so that a command that
// reads several files says which one is wrong. Internal errors are only wrapped.
func inFile(path string, err error) error {
	var e *yipanqi.Error
	if !errors.As(err, &e) {
		return fmt.Errorf("%s: %w", path, err)
	}
	return &yipanqi.Error{Code: e.Code, Field: e.Field, Message: path + "：" + e.Message}
}

func readKeyFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, yipanqi.Errorf(yipanqi.ENOTFOUND, "密钥文件 %s 不存在", path)
	} else if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	return data, nil
}

// KeyFiles are the paths WriteKeyPair wrote.
type KeyFiles struct {
	Private string // DIR/BASE.key.pem, mode 0600
	Public  string // DIR/BASE.pub.pem, mode 0644
}

// WriteKeyPair writes k to dir as BASE.key.pem (PKCS#8, mode 0600) and BASE.pub.pem (with
// notBefore and notAfter recorded as the validity to put on the trust list). It creates dir
// (mode 0700) if needed and never overwrites: if either file exists it returns ECONFLICT and
// writes nothing.
func WriteKeyPair(dir, base string, k *PrivateKey, notBefore, notAfter time.Time) (KeyFiles, error) {
	files := KeyFiles{
		Private: filepath.Join(dir, base+".key.pem"),
		Public:  filepath.Join(dir, base+".pub.pem"),
	}
	privPEM, err := k.MarshalPEM()
	if err != nil {
		return KeyFiles{}, err
	}
	pub := k.Public()
	pub.NotBefore, pub.NotAfter = notBefore, notAfter
	pubPEM, err := pub.MarshalPEM()
	if err != nil {
		return KeyFiles{}, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return KeyFiles{}, fmt.Errorf("write key pair: %w", err)
	}
	for _, p := range []string{files.Private, files.Public} {
		if _, err := os.Lstat(p); err == nil {
			return KeyFiles{}, yipanqi.Errorf(yipanqi.ECONFLICT, "密钥文件 %s 已存在，不会覆盖", p)
		}
	}
	if err := writeNew(files.Private, privPEM, 0o600); err != nil {
		return KeyFiles{}, err
	}
	if err := writeNew(files.Public, pubPEM, 0o644); err != nil {
		// Leave no private key without its public half.
		os.Remove(files.Private)
		return KeyFiles{}, err
	}
	return files, nil
}

// writeNew creates path exclusively (O_EXCL, so a file that appeared meanwhile is not
// overwritten either) with the given mode.
func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if errors.Is(err, fs.ErrExist) {
		return yipanqi.Errorf(yipanqi.ECONFLICT, "密钥文件 %s 已存在，不会覆盖", path)
	} else if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// The umask may only have narrowed the mode; make it exact.
	err = f.Chmod(mode)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path) // a half-written key file is worse than none
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
