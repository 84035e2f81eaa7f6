package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"yipanqi"
	"yipanqi/sqlstore"
	"yipanqi/web"
)

// TestToken: a token added on the command line opens the API as its user until it is
// revoked; the database keeps only its hash.
func TestToken(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "node.db")
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.UpsertOrgUnits(ctx, []yipanqi.OrgUnit{{Code: "440106", Name: "天河区", Active: true}}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateUser(ctx, &yipanqi.User{Username: "robot", OrgUnit: "440106", Role: yipanqi.RoleCountySupervisor}); err != nil {
		t.Fatal(err)
	}
	app, err := web.New(web.Config{Code: "44", Store: db})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app)
	defer srv.Close()
	status := func(token string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/todo", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	code, out, errOut := cliRunStdin(t, "", "token", "add", "--db", dsn, "--user", "robot", "--label", "区县对接")
	token := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(token, "ypq_") || !strings.Contains(errOut, "只显示这一次") {
		t.Fatalf("token add: %d %q %q", code, out, errOut)
	}
	if got := status(token); got != http.StatusOK {
		t.Fatalf("the new token: %d", got)
	}
	toks, err := db.APITokens(ctx, mustUser(t, db, "robot").ID)
	if err != nil || len(toks) != 1 || toks[0].TokenHash == token || toks[0].TokenHash != web.APITokenHash(token) {
		t.Fatalf("stored tokens %+v, %v", toks, err)
	}
	code, out, _ = cliRunStdin(t, "", "token", "list", "--db", dsn, "--user", "robot")
	if code != 0 || !strings.Contains(out, "区县对接") || strings.Contains(out, token) {
		t.Fatalf("token list: %d %q", code, out)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"token", "add", "--db", dsn}, "--user：缺少"},
		{[]string{"token", "add", "--db", dsn, "--user", "nobody"}, "--user：没有用户“nobody”"},
		{[]string{"token", "revoke", "--db", dsn, "--id", "x"}, "--id：缺少或无效"},
		{[]string{"token", "revoke", "--db", dsn, "--id", "99"}, "--id：未找到令牌"},
	} {
		if code, _, errOut := cliRunStdin(t, "", tt.args...); code != 2 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: %d %q, want 2 and %q", tt.args, code, errOut, tt.want)
		}
	}
	id := strconv.FormatInt(toks[0].ID, 10)
	if code, out, errOut := cliRunStdin(t, "", "token", "revoke", "--db", dsn, "--id", id); code != 0 || !strings.Contains(out, "已吊销令牌 "+id) {
		t.Fatalf("revoke: %d %q %q", code, out, errOut)
	}
	if got := status(token); got != http.StatusUnauthorized {
		t.Fatalf("the revoked token: %d", got)
	}
	if code, _, errOut := cliRunStdin(t, "", "token", "revoke", "--db", dsn, "--id", id); code != 2 || !strings.Contains(errOut, "已于") {
		t.Fatalf("revoke again: %d %q", code, errOut)
	}
}

func mustUser(t *testing.T, db *sqlstore.DB, name string) *yipanqi.User {
	t.Helper()
	u, err := db.UserByName(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
