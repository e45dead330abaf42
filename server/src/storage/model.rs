//! Rows as typed values. Ids are distinct types so a conversation id can never
//! be passed where a user id is expected; enums only hold the values the
//! schema's CHECK constraints allow.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($name:ident) => {
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type,
        )]
        #[sqlx(transparent)]
        pub struct $name(pub i64);
    };
}
id_type!(UserId);
id_type!(ConversationId);
id_type!(MessageId);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum Subject {
    Korean,
    English,
    Math,
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

/// Where an answer stands; see the solve flow for the transitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum MessageStatus {
    Streaming,
    Complete,
    Stopped,
    Failed,
    Interrupted,
}

impl MessageStatus {
    /// The lowercase name the database stores (and metrics label with).
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Streaming => "streaming",
            MessageStatus::Complete => "complete",
            MessageStatus::Stopped => "stopped",
            MessageStatus::Failed => "failed",
            MessageStatus::Interrupted => "interrupted",
        }
    }
}

#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub display_name: String,
    /// An argon2id PHC string; `None` for OAuth-only accounts.
    pub password_hash: Option<String>,
    pub auth_stamp: String,
    pub created_at: i64,
    /// When the owner proved the address is theirs; `None` until then.
    pub email_verified_at: Option<i64>,
}

impl User {
    pub fn email_verified(&self) -> bool {
        self.email_verified_at.is_some()
    }
}

/// Never prints the password hash.
impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

pub struct NewUser<'a> {
    pub email: &'a str,
    pub display_name: &'a str,
    pub password_hash: Option<&'a str>,
    /// Made through a provider that vouched for the address.
    pub email_verified: bool,
}

/// What arrived for a streaming answer since its last flush.
#[derive(Clone, Copy, Debug)]
pub struct Chunk<'a> {
    pub message: MessageId,
    /// Byte offset of `text` in the answer.
    pub start_at: usize,
    pub text: &'a str,
}

/// How an answer ended, to be recorded by a flush.
#[derive(Clone, Copy, Debug)]
pub struct End<'a> {
    pub id: MessageId,
    pub status: MessageStatus,
    pub outcome: &'a AnswerOutcome,
}

/// What one flush wrote: its journal row's id and encoded bytes (`None`
/// without pieces), and for each end, in order, whether it was recorded.
#[derive(Debug)]
pub struct Flushed {
    pub journal: Option<(i64, usize)>,
    pub ends: Vec<Result<(), super::StorageError>>,
}

/// What a token sent by mail is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenPurpose {
    Verify,
    Reset,
}

impl TokenPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::Verify => "verify",
            TokenPurpose::Reset => "reset",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Conversation {
    pub id: ConversationId,
    pub user_id: UserId,
    pub title: String,
    pub subject: Subject,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub role: Role,
    pub content: String,
    pub status: MessageStatus,
    /// Why an answer failed (a short code, see `model::ModelError::kind`).
    pub error: Option<String>,
    pub created_at: i64,
}

/// How an answer ended, written once when generation stops.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnswerOutcome {
    pub content: String,
    pub error: Option<String>,
    pub stop_reason: Option<String>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    pub first_token_ms: Option<i64>,
    pub total_ms: i64,
    /// What it cost, in millionths of a US dollar.
    pub cost_micros: i64,
}

/// Everything a new question writes (see [`Storage::begin_question`](super::Storage::begin_question)).
pub struct NewQuestion<'a> {
    pub user: UserId,
    /// A follow-up in this conversation, or `None` for a new one.
    pub conversation: Option<ConversationId>,
    /// For a new conversation.
    pub subject: Subject,
    pub title: &'a str,
    pub question: &'a str,
    /// Uploads that go with the question, in order.
    pub images: &'a [String],
    /// The question's text is the student's checked transcript of them.
    pub transcribed: bool,
    pub model_id: &'a str,
    pub reservation: Reservation,
    pub limits: &'a crate::spending::DailyLimits,
    /// The answer's writer and how long its lease lasts.
    pub lease: (&'a str, std::time::Duration),
}

/// What a new question wrote.
pub struct Begun {
    pub conversation: Conversation,
    pub question: Message,
    pub answer: Message,
}

/// What a new answer holds of its day's budget until it ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    /// The accounting day (`YYYY-MM-DD`, Korea).
    pub day: String,
    pub micros: i64,
}

/// A finished answer's tokens and cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AnswerUsage {
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    pub cost_micros: i64,
}

/// The recorded facts about an answer.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct AnswerStats {
    pub model_id: Option<String>,
    pub stop_reason: Option<String>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cache_read_tokens: Option<i64>,
    pub cache_write_tokens: Option<i64>,
    pub first_token_ms: Option<i64>,
    pub total_ms: Option<i64>,
}

pub struct NewMessage<'a> {
    pub role: Role,
    pub content: &'a str,
    pub status: MessageStatus,
}

/// The same subjects as the UI names them.
impl From<Subject> for app::api::Subject {
    fn from(subject: Subject) -> Self {
        match subject {
            Subject::Korean => app::api::Subject::Korean,
            Subject::English => app::api::Subject::English,
            Subject::Math => app::api::Subject::Math,
            Subject::Other => app::api::Subject::Other,
        }
    }
}

impl From<app::api::Subject> for Subject {
    fn from(subject: app::api::Subject) -> Self {
        match subject {
            app::api::Subject::Korean => Subject::Korean,
            app::api::Subject::English => Subject::English,
            app::api::Subject::Math => Subject::Math,
            app::api::Subject::Other => Subject::Other,
        }
    }
}
