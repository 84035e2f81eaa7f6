-- Hand-over of a certificate to its holder (web 婚育证明): the day, the unit that handed it
-- over and who recorded it. One row per certificate; a later record replaces it.
CREATE TABLE certificate_handovers (
    number      TEXT PRIMARY KEY,
    handed_on   DATE NOT NULL,
    org_unit    TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL
);
