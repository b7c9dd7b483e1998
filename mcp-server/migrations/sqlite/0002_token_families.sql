-- Token families: one row per authorization (a redeemed code and all its
-- refreshes). Every token lookup checks its family here, so revoking a
-- family (a replayed code or refresh token, `team revoke`) also kills
-- tokens inserted by a request that raced the revocation, and the family's
-- expires_at caps every refresh (an absolute lifetime rotation cannot extend).

CREATE TABLE families (
    family TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX families_user_id ON families (user_id);
CREATE INDEX families_client_id ON families (client_id);
CREATE INDEX families_expires_at ON families (expires_at);

-- Families of tokens issued before this migration: they end when their
-- last token does.
INSERT INTO families (family, user_id, client_id, created_at, expires_at, revoked)
SELECT family, MIN(user_id), MIN(client_id), CAST(strftime('%s', 'now') AS INTEGER),
       MAX(expires_at), 0
FROM tokens GROUP BY family;

-- Set when one of the client's codes is redeemed; registrations that never
-- get there are purged after a while.
ALTER TABLE clients ADD COLUMN authorized INTEGER NOT NULL DEFAULT 0;
UPDATE clients SET authorized = 1 WHERE client_id IN (SELECT client_id FROM tokens);
CREATE INDEX clients_created_at ON clients (created_at);
