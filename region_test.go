package yipanqi_test

import (
	"strings"
	"testing"

	"yipanqi"
	"yipanqi/division"
)

// TestRegion: the region is the 11 Pan-PRD provinces in the plan's order, and each one's code
// and full name are those of the division data.
func TestRegion(t *testing.T) {
	if got, want := strings.Join(yipanqi.RegionCodes(), " "), "44 35 36 42 43 45 46 52 50 51 53"; got != want {
		t.Errorf("RegionCodes = %s, want %s", got, want)
	}
	tree, err := division.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range yipanqi.RegionProvinces() {
		d, err := tree.Lookup(p.Code)
		if err != nil || d.Name != p.FullName || !strings.HasPrefix(p.FullName, p.Name) {
			t.Errorf("province %+v: division %+v, %v", p, d, err)
		}
		if got, ok := yipanqi.RegionProvince(p.Code); !ok || got != p || yipanqi.ProvinceName(p.Code) != p.Name {
			t.Errorf("RegionProvince(%s) = %+v, %v", p.Code, got, ok)
		}
	}
	if _, ok := yipanqi.RegionProvince("11"); ok || yipanqi.ProvinceName("11") != "" {
		t.Error("北京 (11) is in the region")
	}
	ps := yipanqi.RegionProvinces()
	ps[0].Name = "x"
	if yipanqi.ProvinceName("44") != "广东" {
		t.Error("RegionProvinces shares the region's array")
	}
}
