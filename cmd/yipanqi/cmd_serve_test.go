package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"yipanqi/demo"
	"yipanqi/sqlstore"
)

// serveKeys makes keys for nodes 44 and 35 and a trust list of both in dir/keys.
func serveKeys(t *testing.T, dir string) string {
	t.Helper()
	keys := filepath.Join(dir, "keys")
	if _, err := demo.MakeKeys(keys, []string{"44", "35"}, map[string]string{"44": "广东", "35": "福建"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	return keys
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// serveConf is a working configuration: node 44, embedded NATS, SQLite in the data dir.
func serveConf(keys string) string {
	return fmt.Sprintf(`# test node
[node]
code = "44"
name = "广东"
data_dir = "data"

[nats]
embedded = true

[keys]
key_file = %q
region_public_key = %q
trust_list = %q

[http]
listen = "127.0.0.1:0"
public_url = "https://ypq.gd.example"
`, filepath.Join(keys, "node-44.key.pem"), filepath.Join(keys, "region.pub.pem"), filepath.Join(keys, "trust.json"))
}

func writeConf(t *testing.T, dir, text string) string {
	t.Helper()
	path := filepath.Join(dir, "node.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestServe runs a node from a configuration file, reads its pages while it runs, and stops
// it as SIGINT would: through the context.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	conf := writeConf(t, dir, serveConf(serveKeys(t, dir)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() { done <- Main(ctx, realEnv(&out, &errOut), []string{"serve", "--config", conf}) }()

	addrRE := regexp.MustCompile(`网页 http://(\S+)/ `)
	var addr string
	deadline := time.Now().Add(time.Minute)
	for addr == "" {
		if m := addrRE.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
			break
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d:\n%s\n%s", code, out.String(), errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve printed no address:\n%s", out.String())
		}
	}
	if body := mustGet(t, "http://"+addr+"/healthz", 200); body != "ok\n" {
		t.Errorf("/healthz: %q, want ok", body)
	}
	metrics := mustGet(t, "http://"+addr+"/metrics", 200)
	for _, want := range []string{`yipanqi_outbox_depth{node="44"} 0`, `yipanqi_inbox_lag_messages{node="44"} 0`,
		`yipanqi_dead_letters{node="44"} 0`, `yipanqi_up{node="44",part="nats"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics: no %s in:\n%s", want, metrics)
		}
	}
	page := mustGet(t, "http://"+addr+"/status/", 200)
	for _, want := range []string{"广东（44）节点状态", "发件箱待发", "没有死信"} {
		if !strings.Contains(page, want) {
			t.Errorf("/: no %q in:\n%s", want, page)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "node.db")); err != nil {
		t.Errorf("no SQLite store in the data dir: %v", err)
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 || !strings.Contains(out.String(), "节点 44 已停止") {
			t.Errorf("after stop: exit %d\n%s\n%s", code, out.String(), errOut.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("serve did not stop")
	}
	// org_units defaults to "province": the division tree's units of 44 are in the store.
	db, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(dir, "data", "node.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, code := range []string{"44", "4401", "440106", "440106001"} {
		if u, err := db.OrgUnit(context.Background(), code); err != nil || !u.Active {
			t.Errorf("org unit %s after serve: %+v, %v", code, u, err)
		}
	}
}

// TestServeSampleConfig: the annotated sample has no unknown or malformed key.
func TestServeSampleConfig(t *testing.T) {
	c, err := loadServeConfig(filepath.Join("..", "..", "deploy", "node.sample.toml"), natsOverride{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Node.Code != "44" || c.Node.OrgUnits != "province" || c.NATS.Replicas != 1 {
		t.Errorf("sample: code %q org_units %q replicas %d", c.Node.Code, c.Node.OrgUnits, c.NATS.Replicas)
	}
}

// TestServeBadConfig checks that each mistake gives one line naming the file and the key.
func TestServeBadConfig(t *testing.T) {
	dir := t.TempDir()
	keys := serveKeys(t, dir)
	good := serveConf(keys)
	_, err := demo.MakeKeys(filepath.Join(dir, "other"), []string{"44"}, map[string]string{"44": "广东"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tampered := filepath.Join(dir, "tampered.json")
	doc, err := os.ReadFile(filepath.Join(keys, "trust.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tampered, []byte(strings.Replace(string(doc), "福建", "福州", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	for _, c := range []struct {
		name, conf, where string
	}{
		{"unknown key", strings.Replace(good, "embedded = true", "embedded = true\nuri = \"x\"", 1), "node.toml:nats.uri："},
		{"syntax", strings.Replace(good, `code = "44"`, `code = 44"`, 1), "node.toml:3："},
		{"no code", strings.Replace(good, `code = "44"`, ``, 1), "node.toml:node.code："},
		{"bad code", strings.Replace(good, `code = "44"`, `code = "4x"`, 1), "node.toml:node.code："},
		{"no NATS", strings.Replace(good, "embedded = true", "", 1), "node.toml:nats.url："},
		{"no key", strings.Replace(good, "node-44.key.pem", "missing.key.pem", 1), "node.toml:keys.key_file："},
		{"key of another node", strings.Replace(good, "node-44.key.pem", "node-35.key.pem", 1), "node.toml:keys.key_file："},
		{"key not on the list", strings.Replace(good, filepath.Join(keys, "node-44.key.pem"),
			filepath.Join(dir, "other", "node-44.key.pem"), 1), "node.toml:keys.key_file："},
		{"tampered trust list", strings.Replace(good, filepath.Join(keys, "trust.json"), tampered, 1), "node.toml:keys.trust_list："},
		{"wrong region key", strings.Replace(good, filepath.Join(keys, "region.pub.pem"),
			filepath.Join(dir, "other", "region.pub.pem"), 1), "node.toml:keys.trust_list："},
		{"unreachable database", strings.Replace(good, "[nats]", "[store]\ndsn = \"postgres://nobody@127.0.0.1:1/x?connect_timeout=2\"\n\n[nats]", 1),
			"node.toml:store.dsn："},
		{"unreachable NATS", strings.Replace(good, "embedded = true",
			fmt.Sprintf("url = \"nats://127.0.0.1:%d\"\nconnect_wait = \"300ms\"", port), 1), "node.toml:nats.url："},
		{"bad org_units", strings.Replace(good, `name = "广东"`, "name = \"广东\"\norg_units = \"all\"", 1), "node.toml:node.org_units："},
		{"bad replicas", strings.Replace(good, "embedded = true", "embedded = true\nreplicas = 7", 1), "node.toml:nats.replicas："},
		{"bad namespace", strings.Replace(good, "embedded = true", "embedded = true\nnamespace = \"a.b\"", 1), "node.toml:nats.namespace："},
		{"bad lease", strings.Replace(good, "[keys]", "[exchange]\nlease = \"soon\"\n\n[keys]", 1), "node.toml:exchange.lease："},
		{"bad sla interval", strings.Replace(good, "[keys]", "[sla]\ninterval = \"5ms\"\n\n[keys]", 1), "node.toml:sla.interval："},
		{"missing holidays file", strings.Replace(good, "[keys]", "[calendar]\nholidays_file = \"/nonexistent/holidays.txt\"\n\n[keys]", 1),
			"node.toml:calendar.holidays_file："},
		{"missing assessment rules", strings.Replace(good, "[keys]", "[assess]\nrules = \"/nonexistent/rules.toml\"\n\n[keys]", 1),
			"node.toml:assess.rules："},
		{"bad meeting rotation", strings.Replace(good, "[keys]", "[meetings]\norder = [\"44\", \"44\"]\n\n[keys]", 1), "node.toml:meetings.order："},
		{"no public url", strings.Replace(good, "public_url = \"https://ypq.gd.example\"", "", 1), "node.toml:http.public_url："},
		{"bad public url", strings.Replace(good, "https://ypq.gd.example", "ypq.gd.example/", 1), "node.toml:http.public_url："},
		{"NATS port 4222", strings.Replace(good, "embedded = true", "embedded = true\nlisten = \"127.0.0.1:4222\"", 1),
			"node.toml:nats.listen："},
	} {
		t.Run(c.name, func(t *testing.T) {
			conf := writeConf(t, t.TempDir(), c.conf)
			var out, errOut syncBuffer
			code := Main(context.Background(), realEnv(&out, &errOut), []string{"serve", "--config", conf})
			msg := errOut.String()
			if code == 0 || !strings.Contains(msg, c.where) || strings.Count(msg, "\n") != 1 || !strings.HasPrefix(msg, "yipanqi serve: ") {
				t.Errorf("exit %d, stderr %q; want non-zero and one line naming %q", code, msg, c.where)
			}
		})
	}
	// --nats-url replaces the file's embedded server: an unreachable one is named on one line.
	conf := writeConf(t, t.TempDir(), good)
	var out, errOut0 syncBuffer
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	code := Main(context.Background(), realEnv(&out, &errOut0), []string{"serve", "--config", conf, "--nats-url", url})
	if msg := errOut0.String(); code == 0 || !strings.Contains(msg, "nats.url") || !strings.Contains(msg, url) || strings.Count(msg, "\n") != 1 {
		t.Errorf("serve --nats-url %s (nothing listens): exit %d, stderr %q; want one line naming the URL", url, code, msg)
	}

	code, _, errOut := runReg(t, "serve")
	if code != 2 || !strings.Contains(errOut, "--config") {
		t.Errorf("serve without --config: exit %d, %q", code, errOut)
	}
	code, _, errOut = runReg(t, "serve", "--config", filepath.Join(dir, "none.toml"))
	if code == 0 || !strings.Contains(errOut, "none.toml 不存在") {
		t.Errorf("serve with a missing file: exit %d, %q", code, errOut)
	}
}
