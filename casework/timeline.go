package casework

import "yipanqi"

// timeline collects the case events of one transaction, written together when its work is
// done (Tx.AddCaseEvents: one INSERT for a whole batch, no round trip per message).
type timeline struct {
	events []*yipanqi.CaseEvent
}

func (tl *timeline) add(e *yipanqi.CaseEvent) { tl.events = append(tl.events, e) }

// nodeActor names another node as the actor of a step it took: its staff are not named
// across nodes.
func nodeActor(code string) string { return "node:" + code }

// replyLabel returns the Chinese label of a reply of the type, or the value itself.
func (n *Node) replyLabel(typ, reply string) string {
	if ct, ok := n.cfg.Types[typ]; ok && ct.Spec != nil {
		if r := ct.Spec.Reply(reply); r != nil {
			return r.Label
		}
	}
	return reply
}

// shanghai is the zone notes give times in (China keeps no DST).
var shanghai = yipanqi.Shanghai

// isNotice reports whether a type is a notice: acknowledged by its receipt, or applied on
// receipt, with no reply; its case closes once receipted.
func isNotice(ct CaseType) bool {
	return ct.Spec != nil && (ct.Spec.Answer == yipanqi.AnswerReceipt || ct.Spec.Answer == yipanqi.AnswerApply)
}
