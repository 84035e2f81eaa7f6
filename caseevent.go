package yipanqi

import "time"

// CaseEvent is one step on a case's timeline (ARCHITECTURE §2: every event of a case with its
// time, actor and node). The engine writes it in the same transaction as the step itself, so
// the timeline never shows a step that did not happen, nor misses one that did.
type CaseEvent struct {
	CaseID  string
	At      time.Time
	Kind    string // one of the CaseEvent… constants
	Actor   string // the user who acted, "system:exchange" for the engine, "node:43" for the other node
	Node    string // the node where the step happened
	OrgUnit string // the unit that acted
	Note    string // Chinese, e.g. the reply or the reason; never personal data
}

// Kinds of case events.
const (
	CaseEventSent          = "sent"           // the sender stored the case and its request
	CaseEventReceived      = "received"       // the receiver opened the case and signed its receipt
	CaseEventReceipted     = "receipted"      // the sender recorded the receiver's receipt
	CaseEventReplied       = "replied"        // the receiver answered
	CaseEventReplyReceived = "reply_received" // the sender recorded the answer
	CaseEventRejected      = "rejected"       // the case was returned to the sender with a reason
	CaseEventWithdrawn     = "withdrawn"      // the sender withdrew the case before a reply
	CaseEventTransferred   = "transferred"    // the case moved to another unit of the receiving node
	CaseEventAcknowledged  = "acknowledged"   // a notice was acknowledged on receipt (e.g. service.result)
	CaseEventAutoAnswered  = "auto_answered"  // the receiving node answered from its registry
	CaseEventNoted         = "noted"          // a step recorded by hand, or a notice that changed nothing
	CaseEventNoticeGiven   = "notice_given"   // cert.reissue: the 《限期补办通知书》 was given to the person
	CaseEventCertArrived   = "cert_arrived"   // cert.reissue: the posted certificate arrived at the residence
	CaseEventHandedOver    = "handed_over"    // cert.reissue: the certificate was handed to the person
)

// Label returns the Chinese name of the event's kind, or the kind itself when unknown.
func (e *CaseEvent) Label() string {
	switch e.Kind {
	case CaseEventSent:
		return "已发出"
	case CaseEventReceived:
		return "已收到并签收"
	case CaseEventReceipted:
		return "对方已签收"
	case CaseEventReplied:
		return "已答复"
	case CaseEventReplyReceived:
		return "收到答复"
	case CaseEventRejected:
		return "已退回"
	case CaseEventWithdrawn:
		return "已撤回"
	case CaseEventTransferred:
		return "已转办"
	case CaseEventAcknowledged:
		return "已确认收到"
	case CaseEventAutoAnswered:
		return "系统自动答复"
	case CaseEventNoted:
		return "办理记录"
	case CaseEventNoticeGiven:
		return "已发《限期补办通知书》"
	case CaseEventCertArrived:
		return "婚育证明已寄达"
	case CaseEventHandedOver:
		return "婚育证明已交本人"
	}
	return e.Kind
}
