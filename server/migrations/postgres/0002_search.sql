-- Search over questions and answers: a trigram index serves ILIKE '%…%', so
-- a Korean word is found inside a longer one ("광합성" in "광합성은"),
-- case-insensitively. pg_trgm is a trusted extension: the database owner
-- may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX messages_content_trgm ON messages USING gin (content gin_trgm_ops);
