package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"yipanqi/registry"
	"yipanqi/web"
)

// wantMode fails the test unless path exists with mode perm.
func wantMode(t *testing.T, path string, perm os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Errorf("%s: %v", path, err)
	} else if st.Mode().Perm() != perm {
		t.Errorf("%s: mode %04o, want %04o", filepath.Base(path), st.Mode().Perm(), perm)
	}
}

// TestFileModes: the files of personal data the binary writes — the SQLite database, a
// generated or exported register, an import's error file — are the user's alone (0600), as
// the umask (022 here) would not make them.
func TestFileModes(t *testing.T) {
	dir := t.TempDir()
	dsn := "sqlite:" + filepath.Join(dir, "node.db")
	gen := genFile(t, dir, "gen.csv", "45", 8, 2)
	wantMode(t, gen, 0o600)

	recs := readCSV(t, gen)
	recs[2][int(registry.ColResidenceCode)] = "450199999" // a township that does not exist: one reject
	bad := filepath.Join(dir, "bad.csv")
	writeCSV(t, bad, recs)
	mustRun(t, 1, "", "import", "people", "--db", dsn, bad)
	wantMode(t, filepath.Join(dir, "node.db"), 0o600)
	wantMode(t, filepath.Join(dir, "bad.errors.csv"), 0o600)

	for _, name := range []string{"out.csv", "out.xlsx"} {
		out := filepath.Join(dir, name)
		mustRun(t, 0, "", "export", "people", "--db", dsn, "--scope", "45", "-o", out)
		wantMode(t, out, 0o600)
	}
}

// startServeInProcess runs yipanqi serve with conf in the background and returns its web address;
// the node stops at the end of the test.
func startServeInProcess(t *testing.T, conf string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() { done <- Main(ctx, realEnv(&out, &errOut), []string{"serve", "--config", conf}) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(time.Minute):
			t.Error("serve did not stop")
		}
	})
	addrRE := regexp.MustCompile(`网页 http://(\S+)/ `)
	deadline := time.Now().Add(time.Minute)
	for {
		if m := addrRE.FindStringSubmatch(out.String()); m != nil {
			return m[1]
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
}

// TestServeSlowBody: yipanqi serve's HTTP server has a read timeout: a form whose body
// trickles in is answered, and its connection closed, before the client has sent it all.
// The data directory it creates is 0700 and the database in it 0600.
func TestServeSlowBody(t *testing.T) {
	saved := serveTimeouts
	serveTimeouts = web.ServerTimeouts{ReadHeader: 5 * time.Second, Read: 300 * time.Millisecond, Write: 30 * time.Second, Idle: 30 * time.Second}
	t.Cleanup(func() { serveTimeouts = saved })
	dir := t.TempDir()
	addr := startServeInProcess(t, writeConf(t, dir, serveConf(serveKeys(t, dir))))
	wantMode(t, filepath.Join(dir, "data"), 0o700)
	wantMode(t, filepath.Join(dir, "data", "node.db"), 0o600)

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const length = 100000
	if _, err := io.WriteString(conn, "POST /login HTTP/1.1\r\nHost: "+addr+"\r\nContent-Type: application/x-www-form-urlencoded\r\n"+
		"Content-Length: "+strconv.Itoa(length)+"\r\n\r\nusername="); err != nil {
		t.Fatal(err)
	}
	stop, count := make(chan struct{}), make(chan int, 1)
	go func() {
		n := 0
		defer func() { count <- n }()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for n < length-9 {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := conn.Write([]byte("a")); err != nil {
				return
			}
			n++
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	close(stop)
	sent := <-count
	if err != nil {
		t.Fatalf("slow body: no answer (%v) after %d bytes: serve waits for it", err, sent)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 || sent >= length-9 {
		t.Fatalf("slow body: %d after %d of %d bytes, want an error before the body was complete", resp.StatusCode, sent, length)
	}
}

// serveRefused runs yipanqi serve as TestServe does and returns its exit code and standard
// error; a serve that starts fails the test (instead of running on).
func serveRefused(t *testing.T, conf string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() { done <- Main(ctx, realEnv(&out, &errOut), []string{"serve", "--config", conf}) }()
	for {
		select {
		case code := <-done:
			return code, errOut.String()
		case <-time.After(20 * time.Millisecond):
			if strings.Contains(out.String(), "已启动") {
				cancel()
				<-done
				t.Fatalf("serve started:\n%s", out.String())
			}
		}
	}
}

// TestServeRefusesReadableKey: serve will not start with a private key the group or others
// may read; the error names the file and chmod 600.
func TestServeRefusesReadableKey(t *testing.T) {
	dir := t.TempDir()
	keys := serveKeys(t, dir)
	key := filepath.Join(keys, "node-44.key.pem")
	wantMode(t, key, 0o600) // as the demo's keys (and keys gen) write it
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	conf := writeConf(t, dir, serveConf(keys))
	code, errOut := serveRefused(t, conf)
	if code == 0 || !strings.Contains(errOut, "node.toml:keys.key_file：") || !strings.Contains(errOut, key) || !strings.Contains(errOut, "chmod 600") {
		t.Fatalf("serve with a 0644 key: exit %d, stderr %q; want an error naming keys.key_file, the file and chmod 600", code, errOut)
	}
	// So is a NATS password file others can read.
	if err := os.Chmod(key, 0o600); err != nil {
		t.Fatal(err)
	}
	pw := filepath.Join(dir, "nats-password")
	if err := os.WriteFile(pw, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	conf = writeConf(t, dir, strings.Replace(serveConf(keys), "embedded = true", "embedded = true\nuser = \"n44\"\npassword_file = \"nats-password\"", 1))
	code, errOut = serveRefused(t, conf)
	if code == 0 || !strings.Contains(errOut, "node.toml:nats.password_file：") || !strings.Contains(errOut, pw) || !strings.Contains(errOut, "chmod 600") {
		t.Errorf("serve with a 0644 NATS password file: exit %d, stderr %q", code, errOut)
	}
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	// keys show says the same of a readable private key.
	code, _, errOut = runReg(t, "keys", "show", key)
	if code == 0 || !strings.Contains(errOut, "chmod 600") {
		t.Errorf("keys show of a 0644 private key: exit %d, stderr %q", code, errOut)
	}
}
