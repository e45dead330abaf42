//! Who writes each streaming answer, for several replicas on one database.
//!
//! A process holds a lease on every answer it generates and renews all of
//! them, with its heartbeat, in one small transaction every few seconds. An
//! answer whose lease expired lost its writer; any process may then mark it
//! interrupted with the text the journal holds. On PostgreSQL every write
//! that followers care about also sends a notification (`LISTEN
//! weasel_answers`), so other replicas read new text at once instead of polling.

use std::time::Duration;

use super::{MessageId, Result, Storage, now_millis};

/// The PostgreSQL notification channel that announces answer progress.
pub const ANSWERS_CHANNEL: &str = "weasel_answers";

/// PostgreSQL refuses notification payloads of 8,000 bytes or more.
const PAYLOAD_LIMIT: usize = 7_900;

/// What a notification on [`ANSWERS_CHANNEL`] says about one answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerNews {
    /// A flush wrote this journal row (see `storage::journal`).
    Journal(i64),
    /// More text is in its chunks: what a process of the previous version
    /// announces during a rolling update.
    Text(MessageId),
    /// It ended: its row holds the final text and status.
    Ended(MessageId),
    /// Its student pressed stop on a replica that does not write it.
    Stop(MessageId),
}

impl AnswerNews {
    /// Payloads of at most [`PAYLOAD_LIMIT`] bytes: `j<row>`, `t<id>`,
    /// `e<id>`, `s<id>`, space separated.
    pub fn payloads(news: impl IntoIterator<Item = AnswerNews>) -> Vec<String> {
        let mut payloads = vec![];
        let mut current = String::new();
        for item in news {
            let word = match item {
                AnswerNews::Journal(row) => format!("j{row}"),
                AnswerNews::Text(id) => format!("t{}", id.0),
                AnswerNews::Ended(id) => format!("e{}", id.0),
                AnswerNews::Stop(id) => format!("s{}", id.0),
            };
            if current.len() + word.len() + 1 > PAYLOAD_LIMIT {
                payloads.push(std::mem::take(&mut current));
            }
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(&word);
        }
        if !current.is_empty() {
            payloads.push(current);
        }
        payloads
    }

    /// Reads a payload; unknown words are skipped.
    pub fn parse(payload: &str) -> Vec<AnswerNews> {
        payload
            .split_ascii_whitespace()
            .filter_map(|word| {
                let number: i64 = word.get(1..)?.parse().ok()?;
                let id = MessageId(number);
                match word.as_bytes()[0] {
                    b'j' => Some(AnswerNews::Journal(number)),
                    b't' => Some(AnswerNews::Text(id)),
                    b'e' => Some(AnswerNews::Ended(id)),
                    b's' => Some(AnswerNews::Stop(id)),
                    _ => None,
                }
            })
            .collect()
    }
}

/// In PostgreSQL transaction `$tx`: sends `$news` (PostgreSQL delivers it
/// only when that commits, so a listener never reads ahead of the data).
/// A macro so code written once for both pools can use it; never run on SQLite.
macro_rules! notify_in {
    ($tx:expr, $news:expr) => {{
        for payload in $crate::storage::AnswerNews::payloads($news) {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind($crate::storage::ANSWERS_CHANNEL)
                .bind(payload)
                .execute(&mut *$tx)
                .await?;
        }
    }};
}
pub(super) use notify_in;

/// Sends `news` inside the transaction `tx` ([`notify_in!`]).
pub(crate) async fn notify(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    news: impl IntoIterator<Item = AnswerNews>,
) -> std::result::Result<(), sqlx::Error> {
    notify_in!(*tx, news);
    Ok(())
}

impl Storage {
    /// Takes the lease on a new answer for `owner`.
    pub async fn take_lease(&self, id: MessageId, owner: &str, lease: Duration) -> Result<()> {
        let expires_at = now_millis() + lease.as_millis() as i64;
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO answer_leases (message_id, owner, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (message_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at",
        )
        .bind(id)
        .bind(owner)
        .bind(expires_at)
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// The process's heartbeat: records that `owner` is alive and extends
    /// every lease it holds, in one transaction. It always writes, so it
    /// doubles as the readiness probe's proof that the database takes writes.
    #[tracing::instrument(skip_all)]
    pub async fn heartbeat(&self, owner: &str, started_at: i64, lease: Duration) -> Result<u64> {
        let now = now_millis();
        let expires_at = now + lease.as_millis() as i64;
        let renewed = on_pool!(self, pool => async {
            let mut tx = begin_write!(pool).await?;
            sqlx::query(
                "INSERT INTO instances (id, started_at, seen_at) VALUES ($1, $2, $3)
                 ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at",
            )
            .bind(owner)
            .bind(started_at)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let renewed = sqlx::query("UPDATE answer_leases SET expires_at = $1 WHERE owner = $2")
                .bind(expires_at)
                .bind(owner)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok::<_, sqlx::Error>(renewed)
        }
        .await)?;
        Ok(renewed)
    }

    /// A process that stops cleanly leaves no heartbeat row behind.
    pub async fn forget_instance(&self, owner: &str) -> Result<()> {
        on_pool!(self, pool => sqlx::query("DELETE FROM instances WHERE id = $1")
            .bind(owner)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Marks interrupted every streaming answer whose writer is gone: its
    /// lease expired, or it never had one and is older than a lease (rows
    /// from before leases existed). What the journal holds becomes its text. Any process
    /// may run this at any time: a live lease is never touched, and two
    /// sweepers cannot both mark one answer.
    #[tracing::instrument(skip_all)]
    pub async fn sweep_expired(&self, lease: Duration) -> Result<Vec<MessageId>> {
        let now = now_millis();
        let born_before = now - lease.as_millis() as i64;
        let expired: Vec<(MessageId, i64)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT m.id, m.created_at FROM messages m LEFT JOIN answer_leases l ON l.message_id = m.id
             WHERE m.status = 'streaming'
               AND (l.expires_at < $1 OR (l.message_id IS NULL AND m.created_at < $2))",
        )
        .bind(now)
        .bind(born_before)
        .fetch_all(pool)
        .await)?;
        let mut texts = self.streaming_text(&expired).await?;
        let mut swept = vec![];
        for (id, _) in expired {
            let text = texts.remove(&id).unwrap_or_default();
            let marked = on_pool!(self, pool => async {
                let mut tx = begin_write!(pool).await?;
                let marked = sqlx::query(
                    "UPDATE messages SET content = content || $1, status = 'interrupted', error = 'lost'
                     WHERE id = $2 AND status = 'streaming'
                       AND NOT EXISTS (SELECT 1 FROM answer_leases WHERE message_id = $2 AND expires_at >= $3)",
                )
                .bind(&text)
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if marked {
                    drop_streaming_rows!(tx, id);
                }
                tx.commit().await?;
                Ok::<_, sqlx::Error>(marked)
            }
            .await)?;
            if marked {
                swept.push(id);
            }
        }
        if !swept.is_empty() {
            self.announce(swept.iter().map(|id| AnswerNews::Ended(*id)))
                .await?;
        }
        self.trim_journal().await?;
        // Chunks a last flush of the previous version wrote after its answer
        // had ended, and the heartbeats of processes gone for a long time.
        on_pool!(self, pool => async {
            // Per chunk row, so an empty table costs nothing.
            sqlx::query(
                "DELETE FROM answer_chunks WHERE EXISTS
                   (SELECT 1 FROM messages m WHERE m.id = answer_chunks.message_id AND m.status <> 'streaming')",
            )
            .execute(pool)
            .await?;
            sqlx::query("DELETE FROM instances WHERE seen_at < $1")
                .bind(now - 24 * 3600 * 1000)
                .execute(pool)
                .await
                .map(|_| ())
        }
        .await)?;
        Ok(swept)
    }

    /// Tells other replicas about `news` (PostgreSQL; nothing on SQLite,
    /// whose followers poll).
    pub async fn announce(&self, news: impl IntoIterator<Item = AnswerNews>) -> Result<()> {
        if let Storage::Postgres(pool) = self {
            let mut tx = pool.begin().await?;
            notify(&mut tx, news).await?;
            tx.commit().await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn news_round_trips_in_payloads_under_the_limit() {
        let news: Vec<AnswerNews> = (0..3000)
            .map(|i| match i % 4 {
                0 => AnswerNews::Ended(MessageId(i * 1_000_003)),
                1 => AnswerNews::Text(MessageId(i)),
                2 => AnswerNews::Journal(i * 7),
                _ => AnswerNews::Stop(MessageId(i)),
            })
            .collect();
        let payloads = AnswerNews::payloads(news.clone());
        assert!(payloads.len() > 1);
        assert!(payloads.iter().all(|p| p.len() <= PAYLOAD_LIMIT && !p.is_empty()));
        let back: Vec<AnswerNews> = payloads.iter().flat_map(|p| AnswerNews::parse(p)).collect();
        assert_eq!(back, news);
        assert_eq!(
            AnswerNews::parse("x1 t e9 t12 j40 j"),
            vec![
                AnswerNews::Ended(MessageId(9)),
                AnswerNews::Text(MessageId(12)),
                AnswerNews::Journal(40)
            ]
        );
    }
}
