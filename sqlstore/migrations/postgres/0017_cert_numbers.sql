-- Certificate numbers (docs/certificates.md): a certificate this node issued owns its number
-- among issued certificates only; a seen one (recorded from elsewhere) is local evidence and
-- is unique only among seen ones, so it never takes a number from the issuer.
ALTER TABLE certificates DROP CONSTRAINT certificates_number_key;
CREATE UNIQUE INDEX certificates_issued_number ON certificates (number) WHERE kind = 'issued';
CREATE UNIQUE INDEX certificates_seen_number ON certificates (number) WHERE kind = 'seen';
