-- The deadline clock, supervision and assessment (docs/sla.md, docs/assessment.md).
--
-- The clock's state lives on the case row. sla_next is when the clock must next look at the
-- case: a reminder, the deadline, an escalation step, or at once ('1970-01-01', the default of
-- a new row and the mark a state change leaves). A case the clock has nothing more to do for
-- has NULL and leaves the partial index, so a sweep reads only the cases whose turn has come.
-- sla_folded lists the aggregate keys the case is counted under now (see sqlstore/sla.go): the
-- sweep that folds a change moves its counts in the same transaction.
ALTER TABLE cases ADD COLUMN sla_next TIMESTAMPTZ DEFAULT '1970-01-01T00:00:00Z';
ALTER TABLE cases ADD COLUMN sla_reminded SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN sla_level SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN sla_queue TEXT NOT NULL DEFAULT '';
ALTER TABLE cases ADD COLUMN sla_folded TEXT NOT NULL DEFAULT '';
ALTER TABLE cases ADD COLUMN replied_at TIMESTAMPTZ;
CREATE INDEX cases_sla_next ON cases (sla_next) WHERE sla_next IS NOT NULL;
-- The supervision queue (督办) of a unit: overdue open cases that escalated, by holder.
CREATE INDEX cases_sla_queue ON cases (org_unit) WHERE sla_queue <> '';

-- What the clock did: reminders, the deadline passing, each escalation step. unit is the unit
-- told: the holder for a reminder or the deadline, the supervising unit for an escalation.
CREATE TABLE sla_events (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id  TEXT NOT NULL,
    org_unit TEXT NOT NULL,
    unit     TEXT NOT NULL,
    kind     TEXT NOT NULL CHECK (kind IN ('remind', 'overdue', 'escalate')),
    step     SMALLINT NOT NULL,
    at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX sla_events_unit ON sla_events (unit, id);
CREATE INDEX sla_events_case ON sla_events (case_id, id);

-- Open cases by holder, direction, type and status (open, due_soon, overdue): the
-- supervision board. Counts only.
CREATE TABLE sla_board (
    org_unit  TEXT NOT NULL,
    direction TEXT NOT NULL,
    type      TEXT NOT NULL,
    status    TEXT NOT NULL,
    n         BIGINT NOT NULL,
    PRIMARY KEY (org_unit, direction, type, status)
);

-- Assessment figures of received cases by holder, period (Asia/Shanghai: each case counts in
-- its month 'YYYY-MM', that month's quarter 'YYYY-Qn' and year 'YYYY', so a report of any
-- period reads its own rows), type, metric and bucket (working days to reply for metric
-- reply_days, else 0). Counts only.
CREATE TABLE assess_counts (
    org_unit TEXT NOT NULL,
    period   TEXT NOT NULL,
    type     TEXT NOT NULL,
    metric   TEXT NOT NULL,
    bucket   INTEGER NOT NULL,
    n        BIGINT NOT NULL,
    PRIMARY KEY (period, org_unit, type, metric, bucket)
);

-- Manual bonus points and deductions, entered by the level above with a reason (audited).
-- points is in hundredths of a point.
CREATE TABLE assess_adjustments (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_unit   TEXT NOT NULL,
    period     TEXT NOT NULL,
    points     INTEGER NOT NULL,
    reason     TEXT NOT NULL,
    actor      TEXT NOT NULL,
    actor_unit TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX assess_adjustments_unit ON assess_adjustments (period, org_unit);

-- Joint meetings of the 11 provinces (S4.2, docs/meetings.md) and their resolutions, each
-- followed up as a consult case (case_id, '' until it is sent).
CREATE TABLE meetings (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    year       INTEGER NOT NULL,
    host       TEXT NOT NULL,
    held_on    DATE NOT NULL,
    place      TEXT NOT NULL DEFAULT '',
    agenda     TEXT NOT NULL,
    minutes    TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX meetings_year ON meetings (year, held_on);

CREATE TABLE meeting_resolutions (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    meeting_id  BIGINT NOT NULL REFERENCES meetings (id),
    seq         INTEGER NOT NULL,
    text        TEXT NOT NULL,
    lead        TEXT NOT NULL,
    counterpart TEXT NOT NULL,
    case_id     TEXT NOT NULL DEFAULT '',
    UNIQUE (meeting_id, seq)
);
