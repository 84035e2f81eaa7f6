package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"yipanqi"
	"yipanqi/exchange"
	"yipanqi/sqlstore/storetest"
)

// TestDeadLetterReasonsStayPrivate: messages that carry an ID number where it does not belong
// are dead-lettered by the engine with reasons that do not quote it; the public status page
// shows the dead letters' count only, and the administrator's list masks an ID number even in
// a reason stored before reasons stopped quoting values.
func TestDeadLetterReasonsStayPrivate(t *testing.T) {
	rg := startRegion(t, map[string]string{"44": storetest.SQLiteDSN(t), "43": storetest.SQLiteDSN(t)})
	ta := rg.apps["44"]
	ctx := context.Background()
	id := rg.person.IDNumber
	envelope := func(subject, number string) (string, string) {
		msgID := uuid.Must(uuid.NewV7()).String()
		return msgID, fmt.Sprintf(`{"data":{"fields":{"id_number":%s},"from_unit":"%s"},"datacontenttype":"application/json",`+
			`"id":"%s","source":"ypq:node:43","specversion":"1.0","subject":"%s","time":"%s","type":"cn.ypq.verify.identity.v1",`+
			`"ypqdest":"44","ypqkeyid":"43-00000000","ypqsig":"AAAA","ypqunit":"%s"}`,
			number, hometown, msgID, subject, time.Now().UTC().Format(time.RFC3339Nano), residence)
	}
	deliver := func(msgID, body string) {
		t.Helper()
		err := rg.nodes["44"].Handle(ctx, exchange.Delivery{Subject: exchange.Subject("44", "43", "verify.identity"),
			Src: "43", Dst: "44", Type: "verify.identity", MsgID: msgID, Body: []byte(body), NumDelivered: 1})
		if err != nil {
			t.Fatal(err)
		}
	}
	// The ID number as a JSON number, and as the case's subject.
	deliver(envelope(uuid.Must(uuid.NewV7()).String(), id[:17]))
	deliver(envelope(id, `"`+id+`"`))
	// A reason kept by an older build, the number glued to other text.
	if _, err := ta.db.DeadLetter(ctx, &yipanqi.DeadLetter{MessageID: "old-1", Source: "43", Subject: "ypq.44.43.verify.identity",
		Reason: "字段 id_number：值id" + id + "abc 无效", Body: []byte(`{}`), ReceivedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	dls, err := ta.db.DeadLetters(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) != 3 {
		t.Fatalf("dead letters = %d, want 3", len(dls))
	}
	for _, d := range dls {
		if d.MessageID != "old-1" && (strings.Contains(d.Reason, id) || strings.Contains(d.Reason, id[:17])) {
			t.Errorf("the stored reason quotes the ID number: %q", d.Reason)
		}
	}
	secret := func(where, body string) {
		t.Helper()
		for _, v := range []string{id, id[:17], id[6:]} {
			if strings.Contains(body, v) {
				t.Errorf("%s shows %q", where, v)
			}
		}
	}

	// The public page: counts only, no sign-in.
	resp, err := http.Get(rg.srv.URL + "/44/status/")
	if err != nil {
		t.Fatal(err)
	}
	var page strings.Builder
	_, _ = fmt.Fprint(&page, readAll(t, resp))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/status/: %d", resp.StatusCode)
	}
	wantContains(t, page.String(), "共 3 条", "系统管理 › 死信")
	secret("the status page", page.String())
	for _, d := range dls {
		if strings.Contains(page.String(), d.Reason) {
			t.Errorf("the status page shows the reason %q", d.Reason)
		}
	}

	// The administrator's list: the reasons, masked.
	addAdmin(t, ta)
	b := ta.browser(t)
	b.mustLogin("admin")
	_, body := b.get("/admin/deadletters")
	wantContains(t, body, "值id"+id[:6]+"********"+id[14:]+"abc")
	secret("the dead letters' list", body)
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return sb.String()
}
