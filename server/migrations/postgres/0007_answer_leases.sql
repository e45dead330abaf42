-- Replicas: which process writes each streaming answer, and until when it
-- has promised to. Every process renews the leases it holds (and its own
-- heartbeat row) every few seconds; an answer whose lease has expired lost
-- its writer (crash, kill -9, lost node) and any process marks it
-- interrupted, keeping the text its chunks hold. A live lease is never
-- touched, so a process starting or stopping leaves the others' answers alone.
CREATE TABLE instances (
    id         TEXT   PRIMARY KEY,
    started_at BIGINT NOT NULL,
    -- Last successful heartbeat write (milliseconds since the epoch).
    seen_at    BIGINT NOT NULL
);

CREATE TABLE answer_leases (
    message_id BIGINT PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    owner      TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX answer_leases_owner ON answer_leases (owner);
