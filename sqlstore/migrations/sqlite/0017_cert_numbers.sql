-- Certificate numbers (docs/certificates.md): a certificate this node issued owns its number
-- among issued certificates only; a seen one (recorded from elsewhere) is local evidence and
-- is unique only among seen ones, so it never takes a number from the issuer. SQLite cannot
-- drop the column's UNIQUE constraint, so the table is rebuilt with the same columns.
CREATE TABLE certificates_new (
    id              INTEGER PRIMARY KEY,
    number          TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('issued', 'seen')),
    id_number       TEXT NOT NULL,
    holder_name     TEXT NOT NULL DEFAULT '',
    issuer_code     TEXT NOT NULL,
    issued_on       TEXT NOT NULL,
    valid_until     TEXT,
    marital_status  TEXT NOT NULL DEFAULT '',
    revoked         INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    org_unit        TEXT NOT NULL DEFAULT '',
    hukou_address   TEXT NOT NULL DEFAULT '',
    revoked_at      TEXT,
    revoked_reason  TEXT NOT NULL DEFAULT '',
    posted_to       TEXT NOT NULL DEFAULT '',
    tracking_number TEXT NOT NULL DEFAULT '',
    posted_on       TEXT
);
INSERT INTO certificates_new (id, number, kind, id_number, holder_name, issuer_code, issued_on, valid_until,
    marital_status, revoked, created_at, org_unit, hukou_address, revoked_at, revoked_reason, posted_to,
    tracking_number, posted_on)
SELECT id, number, kind, id_number, holder_name, issuer_code, issued_on, valid_until,
    marital_status, revoked, created_at, org_unit, hukou_address, revoked_at, revoked_reason, posted_to,
    tracking_number, posted_on FROM certificates;
DROP TABLE certificates;
ALTER TABLE certificates_new RENAME TO certificates;
CREATE INDEX certificates_holder ON certificates (id_number);
CREATE INDEX certificates_unit ON certificates (org_unit);
CREATE UNIQUE INDEX certificates_issued_number ON certificates (number) WHERE kind = 'issued';
CREATE UNIQUE INDEX certificates_seen_number ON certificates (number) WHERE kind = 'seen';
