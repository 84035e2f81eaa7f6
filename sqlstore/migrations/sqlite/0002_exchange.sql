-- The exchange engine (docs/exchange-engine.md).

-- The message log keys an envelope by (id, direction): a case between two units of the same
-- node is logged once sent and once received, the same envelope both times. hash is
-- exchange.Hash of the envelope, which a reply's or receipt's ypqreplyto names; reply_to is
-- the envelope's own ypqreplyto ('' for a request). SQLite cannot change a primary key in
-- place, so the table is rebuilt.
CREATE TABLE messages_v2 (
    id          TEXT NOT NULL,
    case_id     TEXT NOT NULL DEFAULT '',
    direction   TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    type        TEXT NOT NULL,
    source      TEXT NOT NULL,
    dest        TEXT NOT NULL,
    body        BLOB NOT NULL,
    recorded_at TEXT NOT NULL,
    hash        TEXT NOT NULL DEFAULT '',
    reply_to    TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (id, direction)
);
INSERT INTO messages_v2 (id, case_id, direction, type, source, dest, body, recorded_at)
    SELECT id, case_id, direction, type, source, dest, body, recorded_at FROM messages;
DROP TABLE messages;
ALTER TABLE messages_v2 RENAME TO messages;
CREATE INDEX messages_case ON messages (case_id, recorded_at);
CREATE INDEX messages_hash ON messages (hash) WHERE hash <> '';

-- The relay's lease: a claimed row is not claimed again before claimed_until, so two relays
-- never publish the same row at once; a relay that dies leaves it to the next after the lease.
ALTER TABLE outbox ADD COLUMN claimed_until TEXT;

-- A dead letter is kept once per body (a redelivery of the same bytes adds nothing), with the
-- id of the rejection notice sent back to the sender, '' when none was sent.
ALTER TABLE dead_letters ADD COLUMN body_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE dead_letters ADD COLUMN notice_id TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX dead_letters_body ON dead_letters (body_hash) WHERE body_hash <> '';
