package yipanqi

import "time"

// Message is a signed envelope as sent or received, kept as the node's message log.
type Message struct {
	ID         string // envelope id (UUIDv7)
	CaseID     string
	Direction  Direction
	Type       string
	Source     string // sending node
	Dest       string // receiving node
	Body       []byte // the envelope exactly as signed
	RecordedAt time.Time
}

// OutboxItem is a message waiting to be published. It commits in the same transaction as the
// change it announces.
type OutboxItem struct {
	ID          int64
	MessageID   string
	Subject     string // NATS subject
	Body        []byte
	Attempts    int
	NextAttempt time.Time
	LastError   string
	CreatedAt   time.Time
	SentAt      time.Time // zero until published
}

// InboxItem records a received message by its envelope id; the unique key on the id is what
// makes applying a message twice impossible.
type InboxItem struct {
	MessageID  string
	Source     string
	Type       string
	ReceivedAt time.Time
}
