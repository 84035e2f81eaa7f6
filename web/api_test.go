package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/sqlstore"
	"yipanqi/sqlstore/storetest"
	"yipanqi/web"
)

// apiToken gives a user of the fixture a token and returns it.
func apiToken(t testing.TB, ta *testApp, user string) (string, *sqlstore.APIToken) {
	t.Helper()
	token := "tok-" + user + "-" + strings.Repeat("x", 20)
	tok := &sqlstore.APIToken{TokenHash: sha256Hex(token), UserID: ta.users[user].ID, Label: "测试"}
	if err := ta.db.CreateAPIToken(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	return token, tok
}

// call makes an API request with the token ("" for none) and decodes the JSON answer.
func (ta *testApp) call(t *testing.T, token, method, path, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, ta.srv.URL+ta.base+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s %s: Content-Type %q", method, path, ct)
	}
	if len(resp.Cookies()) > 0 {
		t.Fatalf("%s %s set a cookie", method, path)
	}
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp.StatusCode, out
}

func errorOf(m map[string]any) (code, field, msg string) {
	e, _ := m["error"].(map[string]any)
	code, _ = e["code"].(string)
	field, _ = e["field"].(string)
	msg, _ = e["message"].(string)
	return
}

// apiCases gives townships A and B an incoming case each about a person, and returns their ids.
func apiCases(t *testing.T, ta *testApp) (caseA, caseB string) {
	t.Helper()
	ctx := context.Background()
	for _, c := range []*yipanqi.Case{
		{Type: "verify.identity", Direction: yipanqi.Incoming, OrgUnit: townshipA, PeerNode: "35", PeerUnit: "350102",
			PersonIDNumber: "35010219900101123X", State: yipanqi.CaseDelivered, Data: json.RawMessage(`{"id_number":"35010219900101123X"}`),
			DueAt: ta.clock.Now().Add(72 * time.Hour)},
		{Type: "verify.identity", Direction: yipanqi.Incoming, OrgUnit: townshipB, PeerNode: "35", PeerUnit: "350102",
			PersonIDNumber: "350102199001011256", State: yipanqi.CaseDelivered},
	} {
		if err := ta.db.CreateCase(ctx, c); err != nil {
			t.Fatal(err)
		}
		if c.OrgUnit == townshipA {
			caseA = c.ID
		} else {
			caseB = c.ID
		}
	}
	return caseA, caseB
}

func TestAPITokens(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		token, tok := apiToken(t, ta, "worker-a")
		for name, tk := range map[string]string{"missing": "", "wrong": token + "x"} {
			code, body := ta.call(t, tk, "GET", "/api/v1/todo", "")
			if c, _, msg := errorOf(body); code != http.StatusUnauthorized || c != "unauthorized" || msg == "" {
				t.Fatalf("%s token: %d %v", name, code, body)
			}
		}
		// A session cookie is no token: a signed-in browser gets 401 from the API.
		b := ta.browser(t)
		b.mustLogin("worker-a")
		if code, _ := b.get("/api/v1/todo"); code != http.StatusUnauthorized {
			t.Fatalf("cookie on the API: %d", code)
		}
		if code, body := ta.call(t, token, "GET", "/api/v1/todo", ""); code != http.StatusOK {
			t.Fatalf("good token: %d %v", code, body)
		}
		if err := ta.db.RevokeAPIToken(context.Background(), tok.ID); err != nil {
			t.Fatal(err)
		}
		if code, body := ta.call(t, token, "GET", "/api/v1/todo", ""); code != http.StatusUnauthorized {
			t.Fatalf("revoked token: %d %v", code, body)
		}
	})
}

func TestAPIScope(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		token, _ := apiToken(t, ta, "worker-a")
		caseA, caseB := apiCases(t, ta)

		code, todo := ta.call(t, token, "GET", "/api/v1/todo", "")
		cases, _ := todo["cases"].([]any)
		if code != http.StatusOK || len(cases) != 1 || cases[0].(map[string]any)["id"] != caseA {
			t.Fatalf("todo: %d %v", code, todo)
		}
		if c := cases[0].(map[string]any); c["person_id_number_masked"] != web.MaskIDNumber("35010219900101123X") || c["person_id_number"] != nil {
			t.Fatalf("a list shows the ID number unmasked: %v", c)
		}

		// Another township's case does not exist for this token.
		code, body := ta.call(t, token, "GET", "/api/v1/cases/"+caseB, "")
		if c, _, _ := errorOf(body); code != http.StatusNotFound || c != "not_found" {
			t.Fatalf("other township's case: %d %v", code, body)
		}
		code, body = ta.call(t, token, "POST", "/api/v1/cases/"+caseB+"/reply", `{"reply":"confirmed","fields":{}}`)
		if code != http.StatusNotFound {
			t.Fatalf("reply to the other township's case: %d %v", code, body)
		}
		code, body = ta.call(t, token, "GET", "/api/v1/cases/"+caseA, "")
		if code != http.StatusOK || body["id"] != caseA || body["person_id_number"] != "35010219900101123X" || body["timeline"] == nil {
			t.Fatalf("own case: %d %v", code, body)
		}
		views := auditEntries(t, ta.db, "case.view")
		if len(views) != 1 || views[0].Actor != "worker-a" || views[0].Object != caseA {
			t.Fatalf("case.view entries = %+v", views)
		}
		// The county supervisor sees both.
		county, _ := apiToken(t, ta, "county")
		if code, _ := ta.call(t, county, "GET", "/api/v1/cases/"+caseB, ""); code != http.StatusOK {
			t.Fatalf("county on township B's case: %d", code)
		}
	})
}

func TestAPIStartCaseInvalid(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		token, _ := apiToken(t, ta, "worker-a")
		ctx := context.Background()
		count := func() int {
			_, n, err := ta.db.ListCases(ctx, storetest.MustScope(t, "44"), yipanqi.CaseFilter{})
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		for _, tt := range []struct {
			name, body string
			status     int
			field      string
		}{
			{"missing field", `{"type":"verify.identity","peer_unit":"350102","fields":{}}`, 422, "fields.id_number"},
			{"bad ID number", `{"type":"verify.identity","peer_unit":"350102","fields":{"id_number":"350102199001011230","name":"王五","hukou_code":"350102"}}`, 422, "fields.id_number"},
			{"unknown type", `{"type":"no.such.type","peer_unit":"350102","fields":{}}`, 422, "type"},
			{"bad addressee", `{"type":"verify.identity","peer_unit":"35","fields":{}}`, 422, "peer_unit"},
			{"not JSON", `{"type":`, 400, ""},
			{"unknown member", `{"type":"verify.identity","peer_unit":"350102","fields":{},"extra":1}`, 400, "extra"},
			{"wrong type", `{"type":"verify.identity","peer_unit":350102,"fields":{}}`, 400, "peer_unit"},
		} {
			code, body := ta.call(t, token, "POST", "/api/v1/cases", tt.body)
			c, field, msg := errorOf(body)
			if code != tt.status || c != "invalid" || field != tt.field || msg == "" {
				t.Errorf("%s: %d %v, want %d field %q", tt.name, code, body, tt.status, tt.field)
			}
		}
		if n := count(); n != 0 {
			t.Fatalf("refused requests stored %d cases", n)
		}
		// A regional observer may not start cases.
		hash, _ := web.HashPassword(password)
		obs := &yipanqi.User{Username: "observer", OrgUnit: "44", Role: yipanqi.RoleRegionalObserver, PasswordHash: hash}
		if err := ta.db.CreateUser(ctx, obs); err != nil {
			t.Fatal(err)
		}
		ta.users["observer"] = obs
		otok, _ := apiToken(t, ta, "observer")
		if code, body := ta.call(t, otok, "POST", "/api/v1/cases", `{"type":"verify.identity","peer_unit":"350102","fields":{}}`); code != http.StatusForbidden {
			t.Fatalf("observer starting a case: %d %v", code, body)
		}
	})
}

func TestAPIPeople(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		token, _ := apiToken(t, ta, "worker-a")
		pa, pb := storetest.NewPerson(1, townshipA), storetest.NewPerson(2, townshipB)
		storetest.MustImport(t, ta.db, pa, pb)

		code, body := ta.call(t, token, "POST", "/api/v1/people/search", `{"hukou_code":"`+pa.HukouCode[:2]+`"}`)
		people, _ := body["people"].([]any)
		if code != http.StatusOK || len(people) != 1 {
			t.Fatalf("search: %d %v", code, body)
		}
		line := people[0].(map[string]any)
		raw, _ := json.Marshal(body)
		if strings.Contains(string(raw), pa.IDNumber) || strings.Contains(string(raw), pa.Name) || line["id_number_masked"] != web.MaskIDNumber(pa.IDNumber) {
			t.Fatalf("search result not masked: %s", raw)
		}
		if n := len(auditEntries(t, ta.db, "people.search")); n != 1 {
			t.Fatalf("people.search entries = %d, want 1", n)
		}
		if code, body := ta.call(t, token, "POST", "/api/v1/people/search", `{}`); code != 422 {
			t.Fatalf("search without a condition: %d %v", code, body)
		}

		id := line["id"].(string)
		code, body = ta.call(t, token, "GET", "/api/v1/people/"+id, "")
		if code != http.StatusOK || body["id_number"] != pa.IDNumber || body["name"] != pa.Name {
			t.Fatalf("person: %d %v", code, body)
		}
		if e := auditEntries(t, ta.db, "person.view"); len(e) != 1 || e[0].Object != pa.IDNumber || e[0].Actor != "worker-a" {
			t.Fatalf("person.view entries = %+v", e)
		}
		// Township B's person by its id: not found for this token.
		tokB, _ := apiToken(t, ta, "worker-b")
		_, bodyB := ta.call(t, tokB, "POST", "/api/v1/people/search", `{"hukou_code":"`+pb.HukouCode[:2]+`"}`)
		idB := bodyB["people"].([]any)[0].(map[string]any)["id"].(string)
		if code, _ := ta.call(t, token, "GET", "/api/v1/people/"+idB, ""); code != http.StatusNotFound {
			t.Fatalf("other township's person: %d", code)
		}
		code, body = ta.call(t, token, "GET", "/api/v1/catalog", "")
		if types, _ := body["types"].([]any); code != http.StatusOK || len(types) != len(yipanqi.Catalog().Types()) {
			t.Fatalf("catalog: %d, %d types", code, len(types))
		}
	})
}

// TestOpenAPIMatchesRoutes: every operation of the API is in the OpenAPI document and every
// operation of the document is served (behind the token check), and nothing else.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	ta := startApp(t, storetest.SQLiteDSN(t), false)
	resp, err := http.Get(ta.srv.URL + "/44/api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("openapi.json: %d", resp.StatusCode)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Servers []struct{ URL string }                `json:"servers"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("openapi = %q, want 3.1", doc.OpenAPI)
	}
	// The server URL is the API's address on this node: the mount prefix and the API base,
	// so that the document's paths, resolved against it, reach the operations.
	if len(doc.Servers) != 1 || doc.Servers[0].URL != ta.base+"/api/v1" {
		t.Fatalf("servers = %+v, want one with url %s/api/v1", doc.Servers, ta.base)
	}
	docURL, _ := url.Parse(ta.srv.URL + "/44/api/openapi.json")
	server := docURL.ResolveReference(&url.URL{Path: doc.Servers[0].URL})
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" || method == "summary" || method == "description" {
				continue
			}
			documented = append(documented, strings.ToUpper(method)+" "+strings.TrimPrefix(server.Path, ta.base)+path)
			// Resolved against the server URL, the operation answers (behind the token check).
			req, _ := http.NewRequest(strings.ToUpper(method), server.String()+strings.ReplaceAll(path, "{id}", "1"), strings.NewReader("{}"))
			if resp, err := http.DefaultClient.Do(req); err != nil {
				t.Fatal(err)
			} else if resp.Body.Close(); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s %s%s without a token: %d, want 401", method, server, path, resp.StatusCode)
			}
		}
	}
	app, err := web.New(web.Config{Code: "44", Store: ta.db})
	if err != nil {
		t.Fatal(err)
	}
	served := app.APIRoutes()
	slices.Sort(documented)
	slices.Sort(served)
	for _, op := range served {
		if !slices.Contains(documented, op) {
			t.Errorf("%s is served but not in openapi.json", op)
		}
	}
	for _, op := range documented {
		if !slices.Contains(served, op) {
			t.Errorf("%s is in openapi.json but not served", op)
		}
		// And it answers: behind the token check, not 404 or 405.
		method, path, _ := strings.Cut(op, " ")
		path = strings.NewReplacer("{id}", "1").Replace(path)
		body := ""
		if method == "POST" {
			body = "{}"
		}
		if code, _ := ta.call(t, "", method, path, body); code != http.StatusUnauthorized {
			t.Errorf("%s without a token: %d, want 401", op, code)
		}
	}
	if len(served) == 0 {
		t.Fatal("no API routes")
	}
	// Every reference of the document resolves.
	resp2, err := http.Get(ta.srv.URL + "/44/api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	var whole any
	if err := json.NewDecoder(resp2.Body).Decode(&whole); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	refs := 0
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				refs++
				var at any = whole
				for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
					m, _ := at.(map[string]any)
					at = m[part]
				}
				if at == nil {
					t.Errorf("openapi.json: %s does not resolve", ref)
				}
			}
			for _, y := range x {
				walk(y)
			}
		case []any:
			for _, y := range x {
				walk(y)
			}
		}
	}
	walk(whole)
	if refs == 0 {
		t.Error("openapi.json has no references: the walk found nothing to check")
	}
	if code, _ := ta.call(t, "", "GET", "/api/v1/nothing", ""); code != http.StatusNotFound {
		t.Errorf("an undocumented path: %d, want 404", code)
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
