//! Rows of the images students upload (the bytes are in the image store).
//! See migration 0009 for the life of a row: uploaded, attached to a
//! question, unlinked when that question goes, swept.

use tracing::instrument;

use super::{ConversationId, MessageId, Result, Storage, UserId, now_millis};

/// What the database knows of one image.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ImageRow {
    pub id: String,
    pub message_id: Option<MessageId>,
    pub media_type: String,
    pub width: i64,
    pub height: i64,
    pub bytes: i64,
    /// 1: its question's text is the student's checked transcript.
    pub transcribed: i64,
}

/// A new upload's row.
pub struct NewImage<'a> {
    pub id: &'a str,
    pub user: UserId,
    pub media_type: &'a str,
    pub width: u32,
    pub height: u32,
    pub bytes: usize,
    /// The accounting day and the student's daily image limit (0: none).
    pub day: &'a str,
    pub per_day: i64,
}

const COLUMNS: &str = "id, message_id, media_type, width, height, bytes, transcribed";

impl Storage {
    /// Counts the upload against the student's day and inserts its row, in
    /// one transaction; `false` (nothing written) when the day's limit is reached.
    #[instrument(skip_all)]
    pub async fn insert_image(&self, new: &NewImage<'_>) -> Result<bool> {
        on_pool!(self, pool => {
            let mut tx = begin_write!(pool).await?;
            let counted: Option<i64> = sqlx::query_scalar(
                "INSERT INTO user_days AS u (user_id, day, images) VALUES ($1, $2, 1)
                 ON CONFLICT (user_id, day) DO UPDATE SET images = u.images + 1
                 WHERE $3 = 0 OR u.images < $3
                 RETURNING images",
            )
            .bind(new.user)
            .bind(new.day)
            .bind(new.per_day)
            .fetch_optional(&mut *tx)
            .await?;
            if counted.is_none() {
                return Ok(false);
            }
            sqlx::query(
                "INSERT INTO images (id, user_id, media_type, width, height, bytes, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(new.id)
            .bind(new.user)
            .bind(new.media_type)
            .bind(i64::from(new.width))
            .bind(i64::from(new.height))
            .bind(new.bytes as i64)
            .bind(now_millis())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// An image its owner may see: attached to one of their questions, or
    /// uploaded and not yet sent (never one whose question was deleted).
    #[instrument(skip_all)]
    pub async fn image_of(&self, user: UserId, id: &str) -> Result<Option<ImageRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM images
             WHERE id = $1 AND user_id = $2 AND (message_id IS NOT NULL OR attached_at IS NULL)"
        );
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ImageRow>(&sql)
            .bind(id)
            .bind(user)
            .fetch_optional(pool)
            .await)?)
    }

    /// An image in a conversation a live share token opens.
    #[instrument(skip_all)]
    pub async fn shared_image(&self, token: &str, id: &str) -> Result<Option<ImageRow>> {
        let sql = "SELECT i.id, i.message_id, i.media_type, i.width, i.height, i.bytes, i.transcribed
             FROM images i JOIN messages m ON m.id = i.message_id
             JOIN shares s ON s.conversation_id = m.conversation_id
             WHERE i.id = $1 AND s.token = $2";
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ImageRow>(sql)
            .bind(id)
            .bind(token)
            .fetch_optional(pool)
            .await)?)
    }

    /// The student's uploads not yet sent with a question, in the order of `ids`.
    #[instrument(skip_all)]
    pub async fn pending_images(&self, user: UserId, ids: &[String]) -> Result<Vec<ImageRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM images
             WHERE id = $1 AND user_id = $2 AND message_id IS NULL AND attached_at IS NULL"
        );
        let mut rows = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(row) = on_pool!(self, pool => sqlx::query_as::<_, ImageRow>(&sql)
                .bind(id)
                .bind(user)
                .fetch_optional(pool)
                .await)?
            {
                rows.push(row);
            }
        }
        Ok(rows)
    }

    /// Every image of a conversation's questions, in order.
    #[instrument(skip_all)]
    pub async fn conversation_images(&self, conversation: ConversationId) -> Result<Vec<ImageRow>> {
        let sql = "SELECT i.id, i.message_id, i.media_type, i.width, i.height, i.bytes, i.transcribed
             FROM images i JOIN messages m ON m.id = i.message_id
             WHERE m.conversation_id = $1 ORDER BY i.message_id, i.position";
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ImageRow>(sql)
            .bind(conversation)
            .fetch_all(pool)
            .await)?)
    }

    /// One photo of each of `user`'s conversations with ids from `first`
    /// to `last` that have any (for the list's thumbnails), in one query.
    #[instrument(skip_all)]
    pub async fn conversation_photos(
        &self,
        user: UserId,
        first: ConversationId,
        last: ConversationId,
    ) -> Result<Vec<(ConversationId, String)>> {
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, (ConversationId, String)>(
            "SELECT m.conversation_id, MIN(i.id) FROM images i JOIN messages m ON m.id = i.message_id
             WHERE i.user_id = $1 AND m.conversation_id >= $2 AND m.conversation_id <= $3
             GROUP BY m.conversation_id",
        )
        .bind(user)
        .bind(first)
        .bind(last)
        .fetch_all(pool)
        .await)?,
        )
    }

    /// An upload the student removed before sending: no longer theirs to
    /// see, and swept at the next pass.
    #[instrument(skip_all)]
    pub async fn discard_image(&self, user: UserId, id: &str) -> Result<bool> {
        let changed = on_pool!(self, pool => sqlx::query(
            "UPDATE images SET user_id = NULL
             WHERE id = $1 AND user_id = $2 AND message_id IS NULL AND attached_at IS NULL",
        )
        .bind(id)
        .bind(user)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(changed == 1)
    }

    /// Images to delete: unlinked from their question (deleted), from
    /// their owner (deleted account, removed upload), or uploaded before
    /// `pending_before` and never sent.
    #[instrument(skip_all)]
    pub async fn images_to_sweep(&self, pending_before: i64, limit: i64) -> Result<Vec<String>> {
        Ok(on_pool!(self, pool => sqlx::query_scalar::<_, String>(
            "SELECT id FROM images WHERE message_id IS NULL
               AND (attached_at IS NOT NULL OR user_id IS NULL OR created_at < $1)
             LIMIT $2",
        )
        .bind(pending_before)
        .bind(limit)
        .fetch_all(pool)
        .await)?)
    }

    /// Drops a swept image's row (after its bytes), unless a question took it meanwhile.
    #[instrument(skip_all)]
    pub async fn delete_image_row(&self, id: &str) -> Result<()> {
        on_pool!(self, pool => sqlx::query("DELETE FROM images WHERE id = $1 AND message_id IS NULL")
            .bind(id)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }
}

/// In transaction `$tx`: gives question `$message` of `$user` the uploads
/// `$ids` in order; an error (rolling back the question) when one is not
/// an unsent upload of theirs.
macro_rules! attach_images {
    ($tx:expr, $user:expr, $message:expr, $ids:expr, $transcribed:expr, $now:expr) => {{
        for (position, id) in $ids.iter().enumerate() {
            let done = sqlx::query(
                "UPDATE images SET message_id = $1, attached_at = $2, transcribed = $3, position = $4
                 WHERE id = $5 AND user_id = $6 AND message_id IS NULL AND attached_at IS NULL",
            )
            .bind($message)
            .bind($now)
            .bind(i64::from($transcribed))
            .bind(position as i64)
            .bind(id)
            .bind($user)
            .execute(&mut *$tx)
            .await?;
            if done.rows_affected() != 1 {
                return Err($crate::storage::StorageError::NotFound("image"));
            }
        }
    }};
}
pub(super) use attach_images;

/// The message ids' of the rows, for grouping.
pub fn by_message(rows: Vec<ImageRow>) -> std::collections::HashMap<MessageId, Vec<ImageRow>> {
    let mut grouped: std::collections::HashMap<MessageId, Vec<ImageRow>> = Default::default();
    for row in rows {
        if let Some(message) = row.message_id {
            grouped.entry(message).or_default().push(row);
        }
    }
    grouped
}
