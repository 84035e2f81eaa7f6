package exchange

import (
	"strings"

	"yipanqi"
)

// checkSides checks who sends a case of type ct and to whom, as the catalog declares
// (docs/workflows.md): the sending unit must be of one of the type's levels; a province-to-
// province type (consult.case) and a type for all nodes (directory.update) go from a
// province unit to a province unit. EINVALID naming org_unit or peer_unit, in Chinese. A
// type without a catalog declaration is not checked.
//
// Which of the two sides (residence or hometown) a unit is depends on the person, not on
// the unit; Send does not look the person up, so it does not check it: the addressee
// routes the case to the hometown unit of the code it is addressed to.
func checkSides(ct CaseType, unit, peerUnit string) error {
	t := ct.Spec
	if t == nil {
		return nil
	}
	level := yipanqi.LevelOf(unit)
	ok := false
	for _, l := range t.Levels {
		ok = ok || l == level
	}
	if !ok {
		names := make([]string, len(t.Levels))
		for i, l := range t.Levels {
			names[i] = l.Label()
		}
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "org_unit", "“%s”类案件只能由%s机构发送，“%s”是%s机构",
			t.Label, strings.Join(names, "、"), unit, level.Label())
	}
	if (t.To == yipanqi.SideProvince || t.To == yipanqi.SideAll) && yipanqi.LevelOf(peerUnit) != yipanqi.LevelProvince {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "peer_unit", "“%s”类案件发往省级节点，受理单位应为省级代码，不是“%s”",
			t.Label, peerUnit)
	}
	return nil
}
