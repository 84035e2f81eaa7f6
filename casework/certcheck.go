package casework

import (
	"context"
	"encoding/json"
	"fmt"

	"yipanqi"
)

// Answers from the registry (catalog Answer "registry"): the receiving node answers a case
// of such a type itself, in the transaction that opens it, with no person in the loop — in
// the time it takes to deliver two messages. cert.check is the one such type: its answer
// comes from the hometown node's certificate registry (sqlstore Certificate,
// PersonCertificates).

// registryAnswer is the reply the registry gives to a request: the reply value, its fields
// and a note for the timeline.
type registryAnswer struct {
	reply  string
	fields json.RawMessage
	note   string
}

// answerFromRegistry answers a request of a registry-answered type, or returns nil when the
// type has no answerer here (the case then waits for staff like any other).
func (n *Node) answerFromRegistry(ctx context.Context, typ string, fields json.RawMessage) (*registryAnswer, error) {
	switch typ {
	case "cert.check":
		return n.answerCertCheck(ctx, fields)
	}
	return nil, nil
}

// answerCertCheck looks the certificate up in this node's registry: by its number when the
// request gives one, else the holder's newest certificate this node issued. Only a
// certificate this node issued, to the person the request names, counts: anything else is
// "unknown", which says nothing about whose a number is.
func (n *Node) answerCertCheck(ctx context.Context, fields json.RawMessage) (*registryAnswer, error) {
	var req struct {
		IDNumber   string `json:"id_number"`
		CertNumber string `json:"cert_number"`
	}
	if err := json.Unmarshal(fields, &req); err != nil {
		return nil, refuse(yipanqi.EINVALID, "fields", "案件数据格式错误：%s", jsonProblem(err))
	}
	ctx = yipanqi.NewContextWithUser(ctx, &yipanqi.User{Username: systemActor, OrgUnit: n.code})
	var cert *yipanqi.Certificate
	if req.CertNumber != "" {
		c, err := n.db.Certificate(ctx, req.CertNumber)
		switch {
		case yipanqi.ErrorCode(err) == yipanqi.ENOTFOUND:
		case err != nil:
			return nil, fmt.Errorf("exchange: cert.check: %w", err)
		case c.Kind == yipanqi.CertIssued && c.IDNumber == req.IDNumber:
			cert = c
		}
	} else {
		list, err := n.db.PersonCertificates(ctx, n.scope, req.IDNumber)
		if err != nil && yipanqi.ErrorCode(err) != yipanqi.EINVALID {
			return nil, fmt.Errorf("exchange: cert.check: %w", err)
		}
		for _, c := range list {
			if c.Kind == yipanqi.CertIssued {
				cert = c // newest issue first
				break
			}
		}
	}
	if cert == nil {
		return &registryAnswer{reply: string(yipanqi.CertUnknown), fields: json.RawMessage(`{}`), note: "证明登记中无此证明"}, nil
	}
	status := cert.StatusOn(yipanqi.DateOf(n.now().In(shanghai)))
	out := map[string]any{}
	switch status {
	case yipanqi.CertValid:
		out["cert_number"] = cert.Number
		if !cert.ValidUntil.IsZero() {
			out["valid_until"] = cert.ValidUntil.String()
		}
	case yipanqi.CertExpired:
		out["valid_until"] = cert.ValidUntil.String()
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("exchange: cert.check: %w", err)
	}
	return &registryAnswer{reply: string(status), fields: b, note: "据证明登记自动答复：" + status.Label()}, nil
}
