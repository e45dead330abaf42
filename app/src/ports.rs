//! The boundary between the UI's server functions and the server's services.
//!
//! Server functions stay thin: they take a [`Services`] from the Leptos
//! context and call it. The server crate implements these traits on top of its
//! storage and providers, so this crate never depends on sqlx or AWS. Methods
//! that concern "the current user" read the request from the Leptos context.

use std::sync::Arc;

use leptos::prelude::*;

use crate::{
    dto::{
        Asked, ConversationList, ConversationView, ProviderView, SearchHit, ServiceStatus,
        SharedConversation, Subject, UsageView, UserView,
    },
    error::AppError,
};

#[async_trait::async_trait]
pub trait Health: Send + Sync {
    /// Checks the database and reports the service's state.
    async fn status(&self) -> ServiceStatus;
}

#[async_trait::async_trait]
pub trait Accounts: Send + Sync {
    async fn current_user(&self) -> Result<Option<UserView>, AppError>;
    fn providers(&self) -> Vec<ProviderView>;
    /// Mails a confirmation link to a new address (or, to an address that
    /// has an account, a notice); answers the same either way.
    async fn sign_up(&self, email: String, password: String, confirm: String) -> Result<(), AppError>;
    /// With `verify` (the token from the confirmation mail) the account's
    /// email becomes verified, since the person holds both mail and password.
    async fn sign_in(&self, email: String, password: String, verify: Option<String>) -> Result<(), AppError>;
    /// Mails a reset link if the address has an account; answers the same either way.
    async fn request_password_reset(&self, email: String) -> Result<(), AppError>;
    /// Sets a new password with the token from the reset mail.
    async fn reset_password(&self, token: String, password: String, confirm: String) -> Result<(), AppError>;
    async fn sign_out(&self) -> Result<(), AppError>;
    async fn change_password(
        &self,
        current: String,
        password: String,
        confirm: String,
    ) -> Result<(), AppError>;
    async fn delete_account(&self, confirm: String) -> Result<(), AppError>;
}

/// Problems and answers of the signed-in user.
#[async_trait::async_trait]
pub trait Solve: Send + Sync {
    async fn ask(
        &self,
        conversation: Option<i64>,
        subject: Subject,
        question: String,
        images: Vec<String>,
        transcribed: bool,
    ) -> Result<Asked, AppError>;
    async fn conversation(&self, id: i64) -> Result<ConversationView, AppError>;
    /// The student's use today and this month, with the daily limits.
    async fn usage(&self) -> Result<UsageView, AppError>;
    /// Returns the answer's conversation.
    async fn stop(&self, answer: i64) -> Result<i64, AppError>;
    async fn retry(&self, answer: i64) -> Result<Asked, AppError>;
    /// Replaces a question's text; the answers after it are written anew.
    async fn edit(&self, question: i64, text: String) -> Result<Asked, AppError>;
}

/// Finding and tidying the signed-in user's conversations.
#[async_trait::async_trait]
pub trait History: Send + Sync {
    async fn list(&self, cursor: Option<String>) -> Result<ConversationList, AppError>;
    async fn rename(&self, id: i64, title: String) -> Result<(), AppError>;
    async fn delete(&self, id: i64) -> Result<(), AppError>;
    async fn search(&self, query: String) -> Result<Vec<SearchHit>, AppError>;
    /// Deletes every conversation of the user; returns how many.
    async fn delete_all(&self) -> Result<u64, AppError>;
    /// The token of the conversation's public link (made on first call).
    async fn share(&self, id: i64) -> Result<String, AppError>;
    async fn revoke_share(&self, id: i64) -> Result<(), AppError>;
    /// What a share link shows; anyone may call it.
    async fn shared(&self, token: String) -> Result<SharedConversation, AppError>;
}

/// Everything a server function may call, provided to every request.
#[derive(Clone)]
pub struct Services {
    pub health: Arc<dyn Health>,
    pub accounts: Arc<dyn Accounts>,
    pub solve: Arc<dyn Solve>,
    pub history: Arc<dyn History>,
}

/// The request's services; an error (never a panic) if the server forgot them.
pub fn services() -> Result<Services, AppError> {
    use_context::<Services>().ok_or(AppError::Internal)
}

/// Whether the current request is a plain HTML form post (no JavaScript):
/// browsers ask for HTML then, the hydrated page's fetches do not.
pub fn is_form_post() -> bool {
    use_context::<http::request::Parts>().is_some_and(|parts| {
        parts
            .headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"))
    })
}

/// Gives an error its HTTP status (401 for a missing sign-in, …) on the way out.
///
/// A plain HTML form post (no JavaScript yet) keeps the redirect back to the
/// form that Leptos answers it with, carrying the error in the URL.
pub fn respond<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    // During server-side rendering a server function is called in-process
    // and shares the page's response: its errors must not become the page's status.
    let called_over_http =
        use_context::<http::request::Parts>().is_some_and(|p| p.uri.path().starts_with("/api/"));
    if let Err(err) = &result
        && called_over_http
        && !is_form_post()
        && let Some(response) = use_context::<leptos_axum::ResponseOptions>()
    {
        use http::StatusCode;
        response.set_status(match err {
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::BadCredentials => StatusCode::UNAUTHORIZED,
            AppError::EmailUnverified => StatusCode::FORBIDDEN,
            AppError::LinkExpired => StatusCode::GONE,
            AppError::Throttled { .. } | AppError::LimitReached { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::Conflict => StatusCode::CONFLICT,
            AppError::BadRequest => StatusCode::BAD_REQUEST,
            AppError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Restarting | AppError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal | AppError::Transport(_) => StatusCode::INTERNAL_SERVER_ERROR,
        });
    }
    result
}
