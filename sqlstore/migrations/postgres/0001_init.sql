-- The node's schema (ARCHITECTURE §3, §6). Dates are DATE, timestamps TIMESTAMPTZ.

CREATE TABLE org_units (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    level       SMALLINT NOT NULL CHECK (level BETWEEN 1 AND 5),
    parent_code TEXT NOT NULL DEFAULT '',
    active      BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX org_units_parent ON org_units (parent_code);

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL DEFAULT '',
    org_unit      TEXT NOT NULL REFERENCES org_units (code),
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL DEFAULT '',
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX users_org_unit ON users (org_unit);

CREATE TABLE people (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id_number         TEXT NOT NULL UNIQUE CHECK (length(id_number) = 18),
    name              TEXT NOT NULL,
    sex               TEXT NOT NULL CHECK (sex IN ('M', 'F')),
    birth_date        DATE NOT NULL,
    marital_status    TEXT NOT NULL DEFAULT '',
    hukou_code        TEXT NOT NULL,
    hukou_address     TEXT NOT NULL DEFAULT '',
    residence_code    TEXT NOT NULL,
    residence_address TEXT NOT NULL DEFAULT '',
    phone             TEXT NOT NULL DEFAULT '',
    arrived_on        DATE,
    flow_status       TEXT NOT NULL CHECK (flow_status IN ('arrived', 'left', 'moved_on', 'returned')),
    version           INTEGER NOT NULL DEFAULT 1,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX people_residence ON people (residence_code);
CREATE INDEX people_hukou ON people (hukou_code);

CREATE TABLE flow_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id   BIGINT NOT NULL, -- no FOREIGN KEY: see docs/storage.md (bulk import)
    kind        TEXT NOT NULL CHECK (kind IN ('arrived', 'left', 'moved_on', 'returned')),
    on_date     DATE NOT NULL,
    from_code   TEXT NOT NULL DEFAULT '',
    to_code     TEXT NOT NULL DEFAULT '',
    note        TEXT NOT NULL DEFAULT '',
    recorded_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX flow_events_person ON flow_events (person_id, on_date);

CREATE TABLE certificates (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    number         TEXT NOT NULL UNIQUE,
    kind           TEXT NOT NULL CHECK (kind IN ('issued', 'seen')),
    id_number      TEXT NOT NULL,
    holder_name    TEXT NOT NULL DEFAULT '',
    issuer_code    TEXT NOT NULL,
    issued_on      DATE NOT NULL,
    valid_until    DATE,
    marital_status TEXT NOT NULL DEFAULT '',
    revoked        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX certificates_holder ON certificates (id_number);

CREATE TABLE cases (
    id               TEXT PRIMARY KEY,
    type             TEXT NOT NULL,
    direction        TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    org_unit         TEXT NOT NULL,
    peer_node        TEXT NOT NULL DEFAULT '',
    peer_unit        TEXT NOT NULL DEFAULT '',
    person_id_number TEXT NOT NULL DEFAULT '',
    state            TEXT NOT NULL,
    data             JSONB,
    received_at      TIMESTAMPTZ,
    due_at           TIMESTAMPTZ,
    due_provisional  BOOLEAN NOT NULL DEFAULT FALSE,
    overdue          BOOLEAN NOT NULL DEFAULT FALSE,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX cases_unit_state ON cases (org_unit, state);
CREATE INDEX cases_due ON cases (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX cases_person ON cases (person_id_number) WHERE person_id_number <> '';

CREATE TABLE messages (
    id          TEXT PRIMARY KEY,
    case_id     TEXT NOT NULL DEFAULT '',
    direction   TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    type        TEXT NOT NULL,
    source      TEXT NOT NULL,
    dest        TEXT NOT NULL,
    body        BYTEA NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX messages_case ON messages (case_id, recorded_at);

CREATE TABLE outbox (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id   TEXT NOT NULL UNIQUE,
    subject      TEXT NOT NULL,
    body         BYTEA NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt TIMESTAMPTZ NOT NULL,
    last_error   TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    sent_at      TIMESTAMPTZ
);
-- The relay only ever reads unsent rows; the partial index stays as small as the backlog.
CREATE INDEX outbox_unsent ON outbox (next_attempt) WHERE sent_at IS NULL;

CREATE TABLE inbox (
    message_id  TEXT PRIMARY KEY,
    source      TEXT NOT NULL,
    type        TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE dead_letters (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id  TEXT NOT NULL DEFAULT '',
    source      TEXT NOT NULL DEFAULT '',
    subject     TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL,
    body        BYTEA NOT NULL,
    received_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX dead_letters_received ON dead_letters (received_at);

CREATE TABLE audit_log (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        TIMESTAMPTZ NOT NULL,
    actor     TEXT NOT NULL,
    org_unit  TEXT NOT NULL DEFAULT '',
    action    TEXT NOT NULL,
    object    TEXT NOT NULL DEFAULT '',
    reason    TEXT NOT NULL DEFAULT '',
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL UNIQUE
);
CREATE INDEX audit_log_object ON audit_log (object, id);

-- The head of the audit chain: one row, updated by every append. Appends lock it, so the
-- chain never forks, and it anchors the last hash, so removing the newest entries shows.
CREATE TABLE audit_head (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    last_id BIGINT NOT NULL,
    hash    TEXT NOT NULL
);
INSERT INTO audit_head (id, last_id, hash) VALUES (1, 0, '');

CREATE TABLE imports (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    file_name   TEXT NOT NULL,
    actor       TEXT NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL,
    imported    INTEGER NOT NULL,
    updated     INTEGER NOT NULL,
    same        INTEGER NOT NULL,
    rejected    INTEGER NOT NULL
);
