package web_test

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"yipanqi"
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
