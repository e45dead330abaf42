//! Counters of failed sign-ins, in the database so every replica sees them.

use super::{Result, Storage};

#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ThrottleState {
    pub failures: i64,
    pub last_failure_at: i64,
    pub blocked_until: i64,
}

impl Storage {
    pub async fn throttle_state(&self, key: &str) -> Result<Option<ThrottleState>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ThrottleState>(
            "SELECT failures, last_failure_at, blocked_until FROM sign_in_throttle WHERE key = $1",
        )
        .bind(key)
        .fetch_optional(pool)
        .await)?)
    }

    /// Stores the state after a failure (insert or replace).
    pub async fn put_throttle_state(&self, key: &str, state: ThrottleState) -> Result<()> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO sign_in_throttle (key, failures, last_failure_at, blocked_until)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (key) DO UPDATE SET failures = excluded.failures,
                 last_failure_at = excluded.last_failure_at, blocked_until = excluded.blocked_until",
        )
        .bind(key)
        .bind(state.failures)
        .bind(state.last_failure_at)
        .bind(state.blocked_until)
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    pub async fn clear_throttle(&self, key: &str) -> Result<()> {
        on_pool!(self, pool => sqlx::query("DELETE FROM sign_in_throttle WHERE key = $1")
            .bind(key)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }
}
