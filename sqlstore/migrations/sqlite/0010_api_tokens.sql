-- Tokens of the JSON API (docs/api.md): each belongs to a user and acts with that user's
-- scope and role. Only the token's SHA-256 is kept, so a copy of the database authorizes no
-- one; a revoked token stays, with the time it was revoked, for the record.
CREATE TABLE api_tokens (
    id         INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    label      TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);
