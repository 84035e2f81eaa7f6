package web_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"yipanqi"
	"yipanqi/sqlstore/storetest"
)

// chromiumPath finds Debian's Chromium (or another Chrome). Missing, the browser tests fail in
// CI (CI set) and are skipped, saying why, elsewhere.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium on this machine: install it with apt-get install -y chromium fonts-noto-cjk (.ci/run does)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// artifacts is the directory screenshots go to: $YIPANQI_ARTIFACTS/<test>, or a temporary one.
func artifacts(t *testing.T) string {
	dir := t.TempDir()
	if base := os.Getenv("YIPANQI_ARTIFACTS"); base != "" {
		dir = filepath.Join(base, t.Name())
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestBrowserCaseFlow drives real Chromium through both sides of a verify.identity case:
// sign in as the residence township's worker in 44, start the case about a person whose hukou
// is in 43, sign in at the hometown township in 43, answer 查无此人 without a reason and see
// the error next to the field, answer with a reason, and see the answer and the deadline badge
// at the residence. Each page is saved as a screenshot.
func TestBrowserCaseFlow(t *testing.T) {
	chrome := chromiumPath(t)
	dir := artifacts(t)
	rg := startRegion(t, map[string]string{"44": storetest.SQLiteDSN(t), "43": storetest.SQLiteDSN(t)})
	base := rg.srv.URL

	actx, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.WindowSize(1280, 1000), chromedp.Flag("lang", "zh-CN"))...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()

	shot := 0
	screenshot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		shot++
		path := filepath.Join(dir, strings.ReplaceAll(filepath.Base(name), " ", "-"))
		path = filepath.Join(dir, twoDigits(shot)+"-"+filepath.Base(path)+".png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			screenshot("failed-" + strings.ReplaceAll(what, " ", "-"))
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	login := func(node, user string) {
		t.Helper()
		do("sign in as "+user,
			chromedp.Navigate(base+"/"+node+"/login"),
			chromedp.WaitVisible(chromedp.CSS("#f-username")),
			chromedp.SendKeys(chromedp.CSS("#f-username"), user),
			chromedp.SendKeys(chromedp.CSS("#f-password"), password),
			chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS("#h-todo")))
	}

	// The sign-in page, and the keyboard: the first Tab reaches the skip link.
	do("open sign-in", chromedp.Navigate(base+"/44/login"), chromedp.WaitVisible(chromedp.CSS("#f-username")))
	screenshot("sign-in")
	do("tab", chromedp.KeyEvent("\t"))
	if cls, err := chromedp.Run(ctx, chromedp.Evaluate[string]("document.activeElement.className")); err != nil || cls != "skip" {
		t.Fatalf("first Tab focused %q (%v), want the skip link", cls, err)
	}

	login("44", "worker-a")
	screenshot("residence-home")
	do("open the form", chromedp.Navigate(base+"/44/new/verify.identity"), chromedp.WaitVisible(chromedp.CSS("#f-f-id_number")))
	do("look the person up",
		chromedp.SendKeys(chromedp.CSS("#f-f-id_number"), rg.person.IDNumber),
		chromedp.Click(chromedp.CSS(`button[value="lookup"]`)))
	// The addressee field is on the form before the lookup too: wait for the page the lookup
	// answers with, whose addressee is filled in.
	var addressee string
	for i := 0; i < 100 && addressee == ""; i++ {
		time.Sleep(50 * time.Millisecond)
		addressee, _ = chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#f-peer_unit")))
	}
	if addressee != hometown {
		t.Fatalf("addressee after lookup = %q, want %s", addressee, hometown)
	}
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#f-f-name"))); v != rg.person.Name {
		t.Fatalf("name after lookup = %q, want %q", v, rg.person.Name)
	}
	screenshot("start-case")
	do("send", chromedp.Click(chromedp.CSS(`button[value="send"]`)), chromedp.WaitVisible(chromedp.CSS("table.kv")))
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`/44/cases/([0-9a-f-]{36})$`).FindStringSubmatch(loc)
	if m == nil {
		t.Fatalf("after sending, the browser is at %s, not a case page", loc)
	}
	caseID := m[1]
	screenshot("residence-case-sent")
	waitFor(t, "the hometown to receive the case", func() bool {
		return caseState(t, rg.apps["43"].db, "43", caseID) == yipanqi.CaseDelivered
	})

	login("43", "home-worker")
	do("to-do", chromedp.Navigate(base+"/43/todo"), chromedp.WaitVisible(chromedp.CSS(`a[href="/43/cases/`+caseID+`"]`)))
	if b := text("td .badge"); !strings.HasPrefix(b, "剩余") {
		t.Fatalf("to-do badge %q, want 剩余…", b)
	}
	screenshot("hometown-todo")
	do("open the case", chromedp.Click(chromedp.CSS(`a[href="/43/cases/`+caseID+`"]`)), chromedp.WaitVisible(chromedp.CSS("#reply-not_found")))
	do("not found without a reason",
		chromedp.SendKeys(chromedp.CSS("#f-not_found-r-note"), "已查户籍底册"),
		chromedp.Click(chromedp.CSS(`#reply-not_found button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#f-not_found-r-reason-err")))
	if e := text("#f-not_found-r-reason-err"); !strings.Contains(e, "必须说明原因") {
		t.Fatalf("error next to the reason: %q", e)
	}
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#f-not_found-r-note"))); v != "已查户籍底册" {
		t.Fatalf("the note typed was not kept: %q", v)
	}
	screenshot("hometown-reply-error")
	do("not found with a reason",
		chromedp.SetValue(chromedp.CSS("#f-not_found-r-reason"), "no_record"),
		chromedp.Click(chromedp.CSS(`#reply-not_found button[type="submit"]`)),
		chromedp.WaitNotPresent(chromedp.CSS("#reply-not_found")))
	if h := text("main"); !strings.Contains(h, "答复：查无此人") || !strings.Contains(h, "无此户籍") {
		t.Fatalf("after the reply the page reads:\n%s", h)
	}
	screenshot("hometown-replied")

	waitFor(t, "the reply at the residence", func() bool {
		return caseState(t, rg.apps["44"].db, "44", caseID) == yipanqi.CaseReplied
	})
	do("residence case page", chromedp.Navigate(base+"/44/cases/"+caseID), chromedp.WaitVisible(chromedp.CSS("table.kv")))
	page := text("main")
	for _, want := range []string{"答复：查无此人", "无此户籍", "已查户籍底册", "按期答复", "收到答复"} {
		if !strings.Contains(page, want) {
			t.Fatalf("residence case page lacks %q:\n%s", want, page)
		}
	}
	screenshot("residence-reply")

	// Print the 《限期补办通知书》 for the person, from their page at the residence.
	do("search the person",
		chromedp.Navigate(base+"/44/people"),
		chromedp.WaitVisible(chromedp.CSS("#f-id_number")),
		chromedp.SendKeys(chromedp.CSS("#f-id_number"), rg.person.IDNumber),
		chromedp.Click(chromedp.CSS(`form.filters button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`table.list a[href^="/44/people/"]`)))
	if list := text("table.list"); strings.Contains(list, rg.person.IDNumber) {
		t.Fatalf("the search result shows the full ID number:\n%s", list)
	}
	do("open the person", chromedp.Click(chromedp.CSS(`table.list a[href^="/44/people/"]`)), chromedp.WaitVisible(chromedp.CSS("#f-days")))
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); strings.Contains(loc, rg.person.IDNumber) {
		t.Fatalf("the person page's address %s carries the ID number", loc)
	}
	do("print the notice",
		chromedp.SetValue(chromedp.CSS("#f-days"), "45"),
		chromedp.Submit(chromedp.CSS("#f-days")),
		chromedp.WaitVisible(chromedp.CSS("body")))
	want45 := rg.clock.Now().In(yipanqi.Shanghai).AddDate(0, 0, 45)
	notice := text("body")
	for _, want := range []string{"限期补办通知书", rg.person.Name, fmt.Sprintf("%d年%d月%d日", want45.Year(), want45.Month(), want45.Day())} {
		if !strings.Contains(notice, want) {
			t.Fatalf("the printed notice lacks %q:\n%s", want, notice)
		}
	}
	screenshot("print-notice")

	// A certificate issued at the hometown, verified on its public page (the QR code's address).
	cert := &yipanqi.Certificate{Kind: yipanqi.CertIssued, IDNumber: rg.person.IDNumber, HolderName: rg.person.Name,
		IssuerCode: hometown, IssuedOn: yipanqi.DateOf(rg.clock.Now()), ValidUntil: yipanqi.DateOf(rg.clock.Now()).AddDays(3 * 365),
		MaritalStatus: yipanqi.FirstMarried}
	if err := rg.apps["43"].db.IssueCertificate(context.Background(), cert); err != nil {
		t.Fatal(err)
	}
	do("print the certificate",
		chromedp.Navigate(base+"/43/print/cert/"+cert.Number),
		chromedp.WaitVisible(chromedp.CSS("svg")))
	screenshot("print-certificate")
	// The certificate prints the address its QR code encodes; the public page must answer it.
	qrURL := regexp.MustCompile(`https?://\S+/verify/cert/\S+`).FindString(text("body"))
	if want := base + "/43/verify/cert/" + cert.Number; qrURL != want {
		t.Fatalf("the certificate's verification address = %q, want %q", qrURL, want)
	}
	do("sign out", chromedp.Navigate(base+"/43/"), chromedp.WaitVisible(chromedp.CSS("#h-todo")), chromedp.Click(chromedp.CSS(`form[action$="/logout"] button`)), chromedp.WaitVisible(chromedp.CSS("#f-username")))
	do("open the verification page", chromedp.Navigate(qrURL), chromedp.WaitVisible(chromedp.CSS("main, body")))
	verify := text("body")
	if !strings.Contains(verify, cert.Number) || !strings.Contains(verify, "有效") || strings.Contains(verify, rg.person.Name) {
		t.Fatalf("the public verification page (signed out) reads:\n%s\nwant the number, 有效, and the name masked", verify)
	}
	screenshot("verify-certificate")
}

func twoDigits(n int) string {
	if n < 10 {
		return "0" + string(rune('0'+n))
	}
	return string(rune('0'+n/10)) + string(rune('0'+n%10))
}
