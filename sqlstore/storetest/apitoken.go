package storetest

import (
	"testing"
	"time"

	"yipanqi"
	"yipanqi/sqlstore"
)

// testAPITokens: a token is found by its hash with its user until it is revoked or its user
// disabled; creating and revoking are audited.
func testAPITokens(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	u := authUser(t, db, "robot")
	tok := &sqlstore.APIToken{TokenHash: "th-1", UserID: u.ID, Label: "对接系统"}
	if err := db.CreateAPIToken(ctx(), tok); err != nil {
		t.Fatal(err)
	}
	if tok.ID == 0 || tok.CreatedAt.IsZero() {
		t.Fatalf("token after create = %+v", tok)
	}
	wantCode(t, db.CreateAPIToken(ctx(), &sqlstore.APIToken{TokenHash: "th-1", UserID: u.ID}), yipanqi.ECONFLICT)
	wantCode(t, db.CreateAPIToken(ctx(), &sqlstore.APIToken{TokenHash: "th-2", UserID: u.ID + 100}), yipanqi.ENOTFOUND)
	wantCode(t, db.CreateAPIToken(ctx(), &sqlstore.APIToken{UserID: u.ID}), yipanqi.EINVALID)

	got, err := db.APITokenByHash(ctx(), "th-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != tok.ID || got.User.Username != "robot" || got.User.OrgUnit != townshipA || got.Label != "对接系统" {
		t.Fatalf("token = %+v, user %+v", got, got.User)
	}
	_, err = db.APITokenByHash(ctx(), "th-unknown")
	wantCode(t, err, yipanqi.ENOTFOUND)

	// A disabled user's token authorizes nothing; enabled again, it does.
	scope := MustScope(t, county)
	if err := db.SetUserDisabled(ctx(), scope, u.ID, true); err != nil {
		t.Fatal(err)
	}
	_, err = db.APITokenByHash(ctx(), "th-1")
	wantCode(t, err, yipanqi.ENOTFOUND)
	if err := db.SetUserDisabled(ctx(), scope, u.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := db.APITokenByHash(ctx(), "th-1"); err != nil {
		t.Fatalf("token of the enabled user: %v", err)
	}

	if err := db.RevokeAPIToken(ctx(), tok.ID); err != nil {
		t.Fatal(err)
	}
	_, err = db.APITokenByHash(ctx(), "th-1")
	wantCode(t, err, yipanqi.ENOTFOUND)
	wantCode(t, db.RevokeAPIToken(ctx(), tok.ID), yipanqi.ECONFLICT)
	wantCode(t, db.RevokeAPIToken(ctx(), tok.ID+100), yipanqi.ENOTFOUND)
	list, err := db.APITokens(ctx(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].RevokedAt.IsZero() {
		t.Fatalf("tokens = %+v, want one, revoked", list)
	}
	if n := auditCount(t, db, "robot", "token.add"); n != 1 {
		t.Fatalf("token.add entries = %d, want 1", n)
	}
	if n := auditCount(t, db, "robot", "token.revoke"); n != 1 {
		t.Fatalf("token.revoke entries = %d, want 1", n)
	}
}

// testUserAdmin: role, disable, unlock, add and unit activity change only what is in the
// administrator's scope, each with its audit entry.
func testUserAdmin(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	u := authUser(t, db, "clerk")
	if err := db.UpsertOrgUnits(ctx(), []yipanqi.OrgUnit{{Code: townshipB, Name: "乙街道", ParentCode: county},
		{Code: elsewhere, Name: "别处"}}); err != nil {
		t.Fatal(err)
	}
	admin := &yipanqi.User{Username: "admin", OrgUnit: county, Role: yipanqi.RoleProvinceAdmin}
	c := yipanqi.NewContextWithUser(ctx(), admin)
	scope := MustScope(t, county)
	other := MustScope(t, elsewhere)

	wantCode(t, db.SetUserRole(c, other, u.ID, yipanqi.RoleCountySupervisor), yipanqi.ENOTFOUND)
	wantCode(t, db.SetUserRole(c, scope, u.ID, "boss"), yipanqi.EINVALID)
	if err := db.SetUserRole(c, scope, u.ID, yipanqi.RoleCountySupervisor); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.UserByID(ctx(), u.ID); got.Role != yipanqi.RoleCountySupervisor {
		t.Fatalf("role = %s", got.Role)
	}

	// Disabling ends the user's sessions.
	if err := db.CreateSession(ctx(), &sqlstore.Session{TokenHash: "s1", CSRF: "c", User: u}); err != nil {
		t.Fatal(err)
	}
	if err := db.SetUserDisabled(c, scope, u.ID, true); err != nil {
		t.Fatal(err)
	}
	_, err := db.Session(ctx(), "s1")
	wantCode(t, err, yipanqi.ENOTFOUND)

	// Lock-out, then unlock.
	p := sqlstore.LoginPolicy{MaxFailures: 1, Window: time.Hour, LockFor: time.Hour}
	if _, err := db.RecordLoginFailure(ctx(), u.ID, db.Now(), p); err != nil {
		t.Fatal(err)
	}
	if err := db.UnlockUser(c, scope, u.ID); err != nil {
		t.Fatal(err)
	}
	accounts, err := db.UserAccounts(ctx(), scope)
	if err != nil {
		t.Fatal(err)
	}
	if len(accounts) != 1 || accounts[0].Login.Failures != 0 || !accounts[0].Login.LockedUntil.IsZero() || !accounts[0].Disabled {
		t.Fatalf("accounts = %+v", accounts)
	}

	// Adding: a unit outside the scope or not held is refused, and nothing is saved.
	nu := &yipanqi.User{Username: "new", OrgUnit: elsewhere, Role: yipanqi.RoleTownshipWorker, PasswordHash: "h"}
	wantCode(t, db.AddUser(c, scope, nu), yipanqi.EINVALID)
	nu.OrgUnit = county + "999"
	wantCode(t, db.AddUser(c, scope, nu), yipanqi.EINVALID)
	nu.OrgUnit = townshipB
	if err := db.AddUser(c, scope, nu); err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.AddUser(c, scope, &yipanqi.User{Username: "new", OrgUnit: townshipB, Role: yipanqi.RoleTownshipWorker}), yipanqi.ECONFLICT)

	wantCode(t, db.SetOrgUnitActive(c, scope, elsewhere, true), yipanqi.ENOTFOUND)
	if err := db.SetOrgUnitActive(c, scope, townshipB, true); err != nil {
		t.Fatal(err)
	}
	if ou, _ := db.OrgUnit(ctx(), townshipB); !ou.Active {
		t.Fatal("unit not active")
	}
	units, err := db.OrgUnits(ctx(), scope)
	if err != nil {
		t.Fatal(err)
	}
	if len(units) != 3 {
		t.Fatalf("units in scope = %d, want 3", len(units))
	}
	for action, object := range map[string]string{"user.role": "clerk", "user.disable": "clerk", "user.unlock": "clerk",
		"user.add": "new", "orgunit.activate": townshipB} {
		if n := auditCount(t, db, object, action); n != 1 {
			t.Errorf("%s entries about %s = %d, want 1", action, object, n)
		}
	}
}

const auditDay = 24 * time.Hour

// testAuditSearch: filters, scope and paging of the audit log.
func testAuditSearch(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	for i, e := range []yipanqi.AuditEntry{
		{Actor: "a", OrgUnit: townshipA, Action: "person.view", Object: "x1"},
		{Actor: "a", OrgUnit: townshipA, Action: "case.view", Object: "c1"},
		{Actor: "b", OrgUnit: townshipB, Action: "person.view", Object: "x2"},
		{Actor: "z", OrgUnit: elsewhere, Action: "person.view", Object: "x3"},
		{Actor: "system:web", Action: "node.start"},
	} {
		e.At = db.Now().UTC().Add(-10 * auditDay).Add(time.Duration(2*i) * auditDay) // 10, 8, 6, 4, 2 days ago
		if err := db.Audit(ctx(), &e); err != nil {
			t.Fatal(err)
		}
	}
	count := func(scope yipanqi.Scope, f sqlstore.AuditFilter) int {
		t.Helper()
		got, _, err := db.SearchAudit(ctx(), scope, f)
		if err != nil {
			t.Fatal(err)
		}
		return len(got)
	}
	county, prov := MustScope(t, county), MustScope(t, "44")
	for _, tt := range []struct {
		name  string
		scope yipanqi.Scope
		f     sqlstore.AuditFilter
		want  int
	}{
		{"county sees its actors", county, sqlstore.AuditFilter{}, 3},
		{"province sees all and the node's own", prov, sqlstore.AuditFilter{}, 5},
		{"by actor", county, sqlstore.AuditFilter{Actor: "a"}, 2},
		{"by action", prov, sqlstore.AuditFilter{Action: "person.view"}, 3},
		{"by action prefix", prov, sqlstore.AuditFilter{Action: "person."}, 3},
		{"by object", county, sqlstore.AuditFilter{Object: "x2"}, 1},
		{"from", prov, sqlstore.AuditFilter{From: db.Now().Add(-5 * auditDay)}, 2},
		{"to", prov, sqlstore.AuditFilter{To: db.Now().Add(-5 * auditDay)}, 3},
	} {
		if got := count(tt.scope, tt.f); got != tt.want {
			t.Errorf("%s: %d entries, want %d", tt.name, got, tt.want)
		}
	}
	page, more, err := db.SearchAudit(ctx(), prov, sqlstore.AuditFilter{Limit: 2})
	if err != nil || len(page) != 2 || !more || page[0].ID < page[1].ID {
		t.Fatalf("first page: %d entries, more %v, err %v", len(page), more, err)
	}
	last, more, err := db.SearchAudit(ctx(), prov, sqlstore.AuditFilter{Limit: 2, Offset: 4})
	if err != nil || len(last) != 1 || more {
		t.Fatalf("last page: %d entries, more %v, err %v", len(last), more, err)
	}
	_, _, err = db.SearchAudit(ctx(), yipanqi.Scope{}, sqlstore.AuditFilter{})
	wantCode(t, err, yipanqi.EFORBIDDEN)
}
