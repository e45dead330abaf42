-- An account's email is verified once its owner opened a link sent there
-- (or an OAuth provider vouched for it). Accounts made through OAuth before
-- this existed were vouched for by their provider, or carry a placeholder
-- address; password accounts start unverified.
ALTER TABLE users ADD COLUMN email_verified_at BIGINT;
UPDATE users SET email_verified_at = created_at WHERE password_hash IS NULL;

-- Single-use tokens sent by mail: only their SHA-256 is stored, so a copy of
-- the database cannot be used to verify or reset anything.
CREATE TABLE email_tokens (
    token_hash TEXT    PRIMARY KEY,
    user_id    BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT    NOT NULL CHECK (purpose IN ('verify', 'reset')),
    expires_at BIGINT  NOT NULL,
    created_at BIGINT  NOT NULL
);
CREATE INDEX email_tokens_by_user ON email_tokens (user_id, purpose);
