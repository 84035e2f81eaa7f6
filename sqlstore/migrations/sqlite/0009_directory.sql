-- The region's directory (S1.4, S4.1; docs/directory.md): per source province, the version
-- this node holds and its entries. A new version replaces the province's entries in one
-- transaction; an older one is refused, so versions only move forward.
CREATE TABLE directory_versions (
    province    TEXT PRIMARY KEY CHECK (length(province) = 2),
    version     INTEGER NOT NULL CHECK (version > 0),
    updated_at  TEXT NOT NULL,
    entries     INTEGER NOT NULL,
    received_at TEXT NOT NULL
);

CREATE TABLE directory_entries (
    province      TEXT NOT NULL REFERENCES directory_versions (province) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('regulation', 'institution', 'contact')),
    division_code TEXT NOT NULL,
    level         INTEGER NOT NULL,
    division_name TEXT NOT NULL DEFAULT '',
    name          TEXT NOT NULL,
    doc_number    TEXT NOT NULL DEFAULT '',
    issued_on     TEXT,
    status        TEXT NOT NULL DEFAULT '',
    url           TEXT NOT NULL DEFAULT '',
    body          TEXT NOT NULL DEFAULT '',
    services      TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL DEFAULT '',
    person_name   TEXT NOT NULL DEFAULT '',
    job_title     TEXT NOT NULL DEFAULT '',
    phone         TEXT NOT NULL DEFAULT '',
    address       TEXT NOT NULL DEFAULT '',
    note          TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (province, seq)
);
CREATE INDEX directory_entries_kind ON directory_entries (kind, division_code);
CREATE INDEX directory_entries_division ON directory_entries (division_code);
