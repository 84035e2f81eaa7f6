package web_test

import (
	"net/http"
	"strings"
	"testing"

	"yipanqi"
	"yipanqi/sqlstore/storetest"
)

// TestAPICaseFlow plays a verify.identity case through the API on two nodes over NATS: started
// at the residence, in the hometown's to-do list, answered there (a wrong reply first), the
// answer read at the residence.
func TestAPICaseFlow(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		dsns := map[string]string{"44": dsn}
		if strings.HasPrefix(dsn, "sqlite:") {
			dsns["43"] = storetest.SQLiteDSN(t)
		} else {
			dsns["43"] = storetest.PostgresDSN(t)
		}
		rg := startRegion(t, dsns)
		res, home := rg.apps["44"], rg.apps["43"]
		resTok, _ := apiToken(t, res, "worker-a")
		homeTok, _ := apiToken(t, home, "home-worker")

		code, body := res.call(t, resTok, "POST", "/api/v1/cases",
			`{"type":"verify.identity","peer_unit":"`+hometown+`","fields":{"id_number":"`+rg.person.IDNumber+`","name":"测试乙","reason":"办理居住证核实户籍"}}`)
		if code != http.StatusCreated || body["state"] == nil || body["direction"] != "out" {
			t.Fatalf("start: %d %v", code, body)
		}
		caseID := body["id"].(string)
		waitFor(t, "the hometown to receive the case", func() bool { return caseState(t, home.db, "43", caseID) == yipanqi.CaseDelivered })

		code, todo := home.call(t, homeTok, "GET", "/api/v1/todo", "")
		cases, _ := todo["cases"].([]any)
		if code != http.StatusOK || len(cases) != 1 || cases[0].(map[string]any)["id"] != caseID {
			t.Fatalf("hometown to-do: %d %v", code, todo)
		}
		// A reply the catalog refuses: 422 naming the field, nothing changes.
		code, body = home.call(t, homeTok, "POST", "/api/v1/cases/"+caseID+"/reply", `{"reply":"not_found","fields":{}}`)
		if c, field, _ := errorOf(body); code != http.StatusUnprocessableEntity || c != "invalid" || field != "fields.reason" {
			t.Fatalf("reply without a reason: %d %v", code, body)
		}
		if st := caseState(t, home.db, "43", caseID); st != yipanqi.CaseDelivered {
			t.Fatalf("a refused reply changed the case to %s", st)
		}
		code, body = home.call(t, homeTok, "POST", "/api/v1/cases/"+caseID+"/reply", `{"reply":"not_found","fields":{"reason":"no_record","note":"已查户籍底册"}}`)
		if code != http.StatusOK || body["state"] != string(yipanqi.CaseReplied) {
			t.Fatalf("reply: %d %v", code, body)
		}
		// Answered once is answered: a second reply conflicts.
		if code, body := home.call(t, homeTok, "POST", "/api/v1/cases/"+caseID+"/reply", `{"reply":"not_found","fields":{"reason":"no_record"}}`); code != http.StatusConflict {
			t.Fatalf("second reply: %d %v", code, body)
		}
		waitFor(t, "the reply at the residence", func() bool { return caseState(t, res.db, "44", caseID) == yipanqi.CaseReplied })
		code, body = res.call(t, resTok, "GET", "/api/v1/cases/"+caseID, "")
		if code != http.StatusOK || body["state"] != string(yipanqi.CaseReplied) || len(body["timeline"].([]any)) < 2 {
			t.Fatalf("the residence's case: %d %v", code, body)
		}
	})
}

// TestAPIReissueGivesNotice: a cert.reissue started through the API gives the person the
// 《限期补办通知书》 as the page does — the notice is on the case's timeline.
func TestAPIReissueGivesNotice(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		dsns := map[string]string{"44": dsn}
		if strings.HasPrefix(dsn, "sqlite:") {
			dsns["43"] = storetest.SQLiteDSN(t)
		} else {
			dsns["43"] = storetest.PostgresDSN(t)
		}
		rg := startRegion(t, dsns)
		res := rg.apps["44"]
		tok, _ := apiToken(t, res, "worker-a")
		code, body := res.call(t, tok, "POST", "/api/v1/cases",
			`{"type":"cert.reissue","peer_unit":"`+hometown+`","fields":{"id_number":"`+rg.person.IDNumber+`","name":"`+rg.person.Name+`","post_to":"`+townshipA+`"}}`)
		if code != http.StatusCreated {
			t.Fatalf("start: %d %v", code, body)
		}
		code, body = res.call(t, tok, "GET", "/api/v1/cases/"+body["id"].(string), "")
		timeline, _ := body["timeline"].([]any)
		found := false
		for _, ev := range timeline {
			if m, _ := ev.(map[string]any); m["kind"] == yipanqi.CaseEventNoticeGiven {
				found = true
			}
		}
		if code != http.StatusOK || !found {
			t.Fatalf("the case started through the API: %d, timeline %v; want a %s event", code, timeline, yipanqi.CaseEventNoticeGiven)
		}
	})
}
