package web_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/web"
)

// fakeStore answers counts from a fixed table of cases.
type fakeStore struct {
	cases []yipanqi.Case
	dead  []*yipanqi.DeadLetter
	err   error
}

func (f *fakeStore) ListCases(_ context.Context, _ yipanqi.Scope, q yipanqi.CaseFilter) ([]*yipanqi.Case, int, error) {
	n := 0
	for _, c := range f.cases {
		if (q.Type == "" || c.Type == q.Type) && (q.Direction == "" || c.Direction == q.Direction) && (q.State == "" || c.State == q.State) {
			n++
		}
	}
	return nil, n, f.err
}

func (f *fakeStore) ExchangeStats(context.Context, time.Time) (yipanqi.ExchangeStats, error) {
	return yipanqi.ExchangeStats{OutboxDepth: 3, OldestUnsentAge: 42 * time.Second, DeadLetters: len(f.dead)}, f.err
}

func (f *fakeStore) DeadLetters(context.Context, int) ([]*yipanqi.DeadLetter, error) {
	return f.dead, f.err
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestStatusPageAndMetrics(t *testing.T) {
	out, in := yipanqi.Outgoing, yipanqi.Incoming
	store := &fakeStore{
		cases: []yipanqi.Case{
			{Type: "verify.identity", Direction: out, State: yipanqi.CaseReplied, PersonIDNumber: "11010519491231002X"},
			{Type: "verify.identity", Direction: out, State: yipanqi.CaseReplied},
			{Type: "verify.identity", Direction: out, State: yipanqi.CaseSent},
			{Type: "verify.identity", Direction: in, State: yipanqi.CaseDelivered},
			{Type: "consult.case", Direction: out, State: yipanqi.CaseSent},
		},
		dead: []*yipanqi.DeadLetter{{MessageID: "0190-x", Source: "35", Subject: "ypq.44.35.verify.identity",
			Reason: "受理单位“449999”不是本节点 44 的机构", Body: []byte(`{"name":"张三"}`), ReceivedAt: time.Now()}},
	}
	n := &web.Node{Code: "44", Name: "广东", Store: store, Types: []string{"verify.identity", "verify.urgent", "consult.case"},
		InboxLag: func(context.Context) (int64, error) { return 7, nil }}
	h := web.Handler(n)

	code, page := get(t, h, "/")
	if code != 200 {
		t.Fatalf("/: %d", code)
	}
	for _, want := range []string{"广东（44）节点状态", "身份住址核实", "省际会商", "3 条", "7 条", "共 1 条", "系统管理 › 死信"} {
		if !strings.Contains(page, want) {
			t.Errorf("status page: no %q", want)
		}
	}
	// The public page counts dead letters; their reasons and subjects are the admin's.
	for _, secret := range []string{"11010519491231002X", "张三", "449999", "ypq.44.35.verify.identity", "0190-x"} {
		if strings.Contains(page, secret) {
			t.Errorf("status page shows personal data %q", secret)
		}
	}

	_, metrics := get(t, h, "/metrics")
	for _, want := range []string{
		`yipanqi_cases{direction="out",node="44",state="replied",type="verify.identity"} 2`,
		`yipanqi_cases{direction="out",node="44",state="sent",type="verify.identity"} 1`,
		`yipanqi_cases{direction="in",node="44",state="delivered",type="verify.identity"} 1`,
		`yipanqi_outbox_depth{node="44"} 3`,
		`yipanqi_outbox_oldest_unsent_seconds{node="44"} 42`,
		`yipanqi_inbox_lag_messages{node="44"} 7`,
		`yipanqi_dead_letters{node="44"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics: no %s in:\n%s", want, metrics)
		}
	}
	if strings.Contains(metrics, "11010519491231002X") {
		t.Error("metrics carry an ID number")
	}

	if code, body := get(t, h, "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
}

func TestHealthzReportsWhatIsDown(t *testing.T) {
	n := &web.Node{Code: "44", Name: "广东", Store: &fakeStore{err: errors.New("database is locked")},
		NATS: func(context.Context) error {
			return yipanqi.Errorf(yipanqi.EINTERNAL, "与 NATS 服务器的连接状态为 RECONNECTING")
		}}
	code, body := get(t, web.Handler(n), "/healthz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "数据库不可用") || !strings.Contains(body, "NATS 不可用：与 NATS 服务器的连接状态为 RECONNECTING") {
		t.Errorf("/healthz: %d %q; want 503 naming the store and NATS", code, body)
	}
	_, page := get(t, web.Handler(n), "/")
	if !strings.Contains(page, "不可用") {
		t.Errorf("status page does not say what is down:\n%s", page)
	}
}
