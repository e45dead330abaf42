//! Cross-site request forgery protection by origin checking.
//!
//! Browsers label every request with where it comes from: `Sec-Fetch-Site`
//! (all current browsers) and `Origin` (on every cross-origin request and on
//! same-origin POSTs). A state-changing request that a browser marks as coming
//! from another site is refused. Requests with neither header come from
//! programs, not from a victim's browser, and carry no ambient cookies to abuse
//! unless the program holds them itself.

use axum::{
    extract::{Request, State},
    http::{Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

/// The site's own origin, e.g. `https://weasel.example` (no trailing slash).
#[derive(Clone)]
pub struct SiteOrigin(pub String);

impl SiteOrigin {
    pub fn from_url(url: &url::Url) -> Self {
        SiteOrigin(url.origin().ascii_serialization())
    }
}

pub async fn reject_cross_site(State(site): State<SiteOrigin>, request: Request, next: Next) -> Response {
    if is_safe(request.method()) || same_site(&site, &request) {
        return next.run(request).await;
    }
    tracing::warn!(method = %request.method(), path = %request.uri().path(), "cross-site request refused");
    (
        StatusCode::FORBIDDEN,
        "Cross-site request refused. 다른 사이트에서 보낸 요청은 처리하지 않아요.",
    )
        .into_response()
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn same_site(site: &SiteOrigin, request: &Request) -> bool {
    let headers = request.headers();
    if let Some(fetch_site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        // "none" is the user typing the URL or using a bookmark.
        return matches!(fetch_site, "same-origin" | "none");
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(origin) => origin == site.0,
        None => true,
    }
}
