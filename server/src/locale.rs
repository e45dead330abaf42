//! The language switch: `/lang/{ko|en}?next=/path` stores the choice in a
//! cookie and goes back, so it works without JavaScript.

use app::{
    api::safe_next,
    i18n::{LANG_COOKIE, Lang},
};
use axum::{
    extract::{Path, Query},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct Next {
    next: Option<String>,
}

pub async fn switch_language(Path(code): Path<String>, Query(query): Query<Next>) -> Response {
    let Some(lang) = Lang::from_code(&code).filter(|l| l.code() == code) else {
        return (StatusCode::NOT_FOUND, "unknown language").into_response();
    };
    let target = safe_next(query.next.as_deref().unwrap_or("/"));
    let cookie = format!(
        "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
        lang.code()
    );
    let mut response = Redirect::to(&target).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}
