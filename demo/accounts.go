package demo

import (
	"context"
	"fmt"
	"io"
	"time"

	"yipanqi"
	"yipanqi/division"
	"yipanqi/idcard"
	"yipanqi/sqlstore"
	"yipanqi/web"
)

// DemoPassword is the one password of every demo account (README.md, "Demo accounts").
const DemoPassword = "yipanqi-demo"

// The walk-through of the README: a township worker of 广州市天河区五山街道 asks 湖南省邵阳市隆回县
// 小沙江镇 to verify someone living in 五山街道 whose hukou is there, and a worker of 小沙江镇
// answers. The demo's simulated hometown staff leave the cases of the demo accounts' townships
// alone, for a person to answer.
const (
	WalkResidence = "440106001" // 广州市天河区五山街道
	WalkHometown  = "430524101" // 湖南省邵阳市隆回县小沙江镇
)

// accountPlaces are the city, county and township of each province's demo accounts: the two of
// the walk-through, and for the other provinces the first of each level in the division data.
var accountPlaces = map[string][3]string{
	"44": {"4401", "440106", WalkResidence},
	"43": {"4305", "430524", WalkHometown},
}

// pinyin are the short names of the provinces in the demo usernames (no personal data).
var pinyin = map[string]string{
	"44": "gd", "35": "fj", "36": "jx", "42": "hb", "43": "hn", "45": "gx",
	"46": "hi", "52": "gz", "50": "cq", "51": "sc", "53": "yn",
}

// Account is one demo account.
type Account struct {
	Username, Unit, UnitName string
	Role                     yipanqi.Role
}

// accountsOf returns the demo accounts of province code: a province administrator, a city
// supervisor, a county supervisor and a township worker.
func accountsOf(tree *division.Tree, code string) ([]Account, error) {
	places, ok := accountPlaces[code]
	if !ok {
		city, err := firstChild(tree, code)
		if err != nil {
			return nil, err
		}
		county, err := firstChild(tree, city)
		if err != nil {
			return nil, err
		}
		town, err := firstChild(tree, county)
		if err != nil {
			return nil, err
		}
		places = [3]string{city, county, town}
	}
	p := pinyin[code]
	if p == "" {
		p = "p" + code
	}
	out := []Account{
		{Username: p + "-admin", Unit: code, Role: yipanqi.RoleProvinceAdmin},
		{Username: p + "-city", Unit: places[0], Role: yipanqi.RoleCitySupervisor},
		{Username: p + "-county", Unit: places[1], Role: yipanqi.RoleCountySupervisor},
		{Username: p + "-town", Unit: places[2], Role: yipanqi.RoleTownshipWorker},
	}
	for i := range out {
		name, err := tree.FullName(out[i].Unit)
		if err != nil {
			return nil, err
		}
		out[i].UnitName = name
	}
	return out, nil
}

// firstChild is the first division under code that has children of its own or, at the
// township level, the first township.
func firstChild(tree *division.Tree, code string) (string, error) {
	kids, err := tree.Children(code)
	if err != nil {
		return "", err
	}
	for _, k := range kids {
		if len(k.Code) >= 9 {
			return k.Code, nil
		}
		if sub, err := tree.Children(k.Code); err == nil && len(sub) > 0 {
			return k.Code, nil
		}
	}
	return "", fmt.Errorf("demo: no division with children under %s", code)
}

// makeAccounts gives node n its demo accounts, keeping those a previous run made, and returns
// them.
func (r *Region) makeAccounts(ctx context.Context, n *Node, hash string) ([]Account, error) {
	accounts, err := accountsOf(r.cfg.Tree, n.Code)
	if err != nil {
		return nil, err
	}
	for _, a := range accounts {
		if _, err := n.DB.UserByName(ctx, a.Username); err == nil {
			continue
		} else if yipanqi.ErrorCode(err) != yipanqi.ENOTFOUND {
			return nil, err
		}
		u := &yipanqi.User{Username: a.Username, DisplayName: web.RoleLabel(a.Role) + "（演示）", OrgUnit: a.Unit,
			Role: a.Role, PasswordHash: hash}
		if err := n.DB.CreateUser(ctx, u); err != nil {
			return nil, fmt.Errorf("demo: account %s: %w", a.Username, err)
		}
	}
	for _, a := range accounts {
		if a.Role == yipanqi.RoleTownshipWorker {
			r.manual[a.Unit] = true
		}
	}
	return accounts, nil
}

// walkPeople are the people of the walk-through: living in 五山街道, hukou in 小沙江镇.
func walkPeople(now time.Time) []*yipanqi.Person {
	names := []string{"演示甲", "演示乙", "演示丙", "演示丁", "演示戊", "演示己"}
	var out []*yipanqi.Person
	for i, name := range names {
		birth := yipanqi.Date{Year: 1985 + i*2, Month: time.Month(1 + i), Day: 5 + i}
		sex := yipanqi.Female
		if i%2 == 0 {
			sex = yipanqi.Male
		}
		seq := 101 + i*2
		if sex == yipanqi.Female {
			seq++
		}
		out = append(out, &yipanqi.Person{
			IDNumber: idcard.Make(WalkHometown[:6], birth, seq), Name: name, Sex: sex, BirthDate: birth,
			MaritalStatus: yipanqi.FirstMarried, HukouCode: WalkHometown, HukouAddress: fmt.Sprintf("湖南省邵阳市隆回县小沙江镇演示村 %d 号", i+1),
			ResidenceCode: WalkResidence, ResidenceAddress: fmt.Sprintf("广州市天河区五山路演示小区 %d 栋", i+1),
			Phone: "", ArrivedOn: yipanqi.DateOf(now.AddDate(-1, 0, -i*30)), FlowStatus: yipanqi.FlowArrived,
		})
	}
	return out
}

// addWalkPeople imports the walk-through's people into the residence node's store (again on
// a later run: the import leaves identical rows as they are).
func addWalkPeople(ctx context.Context, db *sqlstore.DB, now time.Time) error {
	im, err := db.BeginPeopleImport(ctx, "system:demo", "演示人员")
	if err != nil {
		return err
	}
	for i, p := range walkPeople(now) {
		if err := im.Add(i+1, p); err != nil {
			_ = im.Rollback()
			return err
		}
	}
	_, _, err = im.Commit(ctx)
	return err
}

// WalkPeople returns the ID numbers of the walk-through's people, for the README and tests.
func WalkPeople() []string {
	var out []string
	for _, p := range walkPeople(time.Now()) {
		out = append(out, p.IDNumber)
	}
	return out
}

// printAccounts writes the demo accounts and the walk-through to w.
func printAccounts(w io.Writer, addr string, nodes []*Node, accounts map[string][]Account) {
	fmt.Fprintf(w, "演示账户（密码均为 %s）：\n", DemoPassword)
	for _, n := range nodes {
		for _, a := range accounts[n.Code] {
			fmt.Fprintf(w, "  %-10s %-10s %s  http://%s/%s/login\n", a.Username, web.RoleLabel(a.Role), a.UnitName, addr, n.Code)
		}
	}
	ids := WalkPeople()
	fmt.Fprintf(w, "试一试：以 gd-town 登录 http://%s/44/ ，发起“身份住址核实”，公民身份号码填 %s（户籍湖南隆回县小沙江镇）；\n", addr, ids[0])
	fmt.Fprintf(w, "再以 hn-town 登录 http://%s/43/ ，在“待办”中答复。\n", addr)
}
