// Package synth generates a synthetic floating population for one province: people with
// valid (made-up) resident ID numbers, plausible names, real hukou counties in the provinces
// people come from, and real townships or villages where they live now.
//
// The output is deterministic: the same Config (seed, province, count and today) gives the
// same people in the same order, whatever the machine. Nothing here is anyone's personal data.
package synth

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"yipanqi"
	"yipanqi/division"
	"yipanqi/idcard"
)

// Config says what to generate.
type Config struct {
	Province string       // 2-digit code of one of the 11 Pan-PRD provinces
	Seed     uint64       // seeds the PCG generator
	Today    yipanqi.Date // the day the register is as of: ages and dates are counted from it
}

// Generator makes people one at a time. It is not safe for concurrent use.
type Generator struct {
	cfg  Config
	tree *division.Tree
	rng  *rand.Rand

	origins  picker[*originProvince]
	resGroup picker[*resGroup]
	surname  picker[string]
	ages     picker[int]
	used     map[uint64]struct{} // ID numbers handed out, as numbers
	buf      []byte
}

// originProvince is a hukou province with its counties, weighted toward rural ones.
type originProvince struct {
	code     string
	counties picker[*county]
}

// county is a hukou county; its townships are looked up the first time it is drawn.
type county struct {
	code      string
	townships []*township // nil until loaded
	loaded    bool
}

// township is a township with its full name and its villages' codes and full names.
type township struct {
	code, fullName string
	villages       []place
	loaded         bool
}

// place is a division with its full name, ready to write.
type place struct{ code, fullName string }

// resGroup is a city (or a Chongqing district) where people live now, with its townships.
type resGroup struct {
	townships []*township
}

// New prepares a generator: it reads the counties of every origin province and the townships of
// the province. EINVALID, naming --province, when the province is not one of the 11.
func New(tree *division.Tree, cfg Config) (*Generator, error) {
	ows, ok := origins[cfg.Province]
	if !ok {
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "province",
			"--province“%s”无效：应为泛珠三角 11 省区之一的 2 位代码（%s）", cfg.Province, strings.Join(yipanqi.RegionCodes(), "、"))
	}
	if cfg.Today.IsZero() {
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "today", "缺少生成数据的基准日期（--today）")
	}
	g := &Generator{
		cfg:  cfg,
		tree: tree,
		rng:  rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		used: make(map[uint64]struct{}),
		buf:  make([]byte, 0, 128),
	}
	for _, o := range ows {
		op, err := g.originProvince(o.key)
		if err != nil {
			return nil, err
		}
		g.origins.add(op, o.weight)
	}
	if err := g.residenceGroups(); err != nil {
		return nil, err
	}
	for _, s := range surnames {
		g.surname.add(s.key, s.weight)
	}
	for i, b := range ageBands {
		g.ages.add(i, b.weight)
	}
	return g, nil
}

func (g *Generator) originProvince(code string) (*originProvince, error) {
	cs, err := g.tree.Counties(code)
	if err != nil {
		return nil, err
	}
	op := &originProvince{code: code}
	for _, c := range cs {
		// Rural counties (县, county-level 市) send more people than city districts (区).
		w := 2
		if strings.HasSuffix(c.Name, "区") {
			w = 1
		}
		op.counties.add(&county{code: c.Code}, w)
	}
	if op.counties.total == 0 {
		return nil, yipanqi.Errorf(yipanqi.EINTERNAL, "division data has no counties for province %s", code)
	}
	return op, nil
}

// residenceGroups splits the province's townships into the groups of the destinations table
// (a listed county, else a listed city, else the township's own city at otherCityWeight).
func (g *Generator) residenceGroups() error {
	weights := make(map[string]int)
	for _, d := range destinations[g.cfg.Province] {
		weights[d.key] = d.weight
	}
	groups := make(map[string]*resGroup)
	var order []string // groups in code order, never map order
	cs, err := g.tree.Counties(g.cfg.Province)
	if err != nil {
		return err
	}
	for _, c := range cs {
		key := c.Code[:4]
		if _, ok := weights[c.Code]; ok {
			key = c.Code
		}
		ts, err := g.tree.Children(c.Code)
		if err != nil {
			return err
		}
		grp := groups[key]
		if grp == nil {
			grp = &resGroup{}
			groups[key] = grp
			order = append(order, key)
		}
		for _, t := range ts {
			grp.townships = append(grp.townships, &township{code: t.Code})
		}
	}
	slices.Sort(order)
	for _, key := range order {
		grp := groups[key]
		if len(grp.townships) == 0 {
			continue
		}
		w, ok := weights[key]
		if !ok {
			w = otherCityWeight
		}
		g.resGroup.add(grp, w)
	}
	if g.resGroup.total == 0 {
		return yipanqi.Errorf(yipanqi.EINTERNAL, "division data has no townships for province %s", g.cfg.Province)
	}
	return nil
}

// Next fills p with the next person.
func (g *Generator) Next(p *yipanqi.Person) {
	r := g.rng
	*p = yipanqi.Person{}
	today := g.cfg.Today

	p.Sex = yipanqi.Female
	if r.IntN(100) < 52 {
		p.Sex = yipanqi.Male
	}
	band := ageBands[g.ages.pick(r)]
	age := band.from + r.IntN(band.to-band.from)
	// Birth: age full years before today, on a random day of that year of life.
	last := addYears(today, -age)
	p.BirthDate = last.AddDays(-r.IntN(365))
	p.Name = g.name(p.Sex)

	// Residence, then a hukou somewhere else.
	res := g.residence()
	op := g.origins.pick(r)
	var hc *county
	for range 8 {
		hc = op.counties.pick(r)
		if !strings.HasPrefix(res.code, hc.code) {
			break // moving within one county is not migration
		}
	}
	g.hukou(p, hc)
	p.ResidenceCode = res.code
	p.ResidenceAddress = g.residenceAddress(res.fullName)
	p.IDNumber = g.idNumber(hc.code, p.BirthDate, p.Sex)

	p.MaritalStatus = g.marital(age)
	if age >= 16 && r.IntN(100) < 96 || age < 16 && r.IntN(100) < 15 {
		p.Phone = g.phone()
	}

	// Arrival: within the last ten years, and after the 16th birthday for adults (children
	// came with their parents, after they were born).
	from := today.AddDays(-3652)
	if age >= 16 {
		if at16 := addYears(p.BirthDate, 16); from.Before(at16) {
			from = at16
		}
	} else if from.Before(p.BirthDate) {
		from = p.BirthDate
	}
	p.ArrivedOn = from.AddDays(r.IntN(daysBetween(from, today) + 1))
	p.FlowStatus = yipanqi.FlowArrived
}

func (g *Generator) name(sex yipanqi.Sex) string {
	r := g.rng
	b := append(g.buf[:0], g.surname.pick(r)...)
	single, first, second := maleSingle, maleFirst, maleSecond
	if sex == yipanqi.Female {
		single, first, second = femaleSingle, femaleFirst, femaleSecond
	}
	if r.IntN(7) == 0 {
		b = append(b, single[r.IntN(len(single))]...)
	} else {
		b = append(b, first[r.IntN(len(first))]...)
		b = append(b, second[r.IntN(len(second))]...)
	}
	g.buf = b
	return string(b)
}

// residence picks a village (most of the time) or a township where the person lives now.
func (g *Generator) residence() place {
	grp := g.resGroup.pick(g.rng)
	t := grp.townships[g.rng.IntN(len(grp.townships))]
	g.load(t)
	if len(t.villages) > 0 && g.rng.IntN(10) < 7 {
		return t.villages[g.rng.IntN(len(t.villages))]
	}
	return place{t.code, t.fullName}
}

// hukou sets the hukou code (the county, or for two in five people the township) and an
// address down to the village and house.
func (g *Generator) hukou(p *yipanqi.Person, c *county) {
	r := g.rng
	if !c.loaded {
		ts, _ := g.tree.Children(c.code) // c came from the tree: it exists
		for _, t := range ts {
			c.townships = append(c.townships, &township{code: t.Code})
		}
		c.loaded = true
	}
	if len(c.townships) == 0 {
		p.HukouCode = c.code
		name, _ := g.tree.FullName(c.code)
		p.HukouAddress = name + strconv.Itoa(1+r.IntN(200)) + "号"
		return
	}
	t := c.townships[r.IntN(len(c.townships))]
	g.load(t)
	p.HukouCode = c.code
	if r.IntN(5) < 2 {
		p.HukouCode = t.code
	}
	b := g.buf[:0]
	if len(t.villages) > 0 {
		b = append(b, t.villages[r.IntN(len(t.villages))].fullName...)
	} else {
		b = append(b, t.fullName...)
		b = append(b, villageNames[r.IntN(len(villageNames))]...)
	}
	b = strconv.AppendInt(b, int64(1+r.IntN(12)), 10)
	b = append(b, "组"...)
	b = strconv.AppendInt(b, int64(1+r.IntN(80)), 10)
	b = append(b, "号"...)
	g.buf = b
	p.HukouAddress = string(b)
}

func (g *Generator) residenceAddress(prefix string) string {
	r := g.rng
	b := append(g.buf[:0], prefix...)
	if r.IntN(8) == 0 {
		b = append(b, roads[r.IntN(len(roads))]...)
		b = append(b, dormitories[r.IntN(len(dormitories))]...)
		b = strconv.AppendInt(b, int64(100+r.IntN(600)), 10)
		b = append(b, "房"...)
	} else {
		b = append(b, roads[r.IntN(len(roads))]...)
		b = append(b, roadSuffixes[r.IntN(len(roadSuffixes))]...)
		b = strconv.AppendInt(b, int64(1+r.IntN(300)), 10)
		b = append(b, "号"...)
		b = strconv.AppendInt(b, int64(1+r.IntN(20)), 10)
		b = append(b, "栋"...)
		b = strconv.AppendInt(b, int64(1+r.IntN(30)), 10)
		b = strconv.AppendInt(b, int64(1+r.IntN(4)), 10)
		b = append(b, "室"...)
	}
	g.buf = b
	return string(b)
}

// load reads a township's full name and villages the first time it is used.
func (g *Generator) load(t *township) {
	if t.loaded {
		return
	}
	t.loaded = true
	t.fullName, _ = g.tree.FullName(t.code)
	vs, _ := g.tree.Children(t.code)
	t.villages = make([]place, len(vs))
	for i, v := range vs {
		t.villages[i] = place{v.Code, t.fullName + villageName(v.Name)}
	}
}

// villageName turns the name of a village committee as the data has it into the name of the
// place as an address writes it: 大利村村民委员会 → 大利村, 同庆社区居委会 → 同庆社区,
// 国光村委会 → 国光村.
func villageName(s string) string {
	for _, suffix := range []string{"村民委员会", "居民委员会", "村委会", "居委会", "村委"} {
		if t, ok := strings.CutSuffix(s, suffix); ok && t != "" {
			if !strings.HasSuffix(t, "村") && !strings.HasSuffix(t, "社区") {
				if strings.HasPrefix(suffix, "村") {
					t += "村"
				} else {
					t += "社区"
				}
			}
			return t
		}
	}
	return s
}

// idNumber makes an ID number not handed out before: the sequence number is odd for a man
// and even for a woman, and drawn again on a clash.
func (g *Generator) idNumber(region string, birth yipanqi.Date, sex yipanqi.Sex) string {
	r := g.rng
	reg, _ := strconv.Atoi(region)
	base := (uint64(reg)*100000000 + uint64(birth.Year*10000+int(birth.Month)*100+birth.Day)) * 1000
	for {
		seq := 2 * r.IntN(500)
		if sex == yipanqi.Male {
			seq++
		}
		key := base + uint64(seq)
		if _, dup := g.used[key]; dup {
			continue
		}
		g.used[key] = struct{}{}
		// What idcard.Make does, without fmt: this runs once a row.
		var b [18]byte
		copy(b[:6], region)
		y, m, d := birth.Year, int(birth.Month), birth.Day
		b[6], b[7], b[8], b[9] = byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10)
		b[10], b[11], b[12], b[13] = byte('0'+m/10), byte('0'+m%10), byte('0'+d/10), byte('0'+d%10)
		b[14], b[15], b[16] = byte('0'+seq/100), byte('0'+seq/10%10), byte('0'+seq%10)
		b[17] = idcard.CheckChar(string(b[:17]))
		return string(b[:])
	}
}

func (g *Generator) marital(age int) yipanqi.MaritalStatus {
	i := 0
	for i+1 < len(maritalByAge) && maritalByAge[i+1].from <= age {
		i++
	}
	ws := maritalByAge[i].weights
	n := g.rng.IntN(ws[0] + ws[1] + ws[2] + ws[3] + ws[4])
	for k, w := range ws {
		if n < w {
			return yipanqi.MaritalStatuses[k].Status
		}
		n -= w
	}
	return yipanqi.Unmarried
}

func (g *Generator) phone() string {
	b := append(g.buf[:0], mobilePrefixes[g.rng.IntN(len(mobilePrefixes))]...)
	n := g.rng.IntN(100000000)
	for d := 10000000; d > 0; d /= 10 {
		b = append(b, byte('0'+n/d%10))
	}
	g.buf = b
	return string(b)
}

// addYears moves d by n years; 29 February becomes 28 February in a common year.
func addYears(d yipanqi.Date, n int) yipanqi.Date {
	y := d.Year + n
	day := d.Day
	if d.Month == time.February && day == 29 && !(y%4 == 0 && (y%100 != 0 || y%400 == 0)) {
		day = 28
	}
	return yipanqi.Date{Year: y, Month: d.Month, Day: day}
}

func daysBetween(a, b yipanqi.Date) int {
	return int(b.In(time.UTC).Sub(a.In(time.UTC)).Hours() / 24)
}

// picker draws items with probability proportional to their weights.
type picker[T any] struct {
	items []T
	cum   []int // running total of weights
	total int
}

func (p *picker[T]) add(item T, weight int) {
	if weight <= 0 {
		return
	}
	p.total += weight
	p.items = append(p.items, item)
	p.cum = append(p.cum, p.total)
}

func (p *picker[T]) pick(r *rand.Rand) T {
	n := r.IntN(p.total)
	i, _ := slices.BinarySearch(p.cum, n+1)
	return p.items[i]
}
