//! Accounts and the OAuth identities linked to them.

use super::{NewUser, Result, Storage, StorageError, User, UserId, conflict_on_unique, now_millis};

const USER_COLUMNS: &str = "id, email, display_name, password_hash, auth_stamp, created_at";

/// A fresh random stamp: changing it signs out every other session.
fn new_stamp() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl Storage {
    pub async fn create_user(&self, new: &NewUser<'_>) -> Result<User> {
        let sql = format!(
            "INSERT INTO users (email, display_name, password_hash, auth_stamp, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING {USER_COLUMNS}"
        );
        on_pool!(self, pool => sqlx::query_as::<_, User>(&sql)
            .bind(new.email)
            .bind(new.display_name)
            .bind(new.password_hash)
            .bind(new_stamp())
            .bind(now_millis())
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
