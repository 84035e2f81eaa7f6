package demo

import (
	"encoding/json"
	"testing"

	"yipanqi"
	"yipanqi/sqlstore/storetest"
)

// TestTrafficFollowsCatalog: every request and every reply the demo's traffic can send is
// one the catalog accepts, and the not_found replies give each of the catalog's reasons.
func TestTrafficFollowsCatalog(t *testing.T) {
	cat := yipanqi.Catalog()
	ct, err := cat.Type("verify.identity")
	if err != nil {
		t.Fatal(err)
	}
	reasons := notFoundReasons()
	if len(reasons) == 0 {
		t.Fatal("the catalog gives no not_found reasons")
	}
	id := storetest.IDNumber("430102", yipanqi.Date{Year: 1988, Month: 3, Day: 9}, 17)
	targets := []struct {
		name string
		t    target
	}{
		{"full", target{id, "张三", "430102001001", "湖南省长沙市芙蓉区五一大道18号", "440106001"}},
		{"no house number", target{id, "李四", "430102", "湖南省长沙市芙蓉区", "440106"}},
		{"no address", target{id, "王五", "430102", "", "440106"}},
	}
	for _, tt := range targets {
		t.Run(tt.name, func(t *testing.T) {
			fields, err := requestFields(tt.t)
			if err != nil {
				t.Fatal(err)
			}
			if err := ct.ValidateRequest(fields); err != nil {
				t.Fatalf("request %s: %v", fields, err)
			}
			var req map[string]string
			if err := json.Unmarshal(fields, &req); err != nil {
				t.Fatal(err)
			}
			given := map[string]bool{}
			replies := map[string]bool{}
			for roll := range 100 {
				reply, raw, err := replyFor(roll, reasons, req)
				if err != nil {
					t.Fatal(err)
				}
				if err := ct.ValidateReply(reply, raw); err != nil {
					t.Fatalf("roll %d: reply %s %s: %v", roll, reply, raw, err)
				}
				replies[reply] = true
				if reply == "not_found" {
					var f map[string]string
					if err := json.Unmarshal(raw, &f); err != nil {
						t.Fatal(err)
					}
					given[f[yipanqi.ReasonField]] = true
				}
			}
			for _, r := range ct.ReplyValues() {
				if !replies[r] {
					t.Errorf("the traffic never replies %s", r)
				}
			}
			for _, o := range reasons {
				if !given[o.Value] {
					t.Errorf("no not_found reply gives the reason %s (%s)", o.Value, o.Label)
				}
			}
		})
	}
}
