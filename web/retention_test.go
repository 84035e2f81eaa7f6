package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"yipanqi"
)

// TestAnonymisedCasePage: a case the retention run anonymised still opens, in the list and on
// its page, says so, and shows none of the personal data it held.
func TestAnonymisedCasePage(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		ctx := context.Background()
		c := &yipanqi.Case{Type: "verify.identity", Direction: yipanqi.Incoming, OrgUnit: townshipA, PeerNode: "43",
			PeerUnit: "430524101", PersonIDNumber: "430524197708080078", State: yipanqi.CaseClosed,
			Data: []byte(`{"id_number":"430524197708080078","name":"测试姓名"}`)}
		if err := ta.db.CreateCase(ctx, c); err != nil {
			t.Fatal(err)
		}
		b := ta.browser(t)
		b.mustLogin("worker-a")
		if _, body := b.get("/cases/" + c.ID); !strings.Contains(body, "测试姓名") {
			t.Fatalf("before the retention run the case page lacks its data:\n%s", body)
		}
		r, err := ta.db.ApplyRetention(ctx, ta.clock.Now().Add(24*time.Hour), 100)
		if err != nil || r.Cases != 1 {
			t.Fatalf("retention: %+v, %v; want one case anonymised", r, err)
		}
		code, body := b.get("/cases/" + c.ID)
		if code != 200 || !strings.Contains(body, "已按保存期限匿名化") {
			t.Fatalf("anonymised case page: %d\n%s", code, body)
		}
		for _, personal := range []string{"测试姓名", "430524197708080078"} {
			if strings.Contains(body, personal) {
				t.Fatalf("the anonymised case page still shows %q", personal)
			}
		}
		if code, list := b.get("/cases"); code != 200 || !strings.Contains(list, c.ID) {
			t.Fatalf("case list after anonymising: %d", code)
		}
	})
}
