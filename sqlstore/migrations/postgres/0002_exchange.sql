-- The exchange engine (docs/exchange-engine.md).

-- The message log keys an envelope by (id, direction): a case between two units of the same
-- node is logged once sent and once received, the same envelope both times. hash is
-- exchange.Hash of the envelope, which a reply's or receipt's ypqreplyto names; reply_to is
-- the envelope's own ypqreplyto ('' for a request).
ALTER TABLE messages DROP CONSTRAINT messages_pkey;
ALTER TABLE messages ADD PRIMARY KEY (id, direction);
ALTER TABLE messages ADD COLUMN hash TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN reply_to TEXT NOT NULL DEFAULT '';
CREATE INDEX messages_hash ON messages (hash) WHERE hash <> '';

-- The relay's lease: a claimed row is not claimed again before claimed_until, so two relays
-- never publish the same row at once; a relay that dies leaves it to the next after the lease.
ALTER TABLE outbox ADD COLUMN claimed_until TIMESTAMPTZ;

-- A dead letter is kept once per body (a redelivery of the same bytes adds nothing), with the
-- id of the rejection notice sent back to the sender, '' when none was sent.
ALTER TABLE dead_letters ADD COLUMN body_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE dead_letters ADD COLUMN notice_id TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX dead_letters_body ON dead_letters (body_hash) WHERE body_hash <> '';
