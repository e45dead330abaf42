-- The text of answers while they stream, in time order: every flush adds ONE
-- row holding what each answer its process writes received since the last
-- flush (the pieces are encoded in `body`; see storage/journal.rs). Rows are
-- only added at the end, so a flush writes the table's last pages whatever
-- the number of answers. The answer's own row (and so the search index) is
-- written once, complete, when it ends. The sweep deletes rows older than
-- the oldest streaming answer. `answer_chunks` stays for answers a process
-- of the previous version writes during a rolling update; nothing new goes there.
CREATE TABLE answer_journal (
    -- AUTOINCREMENT: an id is never used twice, even after the newest rows
    -- were deleted (other processes remember the last id they read).
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Milliseconds since the epoch, by the clock of the process writing.
    written_at INTEGER NOT NULL,
    body       BLOB    NOT NULL
);
CREATE INDEX answer_journal_by_time ON answer_journal (written_at);
