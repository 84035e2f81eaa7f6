package yipanqi

import "time"

// DeadLetter is a received message the node could not process — bad signature, unknown type,
// unknown addressee, invalid data — kept with the reason for administrators. It is never
// dropped; the sender is sent a signed rejection notice unless the message was itself a
// receipt or a notice.
type DeadLetter struct {
	ID         int64
	MessageID  string // the envelope id if it could be read, else the Nats-Msg-Id header
	Source     string // the sending node as the NATS subject names it
	Subject    string // the NATS subject it came on
	Reason     string // Chinese, safe to show: what was wrong
	Body       []byte // the bytes received
	NoticeID   string // id of the rejection notice sent back, "" when none was sent
	ReceivedAt time.Time
}

// ExchangeStats are the gauges of a node's exchange, for monitoring.
type ExchangeStats struct {
	OutboxDepth     int           // messages not yet published
	OldestUnsentAge time.Duration // age of the oldest of them, 0 when there is none
	DeadLetters     int           // dead letters kept
}
