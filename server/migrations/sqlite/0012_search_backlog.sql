-- The search index is written in batches, not once per message.
--
-- Each write to an FTS5 table adds a segment that later merges rewrite, and
-- every transaction that touches it writes whole pages of the index. With a
-- trigger per message that was one segment per question and per answer:
-- most of the bytes SQLite wrote for an answer. Now a new or changed
-- message only joins `search_backlog`; `Storage::index_backlog` adds every
-- waiting message that no longer streams to the index in one transaction
-- (the solver runs it every few seconds, and a search runs it first, so a
-- search never misses what is stored). Each message is indexed once, with
-- its final text.
CREATE TABLE search_backlog (
    message_id INTEGER PRIMARY KEY
);

DROP TRIGGER messages_search_insert;
DROP TRIGGER messages_search_update;
DROP TRIGGER messages_search_delete;

CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN
    INSERT INTO search_backlog (message_id) VALUES (new.id);
END;

-- An indexed message whose text changes (an edited question) leaves the
-- index with its old text and waits for its new one; one still waiting
-- needs nothing (the index gets the text it has when its turn comes).
CREATE TRIGGER messages_search_update AFTER UPDATE OF content ON messages
WHEN NOT EXISTS (SELECT 1 FROM search_backlog WHERE message_id = old.id) BEGIN
    INSERT INTO messages_search (messages_search, rowid, content) VALUES ('delete', old.id, old.content);
    INSERT INTO search_backlog (message_id) VALUES (new.id);
END;

-- FTS5's 'delete' must only name what the index holds.
CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_search (messages_search, rowid, content)
        SELECT 'delete', old.id, old.content
        WHERE NOT EXISTS (SELECT 1 FROM search_backlog WHERE message_id = old.id);
    DELETE FROM search_backlog WHERE message_id = old.id;
END;
