-- The audit chain is sealed after the fact (docs/storage.md, "Audit chain"): a transaction
-- writes its entries unchained, with prev_hash, hash and seal_seq NULL, and the sealer later
-- chains the committed ones in the order it numbers them (seal_seq, dense from 1). Writers no
-- longer lock audit_head; only the sealer does.
--
-- The entries already chained are numbered in id order, which was their chain order.
ALTER TABLE audit_log ALTER COLUMN prev_hash DROP NOT NULL;
ALTER TABLE audit_log ALTER COLUMN hash DROP NOT NULL;
ALTER TABLE audit_log ADD COLUMN seal_seq BIGINT UNIQUE;
UPDATE audit_log SET seal_seq = s.n
    FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM audit_log) AS s
    WHERE audit_log.id = s.id;
-- What the sealer looks for: the few entries not yet chained.
CREATE INDEX audit_log_unsealed ON audit_log (id) WHERE seal_seq IS NULL;

-- The head now also holds the seal_seq of the newest chained entry.
ALTER TABLE audit_head ADD COLUMN seal_seq BIGINT NOT NULL DEFAULT 0;
UPDATE audit_head SET seal_seq = (SELECT COUNT(*) FROM audit_log) WHERE id = 1;
