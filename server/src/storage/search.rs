//! Searching the user's questions and answers: SQLite FTS5 with the trigram
//! tokenizer, PostgreSQL pg_trgm (see the `0002_search` migrations). Query
//! text is always data: LIKE patterns get `%`, `_` and `\` escaped, and
//! SQLite's index is only asked for a run of the query free of them.
//!
//! SQLite's index is written in batches ([`Storage::index_backlog`], see
//! migration `0012_search_backlog`) and holds no positions (`0013`): it
//! finds the messages holding the query's trigrams, and the text itself
//! decides. PostgreSQL's follows each row by itself.

use super::{ConversationId, MessageId, Result, Storage, UserId};

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct SearchRow {
    pub conversation_id: ConversationId,
    pub title: String,
    pub message_id: MessageId,
    pub content: String,
    pub subject: super::Subject,
    pub created_at: i64,
}

/// The trigram index needs three characters; shorter queries scan instead.
const TRIGRAM: usize = 3;

/// The most messages one batch adds to SQLite's index (bounds how long it
/// holds the writer).
const INDEX_BATCH: i64 = 2000;

/// The messages of the backlog that one batch indexes: those no longer
/// streaming (an answer is indexed once, with its final text), oldest first.
const BACKLOG_READY: &str = "SELECT b.message_id FROM search_backlog b JOIN messages m ON m.id = b.message_id
     WHERE m.status <> 'streaming' ORDER BY b.message_id LIMIT $1";

fn like_pattern(query: &str) -> String {
    let escaped = query
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// What SQLite's trigram index is asked for: the longest run of `query`
/// without `%` or `_` (FTS5 would read them as wildcards), when it is long
/// enough to have a trigram. The index narrows the messages down; whether
/// one holds all of `query` is checked on its text.
fn indexed_run(query: &str) -> Option<&str> {
    query
        .split(['%', '_'])
        .max_by_key(|run| run.chars().count())
        .filter(|run| run.chars().count() >= TRIGRAM)
}

impl Storage {
    /// Adds the messages waiting in SQLite's search backlog to its index,
    /// in one transaction, at most [`INDEX_BATCH`] of them: how many. A
    /// no-op on PostgreSQL, whose index follows every row.
    #[tracing::instrument(skip_all)]
    pub async fn index_backlog(&self) -> Result<u64> {
        let Storage::Sqlite(pool) = self else {
            return Ok(0);
        };
        // Read first: most calls find nothing ready and need not wait for the writer.
        let ready: bool = sqlx::query_scalar(&format!("SELECT EXISTS ({BACKLOG_READY})"))
            .bind(1i64)
            .fetch_one(pool)
            .await?;
        if !ready {
            return Ok(0);
        }
        let mut tx = begin_write!(pool).await?;
        let indexed = sqlx::query(&format!(
            "INSERT INTO messages_search (rowid, content)
             SELECT id, content FROM messages WHERE id IN ({BACKLOG_READY})"
        ))
        .bind(INDEX_BATCH)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if indexed > 0 {
            // The same rows: nothing else writes inside this transaction.
            sqlx::query(&format!(
                "DELETE FROM search_backlog WHERE message_id IN ({BACKLOG_READY})"
            ))
            .bind(INDEX_BATCH)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        }
        Ok(indexed)
    }

    /// The user's messages containing `query`, newest first.
    pub async fn search_messages(&self, user: UserId, query: &str, limit: u32) -> Result<Vec<SearchRow>> {
        let limit = i64::from(limit);
        if let Storage::Sqlite(pool) = self
            && let Some(run) = indexed_run(query)
        {
            // Whatever was stored before this search is found by it (a
            // backlog larger than one batch takes several).
            loop {
                match self.index_backlog().await {
                    Ok(indexed) if indexed == INDEX_BATCH as u64 => continue,
                    Ok(_) => break,
                    Err(err) => {
                        tracing::warn!(error = %err, "cannot update the search index before a search");
                        break;
                    }
                }
            }
            // `instr` on lowered text: LIKE's own rule (ASCII letters
            // ignore case), without its wildcards.
            return Ok(sqlx::query_as::<_, SearchRow>(
                "SELECT m.conversation_id, c.title, m.id AS message_id, m.content, c.subject, m.created_at
                 FROM messages_search s
                 JOIN messages m ON m.id = s.rowid
                 JOIN conversations c ON c.id = m.conversation_id
                 WHERE s.content LIKE $1 AND instr(lower(m.content), lower($2)) > 0 AND c.user_id = $3
                 -- FTS5 walks its index newest-first and stops at the limit.
                 ORDER BY s.rowid DESC LIMIT $4",
            )
            .bind(format!("%{run}%"))
            .bind(query)
            .bind(user)
            .bind(limit)
            .fetch_all(pool)
            .await?);
        }
        // PostgreSQL (its trigram index serves ILIKE), and on SQLite queries
        // without three characters in a row the index could use (its LIKE
        // already ignores ASCII case).
        let operator = if matches!(self, Storage::Postgres(_)) {
            "ILIKE"
        } else {
            "LIKE"
        };
        let sql = format!(
            "SELECT m.conversation_id, c.title, m.id AS message_id, m.content, c.subject, m.created_at
             FROM messages m JOIN conversations c ON c.id = m.conversation_id
             WHERE c.user_id = $1 AND m.content {operator} $2 ESCAPE '\\'
             ORDER BY m.id DESC LIMIT $3"
        );
        Ok(on_pool!(self, pool => sqlx::query_as::<_, SearchRow>(&sql)
            .bind(user)
            .bind(like_pattern(query))
            .bind(limit)
            .fetch_all(pool)
            .await)?)
    }
}

#[cfg(test)]
mod tests {
    use super::indexed_run;

    #[test]
    fn the_index_is_asked_for_the_longest_run_without_wildcards() {
        assert_eq!(indexed_run("광합성"), Some("광합성"));
        assert_eq!(indexed_run("100% 문제들_풀이"), Some(" 문제들"));
        assert_eq!(indexed_run("확률 100%"), Some("확률 100"));
        assert_eq!(indexed_run("수학"), None);
        assert_eq!(indexed_run("문제_풀이"), None);
        assert_eq!(indexed_run("%%%"), None);
    }
}
