//! Accounts and the OAuth identities linked to them.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{
    NewUser, Result, Storage, StorageError, TokenPurpose, User, UserId, conflict_on_unique, now_millis,
};

const USER_COLUMNS: &str =
    "id, email, display_name, password_hash, auth_stamp, created_at, email_verified_at";

/// What is stored of a token sent by mail: its SHA-256, hex.
fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A fresh random stamp: changing it signs out every other session.
fn new_stamp() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl Storage {
    pub async fn create_user(&self, new: &NewUser<'_>) -> Result<User> {
        let sql = format!(
            "INSERT INTO users (email, display_name, password_hash, auth_stamp, created_at, email_verified_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {USER_COLUMNS}"
        );
        let now = now_millis();
        on_pool!(self, pool => sqlx::query_as::<_, User>(&sql)
            .bind(new.email)
            .bind(new.display_name)
            .bind(new.password_hash)
            .bind(new_stamp())
            .bind(now)
            .bind(new.email_verified.then_some(now))
            .fetch_one(pool)
            .await)
        .map_err(conflict_on_unique("an account with this email"))
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, User>(&sql).bind(email).fetch_optional(pool).await)?)
    }

    pub async fn user_by_id(&self, id: UserId) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, User>(&sql).bind(id).fetch_optional(pool).await)?)
    }

    /// Sets a new password hash and a new stamp, returning the updated user.
    pub async fn set_password(&self, id: UserId, password_hash: &str) -> Result<User> {
        let sql = format!(
            "UPDATE users SET password_hash = $1, auth_stamp = $2 WHERE id = $3 RETURNING {USER_COLUMNS}"
        );
        on_pool!(self, pool => sqlx::query_as::<_, User>(&sql)
            .bind(password_hash)
            .bind(new_stamp())
            .bind(id)
            .fetch_optional(pool)
            .await)?
        .ok_or(StorageError::NotFound("user"))
    }

    /// Makes a single-use token for `user` that works until `ttl_ms` from now
    /// and returns it (only its hash is stored). A new reset link replaces
    /// the earlier one; confirmation links all work until one is used, so
    /// any of the mails a person got does.
    pub async fn issue_email_token(
        &self,
        user: UserId,
        purpose: TokenPurpose,
        ttl_ms: i64,
    ) -> Result<String> {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let now = now_millis();
        on_pool!(self, pool => async {
            let mut tx = begin_write!(pool).await?;
            sqlx::query("DELETE FROM email_tokens WHERE (user_id = $1 AND purpose = 'reset' AND $2 = 'reset') OR expires_at < $3")
                .bind(user)
                .bind(purpose.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO email_tokens (token_hash, user_id, purpose, expires_at, created_at)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(token_hash(&token))
            .bind(user)
            .bind(purpose.as_str())
            .bind(now + ttl_ms)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        }
        .await)?;
        Ok(token)
    }

    /// The user a live token of `purpose` belongs to (the token stays unused).
    pub async fn user_for_token(&self, token: &str, purpose: TokenPurpose) -> Result<Option<User>> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users
             WHERE id = (SELECT user_id FROM email_tokens WHERE token_hash = $1 AND purpose = $2 AND expires_at > $3)"
        );
        Ok(on_pool!(self, pool => sqlx::query_as::<_, User>(&sql)
            .bind(token_hash(token))
            .bind(purpose.as_str())
            .bind(now_millis())
            .fetch_optional(pool)
            .await)?)
    }

    /// Uses up `user`'s verification token: their email is verified from now
    /// on. `None` for a token that is unknown, used, expired or someone else's.
    pub async fn verify_email_with(&self, user: UserId, token: &str) -> Result<Option<User>> {
        let now = now_millis();
        let sql = format!(
            "UPDATE users SET email_verified_at = COALESCE(email_verified_at, $2)
             WHERE id = $3
               AND id = (SELECT user_id FROM email_tokens WHERE token_hash = $1 AND purpose = 'verify' AND expires_at > $2)
             RETURNING {USER_COLUMNS}"
        );
        on_pool!(self, pool => async {
            let mut tx = begin_write!(pool).await?;
            let user = sqlx::query_as::<_, User>(&sql)
                .bind(token_hash(token))
                .bind(now)
                .bind(user)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(user) = &user {
                sqlx::query("DELETE FROM email_tokens WHERE user_id = $1 AND purpose = 'verify'")
                    .bind(user.id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(user)
        }
        .await)
        .map_err(Into::into)
    }

    /// Uses up a reset token and sets the new password in one transaction:
    /// a new stamp (every session ends), every reset token of the user gone,
    /// and the email verified (the link proved it). `None` for a token that
    /// is unknown, used or expired.
    pub async fn reset_password_with(&self, token: &str, password_hash: &str) -> Result<Option<User>> {
        let now = now_millis();
        let sql = format!(
            "UPDATE users SET password_hash = $3, auth_stamp = $4, email_verified_at = COALESCE(email_verified_at, $2)
             WHERE id = (SELECT user_id FROM email_tokens WHERE token_hash = $1 AND purpose = 'reset' AND expires_at > $2)
             RETURNING {USER_COLUMNS}"
        );
        on_pool!(self, pool => async {
            let mut tx = begin_write!(pool).await?;
            let user = sqlx::query_as::<_, User>(&sql)
                .bind(token_hash(token))
                .bind(now)
                .bind(password_hash)
                .bind(new_stamp())
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(user) = &user {
                sqlx::query("DELETE FROM email_tokens WHERE user_id = $1 AND purpose = 'reset'")
                    .bind(user.id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(user)
        }
        .await)
        .map_err(Into::into)
    }

    /// A provider vouched for the email of an account whose owner never
    /// verified it: whoever set its password may not be the owner, so the
    /// password goes, every session ends (new stamp) and the email counts
    /// as verified.
    pub async fn claim_unverified(&self, user: UserId) -> Result<User> {
        let sql = format!(
            "UPDATE users SET password_hash = NULL, auth_stamp = $2, email_verified_at = $3
             WHERE id = $1 RETURNING {USER_COLUMNS}"
        );
        on_pool!(self, pool => sqlx::query_as::<_, User>(&sql)
            .bind(user)
            .bind(new_stamp())
            .bind(now_millis())
            .fetch_optional(pool)
            .await)?
        .ok_or(StorageError::NotFound("user"))
    }

    /// Deletes the user; conversations, messages and identities go with it
    /// (ON DELETE CASCADE), in the same statement.
    pub async fn delete_user(&self, user: UserId) -> Result<()> {
        let deleted = on_pool!(self, pool => sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(user)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        if deleted == 0 {
            return Err(StorageError::NotFound("user"));
        }
        Ok(())
    }

    /// The user a provider's account is linked to.
    pub async fn user_by_identity(&self, provider: &str, subject: &str) -> Result<Option<User>> {
        let sql = format!(
            "SELECT {} FROM users u JOIN oauth_identities i ON i.user_id = u.id
             WHERE i.provider = $1 AND i.subject = $2",
            USER_COLUMNS
                .split(", ")
                .map(|c| format!("u.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(on_pool!(self, pool => sqlx::query_as::<_, User>(&sql)
            .bind(provider)
            .bind(subject)
            .fetch_optional(pool)
            .await)?)
    }

    pub async fn link_identity(
        &self,
        user: UserId,
        provider: &str,
        subject: &str,
        email: Option<&str>,
    ) -> Result<()> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO oauth_identities (provider, subject, user_id, email, created_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(provider)
        .bind(subject)
        .bind(user)
        .bind(email)
        .bind(now_millis())
        .execute(pool)
        .await
        .map(|_| ()))
        .map_err(conflict_on_unique("this sign-in"))
    }

    /// Names of the providers linked to the user, alphabetically.
    pub async fn providers_of(&self, user: UserId) -> Result<Vec<String>> {
        Ok(on_pool!(self, pool => sqlx::query_scalar::<_, String>(
            "SELECT provider FROM oauth_identities WHERE user_id = $1 ORDER BY provider",
        )
        .bind(user)
        .fetch_all(pool)
        .await)?)
    }
}
