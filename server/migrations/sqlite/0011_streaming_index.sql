-- The streaming answers, oldest first: the sweep's lookup and the journal's
-- trim read these few rows instead of every message.
CREATE INDEX messages_streaming ON messages (created_at) WHERE status = 'streaming';
