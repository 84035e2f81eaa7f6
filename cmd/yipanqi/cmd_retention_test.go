package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/sqlstore"
	"yipanqi/sqlstore/storetest"
)

// retentionFixture stores a case closed in 2022 (personal data in it) and one still open
// from then, and returns their ids.
func retentionFixture(t *testing.T, dsn string) (closed, open string) {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	at := time.Date(2022, 3, 2, 10, 0, 0, 0, yipanqi.Shanghai)
	db.Now = func() time.Time { return at }
	var ids []string
	for _, person := range []string{"440106199001011234", "440106199202022345"} {
		c := &yipanqi.Case{Type: "verify.identity", Direction: yipanqi.Incoming, OrgUnit: "440106001", State: yipanqi.CaseDelivered,
			PersonIDNumber: person, Data: []byte(`{"name":"张三"}`), ReceivedAt: at}
		if err := db.CreateCase(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	if err := db.InTx(context.Background(), func(tx *sqlstore.Tx) error {
		_, err := tx.SetCaseState(context.Background(), ids[0], yipanqi.Incoming, yipanqi.CaseClosed)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return ids[0], ids[1]
}

func TestRetentionCLI(t *testing.T) {
	now := time.Date(2026, 6, 1, 9, 0, 0, 0, yipanqi.Shanghai)
	cutoff := now.AddDate(0, 0, -1095).Format("2006-01-02 15:04:05") // 2024 is a leap year: 2023-06-02
	for name, dsn := range storetest.DSNs(t) {
		t.Run(name, func(t *testing.T) {
			closed, open := retentionFixture(t, dsn)
			// 1,600 days ago (2022-01) the case had not yet been received: nothing is due.
			code, out, errOut := cliRun(t, now, nil, "retention", "--db", dsn, "--days", "1600", "--dry-run")
			if code != 0 || !strings.Contains(out, "将匿名化案件 0 件") {
				t.Fatalf("dry run, 1600 days: exit %d %q %q", code, out, errOut)
			}
			code, out, errOut = cliRun(t, now, nil, "retention", "--db", dsn, "--dry-run")
			if code != 0 || !strings.Contains(out, "保存期限 1095 天，截止 "+cutoff) || !strings.Contains(out, "将匿名化案件 1 件") {
				t.Fatalf("dry run: exit %d %q %q", code, out, errOut)
			}
			code, out, errOut = cliRun(t, now, nil, "retention", "--db", dsn)
			if code != 0 || !strings.Contains(out, "已匿名化案件 1 件") {
				t.Fatalf("run: exit %d %q %q", code, out, errOut)
			}
			code, out, errOut = cliRun(t, now, nil, "retention", "--db", dsn, "--days", "1095")
			if code != 0 || !strings.Contains(out, "已匿名化案件 0 件") {
				t.Fatalf("second run: exit %d %q %q", code, out, errOut)
			}
			db, err := sqlstore.Open(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			scope, _ := yipanqi.NewScope("440106")
			for id, want := range map[string]bool{closed: true, open: false} {
				c, err := db.FindCase(context.Background(), scope, id)
				if err != nil {
					t.Fatal(err)
				}
				if got := c.PersonIDNumber == "" && !strings.Contains(string(c.Data), "张三"); got != want {
					t.Errorf("case %s (%s): anonymised %v, want %v: %q %s", id, c.State, got, want, c.PersonIDNumber, c.Data)
				}
			}
		})
	}
}

func TestRetentionCLIBadFlags(t *testing.T) {
	dsn := storetest.SQLiteDSN(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--days", "0"}, "--days"},
		{[]string{"--days", "-5"}, "--days"},
		{[]string{"--days", "三年"}, "days"},
		{[]string{"--batch", "0"}, "--batch"},
		{[]string{"--color"}, "color"},
		{[]string{"now"}, "多余的参数“now”"},
	} {
		code, out, errOut := cliRun(t, time.Time{}, nil, append([]string{"retention", "--db", dsn}, tt.args...)...)
		if code != 2 || !strings.Contains(errOut, tt.want) || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 naming %q", tt.args, code, out, errOut, tt.want)
		}
	}
}

// The daily loop: off with 0 days; with 1095 it anonymises at once, logs the numbers and no
// personal data, and stops when its context ends.
func TestRetentionDaily(t *testing.T) {
	dsn := storetest.SQLiteDSN(t)
	closed, _ := retentionFixture(t, dsn)
	db, err := sqlstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := func() time.Time { return time.Date(2026, 6, 1, 9, 0, 0, 0, yipanqi.Shanghai) }
	scope, _ := yipanqi.NewScope("440106")
	anonymised := func() bool {
		c, err := db.FindCase(context.Background(), scope, closed)
		if err != nil {
			t.Fatal(err)
		}
		return c.PersonIDNumber == ""
	}
	var log bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&log, nil))
	runRetentionDaily(context.Background(), db, 0, time.Hour, now, logger) // returns at once
	if anonymised() || log.Len() != 0 {
		t.Fatalf("days 0 changed something: %q", log.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { runRetentionDaily(ctx, db, 1095, time.Hour, now, logger); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for !anonymised() {
		if time.Now().After(deadline) {
			t.Fatal("the daily run did not anonymise the closed case")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	if out := log.String(); !strings.Contains(out, "cases=1") || strings.Contains(out, "440106199001011234") || strings.Contains(out, "张三") {
		t.Errorf("log: %q", out)
	}
}

// serve refuses a negative or non-numeric [retention] days, naming the key (a wrong type is
// the TOML loader's message, which names the key in its own words).
func TestServeRetentionConfig(t *testing.T) {
	dir := t.TempDir()
	good := serveConf(serveKeys(t, dir))
	for _, days := range []string{"-1", "\"三年\""} {
		conf := writeConf(t, t.TempDir(), strings.Replace(good, "[keys]", "[retention]\ndays = "+days+"\n\n[keys]", 1))
		var out, errOut syncBuffer
		code := Main(context.Background(), realEnv(&out, &errOut), []string{"serve", "--config", conf})
		if msg := errOut.String(); code == 0 || !strings.Contains(msg, "retention.days") || strings.Count(msg, "\n") != 1 {
			t.Errorf("days = %s: exit %d, stderr %q; want one line naming retention.days", days, code, msg)
		}
	}
}
