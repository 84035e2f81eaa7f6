package casework

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"yipanqi"
	"yipanqi/exchange"
	"yipanqi/sqlstore"
)

// Interim replies (docs/workflows.md): a petition is first accepted or declined (15 days),
// and an accepted one is then answered with its outcome (60 days from the acceptance). The
// catalog marks the acceptance Interim and the outcome as Requiring it; the engine keeps the
// case open after an interim reply, starts the deadline that counts from acceptance, and
// sends the outcome back to the sender as the final reply — no one has to remember to.

// replyPlan is what a reply does to the case that receives it.
type replyPlan struct {
	act            yipanqi.CaseAction // ActReply (final) or ActAccept (interim): the case's move
	due            time.Time          // an interim reply: the deadline that now runs, else zero
	dueProvisional bool
}

// planReply checks a reply against the replies the case already has and says what it does.
// ECONFLICT, in Chinese, for a second interim reply, a reply that needs an interim one not
// given, or a reply other than the one that must follow an interim reply.
func (n *Node) planReply(ctx context.Context, tx *sqlstore.Tx, c *yipanqi.Case, ct CaseType, reply string) (*replyPlan, error) {
	final := &replyPlan{act: yipanqi.ActReply}
	if ct.Spec == nil {
		return final, nil
	}
	spec := ct.Spec.Reply(reply)
	interims := map[string]bool{}
	for _, r := range ct.Spec.Replies {
		if r.Interim {
			interims[r.Value] = true
		}
	}
	if spec == nil || (len(interims) == 0 && spec.Requires == "") {
		return final, nil
	}
	prior, err := tx.CaseReplies(ctx, c.ID, yipanqi.Outgoing, c.Type)
	if err != nil {
		return nil, err
	}
	given := ""
	for _, m := range prior {
		var rd requestData
		if e, err := exchange.Decode(m.Body); err == nil && json.Unmarshal(e.Data, &rd) == nil && interims[rd.Reply] {
			given = rd.Reply
		}
	}
	label := func(v string) string { return n.replyLabel(c.Type, v) }
	switch {
	case spec.Interim && len(prior) > 0:
		return nil, yipanqi.FieldErrorf(yipanqi.ECONFLICT, "reply", "案件“%s”已作出“%s”答复，不能再次答复“%s”", c.ID, label(given), spec.Label)
	case spec.Interim:
		for _, d := range ct.Spec.Deadlines {
			if d.From != yipanqi.FromAcceptance {
				continue
			}
			due, err := n.cfg.Calendar.Due(n.now(), ruleOf(d))
			if err != nil {
				return nil, fmt.Errorf("exchange: deadline %s of %s: %w", d.Name, c.Type, err)
			}
			return &replyPlan{act: yipanqi.ActAccept,
				due: due.At.UTC(), dueProvisional: due.Provisional}, nil
		}
		return &replyPlan{act: yipanqi.ActAccept}, nil
	case spec.Requires != "" && given != spec.Requires:
		return nil, yipanqi.FieldErrorf(yipanqi.ECONFLICT, "reply", "案件“%s”须先答复“%s”，才能答复“%s”", c.ID, label(spec.Requires), spec.Label)
	case spec.Requires == "" && given != "":
		return nil, yipanqi.FieldErrorf(yipanqi.ECONFLICT, "reply", "案件“%s”已“%s”，只能答复其后的结果", c.ID, label(given))
	}
	return final, nil
}

// isInterim reports whether reply is an interim reply of the type.
func (n *Node) isInterim(typ, reply string) bool {
	if ct, ok := n.cfg.Types[typ]; ok && ct.Spec != nil {
		if r := ct.Spec.Reply(reply); r != nil {
			return r.Interim
		}
	}
	return false
}
