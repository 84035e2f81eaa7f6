package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/casework"
	"yipanqi/demo"
	"yipanqi/exchange"
	"yipanqi/exchange/natstest"
	"yipanqi/sqlstore"
	"yipanqi/sqlstore/storetest"
	"yipanqi/web"
)

// The two-node fixture: a residence township in 广州市天河区 and a hometown township in
// 湖南省邵阳市隆回县, real division codes.
const (
	residence = "440106001" // 五山街道
	hometown  = "430524101" // 小沙江镇
	hometown2 = "430524001" // 桃花坪街道
)

// region is two running nodes, 44 and 43, on one embedded NATS server, each with its store,
// exchange engine and web application, served under /44/ and /43/ of one server.
type region struct {
	srv    *httptest.Server
	apps   map[string]*testApp
	nodes  map[string]*casework.Node
	person *yipanqi.Person // lives in residence, hukou in hometown
	clock  *clock
}

type nodeSpec struct {
	code, name string
	units      []yipanqi.OrgUnit
	users      []*yipanqi.User
}

var regionNodes = []nodeSpec{
	{code: "44", name: "广东", units: []yipanqi.OrgUnit{
		{Code: "44", Name: "广东省", Active: true},
		{Code: "4401", Name: "广州市", ParentCode: "44", Active: true},
		{Code: county, Name: "广州市天河区", ParentCode: "4401", Active: true},
		{Code: townshipA, Name: "广州市天河区五山街道", ParentCode: county, Active: true},
		{Code: townshipB, Name: "广州市天河区员村街道", ParentCode: county, Active: true},
		{Code: "440104", Name: "广州市越秀区", ParentCode: "4401", Active: true},
		{Code: otherCity, Name: "广州市越秀区北京街道", ParentCode: "440104", Active: true},
	}, users: []*yipanqi.User{
		{Username: "worker-a", OrgUnit: townshipA, Role: yipanqi.RoleTownshipWorker},
		{Username: "worker-b", OrgUnit: townshipB, Role: yipanqi.RoleTownshipWorker},
		{Username: "worker-c", OrgUnit: otherCity, Role: yipanqi.RoleTownshipWorker},
		{Username: "county", OrgUnit: county, Role: yipanqi.RoleCountySupervisor},
	}},
	{code: "43", name: "湖南", units: []yipanqi.OrgUnit{
		{Code: "43", Name: "湖南省", Active: true},
		{Code: "4305", Name: "邵阳市", ParentCode: "43", Active: true},
		{Code: "430524", Name: "邵阳市隆回县", ParentCode: "4305", Active: true},
		{Code: hometown, Name: "邵阳市隆回县小沙江镇", ParentCode: "430524", Active: true},
		{Code: hometown2, Name: "邵阳市隆回县桃花坪街道", ParentCode: "430524", Active: true},
	}, users: []*yipanqi.User{
		{Username: "home-worker", OrgUnit: hometown, Role: yipanqi.RoleTownshipWorker},
		{Username: "home-other", OrgUnit: hometown2, Role: yipanqi.RoleTownshipWorker},
	}},
}

// startRegion starts the two nodes with stores on dsns (by node code).
func startRegion(t *testing.T, dsns map[string]string) *region {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ns := natstest.RunServer(t)
	clk := &clock{t: time.Now()}
	rg := &region{apps: map[string]*testApp{}, nodes: map[string]*casework.Node{}, clock: clk}
	keys, err := demo.MakeKeys(t.TempDir(), []string{"43", "44"}, map[string]string{"43": "湖南", "44": "广东"}, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	admin, err := exchange.Connect(ctx, exchange.TransportConfig{URL: ns.ClientURL(), Node: "region"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	if err := admin.EnsureStreams(ctx, []string{"43", "44"}, 1); err != nil {
		t.Fatal(err)
	}
	hash, err := web.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	rg.srv = httptest.NewServer(mux) // first: each node's public address is the server's
	t.Cleanup(rg.srv.Close)
	done := make(chan struct{}, len(regionNodes))
	for _, spec := range regionNodes {
		db := storetest.Open(t, dsns[spec.code])
		db.Now = clk.Now
		if err := db.UpsertOrgUnits(ctx, spec.units); err != nil {
			t.Fatal(err)
		}
		ta := &testApp{db: db, clock: clk, base: "/" + spec.code, users: map[string]*yipanqi.User{}}
		for _, u := range spec.users {
			u := *u
			u.PasswordHash = hash
			if err := db.CreateUser(ctx, &u); err != nil {
				t.Fatal(err)
			}
			ta.users[u.Username] = &u
		}
		tr, err := exchange.Connect(ctx, exchange.TransportConfig{URL: ns.ClientURL(), Node: spec.code})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(tr.Close)
		node, err := casework.NewNode(casework.NodeConfig{Code: spec.code, Store: db, Transport: tr, Key: keys.Nodes[spec.code],
			Trust: keys.Trust, Now: clk.Now, RelayPoll: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			defer func() { done <- struct{}{} }()
			if err := node.Run(ctx); err != nil && ctx.Err() == nil {
				t.Errorf("node %s: %v", spec.code, err)
			}
		}()
		app, err := web.New(web.Config{Code: spec.code, Name: spec.name, BasePath: ta.base, Store: db, Node: node,
			Now: clk.Now, FailDelay: time.Nanosecond, PublicURL: rg.srv.URL + ta.base, Key: keys.Nodes[spec.code], Trust: keys.Trust,
			Status: &web.Node{Code: spec.code, Name: spec.name, Store: db, Types: []string{"verify.identity"}, CacheFor: -1}})
		if err != nil {
			t.Fatal(err)
		}
		mux.Handle(ta.base+"/", http.StripPrefix(ta.base, app))
		rg.apps[spec.code], rg.nodes[spec.code] = ta, node
	}
	t.Cleanup(func() {
		cancel()
		for range regionNodes {
			<-done
		}
	})
	for _, ta := range rg.apps {
		ta.srv = rg.srv
	}
	// A person living in 五山街道 whose hukou is in 小沙江镇, and one in 员村街道.
	p := storetest.NewPerson(7, townshipA)
	p.IDNumber = storetest.IDNumber("430524", p.BirthDate, 7)
	p.HukouCode, p.HukouAddress, p.Name = hometown, "湖南省邵阳市隆回县小沙江镇某村 3 号", "测试乙"
	q := storetest.NewPerson(8, townshipB)
	storetest.MustImport(t, rg.apps["44"].db, p, q)
	rg.person = p
	return rg
}

// waitFor polls cond until it holds or 20 seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// caseState reads a case's state from a node's store, "" when it is not there.
func caseState(t *testing.T, db *sqlstore.DB, node, id string) yipanqi.CaseState {
	t.Helper()
	scope, _ := yipanqi.NewScope(node)
	c, err := db.FindCase(context.Background(), scope, id)
	if yipanqi.ErrorCode(err) == yipanqi.ENOTFOUND {
		return ""
	} else if err != nil {
		t.Fatal(err)
	}
	return c.State
}
