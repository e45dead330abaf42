-- A read-only public link to one conversation. One live link per
-- conversation; revoking deletes the row, so a revoked token never works
-- again (sharing anew makes a new token). Goes with its conversation.
CREATE TABLE shares (
    conversation_id BIGINT PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE,
    token           TEXT   NOT NULL UNIQUE,
    created_at      BIGINT NOT NULL
);
