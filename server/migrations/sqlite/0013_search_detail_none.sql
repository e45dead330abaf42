-- The search index keeps which trigrams each message holds, not where.
--
-- With positions (FTS5's default `detail=full`) the index of a 6 KB answer
-- was larger than the answer, and writing it was a third of the bytes
-- SQLite wrote per answer. Searches now ask the index for messages holding
-- every trigram of the query (FTS5's LIKE support, which needs no
-- positions) and check the text itself (`Storage::search_messages`).
--
-- The index is rebuilt from the messages once, here. What the old backlog
-- still waited for is then indexed already: an answer still streaming was
-- indexed with the text its row holds now, and its end, which changes that
-- text, takes it out of the index and puts it back in the backlog (the
-- update trigger of `0012_search_backlog`), as for any indexed message.
DROP TABLE messages_search;
CREATE VIRTUAL TABLE messages_search USING fts5(
    content,
    content = 'messages',
    content_rowid = 'id',
    tokenize = 'trigram',
    detail = 'none'
);
INSERT INTO messages_search (messages_search) VALUES ('rebuild');
DELETE FROM search_backlog;
