package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/demo"
	"yipanqi/exchange"
	"yipanqi/web"
	"yipanqi/web/print"
)

// testPublicURL is the public address the test applications are configured with.
const testPublicURL = "https://ypq.gd.example/44"

// verifyApp mounts the application of startApp again with the node's key, the trust list and
// the status routes (/metrics), and returns it for requests from chosen client addresses.
func verifyApp(t *testing.T, ta *testApp) (*web.App, *demo.Keys) {
	t.Helper()
	keys, err := demo.MakeKeys(t.TempDir(), []string{"43", "44"}, map[string]string{"43": "湖南", "44": "广东"}, ta.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	app, err := web.New(web.Config{Code: "44", Name: "广东", BasePath: ta.base, Store: ta.db, Now: ta.clock.Now,
		FailDelay: time.Nanosecond, PublicURL: testPublicURL, Key: keys.Nodes["44"], Trust: keys.Trust,
		Status: &web.Node{Code: "44", Name: "广东", Store: ta.db, Now: ta.clock.Now}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/44/", http.StripPrefix("/44", app))
	ta.srv = httptest.NewServer(mux)
	t.Cleanup(ta.srv.Close)
	return app, keys
}

// anonGet requests path of the app (under /44) as the client at addr, without signing in.
func anonGet(app *web.App, addr, path string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "https://ypq.gd.example"+path, nil)
	r.RemoteAddr = addr + ":40000"
	w := httptest.NewRecorder()
	http.StripPrefix("/44", app).ServeHTTP(w, r)
	return w
}

// verifyHits reads the page's counter of result for node 44 from /metrics.
func verifyHits(t *testing.T, ta *testApp, result string) float64 {
	t.Helper()
	resp, err := http.Get(ta.srv.URL + "/44/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^yipanqi_cert_verify_requests_total\{node="44",result="` + result + `"\} (\S+)$`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestCertQRUsesPublicURL: the printed QR code's address is the configured public address,
// whatever Host the request names, and carries a payload signed with the node's key.
func TestCertQRUsesPublicURL(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		_, keys := verifyApp(t, ta)
		a1, _, _ := withPeople(t, ta)
		cert := issueFor(t, ta, a1)
		b := ta.browser(t)
		b.mustLogin("worker-a")
		req, _ := http.NewRequest("GET", ta.srv.URL+"/44/print/cert/"+cert.Number, nil)
		for _, c := range b.c.Jar.Cookies(req.URL) { // the client would look cookies up by Host
			req.AddCookie(c)
		}
		req.Host = "phish.example"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		code, body := resp.StatusCode, string(raw)
		if code != http.StatusOK {
			t.Fatalf("print: %d\n%s", code, body)
		}
		if strings.Contains(body, "phish.example") {
			t.Fatal("the printed certificate names the request's Host")
		}
		wantContains(t, body, testPublicURL+print.VerifyPath+cert.Number)
		m := regexp.MustCompile(`data-qr="([^"]+)"`).FindStringSubmatch(body)
		if m == nil {
			t.Fatal("no QR content on the certificate")
		}
		qr, err := url.Parse(strings.ReplaceAll(m[1], "&amp;", "&"))
		if err != nil || qr.Scheme+"://"+qr.Host+qr.Path != testPublicURL+print.VerifyPath+cert.Number {
			t.Fatalf("the QR code encodes %q; want the public address of %s", m[1], cert.Number)
		}
		p := qr.Query().Get("p")
		got, err := keys.Trust.VerifyCertPayload(p)
		if err != nil {
			t.Fatalf("the QR code's payload does not verify with the trust list: %v", err)
		}
		if got.Number != cert.Number || got.MaskedName != print.MaskName(a1.Name) || got.KeyID != keys.Nodes["44"].ID ||
			got.ValidUntil != cert.ValidUntil {
			t.Errorf("payload states %+v", *got)
		}
		if strings.Contains(p, a1.IDNumber) || strings.Contains(p, a1.Name) {
			t.Error("the payload carries the ID number or the name in clear")
		}
	})
}

func issueFor(t *testing.T, ta *testApp, p *yipanqi.Person) *yipanqi.Certificate {
	t.Helper()
	today := yipanqi.DateOf(ta.clock.Now().In(peopleZone))
	cert := &yipanqi.Certificate{Kind: yipanqi.CertIssued, IDNumber: p.IDNumber, HolderName: p.Name, IssuerCode: townshipA,
		IssuedOn: today, ValidUntil: today.AddDays(365), MaritalStatus: yipanqi.FirstMarried}
	if err := ta.db.IssueCertificate(context.Background(), cert); err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestVerifyPageSignedPayload: the public page shows a valid payload from the signature
// alone — another node's certificate without any lookup — and refuses a tampered one; the
// registry's status is shown beside its own payloads. Hits are counted, not audited.
func TestVerifyPageSignedPayload(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		app, keys := verifyApp(t, ta)
		a1, _, _ := withPeople(t, ta)
		cert := issueFor(t, ta, a1)
		today := yipanqi.DateOf(ta.clock.Now().In(peopleZone))
		sign := func(k *exchange.PrivateKey, number string) string {
			p, err := exchange.SignCertPayload(k, exchange.CertPayload{Number: number, MaskedName: print.MaskName(a1.Name),
				IssuedOn: cert.IssuedOn, ValidUntil: cert.ValidUntil, SignedOn: today})
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		audits := len(auditLog(t, ta)) + 1 // the revocation below
		valid0, signed0 := verifyHits(t, ta, "valid"), verifyHits(t, ta, "signed_valid")

		own := sign(keys.Nodes["44"], cert.Number)
		w := anonGet(app, "198.51.100.1", "/44"+print.VerifyPath+cert.Number+"?p="+own)
		body := w.Body.String()
		if w.Code != http.StatusOK {
			t.Fatalf("own payload: %d\n%s", w.Code, body)
		}
		wantContains(t, body, "核验码签名有效", cert.Number, print.MaskName(a1.Name), "有效", keys.Nodes["44"].ID)
		if strings.Contains(body, a1.Name) || strings.Contains(body, a1.IDNumber) {
			t.Fatal("the page shows the full name or the ID number")
		}
		if err := ta.db.RevokeCertificate(context.Background(), cert.Number, "测试注销"); err != nil {
			t.Fatal(err)
		}
		w = anonGet(app, "198.51.100.1", "/44"+print.VerifyPath+cert.Number+"?p="+own)
		wantContains(t, w.Body.String(), "核验码签名有效", yipanqi.CertRevoked.Label())

		// Another node's certificate, which this registry does not hold: valid from its signature.
		other := "430524101-2026-000003-ABCDEF"
		w = anonGet(app, "198.51.100.1", "/44"+print.VerifyPath+other+"?p="+sign(keys.Nodes["43"], other))
		if w.Code != http.StatusOK {
			t.Fatalf("another node's payload: %d\n%s", w.Code, w.Body.String())
		}
		wantContains(t, w.Body.String(), "核验码签名有效", other, "据数字签名", keys.Nodes["43"].ID)

		// Tampered, for another number, or signed by a key not on the list: 400, nothing shown.
		parts := strings.Split(own, ".")
		sig := []byte(parts[2])
		sig[10] ^= 1
		if sig[10] == '-' || sig[10] == '_' {
			sig[10] = 'A'
		}
		stranger, err := exchange.GenerateKey("44")
		if err != nil {
			t.Fatal(err)
		}
		for name, path := range map[string]string{
			"tampered":       cert.Number + "?p=" + parts[0] + "." + parts[1] + "." + string(sig),
			"another number": other + "?p=" + own,
			"unknown key":    cert.Number + "?p=" + sign(stranger, cert.Number),
			"not a payload":  cert.Number + "?p=hello",
		} {
			w := anonGet(app, "198.51.100.1", "/44"+print.VerifyPath+path)
			if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "核验码无效") ||
				strings.Contains(w.Body.String(), print.MaskName(a1.Name)) {
				t.Errorf("%s: %d, want 400 核验码无效 without the certificate\n%s", name, w.Code, w.Body.String())
			}
		}
		if n := len(auditLog(t, ta)); n != audits {
			t.Errorf("anonymous hits wrote %d audit rows; want none", n-audits)
		}
		if got := verifyHits(t, ta, "signed_valid") - signed0; got != 3 {
			t.Errorf("signed_valid counted %v, want 3", got)
		}
		if got := verifyHits(t, ta, "valid") - valid0; got != 1 {
			t.Errorf("valid counted %v, want 1", got)
		}
	})
}

// TestVerifyPageRateLimit: one client gets a burst of answers, then 429 with a Chinese page
// and Retry-After; another client is not affected; time refills the bucket.
func TestVerifyPageRateLimit(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		app, _ := verifyApp(t, ta)
		limited0 := verifyHits(t, ta, "limited")
		path := "/44" + print.VerifyPath + yipanqi.CertificateNumber(townshipA, 2026, 1, "")
		for i := range print.DefaultVerifyBurst {
			if w := anonGet(app, "203.0.113.7", path); w.Code != http.StatusNotFound {
				t.Fatalf("request %d: %d, want 404", i+1, w.Code)
			}
		}
		w := anonGet(app, "203.0.113.7", path)
		if w.Code != http.StatusTooManyRequests || !strings.Contains(w.Body.String(), "查询过于频繁") || w.Header().Get("Retry-After") == "" {
			t.Fatalf("over the limit: %d, Retry-After %q\n%s", w.Code, w.Header().Get("Retry-After"), w.Body.String())
		}
		if w := anonGet(app, "203.0.113.8", path); w.Code != http.StatusNotFound {
			t.Errorf("another client: %d, want 404", w.Code)
		}
		if got := verifyHits(t, ta, "limited") - limited0; got != 1 {
			t.Errorf("limited counted %v, want 1", got)
		}
		ta.clock.Add(time.Minute)
		if w := anonGet(app, "203.0.113.7", path); w.Code != http.StatusNotFound {
			t.Errorf("a minute later: %d, want 404", w.Code)
		}
	})
}

func auditLog(t *testing.T, ta *testApp) []*yipanqi.AuditEntry {
	t.Helper()
	log, err := ta.db.AuditLog(context.Background(), "", 100000)
	if err != nil {
		t.Fatal(err)
	}
	return log
}
