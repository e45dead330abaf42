//! A small OAuth 2 authorization server for tests and offline development.
//!
//! One server plays all four providers Weasel supports, each under its own
//! prefix (`/google`, `/github`, `/kakao`, `/naver`), with the provider's own
//! user-info JSON shape. It implements the authorization-code flow with the
//! checks a real provider makes: registered client id and secret, the same
//! redirect URI at both steps, single-use codes and PKCE (S256).
//!
//! `GET /{provider}/authorize` shows a page where the tester picks who signs
//! in (subject, email, whether the email is verified). Adding `auto=1` and
//! `sub`/`email`/`email_verified` to the query skips the page.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use axum::{
    Form, Json, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
    routing::get,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

pub const PROVIDERS: [&str; 4] = ["google", "github", "kakao", "naver"];

/// The one client this server knows (the same for every provider).
#[derive(Clone)]
pub struct Client {
    pub id: String,
    pub secret: String,
}

#[derive(Clone, Debug)]
struct Person {
    subject: String,
    email: String,
    email_verified: bool,
}

struct Grant {
    provider: String,
    redirect_uri: String,
    challenge: Option<String>,
    person: Person,
}

#[derive(Default)]
struct Issued {
    codes: HashMap<String, Grant>,
    tokens: HashMap<String, (String, Person)>,
}

#[derive(Clone)]
struct Mock {
    client: Client,
    issued: Arc<Mutex<Issued>>,
}

pub fn router(client: Client) -> Router {
    let mock = Mock {
        client,
        issued: Arc::default(),
    };
    Router::new()
        .route("/{provider}/authorize", get(authorize_page).post(approve))
        .route("/{provider}/token", axum::routing::post(token))
        .route("/{provider}/userinfo", get(userinfo))
        .route("/{provider}/userinfo/emails", get(github_emails))
        .with_state(mock)
}

/// Serves on `addr` (port 0 for any) in the background; returns the address.
pub async fn spawn(addr: SocketAddr, client: Client) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router(client)).await });
    Ok(local)
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    client_id: String,
    redirect_uri: String,
    response_type: String,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    auto: Option<String>,
    sub: Option<String>,
    email: Option<String>,
    email_verified: Option<String>,
}

fn bad_request(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": "invalid_request", "error_description": message })),
    )
        .into_response()
}

fn known(provider: &str) -> bool {
    PROVIDERS.contains(&provider)
}

async fn authorize_page(
    State(mock): State<Mock>,
    Path(provider): Path<String>,
    Query(query): Query<AuthorizeQuery>,
) -> Response {
    if !known(&provider) || query.client_id != mock.client.id || query.response_type != "code" {
        return bad_request("unknown provider, client or response type");
    }
    if query.code_challenge.is_some() && query.code_challenge_method.as_deref() != Some("S256") {
        return bad_request("only S256 PKCE is supported");
    }
    if query.auto.is_some() {
        let person = Person {
            subject: query.sub.clone().unwrap_or_else(|| "mock-user-1".into()),
            email: query
                .email
                .clone()
                .unwrap_or_else(|| "mock.user@example.com".into()),
            email_verified: query.email_verified.as_deref() != Some("false"),
        };
        return issue_code(
            &mock,
            provider,
            &query.redirect_uri,
            query.state,
            query.code_challenge,
            person,
        );
    }
    let hidden = |name: &str, value: &Option<String>| {
        value.as_ref().map_or(String::new(), |v| {
            format!(r#"<input type="hidden" name="{name}" value="{}">"#, escape(v))
        })
    };
    Html(format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Mock {provider} sign-in</title></head>
<body><h1>Mock {provider} sign-in</h1>
<form method="post">
{}{}{}
<label>Subject <input name="sub" value="mock-{provider}-user"></label>
<label>Email <input name="email" value="mock.user@example.com"></label>
<label><input type="checkbox" name="email_verified" value="true" checked> Email verified</label>
<button type="submit">Continue</button>
</form></body></html>"#,
        hidden("redirect_uri", &Some(query.redirect_uri.clone())),
        hidden("state", &query.state),
        hidden("code_challenge", &query.code_challenge),
    ))
    .into_response()
}

#[derive(Deserialize)]
struct Approval {
    redirect_uri: String,
    state: Option<String>,
    code_challenge: Option<String>,
    sub: String,
    email: String,
    email_verified: Option<String>,
}

async fn approve(
    State(mock): State<Mock>,
    Path(provider): Path<String>,
    Form(form): Form<Approval>,
) -> Response {
    if !known(&provider) {
        return bad_request("unknown provider");
    }
    let person = Person {
        subject: form.sub,
        email: form.email,
        email_verified: form.email_verified.is_some(),
    };
    issue_code(
        &mock,
        provider,
        &form.redirect_uri,
        form.state,
        form.code_challenge,
        person,
    )
}

fn issue_code(
    mock: &Mock,
    provider: String,
    redirect_uri: &str,
    state: Option<String>,
    challenge: Option<String>,
    person: Person,
) -> Response {
    let code = uuid::Uuid::new_v4().simple().to_string();
    let grant = Grant {
        provider,
        redirect_uri: redirect_uri.to_string(),
        challenge,
        person,
    };
    mock.issued.lock().unwrap().codes.insert(code.clone(), grant);
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    let mut target = format!("{redirect_uri}{separator}code={code}");
    if let Some(state) = state {
        target.push_str(&format!("&state={}", encode(&state)));
    }
    Redirect::to(&target).into_response()
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: String,
    code: String,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

async fn token(
    State(mock): State<Mock>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    let from_basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|pair| pair.split_once(':').map(|(a, b)| (a.to_string(), b.to_string())));
    let (id, secret) = from_basic.unwrap_or((
        form.client_id.unwrap_or_default(),
        form.client_secret.unwrap_or_default(),
    ));
    if id != mock.client.id || secret != mock.client.secret {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "invalid_client" })),
        )
            .into_response();
    }
    if form.grant_type != "authorization_code" {
        return bad_request("unsupported grant type");
    }
    let mut issued = mock.issued.lock().unwrap();
    // Codes are single-use: taken out whatever happens next.
    let Some(grant) = issued.codes.remove(&form.code) else {
        return (StatusCode::BAD_REQUEST, Json(json!({ "error": "invalid_grant" }))).into_response();
    };
    if grant.provider != provider || form.redirect_uri.as_deref() != Some(grant.redirect_uri.as_str()) {
        return (StatusCode::BAD_REQUEST, Json(json!({ "error": "invalid_grant" }))).into_response();
    }
    if let Some(challenge) = &grant.challenge {
        let verifier = form.code_verifier.unwrap_or_default();
        if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != *challenge {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": "invalid_grant", "error_description": "PKCE" })),
            )
                .into_response();
        }
    }
    let access_token = uuid::Uuid::new_v4().simple().to_string();
    issued
        .tokens
        .insert(access_token.clone(), (provider, grant.person));
    Json(json!({ "access_token": access_token, "token_type": "bearer", "expires_in": 3600 })).into_response()
}

fn bearer(mock: &Mock, headers: &HeaderMap) -> Option<(String, Person)> {
    let token = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?
        .trim()
        .to_string();
    mock.issued.lock().unwrap().tokens.get(&token).cloned()
}

/// The person, in the JSON shape the real provider uses.
async fn userinfo(State(mock): State<Mock>, Path(provider): Path<String>, headers: HeaderMap) -> Response {
    let Some((issued_for, p)) = bearer(&mock, &headers).filter(|(issued_for, _)| *issued_for == provider)
    else {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "invalid_token" })),
        )
            .into_response();
    };
    let body = match issued_for.as_str() {
        "google" => {
            json!({ "sub": p.subject, "email": p.email, "email_verified": p.email_verified, "name": "Mock User" })
        }
        "github" => {
            json!({ "id": p.subject.parse::<u64>().unwrap_or(4242), "login": p.subject, "name": "Mock User", "email": null })
        }
        "kakao" => json!({
            "id": p.subject.parse::<u64>().unwrap_or(777),
            "kakao_account": {
                "email": p.email, "is_email_valid": true, "is_email_verified": p.email_verified,
                "profile": { "nickname": "목업 사용자" }
            }
        }),
        _ => {
            json!({ "resultcode": "00", "message": "success", "response": { "id": p.subject, "email": p.email, "name": "목업" } })
        }
    };
    Json(body).into_response()
}

/// GitHub keeps emails apart from the profile.
async fn github_emails(State(mock): State<Mock>, headers: HeaderMap) -> Response {
    match bearer(&mock, &headers) {
        Some((provider, p)) if provider == "github" => {
            Json(json!([{ "email": p.email, "primary": true, "verified": p.email_verified }])).into_response()
        }
        _ => (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "message": "Bad credentials" })),
        )
            .into_response(),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
