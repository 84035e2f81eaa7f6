package synth_test

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"yipanqi"
	"yipanqi/division"
	"yipanqi/registry"
	"yipanqi/synth"
)

var tree = sync.OnceValues(division.Load)

func mustTree(tb testing.TB) *division.Tree {
	tb.Helper()
	t, err := tree()
	if err != nil {
		tb.Fatalf("division.Load: %v", err)
	}
	return t
}

var today = yipanqi.Date{Year: 2025, Month: time.June, Day: 30}

func mustGenerator(tb testing.TB, province string, seed uint64) *synth.Generator {
	tb.Helper()
	g, err := synth.New(mustTree(tb), synth.Config{Province: province, Seed: seed, Today: today})
	if err != nil {
		tb.Fatalf("New(%s): %v", province, err)
	}
	return g
}

func generate(tb testing.TB, province string, seed uint64, n int) []yipanqi.Person {
	tb.Helper()
	g := mustGenerator(tb, province, seed)
	out := make([]yipanqi.Person, n)
	for i := range out {
		g.Next(&out[i])
	}
	return out
}

func TestDeterministic(t *testing.T) {
	write := func(seed uint64) []byte {
		var buf bytes.Buffer
		w, err := registry.NewCSVWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range generate(t, "44", seed, 2000) {
			if err := w.Write(&p); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	a, b, c := write(7), write(7), write(8)
	if !bytes.Equal(a, b) {
		t.Error("the same seed gave different files")
	}
	if bytes.Equal(a, c) {
		t.Error("seeds 7 and 8 gave the same file")
	}
}

// TestEveryProvinceValid checks that every generated row passes the importer's validation,
// for every province, and that ID numbers are unique within a run.
func TestEveryProvinceValid(t *testing.T) {
	tr := mustTree(t)
	v := &registry.Validator{Divisions: tr, Today: today}
	l, err := registry.ParseHeader(registry.Headers())
	if err != nil {
		t.Fatal(err)
	}
	for _, prov := range yipanqi.RegionCodes() {
		t.Run(prov, func(t *testing.T) {
			var buf bytes.Buffer
			w, err := registry.NewCSVWriter(&buf)
			if err != nil {
				t.Fatal(err)
			}
			people := generate(t, prov, 1, 3000)
			seen := make(map[string]bool)
			for i := range people {
				p := &people[i]
				if seen[p.IDNumber] {
					t.Fatalf("row %d: ID number repeated", i+1)
				}
				seen[p.IDNumber] = true
				if !strings.HasPrefix(p.ResidenceCode, prov) {
					t.Errorf("row %d: residence %s outside province %s", i+1, p.ResidenceCode, prov)
				}
				if n := len(p.ResidenceCode); n != 9 && n != 12 {
					t.Errorf("row %d: residence %s is not a township or village", i+1, p.ResidenceCode)
				}
				if p.HukouCode[:6] != p.IDNumber[:6] {
					t.Errorf("row %d: ID region %s is not the hukou county %s", i+1, p.IDNumber[:6], p.HukouCode)
				}
				if err := w.Write(p); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			src, err := registry.NewCSV(&buf, int64(buf.Len()), "gen.csv")
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := src.Next(); err != nil { // header
				t.Fatal(err)
			}
			var got yipanqi.Person
			for i := range people {
				row, cells, err := src.Next()
				if err != nil {
					t.Fatal(err)
				}
				probs, ok := v.Check(l, row, cells, &got, nil)
				if !ok {
					t.Fatalf("row %d rejected: %+v", row, probs)
				}
				want := people[i]
				want.FlowStatus = ""
				if got != want {
					t.Fatalf("row %d read back as\n%+v\nwant\n%+v", row, got, want)
				}
			}
		})
	}
}

func TestShape(t *testing.T) {
	const n = 20000
	people := generate(t, "44", 42, n)
	var male, working, children, older, fromHunan, intra, phones int
	for i := range people {
		p := &people[i]
		age := today.Year - p.BirthDate.Year
		if p.BirthDate.Month > today.Month || p.BirthDate.Month == today.Month && p.BirthDate.Day > today.Day {
			age--
		}
		switch {
		case age < 16:
			children++
		case age <= 60:
			working++
		default:
			older++
		}
		if p.Sex == yipanqi.Male {
			male++
		}
		switch p.HukouCode[:2] {
		case "43":
			fromHunan++
		case "44":
			intra++
		}
		if p.Phone != "" {
			phones++
			if len(p.Phone) != 11 || p.Phone[0] != '1' || p.Phone[1] < '3' {
				t.Errorf("phone %q is not a mobile number", p.Phone)
			}
		}
		if p.ArrivedOn.Before(p.BirthDate) || today.Before(p.ArrivedOn) || p.ArrivedOn.Before(today.AddDays(-3653)) {
			t.Errorf("arrived %s (born %s) outside the last ten years of life", p.ArrivedOn, p.BirthDate)
		}
		if age >= 16 && p.ArrivedOn.Before(p.BirthDate.AddDays(16*365)) {
			t.Errorf("adult arrived %s, before turning 16 (born %s)", p.ArrivedOn, p.BirthDate)
		}
		if age < 20 && p.MaritalStatus != yipanqi.Unmarried {
			t.Errorf("age %d is %s", age, p.MaritalStatus)
		}
		if r := []rune(p.Name); len(r) < 2 || len(r) > 4 {
			t.Errorf("name %q has %d characters", p.Name, len(r))
		}
	}
	within := func(what string, got int, lo, hi float64) {
		t.Helper()
		share := float64(got) / n
		if share < lo || share > hi {
			t.Errorf("%s: share %.3f, want %.2f–%.2f", what, share, lo, hi)
		}
	}
	within("men", male, 0.50, 0.54)
	within("aged 16–60", working, 0.80, 0.90)
	within("children", children, 0.05, 0.12)
	within("older than 60", older, 0.02, 0.08)
	within("hukou in Hunan", fromHunan, 0.10, 0.18)
	within("hukou in Guangdong", intra, 0.20, 0.30)
	within("with a phone", phones, 0.85, 0.96)
}

// TestBigCities checks that residences lean toward the big cities: in Guangdong, Shenzhen
// alone houses more people than all the cities outside the Pearl River Delta together.
func TestBigCities(t *testing.T) {
	people := generate(t, "44", 3, 20000)
	var shenzhen, delta, rest int
	for i := range people {
		switch c := people[i].ResidenceCode[:4]; c {
		case "4403":
			shenzhen++
			delta++
		case "4401", "4419", "4406", "4413", "4420", "4404", "4407":
			delta++
		default:
			rest++
		}
	}
	if shenzhen <= rest || delta < 4*rest {
		t.Errorf("Shenzhen %d, Pearl River Delta %d, rest of Guangdong %d", shenzhen, delta, rest)
	}
}

func TestBadConfig(t *testing.T) {
	tests := []struct {
		name, province string
		today          yipanqi.Date
		field          string
	}{
		{"outside Pan-PRD", "11", today, "province"},
		{"not a code", "广东", today, "province"},
		{"empty", "", today, "province"},
		{"no today", "44", yipanqi.Date{}, "today"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := synth.New(mustTree(t), synth.Config{Province: tt.province, Today: tt.today})
			if yipanqi.ErrorCode(err) != yipanqi.EINVALID || yipanqi.ErrorField(err) != tt.field {
				t.Fatalf("err = %v, want EINVALID on %s", err, tt.field)
			}
			if tt.field == "province" && !strings.Contains(yipanqi.ErrorMessage(err), "--province") {
				t.Errorf("message %q does not name --province", yipanqi.ErrorMessage(err))
			}
		})
	}
}

// BenchmarkGenPeople measures generating people and writing them as CSV.
func BenchmarkGenPeople(b *testing.B) {
	g := mustGenerator(b, "44", 1)
	w, err := registry.NewCSVWriter(io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	var p yipanqi.Person
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		g.Next(&p)
		if err := w.Write(&p); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
