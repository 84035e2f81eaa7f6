package division

import "yipanqi"

// ProvinceUnits returns the org units of a provincial node made from the division data: the
// province and every city, county and township in it, active, each with its parent — the
// units a case can be addressed to (the hometown county or township of a hukou code).
// Villages and communities are left out: they do not take cases from other provinces. The
// province comes first, then each level in code order. EINVALID for a code that is not 2
// digits, ENOTFOUND for an unknown province.
func (t *Tree) ProvinceUnits(province string) ([]yipanqi.OrgUnit, error) {
	if len(province) != 2 || !yipanqi.ValidDivisionCode(province) {
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "division_code",
			"省级行政区划代码“%s”格式错误：应为 2 位数字", quote(province))
	}
	p, err := t.Lookup(province)
	if err != nil {
		return nil, err
	}
	units := []yipanqi.OrgUnit{{Code: p.Code, Name: p.Name, Level: p.Level, Active: true}}
	for li := 1; li <= 3; li++ { // cities, counties, townships
		lo, hi := t.levels[li].prefixRange(province)
		for _, d := range t.collect(li, lo, hi) {
			units = append(units, yipanqi.OrgUnit{Code: d.Code, Name: d.Name, Level: d.Level, ParentCode: d.Parent, Active: true})
		}
	}
	return units, nil
}
