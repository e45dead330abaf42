//! The solve port: what the problem and conversation pages call.

use std::sync::Arc;

use app::{
    api::{AnswerStatus, Asked, ConversationView, MessageView, Subject as ApiSubject},
    error::{AppError, Field, Problem},
    ports::Solve,
};

use super::{SolveError, Solver};
use crate::{
    auth::current_user_id,
    storage::{ConversationId, Message, MessageId, MessageStatus, Role},
};

pub struct SolveService {
    pub solver: Arc<Solver>,
}

impl From<SolveError> for AppError {
    fn from(err: SolveError) -> Self {
        match err {
            SolveError::Empty => AppError::invalid(Field::Question, Problem::Required),
            SolveError::TooLong => AppError::invalid(Field::Question, Problem::TooLong),
            SolveError::NotFound => AppError::NotFound,
            SolveError::NotRetryable => AppError::Conflict,
            SolveError::Restarting => AppError::Restarting,
            SolveError::Storage(err) => {
                tracing::error!(error = %err, "solve storage failure");
                AppError::Internal
            }
        }
    }
}

pub fn api_status(status: MessageStatus) -> AnswerStatus {
    match status {
        MessageStatus::Streaming => AnswerStatus::Streaming,
        MessageStatus::Complete => AnswerStatus::Complete,
        MessageStatus::Stopped => AnswerStatus::Stopped,
        MessageStatus::Failed => AnswerStatus::Failed,
        MessageStatus::Interrupted => AnswerStatus::Interrupted,
    }
}

/// A stored message as the UI shows it.
pub fn message_view(m: Message) -> MessageView {
    MessageView {
        id: m.id.0,
        from_student: m.role == Role::User,
        content: m.content,
        status: api_status(m.status),
        error: m.error,
    }
}

#[async_trait::async_trait]
impl Solve for SolveService {
    async fn ask(
        &self,
        conversation: Option<i64>,
        subject_: ApiSubject,
        question: String,
    ) -> Result<Asked, AppError> {
        let user = current_user_id().await?;
        let asked = self
            .solver
            .ask(user, conversation.map(ConversationId), subject_.into(), &question)
            .await?;
        Ok(Asked {
            conversation: asked.conversation.0,
            answer: asked.answer.id.0,
        })
    }

    async fn conversation(&self, id: i64) -> Result<ConversationView, AppError> {
        let user = current_user_id().await?;
        let storage = self.solver.storage();
        let internal = |err| -> AppError { SolveError::Storage(err).into() };
        let conversation = storage
            .conversation(user, ConversationId(id))
            .await
            .map_err(internal)?;
        let conversation = conversation.ok_or(AppError::NotFound)?;
        let mut messages = storage.messages(conversation.id).await.map_err(internal)?;
        // A streaming answer's newest text is in memory, ahead of the last batch written.
        for message in messages
            .iter_mut()
            .filter(|m| m.status == MessageStatus::Streaming)
        {
            if let Some(text) = self.solver.live_text(message.id) {
                message.content = text;
            }
        }
        Ok(ConversationView {
            id: conversation.id.0,
            title: conversation.title,
            subject: conversation.subject.into(),
            emulator: self.solver.model().is_emulator(),
            share: storage
                .share_token(user, conversation.id)
                .await
                .map_err(internal)?,
            messages: messages.into_iter().map(message_view).collect(),
        })
    }

    async fn stop(&self, answer: i64) -> Result<i64, AppError> {
        let user = current_user_id().await?;
        let message = self.solver.storage().message_of(user, MessageId(answer)).await;
        let message = message
            .map_err(|e| AppError::from(SolveError::Storage(e)))?
            .ok_or(AppError::NotFound)?;
        self.solver
            .stop_anywhere(message.id)
            .await
            .map_err(|e| AppError::from(SolveError::Storage(e)))?;
        Ok(message.conversation_id.0)
    }

    async fn edit(&self, question: i64, text: String) -> Result<Asked, AppError> {
        let user = current_user_id().await?;
        let asked = self.solver.edit(user, MessageId(question), &text).await?;
        Ok(Asked {
            conversation: asked.conversation.0,
            answer: asked.answer.id.0,
        })
    }

    async fn retry(&self, answer: i64) -> Result<Asked, AppError> {
        let user = current_user_id().await?;
        let asked = self.solver.retry(user, MessageId(answer)).await?;
        Ok(Asked {
            conversation: asked.conversation.0,
            answer: asked.answer.id.0,
        })
    }
}
