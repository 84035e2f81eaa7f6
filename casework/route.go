package casework

import (
	"context"

	"yipanqi"
)

// Routing (ARCHITECTURE §2, docs/workflows.md): a case about a person goes to the hometown
// org unit of the person's hukou code, the deepest level that has staff. The sender does not
// know the other node's units, so it addresses the hukou code itself (RouteFor) and the
// receiving node routes: the case goes to the deepest active unit among the addressed code
// and its ancestors (sqlstore.RouteUnit). An addressee the receiving node does not know is
// returned to the sender with the reason (a rejection notice).

// RouteFor returns where a case about a person registered at hukouCode is addressed: the
// node of its province and, as the unit, the code itself down to the township (villages have
// no office of their own; the receiving node routes further up when the township has no
// staff). EINVALID, naming hukou_code, for a code that is not a division code.
func (n *Node) RouteFor(ctx context.Context, hukouCode string) (node, unit string, err error) {
	if !yipanqi.ValidDivisionCode(hukouCode) || len(hukouCode) < 6 {
		return "", "", yipanqi.FieldErrorf(yipanqi.EINVALID, "hukou_code",
			"户籍地行政区划代码“%s”无效：应为 6、9 或 12 位数字", hukouCode)
	}
	unit = hukouCode
	if len(unit) > yipanqi.LevelTownship.CodeLength() {
		unit = unit[:yipanqi.LevelTownship.CodeLength()]
	}
	return unit[:2], unit, nil
}

// route is the outcome of routing one addressed unit at this node.
type route struct {
	unit string // the unit that takes the case
	err  error  // a refusal (the addressee is unknown or has no staff), or a store failure
}

// routeRequest finds the unit of this node that takes a request addressed to unit; routes
// memoises the lookups of a batch. The addressee must be the node itself, an org unit the
// node holds, or a village of a township it holds (the node keeps no village units).
func (n *Node) routeRequest(ctx context.Context, addressed string, routes map[string]route) (string, error) {
	if r, ok := routes[addressed]; ok {
		return r.unit, r.err
	}
	unit, held, err := n.db.RouteUnit(ctx, addressed)
	r := route{unit: unit, err: err}
	if err == nil {
		if !held && len(addressed) == yipanqi.LevelVillage.CodeLength() {
			_, held, err = n.db.RouteUnit(ctx, addressed[:yipanqi.LevelTownship.CodeLength()])
			r.err = err
		}
		switch {
		case r.err != nil:
		case addressed == n.code && unit == "":
			r.unit = n.code // the node as such, even without a unit row
		case !held && addressed != n.code:
			r.err = refuse(yipanqi.ENOTFOUND, "ypqunit", "受理单位“%s”不是本节点 %s 的机构", addressed, n.code)
		case unit == "":
			r.err = refuse(yipanqi.ENOTFOUND, "ypqunit", "受理单位“%s”及其上级在本节点 %s 均无在岗机构", addressed, n.code)
		}
	}
	routes[addressed] = r
	return r.unit, r.err
}
