package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"yipanqi"
	"yipanqi/calendar"
	"yipanqi/sqlstore"
	"yipanqi/synth"
	"yipanqi/web"
)

func init() {
	moreCommands["bench"] = command{"性能测量：bench web --db DSN --people N（用 Debian 的 hey 对待办与人员查询施压）", runBench}
}

const benchUsage = `用法：
  yipanqi bench web [--db DSN] [--province 44] [--people 200000] [--cases 20000]
                    [--concurrency 20] [--for 10s] [--hey hey]

  在 DSN 指定的库中准备一个省的数据（已有则沿用：人员、案件只补足差额），在本机回环地址上启动网页应用，
  以乡镇工作人员与县级督导员身份登录，用 hey（apt-get install -y hey）以 --concurrency 个并发用户
  各压测 --for 时长：待办页、按姓名查询人员。输出每页的每秒请求数与 p50/p95/p99 响应时间。
  不给 --db 时使用临时 SQLite 文件（测后删除）。`

func runBench(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] != "web" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintln(env.Stdout, benchUsage)
			return nil
		}
		return usageError("请指定要测量的对象：bench web\n%s", benchUsage)
	}
	fs := flag.NewFlagSet("bench web", flag.ContinueOnError)
	var flagOut strings.Builder
	fs.SetOutput(&flagOut)
	dsn := fs.String("db", "", "数据库（默认：临时 SQLite 文件）")
	province := fs.String("province", "44", "省级代码")
	people := fs.Int("people", 200000, "本省登记的流动人口数")
	cases := fs.Int("cases", 20000, "收到的案件数（其中约十分之一在被测乡镇）")
	conc := fs.Int("concurrency", 20, "并发用户数")
	dur := fs.Duration("for", 10*time.Second, "每页压测时长")
	heyPath := fs.String("hey", "hey", "hey 可执行文件")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError("参数有误：%v\n%s", err, benchUsage)
	}
	switch {
	case fs.NArg() > 0:
		return usageError("bench web 不接受参数“%s”", strings.Join(fs.Args(), " "))
	case *people < 100 || *people > 10_000_000:
		return usageError("--people 应在 100 到 10000000 之间，实际为 %d", *people)
	case *cases < 0 || *cases > 10_000_000:
		return usageError("--cases 应在 0 到 10000000 之间，实际为 %d", *cases)
	case *conc < 1 || *conc > 1000:
		return usageError("--concurrency 应在 1 到 1000 之间，实际为 %d", *conc)
	case *dur < time.Second:
		return usageError("--for 至少 1s，实际为 %s", *dur)
	}
	hey, err := exec.LookPath(*heyPath)
	if err != nil {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "hey", "未找到压测工具 %s：请先安装（apt-get install -y hey）", *heyPath)
	}
	if *dsn == "" {
		dir, err := os.MkdirTemp("", "yipanqi-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		*dsn = "sqlite:" + filepath.Join(dir, "bench.db")
	}
	tree, err := loadDivisions(env)
	if err != nil {
		return err
	}
	name, err := tree.Lookup(*province)
	if err != nil || len(*province) != 2 {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "province", "省级代码“%s”无效", *province)
	}
	db, err := openStore(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	sealCtx, stopSeal := context.WithCancel(ctx)
	defer stopSeal()
	go db.RunAuditSealer(sealCtx, sqlstore.DefaultAuditSealInterval, nil)

	b := &benchWeb{env: env, db: db, province: *province}
	units, err := tree.ProvinceUnits(*province)
	if err != nil {
		return err
	}
	if err := db.UpsertOrgUnits(ctx, units); err != nil {
		return err
	}
	gen, err := synth.New(tree, synth.Config{Province: *province, Seed: 1, Today: yipanqi.DateOf(env.Now())})
	if err != nil {
		return err
	}
	if err := b.fillPeople(ctx, gen, *people); err != nil {
		return err
	}
	if err := b.fillCases(ctx, *cases); err != nil {
		return err
	}
	if err := b.users(ctx); err != nil {
		return err
	}

	app, err := web.New(web.Config{Code: *province, Name: name.Name, Store: db,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := web.NewServer(app, web.DefaultServerTimeouts)
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	fmt.Fprintf(env.Stdout, "数据：%s，%s %d 人，收到案件 %d 件；被测乡镇 %s（待办 %d 件），县 %s\n",
		db, name.Name, b.peopleN, b.casesN, b.township, b.townshipCases, b.township[:6])
	fmt.Fprintf(env.Stdout, "压测：hey，%d 个并发用户，每页 %s，本机回环\n\n", *conc, *dur)
	type result struct {
		page string
		heyResult
	}
	var results []result
	for _, s := range []struct {
		page, user, method, path string
		form                     url.Values
		want                     *regexp.Regexp // what the page must show before it is loaded
	}{
		{"待办（乡镇工作人员）", "bench-town", "GET", "/todo", nil, todoShows},
		{"待办（县级督导员）", "bench-county", "GET", "/todo", nil, todoShows},
		{"人员查询·姓名（乡镇工作人员）", "bench-town", "POST", "/people", url.Values{"name": {b.surname}}, peopleFound},
		{"人员查询·身份号码（乡镇工作人员）", "bench-town", "POST", "/people", url.Values{"id_number": {b.someone}}, peopleFound},
	} {
		cookie, csrf, err := benchSignIn(base, s.user)
		if err != nil {
			return fmt.Errorf("bench: sign in as %s: %w", s.user, err)
		}
		body := ""
		if s.form != nil {
			s.form.Set("csrf", csrf)
			body = s.form.Encode()
		}
		if err := benchProbe(base+s.path, s.method, cookie, body, s.want); err != nil {
			return fmt.Errorf("bench %s: %w", s.page, err)
		}
		r, err := runHey(ctx, hey, base+s.path, s.method, cookie, body, *conc, *dur)
		if err != nil {
			return fmt.Errorf("bench %s: %w", s.page, err)
		}
		results = append(results, result{s.page, r})
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "页面\t请求/秒\tp50\tp95\tp99\t非 200")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t%d\n", r.page, r.rps, ms(r.p50), ms(r.p95), ms(r.p99), r.bad)
	}
	return tw.Flush()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

type benchWeb struct {
	env           *Env
	db            *sqlstore.DB
	province      string
	peopleN       int
	casesN        int
	township      string   // the busiest residence township, where the worker sits
	townships     []string // residence townships, busiest first
	townshipCases int
	surname       string // a common surname among the township's people
	someone       string // an ID number in the township
}

// fillPeople makes the province's register hold n people: the generator is deterministic,
// so the first n people are the same on every run, and only those missing are imported.
func (b *benchWeb) fillPeople(ctx context.Context, gen *synth.Generator, n int) error {
	scope, _ := yipanqi.NewScope(b.province)
	have, err := b.db.CountPeople(ctx, scope)
	if err != nil {
		return err
	}
	perTownship := map[string]int{}
	surnames := map[string]map[string]int{}
	firstID := map[string]string{}
	var im *sqlstore.PeopleImport
	if have < n {
		fmt.Fprintf(b.env.Stderr, "bench: 生成并导入 %d 人……\n", n)
		if im, err = b.db.BeginPeopleImport(ctx, "system:bench", "bench"); err != nil {
			return err
		}
	}
	for i := 0; i < n; i++ {
		p := &yipanqi.Person{}
		gen.Next(p)
		t := p.ResidenceCode
		if len(t) > 9 {
			t = t[:9]
		}
		perTownship[t]++
		if surnames[t] == nil {
			surnames[t] = map[string]int{}
			firstID[t] = p.IDNumber
		}
		surnames[t][string([]rune(p.Name)[:1])]++
		if im != nil {
			if err := im.Add(i+1, p); err != nil {
				_ = im.Rollback()
				return err
			}
		}
	}
	if im != nil {
		if _, _, err := im.Commit(ctx); err != nil {
			return err
		}
	}
	for t := range perTownship {
		b.townships = append(b.townships, t)
	}
	sort.Slice(b.townships, func(i, j int) bool {
		if perTownship[b.townships[i]] != perTownship[b.townships[j]] {
			return perTownship[b.townships[i]] > perTownship[b.townships[j]]
		}
		return b.townships[i] < b.townships[j]
	})
	b.township = b.townships[0]
	best := 0
	for s, c := range surnames[b.township] {
		if c > best || c == best && s < b.surname {
			b.surname, best = s, c
		}
	}
	b.someone = firstID[b.township]
	b.peopleN, err = b.db.CountPeople(ctx, scope)
	return err
}

// fillCases makes the node hold n incoming open cases: a tenth in the busiest township, the
// rest spread over the others, due from 10 working days ago to 20 ahead.
func (b *benchWeb) fillCases(ctx context.Context, n int) error {
	scope, _ := yipanqi.NewScope(b.province)
	_, have, err := b.db.ListCases(ctx, scope, yipanqi.CaseFilter{Direction: yipanqi.Incoming, Limit: 1})
	if err != nil {
		return err
	}
	if have < n {
		fmt.Fprintf(b.env.Stderr, "bench: 生成 %d 件收到的案件……\n", n-have)
	}
	rng := rand.New(rand.NewPCG(2, uint64(have)))
	cal := calendar.New()
	now := b.env.Now()
	data, _ := json.Marshal(map[string]string{"note": "压测数据"})
	for left := n - have; left > 0; {
		batch := min(left, 500)
		err := b.db.InBatchTx(ctx, func(tx *sqlstore.Tx) error {
			for range batch {
				unit := b.township
				if rng.IntN(10) != 0 {
					unit = b.townships[rng.IntN(len(b.townships))]
				}
				received := now.Add(-time.Duration(rng.IntN(30*24)) * time.Hour)
				due, err := cal.Due(received, calendar.Rule{WorkingDays: 15})
				if err != nil {
					return err
				}
				c := &yipanqi.Case{Type: "verify.identity", Direction: yipanqi.Incoming, OrgUnit: unit,
					PeerNode: "43", PeerUnit: "430524101", State: yipanqi.CaseDelivered, Data: data,
					ReceivedAt: received, DueAt: due.At}
				if err := tx.CreateCase(ctx, c); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		left -= batch
	}
	b.casesN = n
	if have > n {
		b.casesN = have
	}
	ts, _ := yipanqi.NewScope(b.township)
	_, b.townshipCases, err = b.db.ListCases(ctx, ts, yipanqi.CaseFilter{Direction: yipanqi.Incoming, Limit: 1})
	return err
}

const benchPassword = "bench-password-不用于生产"

// users adds the two signed-in users of the run (again on a later run: kept as they are).
func (b *benchWeb) users(ctx context.Context) error {
	hash, err := web.HashPassword(benchPassword)
	if err != nil {
		return err
	}
	for _, u := range []*yipanqi.User{
		{Username: "bench-town", DisplayName: "压测乡镇工作人员", OrgUnit: b.township, Role: yipanqi.RoleTownshipWorker, PasswordHash: hash},
		{Username: "bench-county", DisplayName: "压测县级督导员", OrgUnit: b.township[:6], Role: yipanqi.RoleCountySupervisor, PasswordHash: hash},
	} {
		if old, err := b.db.UserByName(ctx, u.Username); err == nil {
			if old.OrgUnit == u.OrgUnit {
				continue
			}
			return yipanqi.Errorf(yipanqi.ECONFLICT, "此库已有用户 %s，但在 %s：请换一个库", u.Username, old.OrgUnit)
		}
		if err := b.db.CreateUser(ctx, u); err != nil {
			return err
		}
	}
	return nil
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// benchSignIn signs in through the sign-in form as a browser would and returns the session
// cookie (as a Cookie header) and the session's CSRF token.
func benchSignIn(base, user string) (cookie, csrf string, err error) {
	jar, _ := cookiejar.New(nil)
	cl := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	get := func(path string) (string, error) {
		resp, err := cl.Get(base + path)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return "", fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		return string(body), err
	}
	page, err := get("/login")
	if err != nil {
		return "", "", err
	}
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		return "", "", fmt.Errorf("no csrf field on the sign-in page")
	}
	resp, err := cl.PostForm(base+"/login", url.Values{"csrf": {m[1]}, "username": {user}, "password": {benchPassword}})
	if err != nil {
		return "", "", err
	}
	resp.Body.Close()
	page, err = get("/todo")
	if err != nil {
		return "", "", fmt.Errorf("after signing in: %w", err)
	}
	if m = csrfField.FindStringSubmatch(page); m == nil {
		return "", "", fmt.Errorf("not signed in: no csrf field on the to-do page")
	}
	u, _ := url.Parse(base)
	var parts []string
	for _, c := range jar.Cookies(u) {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; "), m[1], nil
}

var (
	todoShows   = regexp.MustCompile(`共 [1-9][0-9]* 件`)
	peopleFound = regexp.MustCompile(`共 [1-9][0-9]* 人`)
)

// benchProbe requests the page once as the load will, and checks that it answers 200 with
// what it should show (cases in the queue, people found): a run that measured an empty page
// or a sign-in redirect would measure nothing.
func benchProbe(target, method, cookie, body string, want *regexp.Regexp) error {
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Cookie", cookie)
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	cl := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	page, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 || !want.Match(page) {
		return fmt.Errorf("%s %s answered %s without %q", method, target, resp.Status, want)
	}
	return nil
}

type heyResult struct {
	rps           float64
	p50, p95, p99 time.Duration
	bad           int // responses other than 200, and errors
}

var (
	heyRPS     = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	heyPct     = regexp.MustCompile(`^\s+(\d+)%+ in ([0-9.]+) secs`)
	heyStatus  = regexp.MustCompile(`^\s+\[(\d+)\]\s+(\d+) responses`)
	heyErrLine = regexp.MustCompile(`^\s+\[(\d+)\]\s+Get|Post`)
)

// runHey loads url with hey for dur from conc users and reads its summary.
func runHey(ctx context.Context, hey, target, method, cookie, body string, conc int, dur time.Duration) (heyResult, error) {
	// Redirects are not followed: a lost session (a redirect to the sign-in page) counts as
	// a response other than 200.
	args := []string{"-z", dur.String(), "-c", strconv.Itoa(conc), "-m", method, "-H", "Cookie: " + cookie, "-disable-redirects"}
	if body != "" {
		args = append(args, "-T", "application/x-www-form-urlencoded", "-d", body)
	}
	args = append(args, target)
	out, err := exec.CommandContext(ctx, hey, args...).CombinedOutput()
	if err != nil {
		return heyResult{}, fmt.Errorf("hey: %v: %s", err, out)
	}
	var r heyResult
	if m := heyRPS.FindSubmatch(out); m != nil {
		r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	inErrors := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "Error distribution") {
			inErrors = true
		}
		if m := heyPct.FindStringSubmatch(line); m != nil {
			secs, _ := strconv.ParseFloat(m[2], 64)
			d := time.Duration(secs * float64(time.Second))
			switch m[1] {
			case "50":
				r.p50 = d
			case "95":
				r.p95 = d
			case "99":
				r.p99 = d
			}
		}
		if m := heyStatus.FindStringSubmatch(line); m != nil && m[1] != "200" {
			n, _ := strconv.Atoi(m[2])
			r.bad += n
		}
		if inErrors && heyErrLine.MatchString(line) {
			if m := regexp.MustCompile(`^\s+\[(\d+)\]`).FindStringSubmatch(line); m != nil {
				n, _ := strconv.Atoi(m[1])
				r.bad += n
			}
		}
	}
	if r.p95 == 0 {
		return r, fmt.Errorf("hey printed no latency distribution:\n%s", out)
	}
	return r, nil
}
