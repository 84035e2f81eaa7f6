package print_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/sqlstore/storetest"
	"yipanqi/web/print"
)

// TestVerifyHandler runs the public page on a real server over a real SQLite registry.
func TestVerifyHandler(t *testing.T) {
	db := storetest.OpenSQLite(t)
	cst := yipanqi.Shanghai
	today := time.Date(2026, 6, 15, 9, 0, 0, 0, cst)
	db.Now = func() time.Time { return today }
	valid := *testCert
	valid.Number = ""
	if err := db.IssueCertificate(context.Background(), &valid); err != nil {
		t.Fatal(err)
	}
	revoked := *testCert
	revoked.Number = ""
	if err := db.IssueCertificate(context.Background(), &revoked); err != nil {
		t.Fatal(err)
	}
	if err := db.RevokeCertificate(context.Background(), revoked.Number, "遗失补发"); err != nil {
		t.Fatal(err)
	}

	var calls atomic.Int32
	lookup := func(ctx context.Context, number string) (*yipanqi.Certificate, error) {
		calls.Add(1)
		return db.Certificate(ctx, number)
	}
	var now atomic.Pointer[time.Time]
	now.Store(&today)
	mux := http.NewServeMux()
	mux.Handle("GET "+print.VerifyPath, print.VerifyHandler(lookup, func() time.Time { return *now.Load() }))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("GET %s: Content-Type %q", path, ct)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("GET %s: Cache-Control %q, want no-store", path, cc)
		}
		return resp.StatusCode, string(b)
	}
	private := []string{"张三明", "三明", holderID, holderID[6:14], testCert.HukouAddress}

	code, page := get(print.VerifyPath + valid.Number)
	if code != http.StatusOK {
		t.Fatalf("valid certificate: status %d", code)
	}
	mustContain(t, page, "婚育证明核验", valid.Number, "张*明", "有效", "2026年6月15日", "2029年6月14日")
	mustNotContain(t, page, private...)
	mustNotContain(t, page, "已过期", "已注销")

	log, err := db.AuditLog(context.Background(), valid.Number, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) == 0 || log[0].Action != "certificate.view" || log[0].Actor != print.PublicActor {
		t.Errorf("newest audit of %s = %+v; want certificate.view by %s", valid.Number, log, print.PublicActor)
	}

	code, page = get(print.VerifyPath + revoked.Number)
	if code != http.StatusOK || !strings.Contains(page, "已注销") {
		t.Errorf("revoked certificate: %d, page without 已注销", code)
	}
	mustNotContain(t, page, private...)

	later := today.AddDate(4, 0, 0)
	now.Store(&later)
	code, page = get(print.VerifyPath + valid.Number)
	if code != http.StatusOK || !strings.Contains(page, "已过期") {
		t.Errorf("after its validity: %d, page without 已过期", code)
	}

	before := calls.Load()
	code, page = get(print.VerifyPath + "360121100-2026-999999")
	if code != http.StatusNotFound || !strings.Contains(page, "查无此证") {
		t.Errorf("unknown number: %d, want 404 with 查无此证", code)
	}
	if calls.Load() != before+1 {
		t.Errorf("an unknown well-formed number made %d lookups, want 1", calls.Load()-before)
	}
	for _, bad := range []string{"%E5%BC%A0%E4%B8%89", "a%20b", strings.Repeat("9", 60), "-x"} {
		before := calls.Load()
		code, page := get(print.VerifyPath + bad)
		if code != http.StatusNotFound || !strings.Contains(page, "查无此证") {
			t.Errorf("malformed %q: %d, want 404 with 查无此证", bad, code)
		}
		if calls.Load() != before {
			t.Errorf("malformed %q reached the registry", bad)
		}
	}
}
