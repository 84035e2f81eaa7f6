package exchange

import (
	"context"
	"strings"

	"yipanqi"
	"yipanqi/sqlstore"
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

// toHometown reports whether a type goes from the person's residence to their hometown.
func toHometown(ct CaseType) bool {
	return ct.Spec != nil && ct.Spec.From == yipanqi.SideResidence && ct.Spec.To == yipanqi.SideHometown
}

// hukouOf reads, in one query for all of them, the hukou codes the node's registry holds for
// the people of the items whose type goes to the hometown.
func (n *Node) hukouOf(ctx context.Context, tx *sqlstore.Tx, items []sendItem) (map[string]string, error) {
	var ids []string
	for _, it := range items {
		if it.c.PersonIDNumber != "" && toHometown(n.cfg.Types[it.c.Type]) {
			ids = append(ids, it.c.PersonIDNumber)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return tx.HukouCodes(ctx, ids)
}

// checkHometown refuses a residence-to-hometown case about a person the node's registry
// holds when it is addressed off the path of the person's hukou code: the sender is the
// residence, and the hometown is where the registry says. A person the registry does not
// hold (verified before being registered) is not checked. The error does not name the code.
func checkHometown(ct CaseType, c *yipanqi.Case, hukou map[string]string) error {
	if !toHometown(ct) || c.PersonIDNumber == "" {
		return nil
	}
	h := hukou[c.PersonIDNumber]
	if h == "" || strings.HasPrefix(h, c.PeerUnit) || strings.HasPrefix(c.PeerUnit, h) {
		return nil
	}
	return yipanqi.FieldErrorf(yipanqi.EINVALID, "peer_unit",
		"“%s”类案件由现居住地发往当事人户籍地，受理单位“%s”不是本节点登记的当事人户籍地", ct.Spec.Label, c.PeerUnit)
}
