//! Conversations and their messages.

use super::{
    Conversation, ConversationId, Message, NewMessage, Result, Storage, StorageError, Subject, UserId,
    now_millis,
};

impl Storage {
    pub async fn create_conversation(
        &self,
        user: UserId,
        subject: Subject,
        title: &str,
    ) -> Result<Conversation> {
        let now = now_millis();
        Ok(on_pool!(self, pool => sqlx::query_as::<_, Conversation>(
            "INSERT INTO conversations (user_id, title, subject, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $4)
             RETURNING id, user_id, title, subject, created_at, updated_at",
        )
        .bind(user)
        .bind(title)
        .bind(subject)
        .bind(now)
        .fetch_one(pool)
        .await)?)
    }

    /// The conversation if it exists AND belongs to `user`: another user's
    /// conversation is indistinguishable from a missing one.
    pub async fn conversation(&self, user: UserId, id: ConversationId) -> Result<Option<Conversation>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, Conversation>(
            "SELECT id, user_id, title, subject, created_at, updated_at
             FROM conversations WHERE id = $1 AND user_id = $2",
        )
        .bind(id)
        .bind(user)
        .fetch_optional(pool)
        .await)?)
    }

    /// The user's conversations, most recent activity first.
    pub async fn conversations(&self, user: UserId, limit: u32) -> Result<Vec<Conversation>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, Conversation>(
            "SELECT id, user_id, title, subject, created_at, updated_at
             FROM conversations WHERE user_id = $1
             ORDER BY updated_at DESC, id DESC LIMIT $2",
        )
        .bind(user)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)?)
    }

    /// Appends a message and marks the conversation active, atomically.
    pub async fn append_message(
        &self,
        conversation: ConversationId,
        new: &NewMessage<'_>,
    ) -> Result<Message> {
        let now = now_millis();
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let touched = sqlx::query("UPDATE conversations SET updated_at = $1 WHERE id = $2")
                .bind(now)
                .bind(conversation)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if touched == 0 {
                return Err(StorageError::NotFound("conversation"));
            }
            let message = sqlx::query_as::<_, Message>(
                "INSERT INTO messages (conversation_id, role, content, status, created_at)
                 VALUES ($1, $2, $3, $4, $5)
                 RETURNING id, conversation_id, role, content, status, created_at",
            )
            .bind(conversation)
            .bind(new.role)
            .bind(new.content)
            .bind(new.status)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(message)
        })
    }

    pub async fn messages(&self, conversation: ConversationId) -> Result<Vec<Message>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, Message>(
            "SELECT id, conversation_id, role, content, status, created_at
             FROM messages WHERE conversation_id = $1 ORDER BY id",
        )
        .bind(conversation)
        .fetch_all(pool)
        .await)?)
    }
}
