package storetest

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/calendar"
	"yipanqi/sla"
	"yipanqi/sqlstore"
	"yipanqi/stats"
)

// The statistics fixture: a registry with known people and flow events in chosen months, and
// a plain-Go model of it from which every expected figure is computed.

const (
	shenzhenTownship = "440305001"
	guangxiTownship  = "450103001"
)

// fxEvent is one step of a fixture person's history, as the model sees it.
type fxEvent struct {
	kind     yipanqi.FlowKind
	on       yipanqi.Date
	from, to string
}

// fxPerson is a fixture person and their full history, the import's arrival first.
type fxPerson struct {
	p      *yipanqi.Person
	events []fxEvent
}

// StatsFixture is a registry built for the statistics tests and its model.
type StatsFixture struct {
	people []*fxPerson
	byID   map[string]*fxPerson
}

func day(y int, m time.Month, d int) yipanqi.Date { return yipanqi.Date{Year: y, Month: m, Day: d} }

// StatsNow is the clock of the statistics fixture: mid-August 2025, so June and July 2025 have
// ended and August is the current month.
var StatsNow = time.Date(2025, 8, 15, 10, 0, 0, 0, time.UTC)

// NewStatsFixture imports a varied population into db (townships A and B of one Guangzhou
// county, a Shenzhen township) and records flow events around June and July 2025. db.Now is
// set to StatsNow.
func NewStatsFixture(t testing.TB, db *sqlstore.DB) *StatsFixture {
	t.Helper()
	db.Now = func() time.Time { return StatsNow }
	fx := &StatsFixture{byID: map[string]*fxPerson{}}
	residences := []string{townshipA, townshipA, townshipB, shenzhenTownship}
	births := []yipanqi.Date{
		day(2009, 6, 30),                  // 16 on 30 June 2025: 16–29
		day(2009, 7, 1),                   // still 15 on 30 June 2025
		day(1995, 6, 30), day(1995, 7, 1), // 30 / 29
		day(1980, 6, 30), day(1966, 1, 1), day(1965, 6, 30), day(1965, 7, 1), day(1950, 3, 3), day(2020, 12, 1),
	}
	hukous := []string{hometown, "445102", "450103", "360121", "440106"}
	var list []*yipanqi.Person
	for i := 0; i < 60; i++ {
		p := NewPerson(i, residences[i%len(residences)])
		p.BirthDate = births[i%len(births)]
		p.IDNumber = IDNumber(p.HukouCode, p.BirthDate, i)
		p.HukouCode = hukous[i%len(hukous)]
		p.MaritalStatus = stats.MaritalKeys[i%len(stats.MaritalKeys)] // every status and ""
		p.ArrivedOn = day(2024, time.Month(1+i%12), 1+i%28)
		switch i {
		case 1:
			p.ArrivedOn = day(2025, 6, 30) // the last day of June: counts in June
		case 2:
			p.ArrivedOn = day(2025, 7, 1) // the next day: July only
		case 3:
			p.ArrivedOn = day(2025, 6, 1)
		case 4:
			p.ArrivedOn = day(2025, 7, 31)
		}
		arrival := p.ArrivedOn
		if i == 7 {
			// Arrival date not known: the import dates the arrival event on its own day.
			p.ArrivedOn, arrival = yipanqi.Date{}, yipanqi.DateOf(StatsNow.In(yipanqi.Shanghai))
		}
		list = append(list, p)
		fp := &fxPerson{p: p, events: []fxEvent{{yipanqi.FlowArrived, arrival, "", p.ResidenceCode}}}
		fx.people = append(fx.people, fp)
		fx.byID[p.IDNumber] = fp
	}
	MustImport(t, db, list...)
	// Flow events, each applied to the store and to the model.
	fx.flow(t, db, list[5], yipanqi.FlowLeft, day(2025, 6, 10), "")                   // gone before the end of June
	fx.flow(t, db, list[6], yipanqi.FlowReturned, day(2025, 7, 5), "")                // there in June, gone in July
	fx.flow(t, db, list[8], yipanqi.FlowMovedOn, day(2025, 6, 15), townshipB)         // A → B: within the county
	fx.flow(t, db, list[12], yipanqi.FlowMovedOn, day(2025, 6, 20), guangxiTownship)  // out of the province
	fx.flow(t, db, list[16], yipanqi.FlowMovedOn, day(2025, 6, 25), shenzhenTownship) // Guangzhou → Shenzhen
	fx.flow(t, db, list[20], yipanqi.FlowMovedOn, day(2025, 6, 30), "")               // to a place not known
	fx.flow(t, db, list[24], yipanqi.FlowLeft, day(2025, 5, 10), "")                  // left in May …
	fx.flow(t, db, list[24], yipanqi.FlowArrived, day(2025, 6, 20), "")               // … back in June
	fx.flow(t, db, list[28], yipanqi.FlowReturned, day(2025, 6, 30), "")              // the last day of June
	fx.flow(t, db, list[32], yipanqi.FlowLeft, day(2025, 7, 1), "")                   // the day after
	return fx
}

// flow records an event in the store (as RecordFlow applies it) and in the model.
func (fx *StatsFixture) flow(t testing.TB, db *sqlstore.DB, p *yipanqi.Person, kind yipanqi.FlowKind, on yipanqi.Date, to string) {
	t.Helper()
	fp := fx.byID[p.IDNumber]
	if err := db.RecordFlow(ctx(), MustScope(t, "44"), p.IDNumber, &yipanqi.FlowEvent{Kind: kind, On: on, ToCode: to}); err != nil {
		t.Fatalf("record %s of person %d: %v", kind, len(fp.events), err)
	}
	from := p.ResidenceCode
	fp.events = append(fp.events, fxEvent{kind, on, from, to})
	if (kind == yipanqi.FlowArrived || kind == yipanqi.FlowMovedOn) && to != "" {
		p.ResidenceCode = to
	}
}

// present says whether the model has p at their residence at the end of day d.
func (fp *fxPerson) present(d yipanqi.Date) bool {
	if d.Before(fp.p.ArrivedOn) || fp.p.ArrivedOn.IsZero() && d.Before(fp.events[0].on) {
		return false
	}
	var last *fxEvent
	for i := range fp.events {
		if e := &fp.events[i]; !d.Before(e.on) {
			last = e // events are in date order, and later ones win a tie
		}
	}
	// No event by then: arrived_on alone says they were there.
	return last == nil || last.kind == yipanqi.FlowArrived || last.kind == yipanqi.FlowMovedOn && last.to != ""
}

// age is the age in whole years on d, counted directly from the dates.
func age(birth, d yipanqi.Date) int {
	a := d.Year - birth.Year
	if d.Month < birth.Month || d.Month == birth.Month && d.Day < birth.Day {
		a--
	}
	return a
}

// Expect returns the model's figures for a unit and month: people present at the end of the
// month with residence in the unit, and the month's events crossing the unit's boundary.
func (fx *StatsFixture) Expect(unit string, m stats.Month) stats.Counts {
	var c stats.Counts
	in := func(code string) bool { return code != "" && strings.HasPrefix(code, unit) }
	for _, fp := range fx.people {
		p := fp.p
		if in(p.ResidenceCode) && fp.present(m.Last()) {
			c.People++
			if p.Sex == yipanqi.Male {
				c.Male++
			} else {
				c.Female++
			}
			a, band := age(p.BirthDate, m.Last()), 0
			for k, b := range stats.AgeBands {
				if a >= b.Min {
					band = k
				}
			}
			c.Age[band]++
			for k, s := range stats.MaritalKeys {
				if s == p.MaritalStatus {
					c.Marital[k]++
				}
			}
		}
		for _, e := range fp.events {
			if e.on.Before(m.First()) || m.Last().Before(e.on) {
				continue
			}
			dest := e.to
			if dest == "" && e.kind == yipanqi.FlowArrived {
				dest = e.from
			}
			switch e.kind {
			case yipanqi.FlowArrived:
				if in(dest) {
					c.Inflow++
				}
			case yipanqi.FlowMovedOn:
				if in(e.to) && !in(e.from) {
					c.Inflow++
				}
				if in(e.from) && !in(e.to) {
					c.Outflow++
				}
			default:
				if in(e.from) {
					c.Outflow++
				}
			}
		}
	}
	return c
}

func noName(code string) string { return code }

func mustReport(t *testing.T, db *sqlstore.DB, unit string, m stats.Month, live bool) *stats.Report {
	t.Helper()
	var tally *stats.Tally
	var err error
	if live {
		tally, err = db.LiveStats(ctx(), MustScope(t, unit), m)
	} else {
		tally, err = db.MonthlyStats(ctx(), MustScope(t, unit), m)
	}
	if err != nil {
		t.Fatalf("stats of %s %s: %v", unit, m, err)
	}
	return stats.NewReport(tally, unit, noName)
}

// checkReport compares a report's total and every row with the model, and the rows' sum of
// people with the total.
func checkReport(t *testing.T, fx *StatsFixture, r *stats.Report) {
	t.Helper()
	if want := fx.Expect(r.Unit, r.Month); r.Total.Counts != want {
		t.Errorf("%s %s total:\n got %+v\nwant %+v", r.Unit, r.Month, r.Total.Counts, want)
	}
	sum := 0
	for _, row := range r.Rows {
		sum += row.People
		if want := fx.Expect(row.Code, r.Month); row.Counts != want {
			t.Errorf("%s %s row %s:\n got %+v\nwant %+v", r.Unit, r.Month, row.Code, row.Counts, want)
		}
	}
	if len(r.Unit) < 12 && sum != r.Total.People {
		t.Errorf("%s %s: rows sum to %d people, total says %d", r.Unit, r.Month, sum, r.Total.People)
	}
}

func testStats(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	fx := NewStatsFixture(t, db)
	june, july, may := stats.Month{Year: 2025, Month: 6}, stats.Month{Year: 2025, Month: 7}, stats.Month{Year: 2025, Month: 5}

	t.Run("Live", func(t *testing.T) {
		for _, m := range []stats.Month{may, june, july, {Year: 2025, Month: 8}} {
			for _, unit := range []string{"44", "4401", county, townshipA, townshipB, "4403", "45"} {
				r := mustReport(t, db, unit, m, true)
				if r.Snapshot != nil {
					t.Errorf("live report of %s says it came from a snapshot", unit)
				}
				checkReport(t, fx, r)
			}
		}
		// The fixture is meant to exercise every rule: make sure it does, so the checks above
		// cannot pass by every figure being zero.
		june44, juneA, juneB, juneCounty := fx.Expect("44", june), fx.Expect(townshipA, june), fx.Expect(townshipB, june), fx.Expect(county, june)
		if june44.People == 0 || june44.Inflow == 0 || june44.Outflow == 0 || juneA.Outflow+juneB.Outflow <= juneCounty.Outflow {
			t.Errorf("fixture too thin: province %+v, township A %+v", june44, juneA)
		}
		for k := range june44.Age {
			if june44.Age[k] == 0 {
				t.Errorf("fixture has nobody in age band %s", stats.AgeBands[k].Label)
			}
		}
	})

	t.Run("MonthBoundary", func(t *testing.T) {
		// Person 1 arrived on 30 June, person 2 on 1 July: the model says so, and the store
		// agrees with the model (Live); here, that the difference is really there.
		j, jl := fx.Expect(county, june), fx.Expect(county, july)
		p1, p2 := fx.people[1], fx.people[2]
		if !p1.present(june.Last()) || p2.present(june.Last()) || !p2.present(july.Last()) {
			t.Fatalf("fixture boundary people are not where they should be")
		}
		if j.Inflow == 0 || jl.Inflow == 0 {
			t.Errorf("no arrivals at the month boundary: June %+v, July %+v", j, jl)
		}
	})

	t.Run("ZeroScope", func(t *testing.T) {
		_, err := db.LiveStats(ctx(), yipanqi.Scope{}, june)
		wantCode(t, err, yipanqi.EFORBIDDEN)
		_, err = db.MonthlyStats(ctx(), yipanqi.Scope{}, june)
		wantCode(t, err, yipanqi.EFORBIDDEN)
		_, _, err = db.StatsOrigins(ctx(), yipanqi.Scope{}, june)
		wantCode(t, err, yipanqi.EFORBIDDEN)
	})

	t.Run("Origins", func(t *testing.T) {
		for _, unit := range []string{"44", "45"} {
			groups, snap, err := db.StatsOrigins(ctx(), MustScope(t, unit), july)
			if err != nil || snap != nil {
				t.Fatalf("origins of %s: snapshot %v, error %v", unit, snap, err)
			}
			want := map[[2]string]int{}
			for _, fp := range fx.people {
				if strings.HasPrefix(fp.p.ResidenceCode, unit) && fp.present(july.Last()) {
					want[[2]string{fp.p.HukouCode[:4], fp.p.ResidenceCode[:4]}]++
				}
			}
			got := map[[2]string]int{}
			for _, g := range groups {
				got[[2]string{g.Hukou, g.Residence}] += g.People
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("origins of %s:\n got %v\nwant %v", unit, got, want)
			}
			mx := stats.NewMatrix(july, nil, groups, noName)
			if mx.People != fx.Expect(unit, july).People {
				t.Errorf("matrix of %s counts %d people, report %d", unit, mx.People, fx.Expect(unit, july).People)
			}
		}
	})

	t.Run("Snapshot", func(t *testing.T) {
		if _, err := db.StatsSnapshot(ctx(), june); yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
			t.Fatalf("snapshot before any was taken: %v, want ENOTFOUND", err)
		}
		_, err := db.TakeStatsSnapshot(ctx(), stats.Month{Year: 2025, Month: 8}, "tester", false)
		wantCode(t, err, yipanqi.EINVALID)
		if yipanqi.ErrorField(err) != "month" {
			t.Errorf("current-month snapshot error names %q, want month", yipanqi.ErrorField(err))
		}
		snap, err := db.TakeStatsSnapshot(ctx(), june, "tester", false)
		if err != nil {
			t.Fatalf("take snapshot: %v", err)
		}
		if snap.People != fx.Expect("44", june).People+fx.Expect("45", june).People || !snap.TakenAt.Equal(StatsNow) {
			t.Errorf("snapshot = %+v, want %d people taken at %v", snap, fx.Expect("44", june).People+fx.Expect("45", june).People, StatsNow)
		}
		before := map[string]*stats.Report{}
		for _, unit := range []string{"44", county, townshipA, townshipB} {
			r := mustReport(t, db, unit, june, false)
			if r.Snapshot == nil || !r.Snapshot.TakenAt.Equal(StatsNow) {
				t.Fatalf("report of %s after the snapshot: source %+v, want the snapshot", unit, r.Snapshot)
			}
			checkReport(t, fx, r) // the snapshot holds what live computation gave
			before[unit] = r
		}

		// The registry changes after the snapshot: new people who arrived in June, someone
		// who left in June recorded late.
		db.Now = func() time.Time { return StatsNow.Add(24 * time.Hour) }
		late := []*yipanqi.Person{NewPerson(900, townshipA), NewPerson(901, townshipB)}
		for _, p := range late {
			p.ArrivedOn = day(2025, 6, 12)
		}
		MustImport(t, db, late...)
		for _, p := range late {
			fp := &fxPerson{p: p, events: []fxEvent{{yipanqi.FlowArrived, p.ArrivedOn, "", p.ResidenceCode}}}
			fx.people = append(fx.people, fp)
			fx.byID[p.IDNumber] = fp
		}
		fx.flow(t, db, fx.people[40].p, yipanqi.FlowLeft, day(2025, 6, 3), "")
		for unit, old := range before {
			now := mustReport(t, db, unit, june, false)
			if fmt.Sprint(now.Rows, now.Total) != fmt.Sprint(old.Rows, old.Total) {
				t.Errorf("snapshot report of %s changed with the registry:\n was %+v\n now %+v", unit, old.Total, now.Total)
			}
			live := mustReport(t, db, unit, june, true)
			checkReport(t, fx, live)
		}
		if a, b := fx.Expect("44", june), before["44"].Total.Counts; a == b {
			t.Fatalf("the registry change did not change the live figures: the test proves nothing")
		}

		// Taking the month again is refused, unless replaced on purpose.
		_, err = db.TakeStatsSnapshot(ctx(), june, "tester", false)
		wantCode(t, err, yipanqi.ECONFLICT)
		if _, err := db.TakeStatsSnapshot(ctx(), june, "tester", true); err != nil {
			t.Fatalf("replace snapshot: %v", err)
		}
		for _, unit := range []string{"44", county, townshipA} {
			r := mustReport(t, db, unit, june, false)
			if r.Snapshot == nil || !r.Snapshot.TakenAt.Equal(StatsNow.Add(24*time.Hour)) {
				t.Errorf("replaced snapshot of %s: source %+v", unit, r.Snapshot)
			}
			checkReport(t, fx, r)
		}
		groups, snap2, err := db.StatsOrigins(ctx(), MustScope(t, "44"), june)
		if err != nil || snap2 == nil {
			t.Fatalf("origins from the snapshot: %v, %v", snap2, err)
		}
		if mx := stats.NewMatrix(june, nil, groups, noName); mx.People != fx.Expect("44", june).People {
			t.Errorf("snapshot matrix counts %d people, want %d", mx.People, fx.Expect("44", june).People)
		}
		log, err := db.AuditLog(ctx(), june.String(), 10)
		if err != nil || len(log) != 2 || log[0].Action != "stats.snapshot" {
			t.Errorf("audit of the snapshots: %d entries, error %v", len(log), err)
		}
	})
}

// exCase is a case of the exchange workload as the test saw it happen.
type exCase struct {
	id, typ, unit          string
	dir                    yipanqi.Direction
	state                  yipanqi.CaseState
	created, received, due time.Time
	replied                time.Time
}

// testStatsExchange runs a random workload of cases sent, received, replied on time and late,
// withdrawn and left overdue around March 2026, sweeps, and checks that the exchange table
// of each unit and month equals what the test computes from the cases it made.
func testStatsExchange(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	db := open(t)
	clock := &fakeClock{now: shAt("2026-02-16 09:00:00")}
	db.Now = clock.Now
	k := MustClock(t, sla.Config{Now: clock.Now, Batch: 5})
	rng := rand.New(rand.NewPCG(7, 3))
	units := []string{townshipA, townshipB, "440305001", county}
	inTypes := []string{"verify.identity", "cert.reissue", "care.request", "service.result"}
	outTypes := []string{"verify.identity", "move.notice", "cert.reissue"}
	var all, pending []*exCase
	for clock.now.Before(shAt("2026-04-10 00:00:00")) {
		clock.now = clock.now.Add(time.Duration(rng.IntN(14)+1) * time.Hour)
		switch x := rng.IntN(10); {
		case x < 3:
			c := receiveCase(t, db, inTypes[rng.IntN(len(inTypes))], units[rng.IntN(len(units))], "", clock.now)
			e := &exCase{id: c.ID, typ: c.Type, unit: c.OrgUnit, dir: yipanqi.Incoming, state: c.State, created: clock.now,
				received: clock.now, due: c.DueAt}
			all = append(all, e)
			if !c.DueAt.IsZero() {
				pending = append(pending, e)
			}
		case x < 5:
			state := yipanqi.CaseSent
			if rng.IntN(5) == 0 {
				state = yipanqi.CaseDrafted
			}
			c := &yipanqi.Case{Type: outTypes[rng.IntN(len(outTypes))], Direction: yipanqi.Outgoing,
				OrgUnit: units[rng.IntN(len(units))], PeerNode: "36", PeerUnit: hometown, State: state}
			if err := db.CreateCase(ctx(), c); err != nil {
				t.Fatal(err)
			}
			all = append(all, &exCase{typ: c.Type, unit: c.OrgUnit, dir: yipanqi.Outgoing, state: state, created: clock.now})
		case x < 6 && len(pending) > 0:
			i := rng.IntN(len(pending))
			e := pending[i]
			to := []yipanqi.CaseState{yipanqi.CaseReplied, yipanqi.CaseReplied, yipanqi.CaseReplied, yipanqi.CaseWithdrawn}[rng.IntN(4)]
			setState(t, db, e.id, to)
			e.state = to
			if to == yipanqi.CaseReplied {
				e.replied = clock.now
				if rng.IntN(3) == 0 {
					setState(t, db, e.id, yipanqi.CaseClosed)
					e.state = yipanqi.CaseClosed
				}
			}
			pending = append(pending[:i], pending[i+1:]...)
		case x < 9:
			sweep(t, db, k, clock.now)
		}
	}
	sweep(t, db, k, clock.now)

	march := stats.Month{Year: 2026, Month: 3}
	for _, m := range []stats.Month{{Year: 2026, Month: 2}, march, {Year: 2026, Month: 4}} {
		for _, unit := range []string{"44", county, townshipA, "440305", "45"} {
			got, err := db.MonthlyExchange(ctx(), MustScope(t, unit), m)
			if err != nil {
				t.Fatal(err)
			}
			want := expectExchange(all, unit, m, clock.now)
			if got.Unit != unit || got.Month != m {
				t.Errorf("%s %s: table of %s %s", unit, m, got.Unit, got.Month)
			}
			if fmt.Sprint(got.Rows) != fmt.Sprint(want.Rows) || got.Total != want.Total {
				t.Errorf("%s %s: table\n%+v\n%+v\nrecomputed from the cases\n%+v\n%+v", unit, m, got.Rows, got.Total, want.Rows, want.Total)
			}
			if m == march && unit == "44" {
				if tot := got.Total; tot.Sent == 0 || tot.Received == 0 || tot.OnTime == 0 || tot.Late == 0 || tot.Overdue == 0 || tot.MedianReplyDays < 0 {
					t.Errorf("workload too tame for March: %+v", tot)
				}
			}
		}
	}
	if _, err := db.MonthlyExchange(ctx(), yipanqi.Scope{}, march); yipanqi.ErrorCode(err) != yipanqi.EFORBIDDEN {
		t.Errorf("zero scope: %v, want EFORBIDDEN", err)
	}
}

// expectExchange computes the exchange table of unit and month m from the cases, at now (the
// last sweep): independently of the kept counts and of package assess.
func expectExchange(all []*exCase, unit string, m stats.Month, now time.Time) *stats.Exchange {
	inMonth := func(t time.Time) bool {
		return !t.IsZero() && t.In(yipanqi.Shanghai).Format("2006-01") == m.String()
	}
	cal := calendar.New()
	rows := map[string]*stats.ExchangeRow{}
	days := map[string][]int{}
	row := func(typ string) *stats.ExchangeRow {
		if rows[typ] == nil {
			rows[typ] = &stats.ExchangeRow{Type: typ}
		}
		return rows[typ]
	}
	for _, c := range all {
		if !strings.HasPrefix(c.unit, unit) {
			continue
		}
		if c.dir == yipanqi.Outgoing {
			if c.state != yipanqi.CaseDrafted && inMonth(c.created) {
				row(c.typ).Sent++
			}
			continue
		}
		if inMonth(c.received) {
			row(c.typ).Received++
		}
		if !c.replied.IsZero() && !c.due.IsZero() && inMonth(c.replied) {
			if c.replied.After(c.due) {
				row(c.typ).Late++
			} else {
				row(c.typ).OnTime++
			}
			d, _ := cal.Workdays(yipanqi.DateOf(c.received.In(yipanqi.Shanghai)), yipanqi.DateOf(c.replied.In(yipanqi.Shanghai)))
			days[c.typ] = append(days[c.typ], max(d, 0))
		}
		isOpen := c.state.IsOpen()
		if isOpen && !c.due.IsZero() && now.After(c.due) && inMonth(c.due) {
			row(c.typ).Overdue++
		}
	}
	median := func(ds []int) float64 {
		if len(ds) == 0 {
			return -1
		}
		ds = append([]int{}, ds...)
		sort.Ints(ds)
		return float64(ds[(len(ds)-1)/2])
	}
	x := &stats.Exchange{Unit: unit, Month: m}
	types := make([]string, 0, len(rows))
	for typ := range rows {
		types = append(types, typ)
	}
	sort.Strings(types)
	var every []int
	for _, typ := range types {
		r := rows[typ]
		if *r == (stats.ExchangeRow{Type: typ}) {
			continue
		}
		ct, _ := yipanqi.Catalog().Type(typ)
		r.Label, r.MedianReplyDays = ct.Label, median(days[typ])
		every = append(every, days[typ]...)
		x.Rows = append(x.Rows, *r)
		x.Total.Sent += r.Sent
		x.Total.Received += r.Received
		x.Total.OnTime += r.OnTime
		x.Total.Late += r.Late
		x.Total.Overdue += r.Overdue
	}
	x.Total.Label, x.Total.MedianReplyDays = "合计", median(every)
	return x
}
