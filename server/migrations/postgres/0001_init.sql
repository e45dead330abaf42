-- Users, their conversations and the messages in them.
-- Times are Unix milliseconds (BIGINT) so both backends store them the same way.
CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         TEXT   NOT NULL UNIQUE,
    display_name  TEXT   NOT NULL,
    password_hash TEXT,
    created_at    BIGINT NOT NULL
);

CREATE TABLE conversations (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      TEXT   NOT NULL,
    subject    TEXT   NOT NULL CHECK (subject IN ('korean', 'english', 'math', 'other')),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX conversations_by_activity ON conversations (user_id, updated_at DESC, id DESC);

CREATE TABLE messages (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id BIGINT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    role            TEXT   NOT NULL CHECK (role IN ('user', 'assistant')),
    content         TEXT   NOT NULL,
    status          TEXT   NOT NULL
        CHECK (status IN ('streaming', 'complete', 'stopped', 'failed', 'interrupted')),
    created_at      BIGINT NOT NULL
);
CREATE INDEX messages_in_order ON messages (conversation_id, id);
