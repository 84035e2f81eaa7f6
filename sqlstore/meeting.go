package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"yipanqi"
	"yipanqi/meeting"
)

// Joint meetings (S4.2, docs/meetings.md). No personal data: reads are not audited; every
// change is, with the user in ctx, who must belong to a province-level unit.

// meetingActor returns the province-level user in ctx. EFORBIDDEN otherwise.
func meetingActor(ctx context.Context) (*yipanqi.User, error) {
	u := yipanqi.UserFromContext(ctx)
	if u == nil || yipanqi.LevelOf(u.OrgUnit) != yipanqi.LevelProvince {
		return nil, yipanqi.Errorf(yipanqi.EFORBIDDEN, "只有省级单位可以登记联席会议")
	}
	return u, nil
}

// CreateMeeting records a joint meeting with its resolutions (numbered from 1 in order),
// the host defaulting to the rotation's for the year, and an audit entry (meeting.create),
// in one transaction; m's and the resolutions' IDs are set. EFORBIDDEN unless the user in ctx
// belongs to a province; EINVALID naming the field for a bad meeting or resolution. Nothing
// is stored on error.
func (db *DB) CreateMeeting(ctx context.Context, r meeting.Rotation, m *meeting.Meeting) error {
	u, err := meetingActor(ctx)
	if err != nil {
		return err
	}
	if err := m.Check(r); err != nil {
		return err
	}
	for _, x := range m.Resolutions {
		if err := x.Check(); err != nil {
			return err
		}
	}
	now := db.now()
	m.CreatedBy, m.CreatedAt, m.UpdatedAt = u.Username, now, now
	t := db.dialect.timeArg
	return db.InTx(ctx, func(tx *Tx) error {
		if err := tx.q.row(ctx, `INSERT INTO meetings (year, host, held_on, place, agenda, minutes, created_by, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, m.Year, m.Host, m.HeldOn, m.Place, m.Agenda, m.Minutes,
			m.CreatedBy, t(now), t(now)).Scan(&m.ID); err != nil {
			return fmt.Errorf("create meeting: %w", err)
		}
		for i, x := range m.Resolutions {
			x.MeetingID, x.Seq = m.ID, i+1
			if err := insertResolution(ctx, tx, x); err != nil {
				return err
			}
		}
		return tx.Audit(ctx, &yipanqi.AuditEntry{Actor: u.Username, OrgUnit: u.OrgUnit, Action: "meeting.create",
			Object: "meeting/" + strconv.FormatInt(m.ID, 10), Reason: m.Label()})
	})
}

func insertResolution(ctx context.Context, tx *Tx, x *meeting.Resolution) error {
	if err := tx.q.row(ctx, `INSERT INTO meeting_resolutions (meeting_id, seq, text, lead, counterpart) VALUES (?, ?, ?, ?, ?) RETURNING id`,
		x.MeetingID, x.Seq, x.Text, x.Lead, x.Counterpart).Scan(&x.ID); err != nil {
		return fmt.Errorf("add resolution: %w", tx.db.dialect.classify(err))
	}
	return nil
}

// SetMinutes records the minutes of a meeting (audited: meeting.minutes). ENOTFOUND for an
// unknown meeting; EFORBIDDEN and EINVALID as for CreateMeeting.
func (db *DB) SetMinutes(ctx context.Context, meetingID int64, minutes string) error {
	u, err := meetingActor(ctx)
	if err != nil {
		return err
	}
	if strings.TrimSpace(minutes) == "" || utf8.RuneCountInString(minutes) > 50000 {
		return yipanqi.FieldErrorf(yipanqi.EINVALID, "minutes", "会议纪要不能为空，且不能超过 50000 字")
	}
	return db.InTx(ctx, func(tx *Tx) error {
		res, err := tx.q.exec(ctx, "UPDATE meetings SET minutes = ?, updated_at = ? WHERE id = ?", minutes, db.dialect.timeArg(db.now()), meetingID)
		if err != nil {
			return fmt.Errorf("set minutes: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("set minutes: %w", err)
		} else if n == 0 {
			return yipanqi.Errorf(yipanqi.ENOTFOUND, "未找到第 %d 号联席会议", meetingID)
		}
		return tx.Audit(ctx, &yipanqi.AuditEntry{Actor: u.Username, OrgUnit: u.OrgUnit, Action: "meeting.minutes",
			Object: "meeting/" + strconv.FormatInt(meetingID, 10)})
	})
}

// AddResolution adds a resolution to a meeting, numbered after the last (audited:
// meeting.resolution). ENOTFOUND for an unknown meeting; EFORBIDDEN and EINVALID as for
// CreateMeeting.
func (db *DB) AddResolution(ctx context.Context, meetingID int64, x *meeting.Resolution) error {
	u, err := meetingActor(ctx)
	if err != nil {
		return err
	}
	if err := x.Check(); err != nil {
		return err
	}
	return db.InTx(ctx, func(tx *Tx) error {
		var n int
		if err := tx.q.row(ctx, "SELECT COUNT(*) FROM meetings WHERE id = ?", meetingID).Scan(&n); err != nil {
			return fmt.Errorf("add resolution: %w", err)
		}
		if n == 0 {
			return yipanqi.Errorf(yipanqi.ENOTFOUND, "未找到第 %d 号联席会议", meetingID)
		}
		if err := tx.q.row(ctx, "SELECT COALESCE(MAX(seq), 0) + 1 FROM meeting_resolutions WHERE meeting_id = ?", meetingID).Scan(&x.Seq); err != nil {
			return fmt.Errorf("add resolution: %w", err)
		}
		x.MeetingID = meetingID
		if err := insertResolution(ctx, tx, x); err != nil {
			return err
		}
		return tx.Audit(ctx, &yipanqi.AuditEntry{Actor: u.Username, OrgUnit: u.OrgUnit, Action: "meeting.resolution",
			Object: fmt.Sprintf("meeting/%d/%d", meetingID, x.Seq)})
	})
}

// LinkResolutionCase records that the resolution is followed up by the outgoing consult case
// caseID (sent through the exchange; audited: meeting.followup). ENOTFOUND for an unknown
// resolution or case; EINVALID when the case is not an outgoing consult.case; ECONFLICT
// when the resolution already has a case.
func (db *DB) LinkResolutionCase(ctx context.Context, resolutionID int64, caseID string) error {
	u, err := meetingActor(ctx)
	if err != nil {
		return err
	}
	return db.InTx(ctx, func(tx *Tx) error {
		var linked string
		err := tx.q.row(ctx, "SELECT case_id FROM meeting_resolutions WHERE id = ?", resolutionID).Scan(&linked)
		if errors.Is(err, sql.ErrNoRows) {
			return yipanqi.Errorf(yipanqi.ENOTFOUND, "未找到第 %d 号决议", resolutionID)
		} else if err != nil {
			return fmt.Errorf("link resolution: %w", err)
		}
		if linked != "" {
			return yipanqi.FieldErrorf(yipanqi.ECONFLICT, "case_id", "该决议已由会商案件“%s”跟进", linked)
		}
		c, err := tx.Case(ctx, caseID, yipanqi.Outgoing)
		if err != nil {
			return err
		}
		if c.Type != "consult.case" {
			return yipanqi.FieldErrorf(yipanqi.EINVALID, "case_id", "案件“%s”不是省际会商案件", caseID)
		}
		if _, err := tx.q.exec(ctx, "UPDATE meeting_resolutions SET case_id = ? WHERE id = ?", caseID, resolutionID); err != nil {
			return fmt.Errorf("link resolution: %w", err)
		}
		return tx.Audit(ctx, &yipanqi.AuditEntry{Actor: u.Username, OrgUnit: u.OrgUnit, Action: "meeting.followup",
			Object: caseID, Reason: fmt.Sprintf("决议 %d", resolutionID)})
	})
}

// Meetings returns the meetings of a year (0: every year), in date order, with their
// resolutions and the state of each one's consult case.
func (db *DB) Meetings(ctx context.Context, year int) ([]*meeting.Meeting, error) {
	rows, err := db.q().query(ctx, `SELECT id, year, host, held_on, place, agenda, minutes, created_by, created_at, updated_at
		FROM meetings WHERE ? = 0 OR year = ? ORDER BY held_on, id`, year, year)
	if err != nil {
		return nil, fmt.Errorf("meetings: %w", err)
	}
	var out []*meeting.Meeting
	byID := map[int64]*meeting.Meeting{}
	for rows.Next() {
		m := &meeting.Meeting{}
		if err := rows.Scan(&m.ID, &m.Year, &m.Host, &m.HeldOn, &m.Place, &m.Agenda, &m.Minutes, &m.CreatedBy,
			timeCol{&m.CreatedAt}, timeCol{&m.UpdatedAt}); err != nil {
			rows.Close()
			return nil, fmt.Errorf("meetings: %w", err)
		}
		out = append(out, m)
		byID[m.ID] = m
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("meetings: %w", err)
	}
	if len(out) == 0 {
		return out, rows.Err()
	}
	res, err := db.q().query(ctx, `SELECT r.id, r.meeting_id, r.seq, r.text, r.lead, r.counterpart, r.case_id, COALESCE(c.state, '')
		FROM meeting_resolutions r JOIN meetings m ON m.id = r.meeting_id
		LEFT JOIN cases c ON c.id = r.case_id AND c.direction = 'out'
		WHERE ? = 0 OR m.year = ? ORDER BY r.meeting_id, r.seq`, year, year)
	if err != nil {
		return nil, fmt.Errorf("resolutions: %w", err)
	}
	defer res.Close()
	for res.Next() {
		x := &meeting.Resolution{}
		var state string
		if err := res.Scan(&x.ID, &x.MeetingID, &x.Seq, &x.Text, &x.Lead, &x.Counterpart, &x.CaseID, &state); err != nil {
			return nil, fmt.Errorf("resolutions: %w", err)
		}
		x.CaseState = yipanqi.CaseState(state)
		if m := byID[x.MeetingID]; m != nil {
			m.Resolutions = append(m.Resolutions, x)
		}
	}
	return out, res.Err()
}
