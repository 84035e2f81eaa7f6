-- Signed heads of the audit chain (docs/personal-data.md, "Audit log"). Every sealing
-- transaction leaves one row per batch it chained: the chain's hash at the batch's last
-- seal_seq and when, signed with the node's SM2 key when the sealing process holds it
-- (key_id and sig "" when not: a command without the key, or a node before this release).
-- A signing sealer later signs the head left unsigned. Entries sealed before this migration
-- have no row; a later signed head covers them through the chain.
CREATE TABLE audit_seals (
    seq    INTEGER PRIMARY KEY,
    hash   TEXT NOT NULL,
    at     TEXT NOT NULL,
    key_id TEXT NOT NULL DEFAULT '',
    sig    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_seals_signed ON audit_seals (seq) WHERE sig <> '';

-- The signed heads other nodes published (audit.head), kept as received: a rewrite of the
-- sender's chain no longer contains them. Two different hashes for one seq of one sender
-- are both kept: that is the evidence.
CREATE TABLE audit_peer_heads (
    node        TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    hash        TEXT NOT NULL,
    at          TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    sig         TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (node, seq, hash)
);
