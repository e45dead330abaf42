//! The accounts port: what the sign-up, sign-in and profile pages call.
//! Each method reads the current request (session, client address) from the
//! Leptos context that server functions run in.

use std::{net::SocketAddr, sync::Arc};

use app::{
    api::{ProviderView, UserView},
    error::{AppError, Field, FieldError, Problem},
    ports::Accounts,
};
use axum::extract::ConnectInfo;

use super::{
    AuthSession, PasswordCredentials, Passwords,
    device::Devices,
    establish,
    password::{check_new_password, normalize_email},
    throttle::{self, Throttle},
};
use crate::{
    mail::{Mailer, messages},
    storage::{NewUser, Storage, StorageError, TokenPurpose, User},
};

/// A confirmation link works for a day; a reset link for 15 minutes.
const VERIFY_LINK_LIFETIME_MS: i64 = 24 * 3600 * 1000;
const RESET_LINK_LIFETIME_MS: i64 = 15 * 60 * 1000;

pub struct AccountService {
    pub storage: Storage,
    pub passwords: Passwords,
    pub throttle: Throttle,
    pub devices: Devices,
    pub mailer: Mailer,
    /// Links in mail point here.
    pub public_url: url::Url,
    /// Take the client address from the last `X-Forwarded-For` hop (behind a
    /// load balancer) rather than from the TCP peer.
    pub trust_forwarded_for: bool,
    pub providers: Arc<Vec<ProviderView>>,
    /// The account's photos go with it (swept at once).
    pub images: Arc<crate::images::Images>,
    /// The account's streaming answers are stopped first.
    pub solver: Arc<crate::solve::Solver>,
    /// Users loaded a moment ago, here and on other replicas: what changes
    /// a user drops them.
    pub auth_cache: Arc<super::cache::AuthCache>,
}

/// Deletes, in the background, the photos a deletion just unlinked (the
/// periodic sweep is the backstop if this one fails).
pub fn sweep_now(images: &Arc<crate::images::Images>) {
    let images = images.clone();
    tokio::spawn(async move { images.sweep().await });
}

/// Logs an internal failure and gives the caller nothing but "internal error".
fn internal(err: impl std::fmt::Display) -> AppError {
    tracing::error!(error = %err, "account operation failed");
    AppError::Internal
}

async fn auth_session() -> Result<AuthSession, AppError> {
    leptos_axum::extract::<AuthSession>().await.map_err(internal)
}

async fn signed_in_user() -> Result<(AuthSession, User), AppError> {
    let session = auth_session().await?;
    let user = session.user.clone().ok_or(AppError::Unauthorized)?;
    Ok((session, user))
}

impl AccountService {
    async fn client_address(&self) -> String {
        if self.trust_forwarded_for
            && let Some(parts) = leptos::prelude::use_context::<http::request::Parts>()
            && let Some(hop) = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
        {
            return hop.trim().to_string();
        }
        match leptos_axum::extract::<ConnectInfo<SocketAddr>>().await {
            Ok(ConnectInfo(addr)) => addr.ip().to_string(),
            Err(_) => "unknown".into(),
        }
    }

    async fn sign_in_as(&self, session: &mut AuthSession, user: &User) -> Result<(), AppError> {
        establish(session, user).await.map_err(internal)?;
        // This browser is now known to the account (see `device`).
        let current = request_headers().and_then(|h| self.devices.read(&h));
        if let Some(cookie) = self.devices.issue(user.id, current.as_ref())
            && let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>()
        {
            response.append_header(http::header::SET_COOKIE, cookie);
        }
        Ok(())
    }

    /// An absolute link to `path` on this site with `query`.
    fn link(&self, path: &str, query: &[(&str, &str)]) -> String {
        let mut url = self.public_url.clone();
        url.set_path(path);
        if query.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(query);
        }
        url.to_string()
    }

    /// The owner hears of every change of password.
    fn tell_password_changed(&self, user: &User) {
        let reset = self.link("/forgot-password", &[]);
        self.mailer.send(
            &user.email,
            messages::password_changed(app::i18n::current_lang(), &reset),
        );
    }

    /// A new confirmation link for `user`'s address (the old one stops working).
    async fn send_verification(&self, user: &User, lang: app::i18n::Lang) -> Result<(), AppError> {
        let token = self
            .storage
            .issue_email_token(user.id, TokenPurpose::Verify, VERIFY_LINK_LIFETIME_MS)
            .await
            .map_err(internal)?;
        let link = self.link("/sign-in", &[("verify", &token)]);
        self.mailer.send(&user.email, messages::verify_email(lang, &link));
        Ok(())
    }

    /// Counts a sign-up from this client address; refuses past the limit.
    async fn admit_sign_up(&self) -> Result<(), AppError> {
        let key = throttle::sign_up_key(&self.client_address().await);
        match self
            .throttle
            .attempt(&[(&key, throttle::SIGN_UP)])
            .await
            .map_err(internal)?
        {
            Ok(_) => Ok(()),
            Err(wait) => Err(AppError::Throttled {
                retry_after_secs: wait.as_secs().max(1),
            }),
        }
    }

    async fn view(&self, user: &User) -> Result<UserView, AppError> {
        Ok(UserView {
            email: user.email.clone(),
            display_name: user.display_name.clone(),
            has_password: user.password_hash.is_some(),
            providers: self.storage.providers_of(user.id).await.map_err(internal)?,
        })
    }
}

fn request_headers() -> Option<http::HeaderMap> {
    leptos::prelude::use_context::<http::request::Parts>().map(|parts| parts.headers)
}

fn invalid(errors: Vec<FieldError>) -> Result<(), AppError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::Invalid(errors))
    }
}

#[async_trait::async_trait]
impl Accounts for AccountService {
    async fn current_user(&self) -> Result<Option<UserView>, AppError> {
        match auth_session().await?.user {
            Some(user) => Ok(Some(self.view(&user).await?)),
            None => Ok(None),
        }
    }

    fn providers(&self) -> Vec<ProviderView> {
        self.providers.as_ref().clone()
    }

    async fn sign_up(&self, email: String, password: String, confirm: String) -> Result<(), AppError> {
        let email = normalize_email(&email).map_err(|problem| AppError::invalid(Field::Email, problem))?;
        invalid(check_new_password(&email, &password, &confirm))?;
        self.admit_sign_up().await?;
        // Hashed whether or not the address is taken: both answers take as long.
        let hash = self.passwords.hash(password).await;
        let display_name = email.split('@').next().unwrap_or_default().to_string();
        let new = NewUser {
            email: &email,
            display_name: &display_name,
            password_hash: Some(&hash),
            email_verified: false,
        };
        let lang = app::i18n::current_lang();
        match self.storage.create_user(&new).await {
            Ok(user) => {
                tracing::info!(user = %user.id, "account created, email to be verified");
                self.send_verification(&user, lang).await
            }
            // The address has an account: its owner hears of the attempt (with
            // a reset link); the person signing up sees the same answer.
            Err(StorageError::Conflict(_)) => {
                // A few notices an hour at most, so nobody can flood the inbox.
                let key = throttle::notice_key(&email);
                if self
                    .throttle
                    .attempt(&[(&key, throttle::RESET_ACCOUNT)])
                    .await
                    .map_err(internal)?
                    .is_ok()
                {
                    let sign_in = self.link("/sign-in", &[]);
                    let reset = self.link("/forgot-password", &[]);
                    self.mailer
                        .send(&email, messages::already_registered(lang, &sign_in, &reset));
                }
                Ok(())
            }
            Err(err) => Err(internal(err)),
        }
    }

    async fn sign_in(&self, email: String, password: String, verify: Option<String>) -> Result<(), AppError> {
        // A malformed address cannot belong to anyone: the same answer as a wrong password.
        let Ok(email) = normalize_email(&email) else {
            return Err(AppError::BadCredentials);
        };
        // Counted before the password is checked, so parallel guesses cannot
        // all be evaluated; a device that signed in to this account before is
        // limited on its own rather than by the account's counter.
        let address = throttle::address_key(&self.client_address().await);
        let device = match request_headers().and_then(|h| self.devices.read(&h)) {
            Some(device) => match self.storage.user_by_email(&email).await.map_err(internal)? {
                Some(user) if user.id == device.user => Some(device),
                _ => None,
            },
            None => None,
        };
        let per_account = match &device {
            Some(device) => (throttle::device_key(&device.id), throttle::DEVICE),
            None => (throttle::account_key(&email), throttle::ACCOUNT),
        };
        let delay = match self
            .throttle
            .attempt(&[(&address, throttle::ADDRESS), (&per_account.0, per_account.1)])
            .await
            .map_err(internal)?
        {
            Ok(delay) => delay,
            Err(wait) => {
                return Err(AppError::Throttled {
                    retry_after_secs: wait.as_secs().max(1),
                });
            }
        };

        let mut session = auth_session().await?;
        let creds = PasswordCredentials { email, password };
        match session.authenticate(creds).await.map_err(internal)? {
            Some(user) => {
                // From a known device only that device's counter starts
                // over: what strangers tried against the account still counts.
                self.throttle.clear(&per_account.0).await.map_err(internal)?;
                self.throttle.refund(&address).await.map_err(internal)?;
                let user = if user.email_verified() {
                    user
                } else {
                    // Mail and password together prove the account is theirs.
                    let verified = match verify {
                        Some(token) => self
                            .storage
                            .verify_email_with(user.id, &token)
                            .await
                            .map_err(internal)?,
                        None => None,
                    };
                    match verified {
                        Some(user) => {
                            self.auth_cache.user_changed(user.id).await;
                            tracing::info!(user = %user.id, "email verified");
                            user
                        }
                        None => {
                            self.send_verification(&user, app::i18n::current_lang()).await?;
                            return Err(AppError::EmailUnverified);
                        }
                    }
                };
                self.sign_in_as(&mut session, &user).await
            }
            None => {
                tokio::time::sleep(delay).await;
                Err(AppError::BadCredentials)
            }
        }
    }

    async fn request_password_reset(&self, email: String) -> Result<(), AppError> {
        let email = normalize_email(&email).map_err(|problem| AppError::invalid(Field::Email, problem))?;
        let address = throttle::reset_key(&self.client_address().await);
        let account = throttle::reset_key(&email);
        if let Err(wait) = self
            .throttle
            .attempt(&[
                (&address, throttle::RESET_ADDRESS),
                (&account, throttle::RESET_ACCOUNT),
            ])
            .await
            .map_err(internal)?
        {
            return Err(AppError::Throttled {
                retry_after_secs: wait.as_secs().max(1),
            });
        }
        // Nothing is said about whether the address has an account.
        if let Some(user) = self.storage.user_by_email(&email).await.map_err(internal)? {
            let token = self
                .storage
                .issue_email_token(user.id, TokenPurpose::Reset, RESET_LINK_LIFETIME_MS)
                .await
                .map_err(internal)?;
            let link = self.link("/reset-password", &[("token", &token)]);
            self.mailer.send(
                &user.email,
                messages::reset_password(app::i18n::current_lang(), &link),
            );
            tracing::info!(user = %user.id, "password reset link sent");
        }
        Ok(())
    }

    async fn reset_password(&self, token: String, password: String, confirm: String) -> Result<(), AppError> {
        let Some(user) = self
            .storage
            .user_for_token(&token, TokenPurpose::Reset)
            .await
            .map_err(internal)?
        else {
            return Err(AppError::LinkExpired);
        };
        invalid(check_new_password(&user.email, &password, &confirm))?;
        let hash = self.passwords.hash(password).await;
        let Some(user) = self
            .storage
            .reset_password_with(&token, &hash)
            .await
            .map_err(internal)?
        else {
            return Err(AppError::LinkExpired);
        };
        self.auth_cache.user_changed(user.id).await;
        // The owner is back in control: what strangers tried no longer counts.
        self.throttle
            .clear(&throttle::account_key(&user.email))
            .await
            .map_err(internal)?;
        self.tell_password_changed(&user);
        tracing::info!(user = %user.id, "password reset; every session ended");
        Ok(())
    }

    async fn sign_out(&self) -> Result<(), AppError> {
        auth_session().await?.logout().await.map_err(internal)?;
        Ok(())
    }

    async fn change_password(
        &self,
        current: String,
        password: String,
        confirm: String,
    ) -> Result<(), AppError> {
        let (mut session, user) = signed_in_user().await?;
        if let Some(hash) = &user.password_hash
            && !self.passwords.verify(current, Some(hash.clone())).await
        {
            return Err(AppError::invalid(
                Field::CurrentPassword,
                Problem::CurrentPasswordWrong,
            ));
        }
        invalid(check_new_password(&user.email, &password, &confirm))?;
        let hash = self.passwords.hash(password).await;
        let updated = self
            .storage
            .set_password(user.id, &hash)
            .await
            .map_err(internal)?;
        self.auth_cache.user_changed(user.id).await;
        // The new stamp signs out every other session; this one stays.
        session.login(&updated).await.map_err(internal)?;
        self.tell_password_changed(&updated);
        tracing::info!(user = %user.id, "password changed");
        Ok(())
    }

    async fn delete_account(&self, confirm: String) -> Result<(), AppError> {
        let (mut session, user) = signed_in_user().await?;
        if normalize_email(&confirm).ok().as_deref() != Some(user.email.as_str()) {
            return Err(AppError::invalid(Field::Email, Problem::ConfirmationDiffers));
        }
        self.solver
            .end_streaming_of(user.id, None)
            .await
            .map_err(internal)?;
        self.storage.delete_user(user.id).await.map_err(internal)?;
        self.auth_cache.user_changed(user.id).await;
        sweep_now(&self.images);
        session.logout().await.map_err(internal)?;
        tracing::info!(user = %user.id, "account deleted");
        Ok(())
    }
}
