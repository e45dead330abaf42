-- Search over questions and answers. A trigram index matches any piece of
-- three or more characters, so a Korean word is found inside a longer one
-- ("광합성" in "광합성은"), case-insensitively for Latin letters. Triggers keep
-- it in step with the messages (including answers while they stream).
CREATE VIRTUAL TABLE messages_search USING fts5(
    content,
    content = 'messages',
    content_rowid = 'id',
    tokenize = 'trigram'
);
INSERT INTO messages_search (rowid, content) SELECT id, content FROM messages;

CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_search (rowid, content) VALUES (new.id, new.content);
END;
CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_search (messages_search, rowid, content) VALUES ('delete', old.id, old.content);
END;
CREATE TRIGGER messages_search_update AFTER UPDATE OF content ON messages BEGIN
    INSERT INTO messages_search (messages_search, rowid, content) VALUES ('delete', old.id, old.content);
    INSERT INTO messages_search (rowid, content) VALUES (new.id, new.content);
END;
