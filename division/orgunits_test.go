package division_test

import (
	"testing"

	"yipanqi"
)

func TestProvinceUnits(t *testing.T) {
	tree := MustTree(t)
	units, err := tree.ProvinceUnits("44")
	if err != nil {
		t.Fatal(err)
	}
	if u := units[0]; u.Code != "44" || u.Name != "广东省" || u.ParentCode != "" || !u.Active {
		t.Errorf("first unit %+v, want the province 广东省 without a parent", u)
	}
	counties, err := tree.Counties("44")
	if err != nil {
		t.Fatal(err)
	}
	byLevel := map[yipanqi.Level]int{}
	seen := map[string]bool{}
	for _, u := range units {
		if seen[u.Code] {
			t.Fatalf("unit %s twice", u.Code)
		}
		seen[u.Code] = true
		byLevel[u.Level]++
		if u.Code[:2] != "44" || u.Level == yipanqi.LevelVillage || u.Level != yipanqi.LevelOf(u.Code) {
			t.Fatalf("unit %+v: not a province, city, county or township of 44", u)
		}
		if u.Level != yipanqi.LevelProvince && !seen[u.ParentCode] {
			t.Fatalf("unit %s comes before its parent %s", u.Code, u.ParentCode)
		}
	}
	if byLevel[yipanqi.LevelCounty] != len(counties) || byLevel[yipanqi.LevelCity] == 0 || byLevel[yipanqi.LevelTownship] == 0 {
		t.Errorf("units by level %v; want every one of the %d counties, and cities and townships", byLevel, len(counties))
	}
	if !seen["440106"] || !seen["440106001"] || seen["440106001001"] {
		t.Errorf("want 天河区 and 五山街道, not its communities")
	}
	t.Logf("44: %d units %v", len(units), byLevel)
	for _, bad := range []string{"4", "4401", "99"} {
		if _, err := tree.ProvinceUnits(bad); err == nil {
			t.Errorf("ProvinceUnits(%q) succeeded", bad)
		}
	}
}
