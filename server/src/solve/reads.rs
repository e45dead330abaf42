//! What the pages and the event stream read about conversations and
//! answers, through the solver: it knows which streaming answers it holds
//! in memory (written here, or mirrored for followers here), and reads the
//! journal only for the others.

use std::collections::HashMap;

use super::Solver;
use crate::storage::{
    AnswerUsage, Conversation, ConversationId, Message, MessageId, Result, StudentUse, UserId,
};

/// A conversation as its owner sees it.
pub struct ConversationRecord {
    pub conversation: Conversation,
    /// In order; a streaming answer holds its text so far.
    pub messages: Vec<Message>,
    /// The ids of each message's photos, in order.
    pub images: HashMap<MessageId, Vec<String>>,
    /// Tokens and cost of each answer that has them.
    pub usage: HashMap<MessageId, AnswerUsage>,
    /// The live share link's token, if any.
    pub share: Option<String>,
}

impl Solver {
    /// The conversation `id` if `user` owns it.
    pub async fn conversation_of(
        &self,
        user: UserId,
        id: ConversationId,
    ) -> Result<Option<ConversationRecord>> {
        let Some(conversation) = self.storage.conversation(user, id).await? else {
            return Ok(None);
        };
        let messages = self
            .storage
            .messages_with(conversation.id, |id| self.live_text(id))
            .await?;
        let images = crate::images::ids_by_message(self.storage.conversation_images(conversation.id).await?);
        let usage = self
            .storage
            .answer_usage(conversation.id)
            .await?
            .into_iter()
            .collect();
        let share = self.storage.share_token(user, conversation.id).await?;
        Ok(Some(ConversationRecord {
            conversation,
            messages,
            images,
            usage,
            share,
        }))
    }

    /// A message of `user`'s as its row holds it (a streaming answer's text
    /// not read): for checking who may see it, and its state.
    pub async fn message_row_of(&self, user: UserId, id: MessageId) -> Result<Option<Message>> {
        self.storage.stored_message_of(user, id).await
    }

    /// A message of `user`'s with its text, a streaming answer's included
    /// (from memory when held here).
    pub async fn message_of(&self, user: UserId, id: MessageId) -> Result<Option<Message>> {
        let message = self.storage.stored_message_of(user, id).await?;
        Ok(self
            .storage
            .with_streaming_text(message.into_iter().collect(), |id| self.live_text(id))
            .await?
            .pop())
    }

    /// What `user`'s answers used between two days (inclusive, `YYYY-MM-DD`).
    pub async fn usage_of(&self, user: UserId, from: &str, to: &str) -> Result<StudentUse> {
        self.storage.student_use(user, from, to).await
    }

    /// One round trip to the database, for readiness.
    pub async fn ping(&self) -> Result<()> {
        self.storage.ping().await
    }
}
