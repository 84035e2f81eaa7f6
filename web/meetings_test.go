package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"yipanqi"
	"yipanqi/meeting"
	"yipanqi/sqlstore/storetest"
)

// nextRow is the rotation's row marked as the next meeting: its year and province.
var nextRow = regexp.MustCompile(`<tr aria-current="true"><td class="num"><strong>(\d{4})</strong></td>\s*<td><strong>([^<]+)</strong>`)

// meetingID is the meeting page a redirect led to.
var meetingPath = regexp.MustCompile(`<form method="post" action="/\d+/meetings/(\d+)/minutes"`)

// storedMeetings are the meetings a node holds.
func storedMeetings(t *testing.T, ta *testApp) []*meeting.Meeting {
	t.Helper()
	ms, err := ta.db.Meetings(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// TestMeetingsPages: who sees 联席会议 and its forms; the rotation with the next meeting
// marked; a bad date or host refused next to its field with the input kept and nothing
// saved; a meeting, its minutes and resolutions recorded and audited.
func TestMeetingsPages(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		ta.addUser(t, "gd-admin", "44", yipanqi.RoleProvinceAdmin)
		ta.addUser(t, "gd-sup", "44", yipanqi.RoleProvinceSupervisor)

		// A township worker has neither the entry nor the page; 婚育证明 is in their navigation.
		w := ta.browser(t)
		w.mustLogin("worker-a")
		_, home := w.get("/")
		wantContains(t, home, `>婚育证明</a>`)
		if strings.Contains(home, "联席会议") {
			t.Error("a township worker's navigation offers 联席会议")
		}
		code, _ := w.get("/meetings")
		wantStatus(t, code, http.StatusForbidden, "worker /meetings")

		// A county supervisor reads, without forms.
		c := ta.browser(t)
		c.mustLogin("county")
		code, body := c.get("/meetings")
		wantStatus(t, code, 200, "county /meetings")
		wantContains(t, body, `aria-current="page">联席会议`, "轮值召集省份", "尚未登记联席会议")
		if strings.Contains(body, "登记会议") {
			t.Error("a county supervisor is offered the form recording a meeting")
		}
		// The clock is in 2026: 广东 convenes it, by the plan's order.
		if m := nextRow.FindStringSubmatch(body); m == nil || m[1] != "2026" || m[2] != "广东" {
			t.Fatalf("next meeting = %v, want 2026 广东\n%s", m, body)
		}

		a := ta.browser(t)
		a.mustLogin("gd-admin")
		_, body = a.get("/meetings")
		wantContains(t, body, "登记联席会议", `id="f-held_on"`)
		// A date that does not exist, and a host outside the region: each next to its field,
		// what was typed kept, nothing saved.
		code, body = a.post("/meetings", url.Values{"csrf": {a.csrf()}, "held_on": {"2026-02-30"}, "host": {""},
			"place": {"广州"}, "agenda": {"审议年度协作工作报告"}})
		wantStatus(t, code, http.StatusUnprocessableEntity, "bad date")
		wantContains(t, body, `id="f-held_on-err"`, "会议日期“2026-02-30”无效", `value="2026-02-30"`, "审议年度协作工作报告", `value="广州"`)
		code, body = a.post("/meetings", url.Values{"csrf": {a.csrf()}, "held_on": {"2026-11-20"}, "host": {"11"},
			"agenda": {"审议年度协作工作报告"}})
		wantStatus(t, code, http.StatusUnprocessableEntity, "bad host")
		wantContains(t, body, `id="f-host-err"`, "不是泛珠三角区域的省份", "审议年度协作工作报告")
		code, body = a.post("/meetings", url.Values{"csrf": {a.csrf()}, "held_on": {"2026-11-20"}, "agenda": {"  "}})
		wantStatus(t, code, http.StatusUnprocessableEntity, "no agenda")
		wantContains(t, body, `id="f-agenda-err"`, "会议议程不能为空", `value="2026-11-20"`)
		if ms := storedMeetings(t, ta); len(ms) != 0 {
			t.Fatalf("refused forms saved %d meetings", len(ms))
		}

		// A good one: the host by the rotation.
		code, body = a.post("/meetings", url.Values{"csrf": {a.csrf()}, "held_on": {"2026-11-20"}, "place": {"广州"},
			"agenda": {"一、审议年度协作工作报告\n二、婚育证明互认"}})
		wantStatus(t, code, 200, "record a meeting")
		wantContains(t, body, "会议已登记", "2026年泛珠三角区域联席会议（广东召集）", "2026-11-20", "婚育证明互认")
		ms := storedMeetings(t, ta)
		if len(ms) != 1 || ms[0].Host != "44" || ms[0].Year != 2026 || ms[0].CreatedBy != "gd-admin" {
			t.Fatalf("stored meetings = %+v", ms)
		}
		mid := strconv.FormatInt(ms[0].ID, 10)
		if m := meetingPath.FindStringSubmatch(body); m == nil || m[1] != mid {
			t.Fatalf("the redirect did not lead to meeting %s", mid)
		}
		if n := auditCount(t, ta, "meeting/"+mid, "meeting.create", "gd-admin"); n != 1 {
			t.Errorf("meeting.create entries = %d", n)
		}

		// Minutes: empty refused next to the field; then saved.
		code, body = a.post("/meetings/"+mid+"/minutes", url.Values{"csrf": {a.csrf()}, "minutes": {" "}})
		wantStatus(t, code, http.StatusUnprocessableEntity, "empty minutes")
		wantContains(t, body, `id="f-minutes-err"`, "会议纪要不能为空")
		code, body = a.post("/meetings/"+mid+"/minutes", url.Values{"csrf": {a.csrf()}, "minutes": {"会议由广东省主持，十一省区代表出席。"}})
		wantStatus(t, code, 200, "minutes")
		wantContains(t, body, "会议纪要已保存", "十一省区代表出席")

		// A resolution with the lead as its own counterpart: refused, nothing saved.
		code, body = a.post("/meetings/"+mid+"/resolutions", url.Values{"csrf": {a.csrf()}, "text": {"推进婚育证明电子互认"},
			"lead": {"44"}, "counterpart": {"44"}})
		wantStatus(t, code, http.StatusUnprocessableEntity, "counterpart = lead")
		wantContains(t, body, `id="f-counterpart-err"`, "须为另一个区域省份", "推进婚育证明电子互认")
		if ms := storedMeetings(t, ta); len(ms[0].Resolutions) != 0 {
			t.Fatalf("a refused resolution was saved: %+v", ms[0].Resolutions)
		}
		a.post("/meetings/"+mid+"/resolutions", url.Values{"csrf": {a.csrf()}, "text": {"推进婚育证明电子互认"},
			"lead": {"44"}, "counterpart": {"43"}})
		code, body = a.post("/meetings/"+mid+"/resolutions", url.Values{"csrf": {a.csrf()}, "text": {"统一流动人口服务结果通报格式"},
			"lead": {"43"}, "counterpart": {"45"}})
		wantStatus(t, code, 200, "resolutions")
		ms = storedMeetings(t, ta)
		if len(ms[0].Resolutions) != 2 {
			t.Fatalf("resolutions = %+v", ms[0].Resolutions)
		}
		r1 := ms[0].Resolutions[0]
		// Ours has a follow-up form; 湖南's is followed up on its node.
		wantContains(t, body, "推进婚育证明电子互认", "统一流动人口服务结果通报格式", "由湖南牵头", `id="follow-`+strconv.FormatInt(r1.ID, 10)+`"`)

		// Following up without detail: the error next to the field. This node has no engine,
		// so a complete form is refused above the form; nothing is linked.
		fid := "f-r" + strconv.FormatInt(r1.ID, 10)
		follow := "/meetings/" + mid + "/resolutions/" + strconv.FormatInt(r1.ID, 10) + "/follow"
		code, body = a.post(follow, url.Values{"csrf": {a.csrf()}, "topic": {"婚育证明电子互认"}, "detail": {""}})
		wantStatus(t, code, http.StatusUnprocessableEntity, "follow-up without detail")
		wantContains(t, body, `id="`+fid+`-detail-err"`, `value="婚育证明电子互认"`)
		code, body = a.post(follow, url.Values{"csrf": {a.csrf()}, "topic": {"婚育证明电子互认"}, "detail": {"两省商定互认"}})
		wantStatus(t, code, http.StatusUnprocessableEntity, "follow-up without an engine")
		wantContains(t, body, "未连接交换引擎", "两省商定互认")
		if ms := storedMeetings(t, ta); ms[0].Resolutions[0].CaseID != "" {
			t.Fatal("a resolution was linked without a case sent")
		}

		// The county reads the meeting, without forms; a missing meeting is a 404.
		code, body = c.get("/meetings/" + mid)
		wantStatus(t, code, 200, "county meeting page")
		wantContains(t, body, "十一省区代表出席", "推进婚育证明电子互认")
		if strings.Contains(body, `action="/44/meetings/`) {
			t.Error("a county supervisor is offered the meeting's forms")
		}
		code, _ = c.post("/meetings/"+mid+"/minutes", url.Values{"csrf": {c.csrf()}, "minutes": {"改写"}})
		wantStatus(t, code, http.StatusForbidden, "county posts minutes")
		code, _ = c.get("/meetings/99999")
		wantStatus(t, code, http.StatusNotFound, "missing meeting")

		// The province supervisor has the forms too; after this year's meeting, 2027 (福建) is next.
		s := ta.browser(t)
		s.mustLogin("gd-sup")
		_, body = s.get("/meetings/" + mid)
		wantContains(t, body, "保存纪要", "添加决议")
		ta.setClock(t, "2026-11-21 09:00")
		s.mustLogin("gd-sup") // the session ended with the months gone by
		_, body = s.get("/meetings")
		if m := nextRow.FindStringSubmatch(body); m == nil || m[1] != "2027" || m[2] != "福建" {
			t.Fatalf("next meeting after 2026's = %v, want 2027 福建", m)
		}
		wantContains(t, body, "2026-11-20 广东召集", "2（0）")
	})
}

// TestMeetingFollowUp: a resolution is followed up from the meeting page as a consult.case
// from 广东 to 湖南 through the exchange; the case is stored as sent, linked to the resolution,
// delivered to 湖南's node, and a second follow-up is refused.
func TestMeetingFollowUp(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		dsns := map[string]string{"44": dsn}
		if strings.HasPrefix(dsn, "sqlite:") {
			dsns["43"] = storetest.SQLiteDSN(t)
		} else {
			dsns["43"] = storetest.PostgresDSN(t)
		}
		rg := startRegion(t, dsns)
		gd, hn := rg.apps["44"], rg.apps["43"]
		gd.addUser(t, "gd-admin", "44", yipanqi.RoleProvinceAdmin)
		a := gd.browser(t)
		a.mustLogin("gd-admin")
		a.get("/meetings")
		held := rg.clock.Now().In(peopleZone).Format("2006-01-02")
		code, body := a.post("/meetings", url.Values{"csrf": {a.csrf()}, "held_on": {held}, "host": {"43"}, "agenda": {"证明互认"}})
		wantStatus(t, code, 200, "record a meeting")
		mid := meetingPath.FindStringSubmatch(body)[1]
		a.post("/meetings/"+mid+"/resolutions", url.Values{"csrf": {a.csrf()}, "text": {"推进婚育证明电子互认"},
			"lead": {"44"}, "counterpart": {"43"}})
		x := storedMeetings(t, gd)[0].Resolutions[0]
		follow := "/meetings/" + mid + "/resolutions/" + strconv.FormatInt(x.ID, 10) + "/follow"
		code, body = a.post(follow, url.Values{"csrf": {a.csrf()}, "topic": {"婚育证明电子互认"},
			"detail": {"联席会议决议推进婚育证明电子互认，请湖南省提出意见。"}, "proposal": {"先在两省试点"}})
		wantStatus(t, code, 200, "follow-up")
		wantContains(t, body, "省际会商案件已发出", "省际会商案件</a>")
		x = storedMeetings(t, gd)[0].Resolutions[0]
		if x.CaseID == "" || x.CaseState != yipanqi.CaseSent && x.CaseState != yipanqi.CaseDelivered {
			t.Fatalf("resolution after the follow-up: case %q, state %q", x.CaseID, x.CaseState)
		}
		scope, _ := yipanqi.NewScope("44")
		cs, err := gd.db.FindCase(context.Background(), scope, x.CaseID)
		if err != nil || cs.Type != "consult.case" || cs.Direction != yipanqi.Outgoing || cs.OrgUnit != "44" || cs.PeerUnit != "43" {
			t.Fatalf("the follow-up case: %+v, %v", cs, err)
		}
		if !strings.Contains(string(cs.Data), "先在两省试点") {
			t.Errorf("the case's request lacks the proposal: %s", cs.Data)
		}
		if n := auditCount(t, gd, x.CaseID, "meeting.followup", "gd-admin"); n != 1 {
			t.Errorf("meeting.followup entries = %d", n)
		}
		waitFor(t, "湖南 to receive the consult case", func() bool {
			return caseState(t, hn.db, "43", x.CaseID) == yipanqi.CaseDelivered
		})
		// The case page opens from the meeting page's link.
		code, body = a.get("/cases/" + x.CaseID)
		wantStatus(t, code, 200, "the consult case")
		wantContains(t, body, "省际会商", "婚育证明电子互认")
		// Once followed up, the form is gone and a second post sends nothing.
		_, body = a.get("/meetings/" + mid)
		if strings.Contains(body, `id="follow-`) {
			t.Error("the follow-up form is still offered")
		}
		code, body = a.post(follow, url.Values{"csrf": {a.csrf()}, "topic": {"再次"}, "detail": {"再次"}})
		wantStatus(t, code, http.StatusUnprocessableEntity, "second follow-up")
		wantContains(t, body, "该决议已由会商案件")
		if n := countCases(t, gd, "44"); n != 1 {
			t.Errorf("44 holds %d cases, want the one consult case", n)
		}
	})
}
