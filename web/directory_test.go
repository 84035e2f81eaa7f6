package web_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/sqlstore/storetest"
)

// directoryFixture: the storage suite's directory of 广东 and two contacts of 广西.
func directoryFixture(t *testing.T, ta *testApp) {
	t.Helper()
	ctx := context.Background()
	if err := ta.db.ReplaceProvinceDirectory(ctx, yipanqi.DirectoryVersion{Province: "44", Version: 3,
		UpdatedAt: time.Date(2026, 2, 1, 2, 0, 0, 0, time.UTC)}, storetest.DirectoryFixture()); err != nil {
		t.Fatal(err)
	}
	gx := []yipanqi.DirectoryEntry{
		{Kind: yipanqi.EntryContact, DivisionCode: "45", DivisionName: "广西壮族自治区", Name: "广西流动人口服务管理办公室",
			Role: yipanqi.RoleOfficeHead, PersonName: "黄某某", JobTitle: "主任", Phone: "0771-01000001"},
		{Kind: yipanqi.EntryContact, DivisionCode: "450103001", DivisionName: "某街道", Name: "某街道流动人口服务站",
			Role: yipanqi.RoleStaff, PersonName: "韦某某", Phone: "0771-01000002"},
	}
	if err := ta.db.ReplaceProvinceDirectory(ctx, yipanqi.DirectoryVersion{Province: "45", Version: 1}, gx); err != nil {
		t.Fatal(err)
	}
}

func TestDirectoryPublic(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ta := startApp(t, dsn, false)
		directoryFixture(t, ta)
		all := len(storetest.DirectoryFixture()) + 2

		b := ta.browser(t) // never signs in
		code, body := b.get("/directory")
		wantStatus(t, code, 200, "/directory without sign-in")
		wantContains(t, body, "泛珠三角区域流动人口服务管理名录", "广东省人口与计划生育条例", "天河区妇幼保健院",
			"共 "+strconv.Itoa(all)+" 件", "广东省通讯手册", "广西壮族自治区通讯手册", "第 3 版")
		if strings.Contains(body, "主导航") || strings.Contains(body, "退出") {
			t.Fatalf("the public directory shows the staff navigation:\n%s", body)
		}
		for _, tt := range []struct {
			query      string
			want, miss []string
		}{
			{"province=45", []string{"黄某某", "韦某某", "共 2 件"}, []string{"王某某", "天河区妇幼保健院"}},
			{"level=4", []string{"沙河街道流动人口服务管理站", "韦某某", "共 2 件"}, []string{"王某某", "黄某某"}},
			{"kind=institution", []string{"天河区妇幼保健院", "共 1 件"}, []string{"王某某", "条例"}},
			{"q=" + "妇幼", []string{"天河区妇幼保健院", "共 1 件"}, []string{"王某某"}},
			{"province=44&level=1&kind=contact", []string{"王某某", "陈某某", "共 2 件"}, []string{"李某某", "黄某某"}},
			{"q=100%25", []string{"100%试行", "共 1 件"}, []string{"广东省人口与计划生育条例"}},
		} {
			code, body := b.get("/directory?" + tt.query)
			wantStatus(t, code, 200, tt.query)
			wantContains(t, body, tt.want...)
			for _, m := range tt.miss {
				if strings.Contains(body, m) {
					t.Errorf("%s: the page shows %q", tt.query, m)
				}
			}
		}
		// A bad filter: the error next to its field, nothing listed.
		code, body = b.get("/directory?level=7")
		wantStatus(t, code, http.StatusUnprocessableEntity, "level=7")
		wantContains(t, body, `id="f-level-err"`, "层级 7 无效", `aria-describedby="f-level-err"`)
		if strings.Contains(body, "王某某") {
			t.Error("a bad filter lists entries")
		}

		// The handbook: A4, regulations, institutions, contacts province down, by duty role.
		code, body = b.get("/directory/handbook/44")
		wantStatus(t, code, 200, "handbook")
		wantContains(t, body, `class="a4 handbook"`, "广东省流动人口服务管理通讯手册", "第 3 版", "粤卫〔2020〕12号",
			"天河区妇幼保健院", "广州市", "天河区", "沙河街道", "020-01000031-12")
		if i, j := strings.Index(body, "王某某"), strings.Index(body, "陈某某"); i < 0 || j < 0 || i > j {
			t.Errorf("the first responsible person (王某某) is not listed before the staff (陈某某)")
		}
		if i, j := strings.Index(body, "广州市流动人口"), strings.Index(body, "沙河街道流动人口"); i < 0 || j < 0 || i > j {
			t.Errorf("the city is not listed before the township")
		}
		code, _ = b.get("/directory/handbook/35")
		wantStatus(t, code, http.StatusNotFound, "handbook of a province not held")
		code, _ = b.get("/directory/handbook/x")
		wantStatus(t, code, http.StatusNotFound, "handbook of a bad code")

		// Signed in, the directory is in the navigation.
		s := ta.browser(t)
		s.mustLogin("worker-a")
		wantContains(t, s.last, `href="/44/directory"`)
		_, body = s.get("/directory")
		wantContains(t, body, "主导航", `aria-current="page">名录`)
	})
}
