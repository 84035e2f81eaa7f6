// Package natsname holds the names the exchange uses on the NATS side, and nothing else, so
// that a tool writing the server configuration (deploy/nats/natsconf) needs neither the
// transport nor the SM2 signature code. Package exchange uses the same names (its
// SubjectPrefix, StreamName, ConsumerName, InboxPrefix). See docs/transport.md.
package natsname

// SubjectPrefix starts every message subject: a message from node src to node dst of
// catalog type typ travels on subject ypq.<dst>.<src>.<typ>.
const SubjectPrefix = "ypq"

// Stream is the JetStream stream holding the messages addressed to node.
func Stream(node string) string { return "YPQ_" + node }

// Consumer is the durable pull consumer through which node reads its stream.
func Consumer(node string) string { return "node-" + node }

// InboxPrefix is the reply-subject prefix of node's connections. The server configuration
// lets a node subscribe only below it, so no node can read another's replies.
func InboxPrefix(node string) string { return "_INBOX_" + node }
