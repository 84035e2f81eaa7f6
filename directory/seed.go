// Package directory makes, reads and writes the region's directory (S1.4, S4.1): a demo
// directory for every province generated from the real division names, and the .xlsx
// workbook in which a province keeps its directory (import with a row-and-column error
// report, export in the same layout). The store keeps the directory (sqlstore); the domain
// types and their rules are in the root package.
package directory

import (
	"fmt"
	"hash/fnv"
	"time"

	"yipanqi"
	"yipanqi/division"
)

// DemoNote marks every generated entry: the offices are named after real divisions, but the
// people, numbers, phones and addresses are made up.
const DemoNote = "演示数据（虚构）"

// provinceInfo is what the generator needs of a province beyond its division name: the short
// name used in document numbers, and its capital's area code.
type provinceInfo struct{ short, area string }

var provinces = map[string]provinceInfo{
	"44": {"粤", "020"}, "35": {"闽", "0591"}, "36": {"赣", "0791"}, "42": {"鄂", "027"},
	"43": {"湘", "0731"}, "45": {"桂", "0771"}, "46": {"琼", "0898"}, "52": {"黔", "0851"},
	"50": {"渝", "023"}, "51": {"川", "028"}, "53": {"滇", "0871"},
}

// surnames for the made-up officials, who are all written "姓某某", as Chinese documents
// write a person who is not to be named: plainly nobody in particular.
var surnames = []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余杜叶程魏苏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛")

// SeedOptions tunes the generated directory.
type SeedOptions struct {
	// TownshipsPerCounty is how many townships of each county get an office in the
	// directory (the first ones by code); 0 means 2, and -1 none. Every township of a large
	// province would make a directory of tens of thousands of contacts, more than a demo needs.
	TownshipsPerCounty int
}

// Seed returns a plausible, clearly fictional directory of the province with the 2-digit code:
// a few regulations, service institutions in every city and county, and the offices of the
// floating-population service at province, city, county and (some) township level with the
// duty roles of S4.1. Office names come from the real division names ("天河区流动人口服务管理
// 办公室"); people are "王某某"; phones are a real area code followed by a local number that
// begins with 0, which no subscriber line in China has; every entry carries DemoNote. The same
// tree and options give the same directory. EINVALID for a province outside the region.
func Seed(tree *division.Tree, province string, opts SeedOptions) ([]yipanqi.DirectoryEntry, error) {
	info, ok := provinces[province]
	if !ok {
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "province", "省份代码“%s”不在泛珠三角区域的 11 个省（区、市）之中", province)
	}
	per := opts.TownshipsPerCounty
	if per == 0 {
		per = 2
	}
	prov, err := tree.Lookup(province)
	if err != nil {
		return nil, err
	}
	g := &seeder{tree: tree, province: province, info: info}

	g.regulations(prov)

	g.contact(prov, prov.Name+"卫生健康委员会", yipanqi.RoleFirstResponsible, "主任")
	g.contact(prov, prov.Name+"卫生健康委员会", yipanqi.RoleLeaderInCharge, "副主任")
	office := prov.Name + "流动人口服务管理办公室"
	g.contact(prov, office, yipanqi.RoleOfficeHead, "处长")
	g.contact(prov, office, yipanqi.RoleStaff, "一级主任科员")
	g.contact(prov, office, yipanqi.RoleStaff, "四级主任科员")

	cities, err := tree.Children(province)
	if err != nil {
		return nil, err
	}
	for _, city := range cities {
		if !division.IsPlaceholder(city.Name) {
			g.institution(city, city.Name+"妇幼保健院", "孕前优生健康检查；婚前医学检查；生殖健康咨询；避孕药具免费发放")
			office := city.Name + "流动人口服务管理办公室"
			g.contact(city, office, yipanqi.RoleLeaderInCharge, "副局长")
			g.contact(city, office, yipanqi.RoleOfficeHead, "科长")
			g.contact(city, office, yipanqi.RoleStaff, "科员")
		}
		counties, err := tree.Children(city.Code)
		if err != nil {
			return nil, err
		}
		for _, county := range counties {
			if division.IsPlaceholder(county.Name) {
				continue
			}
			g.institution(county, county.Name+"妇幼保健计划生育服务中心", "免费孕前优生健康检查；避孕药具免费发放；随访服务")
			office := county.Name + "流动人口服务管理办公室"
			g.contact(county, office, yipanqi.RoleLeaderInCharge, "副局长")
			g.contact(county, office, yipanqi.RoleOfficeHead, "主任")
			g.contact(county, office, yipanqi.RoleStaff, "工作人员")
			if per < 0 {
				continue
			}
			towns, err := tree.Children(county.Code)
			if err != nil {
				return nil, err
			}
			for _, town := range towns[:min(per, len(towns))] {
				office := town.Name + "流动人口服务管理站"
				g.contact(town, office, yipanqi.RoleOfficeHead, "站长")
				g.contact(town, office, yipanqi.RoleStaff, "专职工作人员")
			}
		}
	}
	return g.out, nil
}

// seeder accumulates one province's entries.
type seeder struct {
	tree     *division.Tree
	province string
	info     provinceInfo
	out      []yipanqi.DirectoryEntry
	phones   int
}

// phone returns the next made-up office phone of the province: the capital's area code and a
// local number starting with 0.
func (g *seeder) phone() string {
	g.phones++
	return fmt.Sprintf("%s-0%07d", g.info.area, g.phones)
}

func (g *seeder) address(d division.Division) string {
	full, err := g.tree.FullName(d.Code)
	if err != nil {
		full = d.Name
	}
	return fmt.Sprintf("%s演示路 %d 号", full, 1+hash(d.Code)%200)
}

func (g *seeder) contact(d division.Division, office string, role yipanqi.DutyRole, title string) {
	n := len(g.out)
	g.out = append(g.out, yipanqi.DirectoryEntry{
		Kind: yipanqi.EntryContact, DivisionCode: d.Code, DivisionName: d.Name, Name: office,
		Role: role, PersonName: string(surnames[hash(fmt.Sprint(d.Code, n))%uint32(len(surnames))]) + "某某",
		JobTitle: title, Phone: g.phone(), Address: g.address(d), Note: DemoNote,
	})
}

func (g *seeder) institution(d division.Division, name, services string) {
	g.out = append(g.out, yipanqi.DirectoryEntry{
		Kind: yipanqi.EntryInstitution, DivisionCode: d.Code, DivisionName: d.Name, Name: name,
		Services: services, Phone: g.phone(), Address: g.address(d), Note: DemoNote,
	})
}

func (g *seeder) regulations(prov division.Division) {
	reg := func(name, number string, y, m, d int, status yipanqi.RegulationStatus, text string) {
		g.out = append(g.out, yipanqi.DirectoryEntry{
			Kind: yipanqi.EntryRegulation, DivisionCode: prov.Code, DivisionName: prov.Name, Name: name,
			DocNumber: number, IssuedOn: yipanqi.Date{Year: y, Month: time.Month(m), Day: d}, Status: status,
			Text: text, Note: DemoNote,
		})
	}
	s := g.info.short
	reg(prov.Name+"人口与计划生育条例", "", 2021, 11, 25, yipanqi.RegulationInForce,
		"演示摘要：本省实施《中华人民共和国人口与计划生育法》的地方性法规，规定生育服务、奖励扶助与流动人口服务等事项。")
	reg(prov.Name+"流动人口服务管理办法", fmt.Sprintf("%s卫健发〔2022〕%d号", s, 10+hash(prov.Code)%40), 2022, 6, 15,
		yipanqi.RegulationInForce, "演示摘要：现居住地与户籍地的职责分工、信息通报、服务项目与办理时限。")
	reg("关于做好泛珠三角区域流动人口服务协作工作的通知", fmt.Sprintf("%s卫健函〔2023〕%d号", s, 50+hash(prov.Code)%90), 2023, 3, 1,
		yipanqi.RegulationInForce, "演示摘要：区域协作的联络机制、核实答复 15 个工作日内办结、紧急事项 24 小时内答复。")
	reg(prov.Name+"流动人口计划生育工作管理办法", fmt.Sprintf("%s府〔2010〕%d号", s, 1+hash(prov.Code)%30), 2010, 4, 20,
		yipanqi.RegulationRepealed, "演示摘要：已被本省流动人口服务管理办法取代。")
}

func hash(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}
