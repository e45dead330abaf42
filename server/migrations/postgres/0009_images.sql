-- Photos of problems. The bytes live in the image store (a directory or
-- S3) under the row's id, a random 128-bit name that is also the URL.
--
-- An upload is a row with no message until a question takes it
-- (attached_at set). Deleting the message, its conversation or the account
-- only unlinks the row (SET NULL): the sweeper then deletes the bytes and
-- the row, as it does for uploads never used within a day. So no bytes are
-- ever without a row that leads the sweeper to them.
CREATE TABLE images (
    id          TEXT    PRIMARY KEY,
    user_id     BIGINT    REFERENCES users (id) ON DELETE SET NULL,
    message_id  BIGINT    REFERENCES messages (id) ON DELETE SET NULL,
    position    BIGINT    NOT NULL DEFAULT 0,
    media_type  TEXT    NOT NULL CHECK (media_type IN ('image/png', 'image/jpeg')),
    width       BIGINT    NOT NULL,
    height      BIGINT    NOT NULL,
    bytes       BIGINT    NOT NULL,
    -- 1: the question's text is the student's checked transcript of its images.
    transcribed BIGINT    NOT NULL DEFAULT 0,
    created_at  BIGINT    NOT NULL,
    attached_at BIGINT
);
CREATE INDEX images_of_message ON images (message_id, position);
CREATE INDEX images_unlinked ON images (created_at) WHERE message_id IS NULL;
CREATE INDEX images_of_user ON images (user_id);

-- Uploads per student and day, for the daily image limit.
ALTER TABLE user_days ADD COLUMN images BIGINT NOT NULL DEFAULT 0;
