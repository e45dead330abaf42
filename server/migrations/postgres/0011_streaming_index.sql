-- The streaming answers, oldest first: the sweep's lookup and the journal's
-- trim read these few rows instead of every message. Built in the
-- migration's transaction: `CONCURRENTLY` cannot run in one, and outside
-- one it deadlocks with replicas that wait for the migrator's advisory
-- lock. Writes to messages wait while it is built (one pass over the table).
CREATE INDEX messages_streaming ON messages (created_at) WHERE status = 'streaming';
