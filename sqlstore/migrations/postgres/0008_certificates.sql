-- The certificate registry (docs/certificates.md): the unit holding each record (scoping),
-- the holder's hukou address as printed, why and when a certificate was revoked, where and
-- how it was posted, and the per-issuer, per-year serial counter that numbers new ones.
ALTER TABLE certificates ADD COLUMN org_unit TEXT NOT NULL DEFAULT '';
UPDATE certificates SET org_unit = issuer_code;
ALTER TABLE certificates ADD COLUMN hukou_address TEXT NOT NULL DEFAULT '';
ALTER TABLE certificates ADD COLUMN revoked_at TIMESTAMPTZ;
ALTER TABLE certificates ADD COLUMN revoked_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE certificates ADD COLUMN posted_to TEXT NOT NULL DEFAULT '';
ALTER TABLE certificates ADD COLUMN tracking_number TEXT NOT NULL DEFAULT '';
ALTER TABLE certificates ADD COLUMN posted_on DATE;
CREATE INDEX certificates_unit ON certificates (org_unit);

-- One row per issuer and year: the last serial handed out. Taking the next one is a single
-- upsert in the issuing transaction, so two issuers never get the same number and a rolled
-- back issue gives its serial back.
CREATE TABLE certificate_serials (
    issuer_code TEXT NOT NULL,
    year        INTEGER NOT NULL,
    last_serial INTEGER NOT NULL,
    PRIMARY KEY (issuer_code, year)
);
