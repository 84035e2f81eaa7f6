-- The audit chain is sealed after the fact (docs/storage.md, "Audit chain"): a transaction
-- writes its entries unchained, with prev_hash, hash and seal_seq NULL, and the sealer later
-- chains the committed ones in the order it numbers them (seal_seq, dense from 1). Writers no
-- longer lock audit_head; only the sealer does.
--
-- SQLite cannot drop NOT NULL from a column, so the table is rebuilt. The entries already
-- chained are numbered in id order, which was their chain order.
CREATE TABLE audit_log_sealed (
    id        INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    org_unit  TEXT NOT NULL DEFAULT '',
    action    TEXT NOT NULL,
    object    TEXT NOT NULL DEFAULT '',
    reason    TEXT NOT NULL DEFAULT '',
    prev_hash TEXT,
    hash      TEXT UNIQUE,
    seal_seq  INTEGER UNIQUE
);
INSERT INTO audit_log_sealed (id, at, actor, org_unit, action, object, reason, prev_hash, hash, seal_seq)
    SELECT id, at, actor, org_unit, action, object, reason, prev_hash, hash, row_number() OVER (ORDER BY id)
    FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_sealed RENAME TO audit_log;
CREATE INDEX audit_log_object ON audit_log (object, id);
-- What the sealer looks for: the few entries not yet chained.
CREATE INDEX audit_log_unsealed ON audit_log (id) WHERE seal_seq IS NULL;

-- The head now also holds the seal_seq of the newest chained entry.
ALTER TABLE audit_head ADD COLUMN seal_seq INTEGER NOT NULL DEFAULT 0;
UPDATE audit_head SET seal_seq = (SELECT COUNT(*) FROM audit_log) WHERE id = 1;
