package yipanqi

// Province is one of the region's provinces.
type Province struct {
	Code     string // 2-digit division code, the node's code
	Name     string // short name: 广东
	FullName string // name of the division: 广东省, 广西壮族自治区
}

// region is the 11 provinces of the Pan-Pearl-River-Delta region in the order of the plan
// (广东 福建 江西 湖北 湖南 广西 海南 贵州 重庆 四川 云南), the joint meeting's default rotation.
var region = [...]Province{
	{"44", "广东", "广东省"}, {"35", "福建", "福建省"}, {"36", "江西", "江西省"}, {"42", "湖北", "湖北省"},
	{"43", "湖南", "湖南省"}, {"45", "广西", "广西壮族自治区"}, {"46", "海南", "海南省"}, {"52", "贵州", "贵州省"},
	{"50", "重庆", "重庆市"}, {"51", "四川", "四川省"}, {"53", "云南", "云南省"},
}

// RegionProvinces returns the region's 11 provinces in the order of the plan (广东 first).
func RegionProvinces() []Province { return append([]Province(nil), region[:]...) }

// RegionCodes returns the codes of the region's 11 provinces in the order of the plan.
func RegionCodes() []string {
	codes := make([]string, len(region))
	for i, p := range region {
		codes[i] = p.Code
	}
	return codes
}

// RegionProvince returns the province of the region with the code, and whether there is one.
func RegionProvince(code string) (Province, bool) {
	for _, p := range region {
		if p.Code == code {
			return p, true
		}
	}
	return Province{}, false
}

// ProvinceName is the short name of the region's province with the code (广东), or "" when
// the code is not one of them.
func ProvinceName(code string) string {
	p, _ := RegionProvince(code)
	return p.Name
}
