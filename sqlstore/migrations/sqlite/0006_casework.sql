-- Case workflows (docs/workflows.md).

-- The timeline of a case: one row per step, written in the transaction of the step. No
-- foreign key to cases: a batch transaction writes its events before its new cases (both
-- commit together), and a case's events are read only through the case (scoped).
CREATE TABLE case_events (
    id        INTEGER PRIMARY KEY,
    case_id   TEXT NOT NULL,
    at        TEXT NOT NULL,
    kind      TEXT NOT NULL,
    actor     TEXT NOT NULL DEFAULT '',
    node      TEXT NOT NULL DEFAULT '',
    org_unit  TEXT NOT NULL DEFAULT '',
    note      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX case_events_case ON case_events (case_id, at, id);

-- A person's separate consent (PIPL art. 29; SCOPE.md) to share a sensitive case type with a
-- recipient: who consented (id_number), when (given_at), for what (case_type, purpose), to
-- whom (recipient: a division code, covering the units beneath it). Recorded by a unit
-- (org_unit, the scope of reads) and revocable; a revoked consent stops later sends.
CREATE TABLE consents (
    id            INTEGER PRIMARY KEY,
    id_number     TEXT NOT NULL CHECK (length(id_number) = 18),
    case_type     TEXT NOT NULL,
    purpose       TEXT NOT NULL,
    recipient     TEXT NOT NULL,
    org_unit      TEXT NOT NULL,
    given_at      TEXT NOT NULL,
    recorded_by   TEXT NOT NULL,
    recorded_at   TEXT NOT NULL,
    revoked_at    TEXT,
    revoked_by    TEXT NOT NULL DEFAULT '',
    revoke_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX consents_person ON consents (id_number, case_type);
