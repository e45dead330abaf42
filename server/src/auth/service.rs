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
    AuthSession, PasswordCredentials, Passwords, establish,
    password::{check_new_password, normalize_email},
    throttle::{self, Throttle},
};
use crate::storage::{NewUser, Storage, StorageError, User};

pub struct AccountService {
    pub storage: Storage,
    pub passwords: Passwords,
    pub throttle: Throttle,
    /// Take the client address from the last `X-Forwarded-For` hop (behind a
    /// load balancer) rather than from the TCP peer.
    pub trust_forwarded_for: bool,
    pub providers: Arc<Vec<ProviderView>>,
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
        establish(session, user).await.map_err(internal)
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
        let hash = self.passwords.hash(password).await;
        let display_name = email.split('@').next().unwrap_or_default().to_string();
        let new = NewUser {
            email: &email,
            display_name: &display_name,
            password_hash: Some(&hash),
        };
        let user = match self.storage.create_user(&new).await {
            Ok(user) => user,
            Err(StorageError::Conflict(_)) => return Err(AppError::AccountUnavailable),
            Err(err) => return Err(internal(err)),
        };
        tracing::info!(user = %user.id, "account created");
        self.sign_in_as(&mut auth_session().await?, &user).await
    }

    async fn sign_in(&self, email: String, password: String) -> Result<(), AppError> {
        // A malformed address cannot belong to anyone: the same answer as a wrong password.
        let Ok(email) = normalize_email(&email) else {
            return Err(AppError::BadCredentials);
        };
        let account = throttle::account_key(&email);
        let address = throttle::address_key(&self.client_address().await);
        if let Some(wait) = self
            .throttle
            .blocked_for(&[&account, &address])
            .await
            .map_err(internal)?
        {
            return Err(AppError::Throttled {
                retry_after_secs: wait.as_secs().max(1),
            });
        }

        let mut session = auth_session().await?;
        let creds = PasswordCredentials { email, password };
        match session.authenticate(creds).await.map_err(internal)? {
            Some(user) => {
                self.throttle.succeeded(&account).await.map_err(internal)?;
                self.sign_in_as(&mut session, &user).await
            }
            None => {
                let account_delay = self
                    .throttle
                    .failed(&account, throttle::ACCOUNT)
                    .await
                    .map_err(internal)?;
                let address_delay = self
                    .throttle
                    .failed(&address, throttle::ADDRESS)
                    .await
                    .map_err(internal)?;
                tokio::time::sleep(account_delay.max(address_delay)).await;
                Err(AppError::BadCredentials)
            }
        }
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
        // The new stamp signs out every other session; this one stays.
        session.login(&updated).await.map_err(internal)?;
        tracing::info!(user = %user.id, "password changed");
        Ok(())
    }

    async fn delete_account(&self, confirm: String) -> Result<(), AppError> {
        let (mut session, user) = signed_in_user().await?;
        if normalize_email(&confirm).ok().as_deref() != Some(user.email.as_str()) {
            return Err(AppError::invalid(Field::Email, Problem::ConfirmationDiffers));
        }
        self.storage.delete_user(user.id).await.map_err(internal)?;
        session.logout().await.map_err(internal)?;
        tracing::info!(user = %user.id, "account deleted");
        Ok(())
    }
}
