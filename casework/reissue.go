package casework

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"yipanqi"
	"yipanqi/exchange"
	"yipanqi/sqlstore"
)

// cert.reissue, step by step (ARCHITECTURE §2, docs/workflows.md): the residence side gives
// the person a 《限期补办通知书》 and sends the case (StartReissue); the hometown verifies,
// issues the certificate from its registry, posts it and answers with the number, the date,
// where it was posted and the tracking number (AnswerReissue); the residence side records its
// arrival (RecordCertArrival) and the hand-over to the person (RecordHandOver), which closes
// the case. Every step is on the case's timeline, in the transaction of the step.

// CertReissue is the catalog type of a certificate reissue.
const CertReissue = "cert.reissue"

// DefaultReissueNoticeDays is how many days the 《限期补办通知书》 gives the person by default.
const DefaultReissueNoticeDays = 30

// ReissueRights is the text of the person's rights and duties on the 《限期补办通知书》.
const ReissueRights = "根据《流动人口计划生育工作条例》，成年育龄流动人口应当持有婚育证明。" +
	"您有权在现居住地申请补办，无需返回户籍地；补办不收取任何费用；现居住地与户籍地通过本系统代为办理，" +
	"办理进度可随时向现居住地乡镇（街道）查询。请于通知书所载期限内配合核实身份信息；" +
	"逾期未能配合的，可向现居住地说明情况后重新申请。"

// ReissueNotice is the 《限期补办通知书》 given to the person when a reissue starts.
type ReissueNotice struct {
	CaseID   string
	Number   string       // notice_number of the request
	Date     yipanqi.Date // notice_date of the request
	Deadline yipanqi.Date // the person's deadline: Date plus NodeConfig.ReissueNoticeDays days
	Rights   string       // ReissueRights
}

// StartReissue gives the person the 《限期补办通知书》 and sends the cert.reissue case c (as for
// Send; Type is set) with fields: notice_number and notice_date are filled in when absent
// (a number made from the unit, the date and the case, today). The case and the
// notice_given event commit together. Errors as for Send; nothing is stored when it fails.
func (n *Node) StartReissue(ctx context.Context, c *yipanqi.Case, fields json.RawMessage) (*ReissueNotice, error) {
	c.Type = CertReissue
	var obj map[string]any
	if err := json.Unmarshal(fields, &obj); err != nil || obj == nil {
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "fields", "案件数据 fields 须为 JSON 对象")
	}
	today := yipanqi.DateOf(n.now().In(shanghai))
	if s, _ := obj["notice_date"].(string); s == "" {
		obj["notice_date"] = today.String()
	}
	if s, _ := obj["notice_number"].(string); s == "" {
		tail := strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", "")
		obj["notice_number"] = fmt.Sprintf("%s-%s-%s", c.OrgUnit, strings.ReplaceAll(today.String(), "-", ""), tail[len(tail)-6:])
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("exchange: start reissue: %w", err)
	}
	e, body, err := n.prepareSend(c, raw)
	if err != nil {
		return nil, err
	}
	date, err := yipanqi.ParseDate(obj["notice_date"].(string))
	if err != nil { // the catalog checked it in prepareSend
		return nil, yipanqi.FieldErrorf(yipanqi.EINVALID, "notice_date", "通知日期须为日期")
	}
	notice := &ReissueNotice{CaseID: c.ID, Number: obj["notice_number"].(string), Date: date,
		Deadline: date.AddDays(n.cfg.ReissueNoticeDays), Rights: ReissueRights}
	item := n.sendItem(ctx, c, e, body)
	at := n.now()
	err = n.db.InTx(ctx, func(tx *sqlstore.Tx) error {
		tl := &timeline{}
		hukou, err := n.hukouOf(ctx, tx, []sendItem{item})
		if err != nil {
			return err
		}
		if err := n.storeSend(ctx, tx, item, at, tl, hukou); err != nil {
			return err
		}
		tl.add(&yipanqi.CaseEvent{CaseID: c.ID, At: at, Kind: yipanqi.CaseEventNoticeGiven, Actor: item.audit.Actor,
			Node: n.code, OrgUnit: c.OrgUnit, Note: fmt.Sprintf("《限期补办通知书》%s，本人期限至 %s", notice.Number, notice.Deadline)})
		return tx.AddCaseEvents(ctx, tl.events)
	})
	if err != nil {
		return nil, fmt.Errorf("exchange: start reissue: %w", err)
	}
	n.nudge()
	n.emit(Event{Kind: EventSent, CaseID: c.ID, MessageID: item.m.ID})
	return notice, nil
}

// AnswerReissue answers the incoming cert.reissue caseID with the certificate certNumber,
// which this node issued to the person of the case and whose posting is recorded
// (sqlstore IssueCertificate, RecordCertificatePosting): the reply "issued" carries its number,
// issue date, validity, the marital status it states, the township or community it was posted
// to and the tracking number. EINVALID
// naming cert_number for a certificate that is not registered, not issued here, not the
// person's, revoked or not yet posted; otherwise as Reply.
func (n *Node) AnswerReissue(ctx context.Context, caseID, certNumber string) error {
	c, err := n.db.FindCase(ctx, n.scope, caseID)
	if err != nil {
		return err
	}
	if c.Type != CertReissue || c.Direction != yipanqi.Incoming {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "type", "案件“%s”不是收到的婚育证明补办", caseID)
	}
	sys := yipanqi.NewContextWithUser(ctx, &yipanqi.User{Username: actorOf(ctx), OrgUnit: c.OrgUnit})
	cert, err := n.db.Certificate(sys, certNumber)
	switch {
	case yipanqi.ErrorCode(err) == yipanqi.ENOTFOUND:
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "cert_number", "婚育证明“%s”未登记，请先在证明登记中签发", certNumber)
	case err != nil:
		return err
	case cert.Kind != yipanqi.CertIssued || !n.scope.Contains(cert.IssuerCode):
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "cert_number", "婚育证明“%s”不是本节点签发的", certNumber)
	case cert.IDNumber != c.PersonIDNumber:
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "cert_number", "婚育证明“%s”不是本案当事人的证明", certNumber)
	case cert.Revoked:
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "cert_number", "婚育证明“%s”已注销", certNumber)
	case cert.PostedTo == "" || cert.TrackingNo == "":
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "cert_number", "婚育证明“%s”尚未登记寄送（寄送至、邮件单号）", certNumber)
	}
	fields, err := json.Marshal(map[string]any{"cert_number": cert.Number, "issued_on": cert.IssuedOn.String(),
		"posted_to": cert.PostedTo, "tracking_number": cert.TrackingNo,
		"valid_until": cert.ValidUntil.String(), "marital_status": string(cert.MaritalStatus)})
	if err != nil {
		return fmt.Errorf("exchange: answer reissue: %w", err)
	}
	return n.Reply(ctx, caseID, "issued", fields)
}

// RecordCertArrival records at the residence side that the certificate the hometown posted
// for the outgoing cert.reissue caseID arrived, on the day on, and registers it in this
// node's certificate registry as seen (kind seen, the printed number, held by the case's
// unit), in the same transaction, when the reply carries its number, issue date, validity
// and marital status — so the residence's certificate look-up and the person's page show it.
// A reply without them (from a node that does not send them yet), or a number the registry
// already holds, registers nothing; the timeline says which. ENOTFOUND for an unknown case;
// EINVALID for another type or a day in the future; ECONFLICT when the hometown has not
// answered "issued" or the arrival is already recorded. Audited; on the timeline.
func (n *Node) RecordCertArrival(ctx context.Context, caseID string, on yipanqi.Date) error {
	return n.reissueStep(ctx, caseID, on, yipanqi.CaseEventCertArrived, "", "case.cert_arrived",
		func(cert, tracking string) string {
			return fmt.Sprintf("婚育证明 %s 于 %s 寄达（邮件单号 %s）", cert, on, tracking)
		})
}

// RecordHandOver records that the certificate was handed to the person on the day on, which
// closes the case. As RecordCertArrival, and ECONFLICT until its arrival is recorded.
func (n *Node) RecordHandOver(ctx context.Context, caseID string, on yipanqi.Date) error {
	return n.reissueStep(ctx, caseID, on, yipanqi.CaseEventHandedOver, yipanqi.CaseEventCertArrived, "case.cert_handed_over",
		func(cert, _ string) string { return fmt.Sprintf("婚育证明 %s 于 %s 交本人", cert, on) })
}

// reissueStep records one step of the residence side after the hometown's "issued": kind,
// once, after the step after (if any).
func (n *Node) reissueStep(ctx context.Context, caseID string, on yipanqi.Date, kind, after, action string,
	note func(cert, tracking string) string) error {
	today := yipanqi.DateOf(n.now().In(shanghai))
	if on.IsZero() || today.Before(on) {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "on", "日期不能为空，也不能晚于今天 %s", today)
	}
	err := n.db.InTx(ctx, func(tx *sqlstore.Tx) error {
		c, err := tx.Case(ctx, caseID, yipanqi.Outgoing)
		if err != nil {
			return err
		}
		if c.Type != CertReissue {
			return yipanqi.FieldErrorf(yipanqi.EINVALID, "type", "案件“%s”不是婚育证明补办", caseID)
		}
		replies, err := tx.CaseReplies(ctx, caseID, yipanqi.Incoming, CertReissue)
		if err != nil {
			return err
		}
		var rd requestData
		if len(replies) > 0 {
			if e, err := exchange.Decode(replies[len(replies)-1].Body); err == nil {
				_ = json.Unmarshal(e.Data, &rd)
			}
		}
		if rd.Reply != "issued" || c.State == yipanqi.CaseWithdrawn {
			return yipanqi.FieldErrorf(yipanqi.ECONFLICT, "state", "案件“%s”尚未收到户籍地“已补办”的答复", caseID)
		}
		counts, err := tx.CaseEventCounts(ctx, caseID)
		if err != nil {
			return err
		}
		label := (&yipanqi.CaseEvent{Kind: kind}).Label()
		switch {
		case counts[kind] > 0:
			return yipanqi.FieldErrorf(yipanqi.ECONFLICT, "state", "案件“%s”已登记“%s”", caseID, label)
		case after != "" && counts[after] == 0:
			return yipanqi.FieldErrorf(yipanqi.ECONFLICT, "state", "案件“%s”须先登记“%s”", caseID, (&yipanqi.CaseEvent{Kind: after}).Label())
		}
		var f reissueReply
		_ = json.Unmarshal(rd.Fields, &f)
		text := note(f.Cert, f.Tracking)
		if kind == yipanqi.CaseEventCertArrived {
			seen, err := n.registerSeen(ctx, tx, c, &f)
			if err != nil {
				return err
			}
			text += seen
		}
		if kind == yipanqi.CaseEventHandedOver {
			if _, err := advance(ctx, tx, caseID, yipanqi.ActHandOver); err != nil {
				return err
			}
		}
		if err := tx.AddCaseEvents(ctx, []*yipanqi.CaseEvent{{CaseID: caseID, At: n.now(), Kind: kind, Actor: actorOf(ctx),
			Node: n.code, OrgUnit: c.OrgUnit, Note: text}}); err != nil {
			return err
		}
		return tx.Audit(ctx, &yipanqi.AuditEntry{Actor: actorOf(ctx), Action: action, Object: caseID, OrgUnit: c.OrgUnit, Reason: text})
	})
	if err != nil {
		return fmt.Errorf("exchange: %s %s: %w", kind, caseID, err)
	}
	return nil
}

// reissueReply is what the residence side reads of the hometown's "issued".
type reissueReply struct {
	Cert       string `json:"cert_number"`
	IssuedOn   string `json:"issued_on"`
	ValidUntil string `json:"valid_until"`
	Marital    string `json:"marital_status"`
	Tracking   string `json:"tracking_number"`
}

// registerSeen registers the arrived certificate of the outgoing cert.reissue c in this
// node's registry as seen, in tx, and returns what the timeline note adds. The holder is the
// person of the case, named as the request named them; the issuer is the hometown unit that
// answered. Nothing is registered when the reply lacks what a registry entry needs or does
// not pass the registry's checks, or when a seen record of the number is already registered.
func (n *Node) registerSeen(ctx context.Context, tx *sqlstore.Tx, c *yipanqi.Case, f *reissueReply) (string, error) {
	issued, err1 := yipanqi.ParseDate(f.IssuedOn)
	valid, err2 := yipanqi.ParseDate(f.ValidUntil)
	if f.Cert == "" || err1 != nil || err2 != nil || f.Marital == "" {
		return "；答复未含有效期或婚姻状况，未登记入本地证明库", nil
	}
	var req struct {
		Name         string `json:"name"`
		HukouAddress string `json:"hukou_address"`
	}
	_ = json.Unmarshal(c.Data, &req)
	issuer := c.PeerUnit
	if code, _, _, _, ok := yipanqi.ParseCertificateNumber(f.Cert); ok {
		issuer = code
	}
	cert := &yipanqi.Certificate{Number: f.Cert, Kind: yipanqi.CertSeen, IDNumber: c.PersonIDNumber, HolderName: req.Name,
		HukouAddress: req.HukouAddress, IssuerCode: issuer, OrgUnit: c.OrgUnit, IssuedOn: issued, ValidUntil: valid,
		MaritalStatus: yipanqi.MaritalStatus(f.Marital)}
	sys := yipanqi.NewContextWithUser(ctx, &yipanqi.User{Username: actorOf(ctx), OrgUnit: c.OrgUnit})
	switch err := tx.IssueCertificate(sys, cert); {
	case yipanqi.ErrorCode(err) == yipanqi.ECONFLICT:
		return "；本地证明库已有此编号", nil
	case yipanqi.ErrorCode(err) == yipanqi.EINVALID:
		// Checked before anything is written: the arrival stands, the registry entry waits for
		// someone to register the certificate by hand.
		return "；未登记入本地证明库：" + yipanqi.ErrorMessage(err), nil
	case err != nil:
		return "", err
	}
	return "，已登记入本地证明库（外地证明）", nil
}
