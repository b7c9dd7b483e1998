-- The team server's store (SQLite). Secrets never appear here in clear:
-- grants are sealed (AES-256-GCM), tokens and codes are SHA-256 hashes.

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL,
    site TEXT NOT NULL,
    display_name TEXT,
    created_at INTEGER NOT NULL,
    UNIQUE (account_id, site)
);

CREATE TABLE grants (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sealed BLOB NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE clients (
    client_id TEXT PRIMARY KEY NOT NULL,
    record TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE pending (
    hash TEXT PRIMARY KEY NOT NULL,
    record TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX pending_expires_at ON pending (expires_at);

CREATE TABLE codes (
    hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    record TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX codes_user_id ON codes (user_id);
CREATE INDEX codes_expires_at ON codes (expires_at);

CREATE TABLE tokens (
    hash TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    family TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    -- How many times a refresh token was presented: 1 is its one use, more is a replay.
    used INTEGER NOT NULL DEFAULT 0,
    revoked INTEGER NOT NULL DEFAULT 0,
    record TEXT NOT NULL
);
CREATE INDEX tokens_user_id ON tokens (user_id);
CREATE INDEX tokens_family ON tokens (family);
CREATE INDEX tokens_expires_at ON tokens (expires_at);
