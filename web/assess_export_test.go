package web_test

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"strconv"
	"testing"

	"github.com/xuri/excelize/v2"

	"yipanqi/assess"
	"yipanqi/sqlstore/storetest"
)

var exportLink = regexp.MustCompile(`<a href="/44(/assess/export\?period=[^"]+)" download>`)

// TestAssessmentExport: the report page links its .xlsx; the download is a workbook holding
// the store's report, named in ASCII, and audited as a view of the report; a township worker
// and a bad period get no workbook and write no entry.
func TestAssessmentExport(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		assessmentFixture(t, ta)
		w := ta.browser(t)
		w.mustLogin("worker-a")
		code, _ := w.get("/assess/export?period=2026-Q1")
		wantStatus(t, code, http.StatusForbidden, "worker export")

		b := ta.browser(t)
		b.mustLogin("county")
		_, body := b.get("/assess?period=2026-Q1")
		m := exportLink.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no download link on the report:\n%s", body)
		}
		object := county + "/2026-Q1"
		before := auditCount(t, ta, object, "assess.report", "county")

		req, _ := http.NewRequest("GET", ta.srv.URL+ta.base+m[1], nil)
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
		if ct := resp.Header.Get("Content-Type"); ct != "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" {
			t.Errorf("Content-Type = %q", ct)
		}
		if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="assess-`+county+`-2026-Q1.xlsx"` {
			t.Errorf("Content-Disposition = %q", cd)
		}
		if n := auditCount(t, ta, object, "assess.report", "county"); n != before+1 {
			t.Errorf("assess.report entries %d → %d, want one more for the download", before, n)
		}

		// The workbook holds the store's report: a row per unit, its figures and total.
		f, err := excelize.OpenReader(&buf)
		if err != nil {
			t.Fatalf("not a workbook: %v", err)
		}
		defer f.Close()
		rows, err := f.GetRows(f.GetSheetName(0))
		if err != nil {
			t.Fatal(err)
		}
		p, _ := assess.ParsePeriod("2026-Q1", ta.clock.Now())
		rep, err := ta.db.Assessment(context.Background(), storetest.MustScope(t, county), p, assess.DefaultRules(), ta.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(rep.Rows)+2 || len(rep.Rows) < 3 {
			t.Fatalf("workbook has %d rows for a report of %d units", len(rows), len(rep.Rows))
		}
		if rows[1][0] != assess.Headers[0] || rows[1][4] != "收件" {
			t.Errorf("header row = %v", rows[1])
		}
		for i, x := range rep.Rows {
			got := rows[i+2]
			if got[2] != x.Unit || got[4] != strconv.FormatInt(x.Figures.Received, 10) ||
				got[len(got)-1] != strconv.FormatFloat(x.Score.Total, 'f', -1, 64) {
				t.Errorf("row %d = %v, want unit %s received %d total %v", i, got, x.Unit, x.Figures.Received, x.Score.Total)
			}
		}
		if rows[2][3] != "广州市天河区" {
			t.Errorf("the county's row is named %q", rows[2][3])
		}

		// A bad period: refused, nothing audited.
		n := auditCount(t, ta, county+"/2026-13", "assess.report", "")
		code, _ = b.get("/assess/export?period=2026-13")
		wantStatus(t, code, http.StatusBadRequest, "bad period")
		if auditCount(t, ta, county+"/2026-13", "assess.report", "") != n {
			t.Error("a refused export was audited")
		}
	})
}
