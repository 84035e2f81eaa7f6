package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"yipanqi/exchange"
)

var keysNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// runKeysCLI runs Main in dir (all paths relative to it are made absolute by the caller) and
// returns the exit status, stdout and stderr.
func runKeysCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return cliRun(t, keysNow, nil, append([]string{"keys"}, args...)...)
}

var keyIDLine = regexp.MustCompile(`^(region|\d\d)-[0-9a-f]{8}\n$`)

// mustGen runs keys gen and returns the key id it printed.
func mustGen(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := runKeysCLI(t, append([]string{"gen"}, args...)...)
	if code != 0 || !keyIDLine.MatchString(out) {
		t.Fatalf("keys gen %v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
	}
	return strings.TrimSpace(out)
}

func TestKeysEndToEnd(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }

	region := mustGen(t, "--node", "region", "--dir", dir)
	a44 := mustGen(t, "--node", "44", "--dir", dir, "--valid-from", "2026-01-01T00:00:00Z", "--valid-days", "365")
	b44 := mustGen(t, "--dir", dir, "--node", "44", "--valid-from", "2026-11-01T00:00:00+08:00", "--valid-days", "365")
	k35 := mustGen(t, "--node", "35", "--dir", dir)
	if !strings.HasPrefix(region, "region-") || !strings.HasPrefix(a44, "44-") || !strings.HasPrefix(k35, "35-") || a44 == b44 {
		t.Fatalf("key ids %s %s %s %s", region, a44, b44, k35)
	}
	for _, id := range []string{region, a44, b44, k35} {
		st, err := os.Stat(p(id + ".key.pem"))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s.key.pem has mode %v, want 0600", id, st.Mode().Perm())
		}
		if _, err := os.Stat(p(id + ".pub.pem")); err != nil {
			t.Error(err)
		}
	}

	// Build the list: 44 rotating (validity from the key files), 35 with an explicit period.
	code, out, errOut := runKeysCLI(t, "trust", "--region-key", p(region+".key.pem"), "--out", p("trust.json"),
		"--issued-at", "2026-01-01T00:00:00Z", "--valid-days", "400",
		"44=广东:"+p(a44+".pub.pem")+","+p(b44+".pub.pem"),
		"35=福建:"+p(k35+".pub.pem")+"@2026-01-01T00:00:00Z/2026-06-01T00:00:00Z")
	if code != 0 {
		t.Fatalf("keys trust: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if !strings.Contains(out, "2 个节点，3 个密钥") {
		t.Errorf("keys trust said %q", out)
	}

	code, out, errOut = runKeysCLI(t, "verify-trust", "--region-pub", p(region+".pub.pem"), "--at", "2026-03-01T00:00:00Z", p("trust.json"))
	if code != 0 {
		t.Fatalf("verify-trust: exit %d, stderr %q", code, errOut)
	}
	for _, want := range []string{"信任列表有效", "44 广东", "35 福建", a44 + "  2026-01-01T00:00:00Z 至 2027-01-01T00:00:00Z",
		b44 + "  2026-10-31T16:00:00Z 至 2027-10-31T16:00:00Z", k35 + "  2026-01-01T00:00:00Z 至 2026-06-01T00:00:00Z"} {
		if !strings.Contains(out, want) {
			t.Errorf("verify-trust output lacks %q:\n%s", want, out)
		}
	}

	// What the commands wrote works with the library: a node loads its key and the list.
	regionPub, err := exchange.LoadPublicKey(p(region+".pub.pem"), exchange.RegionNode)
	if err != nil {
		t.Fatal(err)
	}
	tl, err := exchange.LoadTrustList(p("trust.json"), regionPub, keysNow)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		key string
		at  time.Time
		ok  bool
	}{
		{a44, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), true},
		{b44, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), true},
		{a44, time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC), false},
		{b44, time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC), true},
	} {
		key, err := exchange.LoadPrivateKey(p(tt.key + ".key.pem"))
		if err != nil {
			t.Fatal(err)
		}
		e := &exchange.Envelope{
			ID: uuid.Must(uuid.NewV7()).String(), Source: exchange.NodeSource("44"),
			Type: exchange.EventType("verify.identity", 1), Subject: uuid.Must(uuid.NewV7()).String(),
			Time: tt.at, Dest: "35", Unit: "35", Data: json.RawMessage(`{}`),
		}
		if err := exchange.Sign(e, key); err != nil {
			t.Fatal(err)
		}
		if err := tl.Verify(e, "44"); (err == nil) != tt.ok {
			t.Errorf("%s at %v: Verify = %v, want ok=%v", tt.key, tt.at, err, tt.ok)
		}
	}

	// Refusals, each with its reason.
	other := mustGen(t, "--node", "region", "--dir", filepath.Join(dir, "other"))
	refusals := []struct {
		name string
		args []string
		want string
	}{
		{"wrong region key", []string{"verify-trust", "--region-pub", filepath.Join(dir, "other", other+".pub.pem"), p("trust.json")}, "签名无效"},
		{"expired", []string{"verify-trust", "--region-pub", p(region + ".pub.pem"), "--at", "2027-02-05T00:00:00Z", p("trust.json")}, "已过期"},
		{"node key as region key", []string{"verify-trust", "--region-pub", p(a44 + ".pub.pem"), p("trust.json")}, "不是节点 region"},
		{"signed with a node key", []string{"trust", "--region-key", p(a44 + ".key.pem"), "--out", p("t2.json"), "44=广东:" + p(a44+".pub.pem")}, "区域密钥"},
		{"key of another node", []string{"trust", "--region-key", p(region + ".key.pem"), "--out", p("t2.json"), "35=福建:" + p(a44+".pub.pem")}, "不是节点 35"},
		{"duplicate key", []string{"trust", "--region-key", p(region + ".key.pem"), "--out", p("t2.json"), "44=广东:" + p(a44+".pub.pem") + "," + p(a44+".pub.pem")}, "重复"},
		{"missing key file", []string{"trust", "--region-key", p(region + ".key.pem"), "--out", p("t2.json"), "44=广东:" + p("nope.pub.pem")}, "不存在"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runKeysCLI(t, tt.args...)
			if code != 1 || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit 1 and %q", code, errOut, tt.want)
			}
		})
	}
	if _, err := os.Stat(p("t2.json")); !os.IsNotExist(err) {
		t.Errorf("a refused keys trust wrote its output: %v", err)
	}

	code, out, _ = runKeysCLI(t, "show", p(a44+".key.pem"), p(b44+".pub.pem"))
	if code != 0 || !strings.Contains(out, "私钥 "+a44) || !strings.Contains(out, "公钥 "+b44+"（节点 44，有效期 2026-10-31T16:00:00Z") {
		t.Errorf("keys show: exit %d\n%s", code, out)
	}
}

func TestKeysGenRefusesOverwrite(t *testing.T) {
	dir := t.TempDir()
	mustGen(t, "--node", "44", "--dir", dir, "--name", "node")
	before, err := os.ReadFile(filepath.Join(dir, "node.key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runKeysCLI(t, "gen", "--node", "44", "--dir", dir, "--name", "node")
	if code != 1 || out != "" || !strings.Contains(errOut, "已存在") {
		t.Errorf("second gen: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	after, err := os.ReadFile(filepath.Join(dir, "node.key.pem"))
	if err != nil || !bytes.Equal(before, after) {
		t.Error("the existing key file changed")
	}
}

func TestKeysGenRegion(t *testing.T) {
	dir := t.TempDir()
	id := mustGen(t, "--node", "region", "--dir", dir)
	code, out, errOut := runKeysCLI(t, "gen-region", "--dir", dir)
	if code != 0 || !strings.HasPrefix(out, "region-") || strings.TrimSpace(out) == id {
		t.Errorf("gen-region: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestKeysUsageErrors(t *testing.T) {
	dir := t.TempDir()
	region := mustGen(t, "--node", "region", "--dir", dir)
	bare := filepath.Join(dir, "bare.pub.pem")
	pub, err := os.ReadFile(filepath.Join(dir, region+".pub.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bare, pub[bytes.Index(pub, []byte("-----BEGIN")):], 0o644); err != nil {
		t.Fatal(err)
	}
	regionKey := filepath.Join(dir, region+".key.pem")
	out := filepath.Join(dir, "trust.json")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no subcommand", nil, 2, "缺少子命令"},
		{"unknown subcommand", []string{"rotate"}, 2, "未知子命令"},
		{"gen without node", []string{"gen", "--dir", dir}, 2, "--node"},
		{"gen bad node", []string{"gen", "--node", "4", "--dir", dir}, 2, "节点代码"},
		{"gen bad valid-from", []string{"gen", "--node", "44", "--dir", dir, "--valid-from", "2026-01-01"}, 2, "--valid-from"},
		{"gen zero days", []string{"gen", "--node", "44", "--dir", dir, "--valid-days", "0"}, 2, "--valid-days"},
		{"gen unknown flag", []string{"gen", "--node", "44", "--force"}, 2, "参数有误"},
		{"gen stray argument", []string{"gen", "--node", "44", "extra"}, 2, "extra"},
		{"gen name with a path", []string{"gen", "--node", "44", "--dir", dir, "--name", "a/b"}, 2, "--name"},
		{"trust without region key", []string{"trust", "--out", out, "44=广东:" + bare}, 2, "--region-key"},
		{"trust without out", []string{"trust", "--region-key", regionKey, "44=广东:" + bare}, 2, "--out"},
		{"trust without nodes", []string{"trust", "--region-key", regionKey, "--out", out}, 2, "节点参数"},
		{"trust spec without =", []string{"trust", "--region-key", regionKey, "--out", out, "44"}, 2, "缺少“=”"},
		{"trust spec without files", []string{"trust", "--region-key", regionKey, "--out", out, "44=广东"}, 2, "公钥文件"},
		{"trust spec without name", []string{"trust", "--region-key", regionKey, "--out", out, "44=:" + bare}, 2, "名称"},
		{"trust key without validity", []string{"trust", "--region-key", regionKey, "--out", out, "44=广东:" + bare}, 2, "有效期"},
		{"trust bad validity", []string{"trust", "--region-key", regionKey, "--out", out, "44=广东:" + bare + "@2026-01-01/2027-01-01"}, 2, "起始时间"},
		{"verify-trust without file", []string{"verify-trust", "--region-pub", bare}, 2, "信任列表文件"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runKeysCLI(t, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errOut, tt.code, tt.want)
			}
		})
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a refused command wrote %s", out)
	}
}
