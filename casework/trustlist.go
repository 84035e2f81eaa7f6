package casework

import (
	"context"
	"fmt"
	"regexp"
	"strconv"

	"yipanqi"
	"yipanqi/exchange"
	"yipanqi/sqlstore"
)

// Where AcceptTrustList keeps what a node has taken: in the audit log (append-only, shared by
// the replicas of a node), as action trustAccepted on object trustObject, the reason saying
// the version and digest.
const (
	trustAccepted = "trust.accepted"
	trustObject   = "trust-list"
)

var acceptedTrust = regexp.MustCompile(`^第 ([0-9]+) 版，摘要 ([0-9a-f]{64})$`)

// AcceptedTrust returns the version and digest of the trust list the node last took
// (AcceptTrustList), or 0 and "" when it took none.
func AcceptedTrust(ctx context.Context, db *sqlstore.DB) (version int64, digest string, err error) {
	entries, err := db.AuditLog(ctx, trustObject, 20)
	if err != nil {
		return 0, "", fmt.Errorf("accepted trust list: %w", err)
	}
	for _, e := range entries {
		if e.Action != trustAccepted {
			continue
		}
		m := acceptedTrust.FindStringSubmatch(e.Reason)
		if m == nil {
			continue
		}
		v, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			continue
		}
		return v, m[2], nil
	}
	return 0, "", nil
}

// AcceptTrustList checks tl against the trust list the node took before (CheckTrustUpdate)
// and, when it is new, records it as taken (audit action "trust.accepted", actor the engine,
// unit node). Call it wherever a node loads or receives a trust list, before using it: at
// start, and on any reload. EFORBIDDEN, field version, for a rollback; nothing is recorded
// then.
func AcceptTrustList(ctx context.Context, db *sqlstore.DB, node string, tl *exchange.TrustList) error {
	prev, digest, err := AcceptedTrust(ctx, db)
	if err != nil {
		return err
	}
	if err := exchange.CheckTrustUpdate(prev, digest, tl); err != nil {
		return err
	}
	if prev == tl.Version {
		return nil
	}
	return db.Audit(ctx, &yipanqi.AuditEntry{Actor: systemActor, OrgUnit: node, Action: trustAccepted, Object: trustObject,
		Reason: fmt.Sprintf("第 %d 版，摘要 %s", tl.Version, tl.Digest())})
}
