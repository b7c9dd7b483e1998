-- A consent page's answer is single-use (issue 16): the hash of every
-- answered consent request is kept until that request would have expired
-- anyway, and a second answer to it is refused.
CREATE TABLE spent_consents (
    hash TEXT PRIMARY KEY NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX spent_consents_expires_at ON spent_consents (expires_at);
