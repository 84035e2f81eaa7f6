-- A message that concerns several cases — the signed batch receipt (type "receipts") that
-- receipts many requests or replies at once — is logged once, with case_id '', and linked
-- here to every case it concerns, so that each case's message log (CaseMessages) still shows
-- the signed envelope that receipted it. Keyed like the message log, (id, direction), since
-- a 44 → 44 envelope is logged once sent and once received.
CREATE TABLE message_cases (
    message_id TEXT NOT NULL,
    direction  TEXT NOT NULL,
    case_id    TEXT NOT NULL,
    PRIMARY KEY (message_id, direction, case_id)
);
CREATE INDEX message_cases_case ON message_cases (case_id);
