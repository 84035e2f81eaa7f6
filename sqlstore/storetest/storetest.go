package storetest

import (
	"context"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/sqlstore"
)

// suiteTest is one behaviour of the suite.
type suiteTest struct {
	name string
	fn   func(t *testing.T, open func(t *testing.T) *sqlstore.DB)
}

// suite is every behaviour of the suite, in the order Run runs them: the one list, so that a
// behaviour written but not listed here does not run (TestSuiteListsEveryBehaviour catches it).
var suite = []suiteTest{
	{"Migrations", testMigrations},
	{"OrgUnitsAndUsers", testOrgUnitsAndUsers},
	{"ScopeZero", testScopeZero},
	{"ScopePeople", testScopePeople},
	{"ListPeople", testListPeople},
	{"ReadAudit", testReadAudit},
	{"ImportNewUpdateSame", testImportNewUpdateSame},
	{"ImportDuplicates", testImportDuplicates},
	{"ImportRollback", testImportRollback},
	{"ImportInvalidRow", testImportInvalidRow},
	{"FlowHistory", testFlowHistory},
	{"Export", testExport},
	{"Cases", testCases},
	{"CaseScope", testCaseScope},
	{"AuditChain", testAuditChain},
	{"AuditSealer", testAuditSealer},
	{"Exchange", runExchange},
	{"Stats", testStats},
	{"APITokens", testAPITokens},
	{"UserAdmin", testUserAdmin},
	{"AuditSearch", testAuditSearch},
	{"AuditSignedHeads", testAuditSignedHeads},
	{"Sessions", testSessions},
	{"LoginLockout", testLoginLockout},
	{"SetPassword", testSetPassword},
	{"CasesByDue", testCasesByDue},
	{"CaseTimeline", testCaseTimeline},
	{"RouteUnit", testRouteUnit},
	{"MoveCase", testMoveCase},
	{"CaseworkTx", testCaseworkTx},
	{"ServiceResults", testServiceResults},
	{"FlowsAfter", testFlowsAfter},
	{"Certificates", testCertificates},
	{"Consents", testConsents},
	{"DirectoryReplace", testDirectoryReplace},
	{"DirectoryInvalid", testDirectoryInvalid},
	{"DirectoryQuery", testDirectoryQuery},
	{"DirectoryHandbook", testDirectoryHandbook},
	{"DirectoryUpdatesAfter", testDirectoryUpdatesAfter},
	{"LoginClaimsConcurrent", testLoginClaimsConcurrent},
	{"LoginFailuresConcurrent", testLoginFailuresConcurrent},
	{"LoginSuccessKeepsOthersLock", testLoginSuccessKeepsOthersLock},
	{"LoginUnknownNames", testLoginUnknownNames},
	{"LoginTokens", testLoginTokens},
	{"Meetings", testMeetings},
	{"RegistryPeople", testRegistryPeople},
	{"Retention", testRetention},
	{"SharedMessages", testSharedMessages},
	{"SLAClock", testSLAClock},
	{"SLAConsistency", testSLAConsistency},
	{"Assessment", testAssessment},
	{"SLAConcurrent", testSLAConcurrent},
	{"StatsExchange", testStatsExchange},
	{"WebPeople", testWebPeople},
}

// Run runs every store behaviour against stores made by open, which must return a fresh,
// migrated, empty store each time it is called.
func Run(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	for _, tt := range suite {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open) })
	}
}

// Fixture divisions: two townships of one county, and a county elsewhere.
const (
	county    = "440106"
	townshipA = "440106001"
	townshipB = "440106002"
	elsewhere = "440305"
	hometown  = "360121"
)

func ctx() context.Context { return context.Background() }

// MustScope returns the scope of unit or fails the test.
func MustScope(tb testing.TB, unit string) yipanqi.Scope {
	tb.Helper()
	s, err := yipanqi.NewScope(unit)
	if err != nil {
		tb.Fatalf("scope %s: %v", unit, err)
	}
	return s
}

// NewPerson returns a valid person numbered i living in residence, with an ID number made
// from i.
func NewPerson(i int, residence string) *yipanqi.Person {
	birth := yipanqi.Date{Year: 1970 + i%40, Month: time.Month(1 + i%12), Day: 1 + i%28}
	seq := i % 1000
	area := hometown
	if i >= 1000 {
		area = "36" + pad4(i/1000%10000)
	}
	sex := yipanqi.Female
	if seq%2 == 1 {
		sex = yipanqi.Male
	}
	return &yipanqi.Person{
		IDNumber:         IDNumber(area, birth, seq),
		Name:             "测试" + string(rune('甲'+i%10)),
		Sex:              sex,
		BirthDate:        birth,
		MaritalStatus:    yipanqi.FirstMarried,
		HukouCode:        area,
		HukouAddress:     "江西省南昌县某村",
		ResidenceCode:    residence,
		ResidenceAddress: "广州市天河区某路 1 号",
		Phone:            "13800000000",
		ArrivedOn:        yipanqi.Date{Year: 2023, Month: 3, Day: 1 + i%28},
	}
}

func pad4(n int) string {
	s := []byte("0000")
	for i := 3; i >= 0 && n > 0; i-- {
		s[i] = byte('0' + n%10)
		n /= 10
	}
	return string(s)
}

// MustImport imports people (row numbers from 1) and fails the test on error.
func MustImport(tb testing.TB, db *sqlstore.DB, people ...*yipanqi.Person) (yipanqi.ImportStats, []sqlstore.DuplicateID) {
	tb.Helper()
	im, err := db.BeginPeopleImport(ctx(), "tester", "people.csv")
	if err != nil {
		tb.Fatalf("begin import: %v", err)
	}
	defer im.Rollback()
	for i, p := range people {
		if err := im.Add(i+1, p); err != nil {
			tb.Fatalf("add row %d: %v", i+1, err)
		}
	}
	stats, dups, err := im.Commit(ctx())
	if err != nil {
		tb.Fatalf("commit import: %v", err)
	}
	return stats, dups
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := yipanqi.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}
