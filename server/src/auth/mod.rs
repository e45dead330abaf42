//! Accounts: passwords, sessions, sign-in throttling, cross-site request
//! protection and OAuth sign-in. [`service::AccountService`] is what the UI's
//! server functions call (through `app::ports::Accounts`).

pub mod cache;
pub mod csrf;
pub mod device;
pub mod oauth;
pub mod password;
pub mod service;
pub mod sessions;
pub mod throttle;

use std::time::Duration;

use axum::{extract::Request, middleware::Next, response::Response};
use axum_login::{AuthUser, AuthnBackend};
use tower_sessions::Session;

use crate::storage::{Storage, StorageError, User, UserId, now_millis};

pub use password::Passwords;

impl AuthUser for User {
    type Id = UserId;

    fn id(&self) -> UserId {
        self.id
    }

    /// Sessions remember this; when the stamp changes (new password), every
    /// other session of the user stops being signed in.
    fn session_auth_hash(&self) -> &[u8] {
        self.auth_stamp.as_bytes()
    }
}

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

pub struct PasswordCredentials {
    /// Already normalised.
    pub email: String,
    pub password: String,
}

/// axum-login's view of our users.
#[derive(Clone)]
pub struct Backend {
    pub storage: Storage,
    pub passwords: Passwords,
    /// Users loaded a moment ago: every signed-in request asks for one.
    pub cache: std::sync::Arc<cache::AuthCache>,
}

impl AuthnBackend for Backend {
    type User = User;
    type Credentials = PasswordCredentials;
    type Error = StorageError;

    async fn authenticate(&self, creds: PasswordCredentials) -> Result<Option<User>, StorageError> {
        let user = self.storage.user_by_email(&creds.email).await?;
        let hash = user.as_ref().and_then(|u| u.password_hash.clone());
        // Always one argon2 verification, whether or not the account exists.
        let valid = self.passwords.verify(creds.password, hash).await;
        Ok(user.filter(|_| valid))
    }

    async fn get_user(&self, id: &UserId) -> Result<Option<User>, StorageError> {
        if let Some(user) = self.cache.user(*id) {
            crate::metrics::record_auth_load("user", true);
            return Ok(Some(user));
        }
        crate::metrics::record_auth_load("user", false);
        let epoch = self.cache.epoch();
        let user = self.storage.user_by_id(*id).await?;
        if let Some(user) = &user {
            self.cache.keep_user(epoch, user);
        }
        Ok(user)
    }
}

pub type AuthSession = axum_login::AuthSession<Backend>;

/// The signed-in user of the current server-function call, or 401.
pub async fn current_user_id() -> Result<UserId, app::error::AppError> {
    let auth = leptos_axum::extract::<AuthSession>()
        .await
        .map_err(|_| app::error::AppError::Internal)?;
    auth.user.map(|u| u.id).ok_or(app::error::AppError::Unauthorized)
}

/// Signs `user` in on this session (a new session id, against fixation) and
/// starts the clock of its maximum age.
pub async fn establish(auth: &mut AuthSession, user: &User) -> Result<(), axum_login::Error<Backend>> {
    auth.login(user).await?;
    auth.session.insert(SIGNED_IN_AT, now_millis()).await?;
    Ok(())
}

/// Session keys of our own, next to axum-login's.
pub const SIGNED_IN_AT: &str = "weasel.signed_in_at";
const LAST_SEEN: &str = "weasel.last_seen";

/// How often activity pushes the idle expiry forward (one session write).
const ACTIVITY_GRANULARITY: Duration = Duration::from_secs(15 * 60);

/// Ends sessions older than `absolute`, however active, and records activity
/// so that idle expiry counts from the last visit rather than the sign-in.
pub async fn session_lifetime(
    axum::extract::State(absolute): axum::extract::State<Duration>,
    session: Session,
    mut request: Request,
    next: Next,
) -> Response {
    if let Ok(Some(signed_in_at)) = session.get::<i64>(SIGNED_IN_AT).await {
        let now = now_millis();
        if now - signed_in_at > absolute.as_millis() as i64 {
            let _ = session.flush().await;
            // The auth layer loaded the user before this ran: unload it too.
            if let Some(auth) = request.extensions_mut().get_mut::<AuthSession>() {
                auth.user = None;
            }
        } else {
            let last_seen = session
                .get::<i64>(LAST_SEEN)
                .await
                .ok()
                .flatten()
                .unwrap_or(signed_in_at);
            if now - last_seen > ACTIVITY_GRANULARITY.as_millis() as i64 {
                let _ = session.insert(LAST_SEEN, now).await;
            }
        }
    }
    next.run(request).await
}

/// How long a browser is asked to wait after the session store failed.
const SESSION_STORE_RETRY_SECS: &str = "5";

/// Answers for the session layers when the session store (the database)
/// fails: tower-sessions and axum-login then answer a bare 500 with no body,
/// a blank page. Such a response becomes 503 with `Retry-After` and the
/// message in the visitor's language: JSON as a server function's error
/// under `/api/`, a small page elsewhere. It does not say whether anything
/// was saved: the store can fail after the handler did its work.
pub async fn explain_store_failures(request: Request, next: Next) -> Response {
    use axum::response::IntoResponse;
    use http::header;
    let path = request.uri().path().to_string();
    let lang = app::i18n::Lang::negotiate(
        request
            .headers()
            .get(header::COOKIE)
            .and_then(|v| v.to_str().ok()),
        request
            .headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let response = next.run(request).await;
    let bare = response.status() == http::StatusCode::INTERNAL_SERVER_ERROR
        && !response.headers().contains_key(header::CONTENT_TYPE)
        && axum::body::HttpBody::size_hint(response.body()).exact() == Some(0);
    if !bare {
        return response;
    }
    tracing::warn!(path, "the session store failed; answered 503");
    let error = app::error::AppError::Internal;
    let message = error.message(lang);
    let status = http::StatusCode::SERVICE_UNAVAILABLE;
    let retry = (header::RETRY_AFTER, SESSION_STORE_RETRY_SECS);
    if path.starts_with("/api/") {
        let body = serde_json::to_string(&error).unwrap_or_default();
        return (
            status,
            [
                retry,
                (header::CONTENT_TYPE, "application/json"),
                (
                    http::HeaderName::from_static(leptos::server_fn::error::SERVER_FN_ERROR_HEADER),
                    path.as_str(),
                ),
            ],
            body,
        )
            .into_response();
    }
    let again = lang.t("다시 시도", "Try again");
    let page = format!(
        "<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Weasel</title></head><body><main><h1>Weasel</h1><p>{}</p>\
         <p><a href=\"{}\">{again}</a></p></main></body></html>",
        lang.code(),
        escape_html(&message),
        escape_html(&path),
    );
    (
        status,
        [retry, (header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response()
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
