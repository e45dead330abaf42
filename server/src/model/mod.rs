//! The model-provider boundary: a conversation goes in, a stream of text
//! deltas (then a stop reason and token usage) comes out. Production uses
//! AWS Bedrock ([`bedrock::Bedrock`]); development and tests point the same
//! code at the project's Bedrock emulator.

pub mod bedrock;
pub mod check;
mod messages;

use std::pin::Pin;

use futures_util::Stream;

use crate::storage::Role;

#[derive(Clone, Debug)]
pub struct Turn {
    pub role: Role,
    pub text: String,
    /// Photos that go before the text (a student's turn only).
    pub images: Vec<ModelImage>,
}

impl Turn {
    pub fn text(role: Role, text: impl Into<String>) -> Turn {
        Turn {
            role,
            text: text.into(),
            images: vec![],
        }
    }
}

/// The two formats the server stores images in (see `images::check`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageFormat {
    Png,
    Jpeg,
}

impl ImageFormat {
    pub fn media_type(self) -> &'static str {
        match self {
            ImageFormat::Png => "image/png",
            ImageFormat::Jpeg => "image/jpeg",
        }
    }
}

/// A photo as the model receives it.
#[derive(Clone, Debug)]
pub struct ModelImage {
    pub format: ImageFormat,
    pub bytes: std::sync::Arc<[u8]>,
}

/// What a request is for; each has its own model and output budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// The student's answer: the configured model, the full token budget.
    Answer,
    /// A conversation title: a cheap model, a few tokens.
    Title,
    /// Photos written out as text: the answer model (it reads best).
    Transcribe,
}

#[derive(Clone, Debug)]
pub struct ModelRequest {
    pub purpose: Purpose,
    pub system: String,
    pub turns: Vec<Turn>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelEvent {
    Text(String),
    /// `end_turn`, `max_tokens`, `stop_sequence`, …
    Stop(String),
    Usage(Usage),
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// Too many requests (HTTP 429 / throttlingException): "busy, try again".
    #[error("the model is busy")]
    Throttled,
    #[error("the model stopped sending for too long")]
    Timeout,
    #[error("the model stream failed: {0}")]
    Stream(String),
    #[error("the model service is unreachable: {0}")]
    Unavailable(String),
    #[error("the request was rejected: {0}")]
    Rejected(String),
    /// The configured model cannot be called: retired, mistyped, or this
    /// account has no access to it. Operators must change the setting.
    #[error("the model cannot be used: {0}")]
    ModelGone(String),
}

impl ModelError {
    /// A short label for metrics and the database.
    pub fn kind(&self) -> &'static str {
        match self {
            ModelError::Throttled => "throttled",
            ModelError::Timeout => "timeout",
            ModelError::Stream(_) => "stream",
            ModelError::Unavailable(_) => "unavailable",
            ModelError::Rejected(_) => "rejected",
            ModelError::ModelGone(_) => "model_gone",
        }
    }
}

pub type ModelStream = Pin<Box<dyn Stream<Item = Result<ModelEvent, ModelError>> + Send>>;

#[async_trait::async_trait]
pub trait ModelProvider: Send + Sync {
    /// Which model answers (stored with every answer).
    fn model_id(&self) -> &str;
    /// Which model serves `purpose` (titles may use a cheaper one).
    fn model_for(&self, purpose: Purpose) -> &str {
        let _ = purpose;
        self.model_id()
    }
    /// Whether this is the offline emulator (the page says so).
    fn is_emulator(&self) -> bool;
    async fn stream(&self, request: ModelRequest) -> Result<ModelStream, ModelError>;
    /// Asks the provider's control plane whether the configured models can
    /// be called (logs and metrics; never spends tokens).
    async fn check_models(&self) {}
}
