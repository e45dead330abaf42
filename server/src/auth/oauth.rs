//! Sign-in with Google, GitHub, Kakao and Naver: the authorization-code flow
//! with `state` and PKCE (S256), through the `oauth2` crate.
//!
//! Linking rules, so a provider account can never take over someone else's:
//! 1. a provider identity already linked signs in its user;
//! 2. a signed-in user who starts the flow links the identity to themselves;
//! 3. otherwise an existing account with the same email is linked only when
//!    the provider says it verified that email; if it does not, the person is
//!    asked to sign in with their password first. An existing account whose
//!    owner never verified the email loses its password and every session
//!    first (someone else may have registered the address);
//! 4. otherwise a new account (without password) is created.

use std::sync::Arc;

use axum::{
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect, Response},
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, TokenUrl, basic::BasicClient,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{AuthSession, cache::AuthCache, establish};
use crate::{
    config::{OAuthProvider, Provider},
    storage::{NewUser, Storage, StorageError, User},
};

/// The flow in progress, kept in the session between start and callback.
const PENDING: &str = "weasel.oauth_pending";

#[derive(Serialize, Deserialize)]
struct Pending {
    provider: String,
    state: String,
    verifier: String,
    next: String,
}

#[derive(Clone)]
pub struct OAuth {
    pub providers: Arc<Vec<OAuthProvider>>,
    pub public_url: url::Url,
    pub storage: Storage,
    pub http: reqwest::Client,
}

impl OAuth {
    pub fn new(providers: Vec<OAuthProvider>, public_url: url::Url, storage: Storage) -> Self {
        // The token endpoint must not be followed through redirects (oauth2's advice).
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(15))
            .user_agent("weasel")
            .build()
            .expect("HTTP client");
        OAuth {
            providers: Arc::new(providers),
            public_url,
            storage,
            http,
        }
    }

    fn provider(&self, id: &str) -> Option<&OAuthProvider> {
        self.providers.iter().find(|p| p.provider.id() == id)
    }

    fn redirect_url(&self, provider: Provider) -> String {
        let mut url = self.public_url.clone();
        url.set_path(&format!("/auth/{}/callback", provider.id()));
        url.to_string()
    }
}

/// What went wrong, as the sign-in page's `oauth_error` parameter.
#[derive(Debug, Clone, Copy)]
enum Failure {
    /// The person cancelled at the provider.
    Denied,
    /// The state did not match: a stale or forged callback.
    State,
    /// An account with this email exists and the provider did not verify it.
    EmailExists,
    /// The provider or the database failed.
    Failed,
}

impl Failure {
    fn code(self) -> &'static str {
        match self {
            Failure::Denied => "denied",
            Failure::State => "state",
            Failure::EmailExists => "email_exists",
            Failure::Failed => "failed",
        }
    }

    fn redirect(self) -> Response {
        Redirect::to(&format!("/sign-in?oauth_error={}", self.code())).into_response()
    }
}

#[derive(Deserialize)]
pub struct StartQuery {
    next: Option<String>,
}

pub async fn start(
    State(oauth): State<OAuth>,
    Path(id): Path<String>,
    Query(query): Query<StartQuery>,
    auth: AuthSession,
) -> Response {
    let Some(config) = oauth.provider(&id) else {
        return (axum::http::StatusCode::NOT_FOUND, "unknown sign-in provider").into_response();
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let client = match client(config, &oauth.redirect_url(config.provider)) {
        Ok(client) => client,
        Err(err) => {
            tracing::error!(provider = id, error = %err, "OAuth provider misconfigured");
            return Failure::Failed.redirect();
        }
    };
    let mut request = client
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(challenge);
    for scope in config.provider.scopes() {
        request = request.add_scope(Scope::new(scope.to_string()));
    }
    let (url, state) = request.url();
    let pending = Pending {
        provider: id,
        state: state.secret().clone(),
        verifier: verifier.secret().clone(),
        next: app::api::safe_next(query.next.as_deref().unwrap_or("/")),
    };
    if let Err(err) = auth.session.insert(PENDING, pending).await {
        tracing::error!(error = %err, "cannot store the OAuth state");
        return Failure::Failed.redirect();
    }
    Redirect::to(url.as_str()).into_response()
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

pub async fn callback(
    State(oauth): State<OAuth>,
    Path(id): Path<String>,
    Query(query): Query<CallbackQuery>,
    mut auth: AuthSession,
) -> Response {
    let pending: Option<Pending> = auth.session.remove(PENDING).await.ok().flatten();
    let Some(pending) = pending.filter(|p| p.provider == id && Some(&p.state) == query.state.as_ref()) else {
        return Failure::State.redirect();
    };
    if query.error.is_some() {
        return Failure::Denied.redirect();
    }
    let (Some(config), Some(code)) = (oauth.provider(&id), query.code) else {
        return Failure::State.redirect();
    };
    let profile = match fetch_profile(&oauth, config, code, pending.verifier).await {
        Ok(profile) => profile,
        Err(err) => {
            tracing::warn!(provider = id, error = %err, "OAuth sign-in failed");
            return Failure::Failed.redirect();
        }
    };
    let cache = auth.backend.cache.clone();
    match account_for(
        &oauth.storage,
        &cache,
        config.provider,
        &profile,
        auth.user.as_ref(),
    )
    .await
    {
        Ok(Ok(user)) => match establish(&mut auth, &user).await {
            Ok(()) => Redirect::to(&pending.next).into_response(),
            Err(err) => {
                tracing::error!(error = %err, "cannot sign in after OAuth");
                Failure::Failed.redirect()
            }
        },
        Ok(Err(failure)) => failure.redirect(),
        Err(err) => {
            tracing::error!(error = %err, "OAuth account linking failed");
            Failure::Failed.redirect()
        }
    }
}

type Configured = oauth2::Client<
    oauth2::basic::BasicErrorResponse,
    oauth2::basic::BasicTokenResponse,
    oauth2::basic::BasicTokenIntrospectionResponse,
    oauth2::StandardRevocableToken,
    oauth2::basic::BasicRevocationErrorResponse,
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

fn client(config: &OAuthProvider, redirect: &str) -> Result<Configured, oauth2::url::ParseError> {
    Ok(BasicClient::new(ClientId::new(config.client_id.clone()))
        .set_client_secret(ClientSecret::new(config.client_secret.expose().to_string()))
        .set_auth_uri(AuthUrl::new(config.auth_url.clone())?)
        .set_token_uri(TokenUrl::new(config.token_url.clone())?)
        .set_redirect_uri(RedirectUrl::new(redirect.to_string())?)
        // Kakao and Naver want the secret in the form; the others accept it too.
        .set_auth_type(AuthType::RequestBody))
}

/// Who the provider says signed in.
#[derive(Debug, PartialEq, Eq)]
pub struct Profile {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
}

#[derive(Debug, thiserror::Error)]
enum FlowError {
    #[error("configuration: {0}")]
    Config(#[from] oauth2::url::ParseError),
    #[error("token exchange: {0}")]
    Token(String),
    #[error("user info: {0}")]
    UserInfo(#[from] reqwest::Error),
    #[error("unexpected user info: {0}")]
    Profile(String),
}

async fn fetch_profile(
    oauth: &OAuth,
    config: &OAuthProvider,
    code: String,
    verifier: String,
) -> Result<Profile, FlowError> {
    let client = client(config, &oauth.redirect_url(config.provider))?;
    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .request_async(&oauth.http)
        .await
        .map_err(|e| FlowError::Token(e.to_string()))?;
    let bearer = token.access_token().secret();
    let get = |url: String| {
        oauth
            .http
            .get(url)
            .bearer_auth(bearer)
            .header("accept", "application/json")
            .send()
    };
    let info: Value = get(config.userinfo_url.clone())
        .await?
        .error_for_status()?
        .json()
        .await?;
    let emails = if config.provider == Provider::Github {
        Some(
            get(format!("{}/emails", config.userinfo_url))
                .await?
                .error_for_status()?
                .json()
                .await?,
        )
    } else {
        None
    };
    parse_profile(config.provider, &info, emails.as_ref()).map_err(FlowError::Profile)
}

/// Reads each provider's own user-info shape.
pub fn parse_profile(provider: Provider, info: &Value, emails: Option<&Value>) -> Result<Profile, String> {
    let text = |v: &Value| match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let profile = match provider {
        Provider::Google => Profile {
            subject: text(&info["sub"]).ok_or("no sub")?,
            email: text(&info["email"]),
            email_verified: info["email_verified"].as_bool().unwrap_or(false),
            name: text(&info["name"]),
        },
        Provider::Github => {
            let primary = emails
                .and_then(Value::as_array)
                .and_then(|all| all.iter().find(|e| e["primary"].as_bool() == Some(true)));
            Profile {
                subject: text(&info["id"]).ok_or("no id")?,
                email: primary.and_then(|e| text(&e["email"])),
                email_verified: primary.and_then(|e| e["verified"].as_bool()).unwrap_or(false),
                name: text(&info["name"]).or_else(|| text(&info["login"])),
            }
        }
        Provider::Kakao => {
            let account = &info["kakao_account"];
            Profile {
                subject: text(&info["id"]).ok_or("no id")?,
                email: text(&account["email"]),
                email_verified: account["is_email_verified"].as_bool() == Some(true)
                    && account["is_email_valid"].as_bool() != Some(false),
                name: text(&account["profile"]["nickname"]),
            }
        }
        Provider::Naver => {
            let response = &info["response"];
            Profile {
                subject: text(&response["id"]).ok_or("no id")?,
                email: text(&response["email"]),
                // Naver does not say whether it verified the address.
                email_verified: false,
                name: text(&response["name"]).or_else(|| text(&response["nickname"])),
            }
        }
    };
    Ok(Profile {
        email: profile.email.map(|e| e.trim().to_lowercase()),
        ..profile
    })
}

/// Applies the linking rules; `Ok(Err(_))` is a refusal to show the person.
async fn account_for(
    storage: &Storage,
    cache: &AuthCache,
    provider: Provider,
    profile: &Profile,
    signed_in: Option<&User>,
) -> Result<Result<User, Failure>, StorageError> {
    let id = provider.id();
    if let Some(user) = storage.user_by_identity(id, &profile.subject).await? {
        return Ok(Ok(user));
    }
    let email = profile.email.as_deref();
    if let Some(user) = signed_in {
        storage
            .link_identity(user.id, id, &profile.subject, email)
            .await?;
        return Ok(Ok(user.clone()));
    }
    if let Some(email) = email
        && let Some(existing) = storage.user_by_email(email).await?
    {
        if !profile.email_verified {
            return Ok(Err(Failure::EmailExists));
        }
        // The provider proved the address is this person's. If the account's
        // owner never did, whoever set its password may have been someone
        // else (pre-account takeover): that password and every session go.
        let existing = if existing.email_verified() {
            existing
        } else {
            tracing::warn!(user = %existing.id, provider = id, "unverified account claimed through OAuth: password cleared, sessions ended");
            let claimed = storage.claim_unverified(existing.id).await?;
            cache.user_changed(claimed.id).await;
            claimed
        };
        storage
            .link_identity(existing.id, id, &profile.subject, Some(email))
            .await?;
        return Ok(Ok(existing));
    }
    // Without an email the account still needs a unique one; `.invalid` can never be real.
    let placeholder = format!("{id}-{}@users.invalid", profile.subject);
    let email = email.unwrap_or(&placeholder);
    let name = profile
        .name
        .clone()
        .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_string());
    let user = storage
        .create_user(&NewUser {
            email,
            display_name: &name,
            password_hash: None,
            email_verified: profile.email_verified && profile.email.is_some(),
        })
        .await?;
    storage
        .link_identity(user.id, id, &profile.subject, profile.email.as_deref())
        .await?;
    tracing::info!(user = %user.id, provider = id, "account created through OAuth");
    Ok(Ok(user))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_provider_shape_is_read() {
        let google = json!({"sub": "1", "email": "A@x.com", "email_verified": true, "name": "A"});
        let p = parse_profile(Provider::Google, &google, None).unwrap();
        assert_eq!(
            (p.subject.as_str(), p.email.as_deref(), p.email_verified),
            ("1", Some("a@x.com"), true)
        );

        let github = json!({"id": 42, "login": "octo", "email": null});
        let emails = json!([{"email": "o@x.com", "primary": false, "verified": true},
                            {"email": "p@x.com", "primary": true, "verified": false}]);
        let p = parse_profile(Provider::Github, &github, Some(&emails)).unwrap();
        assert_eq!(
            (p.subject.as_str(), p.email.as_deref(), p.email_verified),
            ("42", Some("p@x.com"), false)
        );
        assert_eq!(p.name.as_deref(), Some("octo"));

        let kakao = json!({"id": 7, "kakao_account": {"email": "k@x.com", "is_email_verified": true,
                           "is_email_valid": true, "profile": {"nickname": "민지"}}});
        let p = parse_profile(Provider::Kakao, &kakao, None).unwrap();
        assert_eq!((p.email_verified, p.name.as_deref()), (true, Some("민지")));

        let naver = json!({"resultcode": "00", "response": {"id": "abc", "email": "n@x.com"}});
        let p = parse_profile(Provider::Naver, &naver, None).unwrap();
        assert_eq!((p.subject.as_str(), p.email_verified), ("abc", false));

        assert!(parse_profile(Provider::Google, &json!({}), None).is_err());
    }
}
