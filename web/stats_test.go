package web_test

import (
	"bytes"
	"context"
	"html"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"yipanqi"
	"yipanqi/sla"
	"yipanqi/sqlstore"
	"yipanqi/sqlstore/storetest"
)

// statsFixture: three people living in 天河区甲街道, two in 乙街道 (one of them from 越秀区,
// the others from 江西), one in 越秀区.
func statsFixture(t *testing.T, ta *testApp) {
	t.Helper()
	var people []*yipanqi.Person
	for i, unit := range []string{townshipA, townshipA, townshipA, townshipB, townshipB, otherCity} {
		p := storetest.NewPerson(i+1, unit)
		if i == 4 {
			p.HukouCode = "440104"
		}
		people = append(people, p)
	}
	storetest.MustImport(t, ta.db, people...)
}

// totalPeople is the 人数 of the 合计 row of the first table.
func totalPeople(t *testing.T, body string) int {
	t.Helper()
	m := regexp.MustCompile(`<th scope="row">合计</th><td class="num">(\d+)</td>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no 合计 row:\n%s", body)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func TestStatsPages(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		statsFixture(t, ta)

		// A township worker reports on their own township by default.
		w := ta.browser(t)
		w.mustLogin("worker-a")
		code, body := w.get("/stats")
		wantStatus(t, code, 200, "worker /stats")
		wantContains(t, body, "流动人口月报 · 广州市天河区甲街道 · 2026年3月", "<svg", "年龄段（月末在住人数）", "实时计算")
		if n := totalPeople(t, body); n != 3 {
			t.Errorf("township A total = %d, want 3", n)
		}
		// … and not on the county above it.
		code, body = w.get("/stats?unit=" + county + "&month=2026-03")
		wantStatus(t, code, http.StatusUnprocessableEntity, "worker, county's figures")
		wantContains(t, body, `id="f-unit-err"`, "不在您的辖区", `value="440106"`)

		b := ta.browser(t)
		b.mustLogin("county")
		code, body = b.get("/stats?unit=" + county + "&month=2026-03")
		wantStatus(t, code, 200, "county /stats")
		wantContains(t, body, "广州市天河区甲街道", "广州市天河区乙街道", "各单位月末在住人数", "婚姻状况", "初婚")
		if n := totalPeople(t, body); n != 5 {
			t.Errorf("county total = %d, want 5", n)
		}
		for _, secret := range []string{storetest.NewPerson(1, townshipA).IDNumber, "测试"} {
			if strings.Contains(body, secret) {
				t.Errorf("the report shows personal data %q", secret)
			}
		}
		log, err := ta.db.AuditLog(context.Background(), county, 10)
		if err != nil || len(log) == 0 || log[0].Action != "stats.report" || log[0].Actor != "county" || log[0].Reason != "2026-03" {
			t.Errorf("audit of the report = %+v, %v", log, err)
		}
		for month, msg := range map[string]string{"2026-13": "无效", "2026/03": "无效", "2026-05": "尚未到来"} {
			code, body := b.get("/stats?month=" + month)
			wantStatus(t, code, http.StatusUnprocessableEntity, month)
			wantContains(t, body, `id="f-month-err"`, msg, `value="`+month+`"`)
		}

		// The flow matrix: 江西 → 广东 for four, 广州 → 广州 within the province for one.
		code, body = b.get("/stats/matrix?month=2026-03")
		wantStatus(t, code, 200, "matrix")
		wantContains(t, body, "户籍地（省）× 现居住地（省）", "共 5 人", "江西 → 广东：4", "省内户籍地（市）", "无数据")
		code, _ = b.get("/stats/matrix?month=2027-01")
		wantStatus(t, code, http.StatusUnprocessableEntity, "future matrix")
	})
}

// exchangeTotal is the 合计 row of the exchange table: sent, received, on time, late, overdue.
var exchangeTotal = regexp.MustCompile(`<tr><th scope="row">合计</th><td class="num">(\d+)</td><td class="num">(\d+)</td><td class="num">(\d+)</td><td class="num">(\d+)</td><td class="num">(\d+)</td>`)

var statsExportLink = regexp.MustCompile(`<a href="/44(/stats/export\?[^"]+)" download>`)

// TestStatsExchangePage: the 统计 page shows the month's exchange table and its chart, with
// the figures the cases give after a sweep; its xlsx download holds the same report as the
// command line's and is audited as the page is.
func TestStatsExchangePage(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		statsFixture(t, ta)
		ctx := context.Background()
		now := ta.clock.Now()
		made := [5]int{} // sent, received, on time, late, overdue
		mk := func(c *yipanqi.Case) *yipanqi.Case {
			t.Helper()
			c.Type, c.PeerNode, c.PeerUnit = "verify.identity", "36", "360121"
			if err := ta.db.CreateCase(ctx, c); err != nil {
				t.Fatal(err)
			}
			return c
		}
		for i, unit := range []string{townshipA, townshipA, townshipB} {
			c := mk(&yipanqi.Case{Direction: yipanqi.Incoming, OrgUnit: unit, State: yipanqi.CaseDelivered,
				ReceivedAt: now.Add(-24 * time.Hour), DueAt: now.Add(10 * 24 * time.Hour)})
			made[1]++
			if i == 0 {
				if err := ta.db.InTx(ctx, func(tx *sqlstore.Tx) error {
					_, err := tx.SetCaseState(ctx, c.ID, yipanqi.Incoming, yipanqi.CaseReplied)
					return err
				}); err != nil {
					t.Fatal(err)
				}
				made[2]++
			}
		}
		for _, unit := range []string{townshipA, townshipB} {
			mk(&yipanqi.Case{Direction: yipanqi.Outgoing, OrgUnit: unit, State: yipanqi.CaseSent})
			made[0]++
		}
		k, err := sla.New(sla.Config{Now: ta.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ta.db.SweepSLA(ctx, k, now); err != nil {
			t.Fatal(err)
		}

		b := ta.browser(t)
		b.mustLogin("county")
		code, body := b.get("/stats?unit=" + county + "&month=2026-03")
		wantStatus(t, code, 200, "county /stats")
		wantContains(t, body, "交换量与办理时效", "身份住址核实", "本月交换量与办理时效", "下载本月报（xlsx）")
		m := exchangeTotal.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no exchange total row:\n%s", body)
		}
		for i, want := range made {
			if m[i+1] != strconv.Itoa(want) {
				t.Errorf("exchange total column %d = %s, want %d (row %q)", i, m[i+1], want, m[0])
			}
		}

		// The download: the workbook of the same report, audited.
		link := statsExportLink.FindStringSubmatch(body)
		if link == nil {
			t.Fatalf("no download link:\n%s", body)
		}
		before := auditCount(t, ta, county, "stats.report", "county")
		req, _ := http.NewRequest("GET", ta.srv.URL+ta.base+html.UnescapeString(link[1]), nil)
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(resp.Body); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, resp.StatusCode, 200, "export")
		if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="stats-`+county+`-2026-03.xlsx"` {
			t.Errorf("Content-Disposition = %q", cd)
		}
		if n := auditCount(t, ta, county, "stats.report", "county"); n != before+1 {
			t.Errorf("stats.report entries %d → %d, want one more for the download", before, n)
		}
		f, err := excelize.OpenReader(&buf)
		if err != nil {
			t.Fatalf("not a workbook: %v", err)
		}
		defer f.Close()
		rows, err := f.GetRows("交换量与办理时效")
		if err != nil || len(rows) < 2 {
			t.Fatalf("exchange sheet %v, %v", rows, err)
		}
		last := rows[len(rows)-1]
		if last[1] != "合计" || last[2] != strconv.Itoa(made[0]) || last[3] != strconv.Itoa(made[1]) || last[4] != strconv.Itoa(made[2]) {
			t.Errorf("exchange sheet total %v, want sent %d received %d on time %d", last, made[0], made[1], made[2])
		}
		people, err := f.GetRows("性别与年龄")
		if err != nil || people[len(people)-1][2] != strconv.Itoa(totalPeople(t, body)) {
			t.Errorf("people sheet %v, %v", people, err)
		}

		// A worker gets no workbook of the county above, and nothing is audited.
		w := ta.browser(t)
		w.mustLogin("worker-a")
		before = auditCount(t, ta, county, "stats.report", "worker-a")
		code, body = w.get("/stats/export?unit=" + county + "&month=2026-03")
		wantStatus(t, code, http.StatusUnprocessableEntity, "worker export of the county")
		wantContains(t, body, "不在您的辖区")
		if n := auditCount(t, ta, county, "stats.report", "worker-a"); n != before {
			t.Errorf("a refused export was audited")
		}
	})
}
