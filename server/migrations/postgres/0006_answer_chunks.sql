-- The text of an answer while it streams, written append-only: every flush
-- adds what arrived since the last one, for every live answer in one
-- transaction. The answer's own row (and so the search index) is written
-- once, complete, when it ends; its chunks are deleted then. After a crash
-- the chunks become the interrupted answer's text.
CREATE TABLE answer_chunks (
    message_id BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    -- Byte offset of this chunk in the answer's text.
    start_at   BIGINT NOT NULL,
    text       TEXT   NOT NULL,
    PRIMARY KEY (message_id, start_at)
);
