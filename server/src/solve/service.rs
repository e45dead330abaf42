//! The solve port: what the problem and conversation pages call.

use std::sync::Arc;

use app::{
    api::{
        AnswerStatus, AnswerUsage as ApiUsage, Asked, ConversationView, MessageView, Subject as ApiSubject,
        UsageTotals, UsageView,
    },
    error::{AppError, DailyLimit, Field, Problem},
    ports::Solve,
};

use super::{SolveError, Solver};
use crate::{
    auth::current_user_id,
    spending,
    storage::{AnswerUsage, ConversationId, Message, MessageId, MessageStatus, Refused, Role, StudentUse},
};

pub struct SolveService {
    pub solver: Arc<Solver>,
}

impl From<SolveError> for AppError {
    fn from(err: SolveError) -> Self {
        match err {
            SolveError::Empty => AppError::invalid(Field::Question, Problem::Required),
            SolveError::TooManyImages => AppError::invalid(Field::Question, Problem::TooManyPhotos),
            SolveError::ImageGone => AppError::invalid(Field::Question, Problem::PhotoGone),
            SolveError::Model(err) => {
                tracing::warn!(error = %err, "transcription refused");
                AppError::Internal
            }
            SolveError::TooLong => AppError::invalid(Field::Question, Problem::TooLong),
            SolveError::NotFound => AppError::NotFound,
            SolveError::NotRetryable => AppError::Conflict,
            SolveError::Restarting => AppError::Restarting,
            SolveError::Limit(reached) => AppError::LimitReached {
                limit: match reached.refused {
                    Refused::StudentAnswers => DailyLimit::Answers {
                        per_day: reached.answers_per_day,
                    },
                    Refused::StudentTokens => DailyLimit::Tokens,
                    Refused::Budget => DailyLimit::Budget,
                },
                resets_in_secs: reached.resets_in_secs,
            },
            SolveError::Storage(err) if err.is_overloaded() => {
                tracing::warn!(error = %err, "database overloaded: request refused, nothing written");
                AppError::Busy
            }
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
        html: if m.role == Role::User {
            render::text_with_math(&m.content)
        } else {
            render::render(&m.content)
        },
        content: m.content,
        status: api_status(m.status),
        error: m.error,
        usage: None,
        images: vec![],
    }
}

pub fn usage_view(u: AnswerUsage) -> ApiUsage {
    ApiUsage {
        input_tokens: u.input_tokens,
        output_tokens: u.output_tokens,
        cache_read_tokens: u.cache_read_tokens,
        cache_write_tokens: u.cache_write_tokens,
        cost_micros: u.cost_micros,
    }
}

#[async_trait::async_trait]
impl Solve for SolveService {
    async fn ask(
        &self,
        conversation: Option<i64>,
        subject_: ApiSubject,
        question: String,
        images: Vec<String>,
        transcribed: bool,
    ) -> Result<Asked, AppError> {
        let user = current_user_id().await?;
        let asked = self
            .solver
            .ask_with(
                user,
                conversation.map(ConversationId),
                subject_.into(),
                &question,
                &images,
                transcribed,
            )
            .await?;
        Ok(Asked {
            conversation: asked.conversation.0,
            answer: asked.answer.id.0,
        })
    }

    async fn conversation(&self, id: i64) -> Result<ConversationView, AppError> {
        let user = current_user_id().await?;
        let record = self
            .solver
            .conversation_of(user, ConversationId(id))
            .await
            .map_err(SolveError::Storage)?
            .ok_or(AppError::NotFound)?;
        let (usage, mut images) = (record.usage, record.images);
        Ok(ConversationView {
            id: record.conversation.id.0,
            title_html: render::text_with_math(&record.conversation.title),
            title: record.conversation.title,
            subject: record.conversation.subject.into(),
            emulator: self.solver.model().is_emulator(),
            share: record.share,
            messages: record
                .messages
                .into_iter()
                .map(|m| {
                    let id = m.id;
                    MessageView {
                        usage: usage.get(&id).copied().map(usage_view),
                        images: images.remove(&id).unwrap_or_default(),
                        ..message_view(m)
                    }
                })
                .collect(),
        })
    }

    async fn usage(&self) -> Result<UsageView, AppError> {
        let user = current_user_id().await?;
        let now = time::OffsetDateTime::now_utc();
        let today = spending::day_of(now);
        let month_start = format!("{}-01", &today[..7]);
        let internal = |err| -> AppError { SolveError::Storage(err).into() };
        let totals = |u: StudentUse| UsageTotals {
            answers: u.answers,
            tokens: u.tokens,
            cost_micros: u.spent_micros,
        };
        let limits = self.solver.daily_limits();
        Ok(UsageView {
            today: totals(
                self.solver
                    .usage_of(user, &today, &today)
                    .await
                    .map_err(internal)?,
            ),
            month: totals(
                self.solver
                    .usage_of(user, &month_start, &today)
                    .await
                    .map_err(internal)?,
            ),
            answers_per_day: limits.answers_per_student,
            tokens_per_day: limits.tokens_per_student,
        })
    }

    async fn stop(&self, answer: i64) -> Result<i64, AppError> {
        let user = current_user_id().await?;
        let message = self.solver.message_row_of(user, MessageId(answer)).await;
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
