-- What answers cost and the limits that keep the bill in check. Days are
-- Korea's calendar days ('YYYY-MM-DD'), when limits reset.
--
-- An answer reserves the most it can cost when it starts (cost_micros,
-- millionths of a dollar, against cost_day); when it ends its real cost
-- replaces the reservation, here and in the day's totals.
ALTER TABLE messages ADD COLUMN cost_micros BIGINT;
ALTER TABLE messages ADD COLUMN cost_day TEXT;

-- All answers of a day: spent (ended answers) and reserved (streaming).
CREATE TABLE spend_days (
    day             TEXT   PRIMARY KEY,
    spent_micros    BIGINT NOT NULL DEFAULT 0,
    reserved_micros BIGINT NOT NULL DEFAULT 0,
    answers         BIGINT NOT NULL DEFAULT 0
);

-- One student's day. Kept apart from conversations, so deleting them
-- neither resets a limit nor rewrites what was spent.
CREATE TABLE user_days (
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day          TEXT   NOT NULL,
    answers      BIGINT NOT NULL DEFAULT 0,
    tokens       BIGINT NOT NULL DEFAULT 0,
    spent_micros BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, day)
);
