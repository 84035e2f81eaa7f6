package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"yipanqi/assess"
	"yipanqi/sqlstore/storetest"
)

// assessmentFixture: a quarter of two townships' cases (as the store's Assessment test):
// township A answers two certificate requests in 3 working days and an identity check late,
// in April; township B leaves an identity check overdue. The clock ends on 2026-04-01.
func assessmentFixture(t *testing.T, ta *testApp) {
	t.Helper()
	c1 := ta.receive(t, "cert.reissue", townshipA, person("440106", 7))
	c2 := ta.receive(t, "cert.reissue", townshipA, "")
	v1 := ta.receive(t, "verify.identity", townshipA, "")
	ta.receive(t, "verify.identity", townshipB, "")
	ta.sweep(t)
	ta.setClock(t, "2026-03-05 16:00")
	ta.reply(t, c1.ID)
	ta.reply(t, c2.ID)
	ta.setClock(t, "2026-04-01 09:00")
	ta.reply(t, v1.ID)
	ta.sweep(t)
}

var figureLink = regexp.MustCompile(`<a href="(/44/assess/cases\?[^"]+)" aria-label="([^"]+) (\d+) 件">`)

func TestAssessment(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		assessmentFixture(t, ta)
		w := ta.browser(t)
		w.mustLogin("worker-a")
		code, _ := w.get("/assess")
		wantStatus(t, code, http.StatusForbidden, "worker /assess")

		b := ta.browser(t)
		b.mustLogin("county")
		code, body := b.get("/assess?period=2026-Q1")
		wantStatus(t, code, 200, "county /assess")
		wantContains(t, body, "考核 · 广州市天河区", "2026年第1季度", "乡级单位", "<svg", "乡级单位总分")
		// The county's own figures for Q1: 4 received, 2 on time, 1 still overdue (the late
		// reply fell in April).
		for label, want := range map[string]int{"广州市天河区 收件": 4, "广州市天河区 按时答复": 2, "广州市天河区 逾期答复": 0,
			"广州市天河区 仍超期未答复": 1, "广州市天河区 证明补办7个工作日内": 2, "广州市天河区甲街道 收件": 3} {
			if _, n := linkCount(t, body, label); n != want {
				t.Errorf("%s = %d, want %d", label, n, want)
			}
		}
		// Every figure leads to exactly the cases it counts.
		links := figureLink.FindAllStringSubmatch(body, -1)
		if len(links) < 20 {
			t.Fatalf("only %d figure links on the report", len(links))
		}
		for _, m := range links {
			n, _ := strconv.Atoi(m[3])
			href := strings.TrimPrefix(strings.ReplaceAll(m[1], "&amp;", "&"), "/44")
			code, list := b.get(href)
			wantStatus(t, code, 200, href)
			if got := casesListed(list); got != n {
				t.Errorf("%s: figure %d, drill-down lists %d cases", m[2], n, got)
			}
		}
		_, list := b.get("/assess/cases?period=2026-Q1&unit=" + townshipA + "&metric=cert_7d")
		wantContains(t, list, "广州市天河区甲街道 · 婚育证明补办7个工作日内办结", "440106********")
		// The year counts the late reply.
		_, body = b.get("/assess?period=2026")
		if _, n := linkCount(t, body, "广州市天河区 逾期答复"); n != 1 {
			t.Errorf("2026 late = %d, want 1", n)
		}

		// A malformed or future period: the error next to the field, the input kept.
		for period, msg := range map[string]string{"2026-13": "月份无效", "2026/03": "格式无效", "2026-Q3": "尚未开始"} {
			code, body := b.get("/assess?period=" + url.QueryEscape(period))
			wantStatus(t, code, http.StatusUnprocessableEntity, period)
			wantContains(t, body, `id="f-period-err"`, msg, `value="`+period+`"`, `aria-describedby="f-period-err"`)
			if strings.Contains(body, "乡级单位") {
				t.Errorf("%s: a report is shown for a bad period", period)
			}
		}

		// A manual entry without a reason: refused next to the field, nothing saved.
		b.get("/assess?period=2026-Q1")
		code, body = b.post("/assess/adjust", url.Values{"csrf": {b.csrf()}, "period": {"2026-Q1"},
			"org_unit": {townshipB}, "points": {"-2"}, "reason": {"  "}})
		wantStatus(t, code, http.StatusUnprocessableEntity, "adjust without reason")
		wantContains(t, body, `id="f-reason-err"`, "加减分须说明理由", `value="-2"`)
		p, _ := assess.ParsePeriod("2026", ta.clock.Now())
		adj, err := ta.db.Adjustments(context.Background(), storetest.MustScope(t, county), p)
		if err != nil || len(adj) != 0 {
			t.Fatalf("after a refused entry: %v, %v", adj, err)
		}
		// Points that are not a number, and a unit outside the user's subtree.
		code, body = b.post("/assess/adjust", url.Values{"csrf": {b.csrf()}, "period": {"2026-Q1"},
			"org_unit": {otherCity}, "points": {"abc"}, "reason": {"测试"}})
		wantStatus(t, code, http.StatusUnprocessableEntity, "bad points")
		wantContains(t, body, `id="f-points-err"`, "不是数字")
		// NaN and the infinities are not numbers either: nothing is stored.
		for _, v := range []string{"NaN", "nan", "Inf", "-Inf", "+Infinity", "1e400", "0x1p3"} {
			code, body = b.post("/assess/adjust", url.Values{"csrf": {b.csrf()}, "period": {"2026-Q1"},
				"org_unit": {townshipB}, "points": {v}, "reason": {"测试"}})
			wantStatus(t, code, http.StatusUnprocessableEntity, "points "+v)
			wantContains(t, body, `id="f-points-err"`, "不是数字")
		}
		if adj, err := ta.db.Adjustments(context.Background(), storetest.MustScope(t, county), p); err != nil || len(adj) != 0 {
			t.Fatalf("after non-finite points: %v, %v", adj, err)
		}

		// A good entry: saved, shown, scored and audited.
		code, body = b.post("/assess/adjust", url.Values{"csrf": {b.csrf()}, "period": {"2026-Q1"},
			"org_unit": {townshipB}, "points": {"-2"}, "reason": {"多次催办未回复"}})
		wantStatus(t, code, 200, "adjust")
		wantContains(t, body, "加减分已保存", "多次催办未回复", "-2.00")
		adj, err = ta.db.Adjustments(context.Background(), storetest.MustScope(t, county), p)
		if err != nil || len(adj) != 1 || adj[0].Points != -2 || adj[0].Actor != "county" {
			t.Fatalf("adjustments = %+v, %v", adj, err)
		}
		log, _ := ta.db.AuditLog(context.Background(), townshipB+"/2026-Q1", 5)
		if len(log) != 1 || log[0].Action != "assess.adjust" {
			t.Errorf("audit of the entry = %+v", log)
		}
		// A township worker's unit has no level below it, and the county cannot enter for itself.
		code, body = b.post("/assess/adjust", url.Values{"csrf": {b.csrf()}, "period": {"2026-Q1"},
			"org_unit": {county}, "points": {"1"}, "reason": {"自评"}})
		wantStatus(t, code, http.StatusUnprocessableEntity, "entry for one's own unit")
		wantContains(t, body, `id="f-org_unit-err"`, "只有上级单位")

		// The printable report.
		code, body = b.get("/assess/print?period=2026-Q1")
		wantStatus(t, code, 200, "print")
		wantContains(t, body, `class="a4"`, "区域协作考核报告", "广州市天河区乙街道", "多次催办未回复", "<svg")
		_, css := b.get("/static/app.css")
		wantContains(t, css, "@page { size: A4", "@media print")
	})
}
