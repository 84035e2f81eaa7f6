package casework

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

// personSides says which sides of its person may send a type (docs/workflows.md, Who may
// send about whom): the residence, the hometown, or both (SideEither). A type not sent by a
// side of a person (consult.case, directory.update: no id_number) gives neither.
func personSides(ct CaseType) (residence, hometown bool) {
	if ct.Spec == nil || ct.Spec.Field("id_number") == nil {
		return false, false
	}
	switch ct.Spec.From {
	case yipanqi.SideResidence:
		return true, false
	case yipanqi.SideHometown:
		return false, true
	case yipanqi.SideEither:
		return true, true
	}
	return false, false
}

// hukouOf reads, in one query for all of them, the hukou codes the node's registry holds for
// the people of the items sent by a side of their person: whether the registry holds a
// person (checkSender) and where their hukou is (checkHometown).
func (n *Node) hukouOf(ctx context.Context, tx *sqlstore.Tx, items []sendItem) (map[string]string, error) {
	var ids []string
	for _, it := range items {
		if res, home := personSides(n.cfg.Types[it.c.Type]); it.c.PersonIDNumber != "" && (res || home) {
			ids = append(ids, it.c.PersonIDNumber)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return tx.HukouCodes(ctx, ids)
}

// checkSender refuses a case about a person that node may not send (docs/workflows.md): the
// residence side may send only about a person its registry holds (who lives, or lived, in
// its province), the hometown side only about a person whose hukou is in its province — the
// hukou code its registry holds, else the division the ID number was issued in (its first
// two digits). A type either side may send passes when one of the two holds; a type not
// about a person, or a case without an ID number, is not checked. hukou is hukouOf's map.
// EINVALID naming id_number, without the number.
func checkSender(ct CaseType, node string, c *yipanqi.Case, hukou map[string]string) error {
	res, home := personSides(ct)
	id := c.PersonIDNumber
	if (!res && !home) || id == "" {
		return nil
	}
	code, held := hukou[id]
	if res && held {
		return nil
	}
	if home && (strings.HasPrefix(code, node) || (code == "" && strings.HasPrefix(id, node))) {
		return nil
	}
	label := ct.Spec.Label
	switch {
	case res && home:
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "id_number",
			"“%s”类案件只能由当事人的现居住地或户籍地发送：该公民身份号码的当事人不在本节点的流动人口登记中，户籍也不在本省（%s）", label, node)
	case res:
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "id_number",
			"“%s”类案件由当事人的现居住地发送：该公民身份号码的当事人不在本节点的流动人口登记中，请先登记（人员 › 导入或登记）再发送", label)
	}
	return yipanqi.FieldErrorf(yipanqi.EINVALID, "id_number",
		"“%s”类案件由当事人的户籍地发送：该公民身份号码的当事人户籍不在本省（%s）", label, node)
}

// checkHometown refuses a residence-to-hometown case about a person the node's registry
// holds when it is addressed off the path of the person's hukou code: the sender is the
// residence, and the hometown is where the registry says. The error does not name the code.
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

// personCheck is what the receiver checks of the sender of a request about a person, in the
// transaction that opens the case (checkReceived).
type personCheck struct {
	idNumber string
	ct       CaseType
	src      string // the sending node
}

// personCheckOf returns the check of a request of type ct about idNumber from src, or nil when
// the type is not sent by a side of its person or names none.
func personCheckOf(ct CaseType, idNumber, src string) *personCheck {
	if res, home := personSides(ct); idNumber == "" || (!res && !home) {
		return nil
	}
	return &personCheck{idNumber: idNumber, ct: ct, src: src}
}

// checkReceived refuses a request about a person the receiving node's registry shows living
// in its own province (the latest flow an arrival, the residence in the node) when the sender
// cannot be a side of that person: not the residence — it is here — and, for a type the
// hometown may send, not the hometown either (the registry's hukou code is not in the
// sender's province). A person the registry does not hold is not checked: the receiver does
// not know them. reg is RegistryPeople's map. A refusal (dead letter), naming id_number
// without the number.
func (n *Node) checkReceived(p *personCheck, reg map[string]sqlstore.Registered) error {
	r, held := reg[p.idNumber]
	if p.src == n.code || !held || r.FlowStatus != yipanqi.FlowArrived || !strings.HasPrefix(r.ResidenceCode, n.code) {
		return nil // between units of this node, Send checked it against this same registry
	}
	res, home := personSides(p.ct)
	if home && strings.HasPrefix(r.HukouCode, p.src) {
		return nil
	}
	label := p.ct.Spec.Label
	switch {
	case res && home:
		return refuse(yipanqi.EINVALID, "id_number",
			"“%s”类案件只能由当事人的现居住地或户籍地发送：该公民身份号码的当事人在本节点登记为现居住本省、户籍不在来文节点 %s，来文节点不是其任何一方", label, p.src)
	case home:
		return refuse(yipanqi.EINVALID, "id_number",
			"“%s”类案件由当事人的户籍地发送：该公民身份号码的当事人在本节点登记的户籍不在来文节点 %s", label, p.src)
	}
	return refuse(yipanqi.EINVALID, "id_number",
		"“%s”类案件由当事人的现居住地发送：该公民身份号码的当事人在本节点登记为现居住本省，来文节点 %s 不是其现居住地", label, p.src)
}
