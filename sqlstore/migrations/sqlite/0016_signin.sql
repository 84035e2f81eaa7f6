-- Sign-in (docs/web.md). login_names counts the failed sign-ins of names that are no user's
-- exactly as users.failed_logins counts a user's, so that the answers (message, slow-down,
-- lock-out) do not tell which usernames exist. login_tokens holds the sign-in form's
-- anti-forgery tokens (as SHA-256), each good for one post.

CREATE TABLE login_names (
    name           TEXT PRIMARY KEY,
    failed_logins  INTEGER NOT NULL DEFAULT 0,
    last_failed_at TEXT,
    locked_until   TEXT
);
CREATE INDEX login_names_last_failed ON login_names (last_failed_at);

CREATE TABLE login_tokens (
    token_hash TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
);
CREATE INDEX login_tokens_created ON login_tokens (created_at);
