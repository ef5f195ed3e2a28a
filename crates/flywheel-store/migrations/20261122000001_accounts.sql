-- Accounts, API tokens and web sessions.
-- Portable DDL: the same file runs on SQLite and PostgreSQL. Ids are UUID
-- text, times are BIGINT milliseconds since the Unix epoch, flags are
-- nullable timestamps (when it happened) rather than booleans.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL,
    -- lower-cased email: accounts are unique case-insensitively
    email_key     TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('participant', 'instructor', 'admin')),
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    disabled_at   BIGINT
);

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    -- SHA-256 of the secret; the secret itself is never stored
    token_digest TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    -- the session record as JSON (tower-sessions' Record)
    data       TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);
