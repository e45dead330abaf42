-- no-transaction
-- The streaming answers, oldest first: the sweep's lookup and the journal's
-- trim read these few rows instead of every message. Built without blocking
-- writes to messages (an index built concurrently cannot be in a transaction).
CREATE INDEX CONCURRENTLY IF NOT EXISTS messages_streaming ON messages (created_at) WHERE status = 'streaming';
