package yipanqi

import "slices"

// The case lifecycle (ARCHITECTURE §2): which action moves a case from which states to which.
// The engine (casework) and the store ask this table; no other package lists legal moves.
//
//	incoming copy:  delivered ─accept→ in_progress ─reply→ replied
//	                delivered/in_progress ─reply→ replied, ─withdrawal noticed→ withdrawn,
//	                ─transfer→ (same state, another unit)
//	outgoing copy:  sent/delivered ─withdraw→ withdrawn, ─rejected→ rejected,
//	                ─acceptance received→ in_progress
//	                sent/delivered/in_progress ─reply received→ replied ─handed over→ closed
//	                delivered ─acknowledged (a notice's receipt)→ closed
//
// A notice's incoming copy is created closed; a request's is created delivered.

// CaseAction is something that changes a case's state.
type CaseAction string

// Case actions. The direction is that of the copy the action changes.
const (
	ActReply           CaseAction = "reply"            // incoming: the final reply
	ActAccept          CaseAction = "accept"           // incoming: an interim reply (acceptance)
	ActTransfer        CaseAction = "transfer"         // incoming: to another unit of the node
	ActWithdrawNoticed CaseAction = "withdraw_noticed" // incoming: the sender withdrew it
	ActWithdraw        CaseAction = "withdraw"         // outgoing: the sender withdraws it
	ActRejected        CaseAction = "rejected"         // outgoing: the receiving node refused it
	ActAcceptReceived  CaseAction = "accept_received"  // outgoing: the interim reply arrived
	ActReplyReceived   CaseAction = "reply_received"   // outgoing: the final reply arrived
	ActAcknowledged    CaseAction = "acknowledged"     // outgoing: a notice's receipt closes it
	ActHandOver        CaseAction = "hand_over"        // outgoing: the reissued certificate handed over
)

// Transition is what an action does: the states it may start from, and the state it leaves
// the case in ("" for an action that keeps the state, a transfer).
type Transition struct {
	Direction Direction
	From      []CaseState
	To        CaseState
	Verb      string // Chinese, for messages: "答复"
}

var lifecycle = map[CaseAction]Transition{
	ActReply:           {Incoming, []CaseState{CaseDelivered, CaseInProgress}, CaseReplied, "答复"},
	ActAccept:          {Incoming, []CaseState{CaseDelivered}, CaseInProgress, "答复"},
	ActTransfer:        {Incoming, []CaseState{CaseDelivered, CaseInProgress}, "", "转办"},
	ActWithdrawNoticed: {Incoming, []CaseState{CaseDelivered, CaseInProgress}, CaseWithdrawn, "撤回"},
	ActWithdraw:        {Outgoing, []CaseState{CaseSent, CaseDelivered}, CaseWithdrawn, "撤回"},
	ActRejected:        {Outgoing, []CaseState{CaseSent, CaseDelivered}, CaseRejected, "退回"},
	ActAcceptReceived:  {Outgoing, []CaseState{CaseSent, CaseDelivered}, CaseInProgress, "答复"},
	ActReplyReceived:   {Outgoing, []CaseState{CaseSent, CaseDelivered, CaseInProgress}, CaseReplied, "答复"},
	ActAcknowledged:    {Outgoing, []CaseState{CaseDelivered}, CaseClosed, "办结"},
	ActHandOver:        {Outgoing, []CaseState{CaseReplied}, CaseClosed, "办结"},
}

// Transition returns what the action does. It panics for an action not in the table, a
// programming error.
func (a CaseAction) Transition() Transition {
	t, ok := lifecycle[a]
	if !ok {
		panic("yipanqi: unknown case action " + string(a))
	}
	return t
}

// From is the states the action may start from (a copy: callers may keep it).
func (a CaseAction) From() []CaseState { return slices.Clone(a.Transition().From) }

// To is the state the action leaves the case in, "" when it keeps the state.
func (a CaseAction) To() CaseState { return a.Transition().To }

// Allows says whether the action may be taken on a case in state s.
func (a CaseAction) Allows(s CaseState) bool { return slices.Contains(a.Transition().From, s) }

// openStates are the states of a case that is not finished: one side still has to act.
var openStates = []CaseState{CaseSent, CaseDelivered, CaseInProgress}

// IsOpen says whether a case in this state is not finished (sent, delivered or in progress).
// An incoming copy is never sent, so for it open means waiting for this node's work.
func (s CaseState) IsOpen() bool { return slices.Contains(openStates, s) }

// OpenStates lists the open states, in lifecycle order.
func OpenStates() []CaseState { return slices.Clone(openStates) }

// ConflictLabel is the Chinese name of a state a case is in, as a conflict message says it,
// for the copy of the given direction ("已答复" on the receiver's, "已收到答复" on the
// sender's).
func (s CaseState) ConflictLabel(d Direction) string {
	switch s {
	case CaseDrafted:
		return "尚未发出"
	case CaseSent:
		return "已发出"
	case CaseDelivered:
		return "已送达"
	case CaseInProgress:
		return "办理中"
	case CaseReplied:
		if d == Outgoing {
			return "已收到答复"
		}
		return "已答复"
	case CaseClosed:
		return "已办结"
	case CaseTransferred:
		return "已转办"
	case CaseWithdrawn:
		if d == Incoming {
			return "已被来文方撤回"
		}
		return "已撤回"
	case CaseRejected:
		return "已被退回"
	}
	return ""
}

// StateConflict is the ECONFLICT, on field "state", of action a on case caseID in state s,
// which the lifecycle does not allow: "案件“…”已办结，不能答复"; the same action twice says
// "不能再次答复".
func StateConflict(caseID string, a CaseAction, s CaseState) error {
	t := a.Transition()
	label := s.ConflictLabel(t.Direction)
	switch {
	case label == "":
		return FieldErrorf(ECONFLICT, "state", "案件“%s”当前状态不能%s", caseID, t.Verb)
	case s == t.To:
		return FieldErrorf(ECONFLICT, "state", "案件“%s”%s，不能再次%s", caseID, label, t.Verb)
	}
	return FieldErrorf(ECONFLICT, "state", "案件“%s”%s，不能%s", caseID, label, t.Verb)
}
