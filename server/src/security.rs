//! Response headers that hold even when something else fails: a Content
//! Security Policy whose script nonce is new on every response, no sniffing,
//! no framing, a referrer policy, HSTS when the site is served over https.
//!
//! The nonce is made here, before the page renders, and handed to Leptos
//! (which puts it on its hydration and streaming scripts) through the
//! request's extensions; see [`nonce_for_page`].

use axum::{
    extract::{Request, State},
    http::{HeaderName, HeaderValue, header},
    middleware::Next,
    response::Response,
};
use base64::Engine;
use rand::RngCore;

/// The nonce of the current response's scripts (128 random bits).
#[derive(Clone, Debug)]
pub struct CspNonce(pub String);

/// What does not change from one response to the next.
#[derive(Clone, Debug)]
pub struct SecurityHeaders {
    /// Set when the public URL is https: browsers then refuse plain http for a year.
    pub hsts: bool,
}

/// Scripts: only those carrying this response's nonce, and what they load
/// (`strict-dynamic`); WebAssembly may be compiled. No plugins, no `<base>`,
/// no framing, forms only to this site. Styles allow inline attributes
/// (table alignment and colours in rendered answers), never inline script.
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self'; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

pub async fn security_headers(
    State(policy): State<SecurityHeaders>,
    mut request: Request,
    next: Next,
) -> Response {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let nonce = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    request.extensions_mut().insert(CspNonce(nonce.clone()));
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&content_security_policy(&nonce)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    let fixed: [(HeaderName, &'static str); 5] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        (
            HeaderName::from_static("permissions-policy"),
            "camera=(self), microphone=(), geolocation=(), payment=(), usb=()",
        ),
        (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
    ];
    for (name, value) in fixed {
        // A page may ask for a stricter policy of its own (share links: no-referrer).
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    }
    if policy.hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}

/// For the Leptos context of a page: the nonce [`security_headers`] made for
/// this response, so the scripts Leptos writes carry the one the header allows.
pub fn nonce_for_page() {
    use leptos::prelude::{provide_context, use_context};
    if let Some(CspNonce(nonce)) =
        use_context::<http::request::Parts>().and_then(|parts| parts.extensions.get::<CspNonce>().cloned())
    {
        provide_context(leptos::nonce::Nonce::from_value(nonce));
    }
}

/// The largest request body a server function accepts.
pub const MAX_API_BODY: usize = 2 * 1024 * 1024;

/// Server-function requests whose body cannot be input at all are answered
/// here, before any code reads them, with the same JSON error the functions
/// return: too large → 413; not UTF-8 (raw, or percent-encoded in a form),
/// or holding a NUL character, which no text field holds and PostgreSQL
/// cannot store → 400.
pub async fn reject_unreadable_input(request: Request, next: Next) -> Response {
    // Photos are binary: their route reads and checks them itself.
    if !request.uri().path().starts_with("/api/")
        || request.method() == http::Method::GET
        || request.uri().path() == app::api::IMAGE_UPLOAD_PATH
    {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_API_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => return api_error(&parts.uri, app::error::AppError::TooLarge),
    };
    let form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !readable_text(&bytes, form) {
        return api_error(&parts.uri, app::error::AppError::BadRequest);
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// Whether a body is text a field may hold: UTF-8 (a form's also once its
/// percent escapes are decoded), and no NUL (raw, `%00` in a form, `\u0000`
/// in JSON).
fn readable_text(body: &[u8], form: bool) -> bool {
    let decoded: Vec<u8> = if form {
        percent_encoding::percent_decode(body).collect()
    } else {
        body.to_vec()
    };
    std::str::from_utf8(body).is_ok()
        && std::str::from_utf8(&decoded).is_ok()
        && !decoded.contains(&0)
        && !body.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000"))
}

/// An error as a server function would have answered it.
fn api_error(uri: &http::Uri, error: app::error::AppError) -> Response {
    use axum::response::IntoResponse;
    let status = match error {
        app::error::AppError::TooLarge => http::StatusCode::PAYLOAD_TOO_LARGE,
        _ => http::StatusCode::BAD_REQUEST,
    };
    let body = serde_json::to_string(&error).unwrap_or_default();
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (
                HeaderName::from_static(leptos::server_fn::error::SERVER_FN_ERROR_HEADER),
                uri.path(),
            ),
        ],
        body,
    )
        .into_response()
}

/// A page that redirects (a signed-out visitor on `/profile`) answers 302.
/// leptos_axum sets the status only when the request's `Accept` names
/// `text/html`, so any other client got a 200 page with a `Location`
/// header; server functions keep their own convention.
pub async fn real_page_redirects(request: Request, next: Next) -> Response {
    let is_api = request.uri().path().starts_with("/api/");
    let mut response = next.run(request).await;
    if !is_api && response.status().is_success() && response.headers().contains_key(header::LOCATION) {
        *response.status_mut() = http::StatusCode::FOUND;
        response.headers_mut().remove(header::CONTENT_LENGTH);
        *response.body_mut() = axum::body::Body::empty();
    }
    response
}
