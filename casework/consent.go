package casework

import (
	"context"
	"time"

	"yipanqi"
	"yipanqi/sqlstore"
)

// consentFor returns the consent that lets case c of a sensitive type leave the node: the
// person's live separate consent for the type and the addressed unit (SCOPE.md). It is read
// in the transaction that stores the case, so a revocation committed before it stops the
// send. EINVALID naming the consent when there is none.
func (n *Node) consentFor(ctx context.Context, tx *sqlstore.Tx, c *yipanqi.Case, at time.Time) (*yipanqi.Consent, error) {
	label := c.Type
	if ct := n.cfg.Types[c.Type]; ct.Spec != nil {
		label = ct.Spec.Label
	}
	if c.PersonIDNumber == "" {
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "consent", "“%s”须有本人的单独同意，但案件未指明本人", label)
	}
	consent, err := tx.LiveConsent(ctx, c.PersonIDNumber, c.Type, c.PeerUnit, at)
	if yipanqi.ErrorCode(err) == yipanqi.ENOTFOUND {
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "consent",
			"“%s”须先登记本人的单独同意（同意书：目的、接收方 %s），未找到有效的同意或同意已撤回", label, c.PeerUnit)
	}
	return consent, err
}
