package demo

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"yipanqi/exchange"
)

// keyValidity is how long the demo's keys are valid: long enough never to expire in a demo
// directory that is kept around.
const keyValidity = 10 * 365 * 24 * time.Hour

// Keys are the demo's signing keys and the trust list made from them.
type Keys struct {
	Region   *exchange.PrivateKey
	Nodes    map[string]*exchange.PrivateKey
	Trust    *exchange.TrustList
	TrustDoc string // path of the signed trust list
}

// MakeKeys makes, in dir, the region key and a key per node unless they are there already
// (reusing them), then issues a trust list of the nodes' public keys signed with the region
// key, writes it to dir/trust.json and loads it back the way a node does: through the
// signature check. names maps node codes to names.
func MakeKeys(dir string, codes []string, names map[string]string, now time.Time) (*Keys, error) {
	now = now.UTC().Truncate(time.Second)
	k := &Keys{Nodes: map[string]*exchange.PrivateKey{}, TrustDoc: filepath.Join(dir, "trust.json")}
	var err error
	if k.Region, err = loadOrMake(dir, exchange.RegionNode, now); err != nil {
		return nil, err
	}
	var nodes []exchange.TrustedNode
	for _, code := range codes {
		key, err := loadOrMake(dir, code, now)
		if err != nil {
			return nil, err
		}
		k.Nodes[code] = key
		pub, err := exchange.LoadPublicKey(filepath.Join(dir, "node-"+code+".pub.pem"), code)
		if err != nil {
			return nil, err
		}
		nb, na := pub.NotBefore, pub.NotAfter
		if nb.IsZero() || na.IsZero() {
			nb, na = now.Add(-time.Hour), now.Add(keyValidity)
		}
		tk, err := exchange.TrustKey(pub, nb, na)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, exchange.TrustedNode{Code: code, Name: names[code], Keys: []exchange.TrustedKey{tk}})
	}
	tl, err := exchange.NewTrustList(now.Unix(), now.Add(-time.Minute), now.Add(30*24*time.Hour), nodes)
	if err != nil {
		return nil, err
	}
	doc, err := tl.Sign(k.Region)
	if err != nil {
		return nil, err
	}
	if err := exchange.WriteTrustList(k.TrustDoc, doc); err != nil {
		return nil, err
	}
	regionPub, err := exchange.LoadPublicKey(filepath.Join(dir, "region.pub.pem"), exchange.RegionNode)
	if err != nil {
		return nil, err
	}
	if k.Trust, err = exchange.LoadTrustList(k.TrustDoc, regionPub, now); err != nil {
		return nil, err
	}
	return k, nil
}

// loadOrMake returns the private key dir/<base>.key.pem of node, generating the pair first
// if it is not there. The base is "region" for the region key and "node-<code>" otherwise.
func loadOrMake(dir, node string, now time.Time) (*exchange.PrivateKey, error) {
	base := "node-" + node
	if node == exchange.RegionNode {
		base = "region"
	}
	path := filepath.Join(dir, base+".key.pem")
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		key, err := exchange.GenerateKey(node)
		if err != nil {
			return nil, err
		}
		if _, err := exchange.WriteKeyPair(dir, base, key, now.Add(-time.Hour), now.Add(keyValidity)); err != nil {
			return nil, err
		}
		return key, nil
	} else if err != nil {
		return nil, fmt.Errorf("demo keys: %w", err)
	}
	return exchange.LoadPrivateKey(path)
}
