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
