-- Users, their conversations and the messages in them.
-- AUTOINCREMENT: ids are never reused after a delete, so an old link or a
-- stale page can never land on a newer row.
-- Times are Unix milliseconds (INTEGER) so both backends store them the same way.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT    NOT NULL UNIQUE,
    display_name  TEXT    NOT NULL,
    -- NULL for accounts made through OAuth that never set a password.
    password_hash TEXT,
    -- Changes with the password; sessions made before a change stop working.
    auth_stamp    TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
);

CREATE TABLE conversations (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      TEXT    NOT NULL,
    subject    TEXT    NOT NULL CHECK (subject IN ('korean', 'english', 'math', 'other')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX conversations_by_activity ON conversations (user_id, updated_at DESC, id DESC);

CREATE TABLE messages (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id    INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    role               TEXT    NOT NULL CHECK (role IN ('user', 'assistant')),
    content            TEXT    NOT NULL,
    status             TEXT    NOT NULL
        CHECK (status IN ('streaming', 'complete', 'stopped', 'failed', 'interrupted')),
    -- Why an answer failed: throttled, timeout, stream, unavailable, rejected, incomplete.
    error              TEXT,
    -- For answers: which model, why it stopped, what it cost and how fast it was.
    model_id           TEXT,
    stop_reason        TEXT,
    input_tokens       INTEGER,
    output_tokens      INTEGER,
    cache_read_tokens  INTEGER,
    cache_write_tokens INTEGER,
    first_token_ms     INTEGER,
    total_ms           INTEGER,
    created_at         INTEGER NOT NULL
);
CREATE INDEX messages_in_order ON messages (conversation_id, id);

-- Sign-in through Google, GitHub, Kakao or Naver: (provider, subject) is the
-- provider's stable id for the person.
CREATE TABLE oauth_identities (
    provider   TEXT   NOT NULL,
    subject    TEXT   NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email      TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX oauth_identities_by_user ON oauth_identities (user_id);

-- Failed sign-ins per account and per client address, shared by all replicas.
CREATE TABLE sign_in_throttle (
    key             TEXT   PRIMARY KEY,
    failures        INTEGER NOT NULL,
    last_failure_at INTEGER NOT NULL,
    blocked_until   INTEGER NOT NULL
);
