//! Share links: an unguessable token that opens one conversation read-only.

use super::{Conversation, ConversationId, Result, Storage, UserId, now_millis};

impl Storage {
    /// The conversation's share token, made with `new_token` if it has none.
    /// `None` when the conversation is not the user's.
    pub async fn share_conversation(
        &self,
        user: UserId,
        id: ConversationId,
        new_token: &str,
    ) -> Result<Option<String>> {
        // Inserting through a SELECT on the user's own conversations makes
        // ownership and creation one statement; an existing link is kept.
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO shares (conversation_id, token, created_at)
             SELECT id, $1, $2 FROM conversations WHERE id = $3 AND user_id = $4
             ON CONFLICT (conversation_id) DO NOTHING",
        )
        .bind(new_token)
        .bind(now_millis())
        .bind(id)
        .bind(user)
        .execute(pool)
        .await
        .map(|_| ()))?;
        self.share_token(user, id).await
    }

    /// The live share token of the user's conversation, if any.
    pub async fn share_token(&self, user: UserId, id: ConversationId) -> Result<Option<String>> {
        Ok(on_pool!(self, pool => sqlx::query_scalar::<_, String>(
            "SELECT s.token FROM shares s JOIN conversations c ON c.id = s.conversation_id
             WHERE c.id = $1 AND c.user_id = $2",
        )
        .bind(id)
        .bind(user)
        .fetch_optional(pool)
        .await)?)
    }

    /// Ends the link of the user's conversation; `false` when the
    /// conversation is not theirs (revoking an unshared one is fine).
    pub async fn revoke_share(&self, user: UserId, id: ConversationId) -> Result<bool> {
        if self.conversation(user, id).await?.is_none() {
            return Ok(false);
        }
        on_pool!(self, pool => sqlx::query("DELETE FROM shares WHERE conversation_id = $1")
            .bind(id)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(true)
    }

    /// The conversation a live token opens.
    pub async fn shared_conversation(&self, token: &str) -> Result<Option<Conversation>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, Conversation>(
            "SELECT c.id, c.user_id, c.title, c.subject, c.created_at, c.updated_at
             FROM shares s JOIN conversations c ON c.id = s.conversation_id
             WHERE s.token = $1",
        )
        .bind(token)
        .fetch_optional(pool)
        .await)?)
    }
}
