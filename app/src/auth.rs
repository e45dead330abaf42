//! The signed-in user as the UI sees it, loaded once per page. Signing in
//! or out reloads the page, so no view ever shows a stale user.

use leptos::prelude::*;

use crate::{
    api::{UserView, current_user},
    error::AppError,
};

#[derive(Clone, Copy)]
pub struct Auth {
    pub user: crate::codec::JsonResource<Result<Option<UserView>, AppError>>,
}

pub fn provide_auth() {
    let user = crate::codec::resource(|| (), |_| current_user());
    provide_context(Auth { user });
}

pub fn use_auth() -> Auth {
    expect_context::<Auth>()
}

/// The name of the cookie that carries a session (set by the server's
/// session layer, only once there is something to keep).
pub const SESSION_COOKIE: &str = "weasel_session";

/// Whether the page being rendered needs its WebAssembly. A shared answer
/// opened by someone with no session is read-only, and everything on it is
/// a plain link or a plain form (the header, the language switch, the
/// photos): it is sent without any script, so a friend's phone downloads
/// the page, the stylesheet and the photos, and nothing else. Anyone
/// signed in gets the whole application (their conversation list).
pub fn page_needs_script() -> bool {
    #[cfg(feature = "ssr")]
    {
        use_context::<http::request::Parts>().is_none_or(|parts| {
            let has_session = parts
                .headers
                .get_all(http::header::COOKIE)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .any(|cookies| crate::cookie(cookies, SESSION_COOKIE).is_some());
            !parts.uri.path().starts_with("/s/") || has_session
        })
    }
    // A page that runs the wasm is one that needs it.
    #[cfg(not(feature = "ssr"))]
    true
}

/// After `action` succeeds, loads `target` as a whole new page, so everything
/// on screen is rendered afresh (a new session, a renamed or shared conversation).
/// (Before hydration the server's 302 does the same; see `api::redirect_form`.)
pub fn reload_on_success<T>(
    value: impl Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
    target: impl Fn() -> String + Send + Sync + 'static,
) where
    T: Send + Sync + 'static,
{
    Effect::new(move |_| {
        if matches!(value.get(), Some(Ok(_))) {
            let _ = window().location().set_href(&target());
        }
    });
}

/// The path and query of the page being shown, e.g. `/c/12?tab=1`.
pub fn current_path(location: &leptos_router::location::Location) -> String {
    let (path, search) = (location.pathname.get_untracked(), location.search.get_untracked());
    if search.is_empty() {
        path
    } else {
        format!("{path}?{search}")
    }
}

/// Percent-encodes a URL query component (RFC 3986 unreserved characters
/// and `/` stay as they are).
pub fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_query_components() {
        assert_eq!(
            super::encode_component("/c/1?x=한 &y"),
            "/c/1%3Fx%3D%ED%95%9C%20%26y"
        );
    }
}
