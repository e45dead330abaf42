//! Sign-in attempts per key (account, client address, device), in the
//! database so every replica sees them, counted atomically.

use super::{Result, Storage};

/// What one call of [`Storage::count_attempt`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counted {
    /// `false`: the key was blocked and the attempt was not counted.
    pub admitted: bool,
    /// Attempts in the current window, this one included when admitted.
    pub attempts: i64,
    /// Unix ms until which the key is blocked (0: not blocked).
    pub blocked_until: i64,
}

/// How a key is limited, in the numbers the statement needs.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Attempts older than this (Unix ms) are forgotten.
    pub forget_before: i64,
    /// The attempt with this number, and each after it, blocks the key.
    pub threshold: i64,
    /// The block set by attempt `threshold + i` lasts `blocks[min(i, 4)]` ms.
    pub blocks: [i64; 5],
}

impl Storage {
    /// Counts an attempt for `key` unless it is blocked, in one statement,
    /// so parallel attempts can never all slip past the limit: the first
    /// `threshold` are admitted, the one that reaches it sets the block, and
    /// every attempt during a block is refused without being counted.
    pub async fn count_attempt(&self, key: &str, now: i64, limits: Limits) -> Result<Counted> {
        let attempt = uuid::Uuid::new_v4().simple().to_string();
        // `t` is the row as it was before this statement; every SET reads it.
        let sql = "
            INSERT INTO sign_in_throttle AS t (key, failures, last_failure_at, blocked_until, last_attempt)
            VALUES ($1, 1, $2, CASE WHEN $4 <= 1 THEN $2 + $5 ELSE 0 END, $10)
            ON CONFLICT (key) DO UPDATE SET
                failures = CASE
                    WHEN t.blocked_until > $2 THEN t.failures
                    WHEN t.last_failure_at < $3 THEN 1
                    ELSE t.failures + 1 END,
                last_failure_at = CASE WHEN t.blocked_until > $2 THEN t.last_failure_at ELSE $2 END,
                last_attempt = CASE WHEN t.blocked_until > $2 THEN t.last_attempt ELSE $10 END,
                blocked_until = CASE
                    WHEN t.blocked_until > $2 THEN t.blocked_until
                    WHEN t.last_failure_at < $3 THEN CASE WHEN $4 <= 1 THEN $2 + $5 ELSE 0 END
                    WHEN t.failures + 1 < $4 THEN 0
                    ELSE $2 + CASE t.failures + 1 - $4
                        WHEN 0 THEN $5 WHEN 1 THEN $6 WHEN 2 THEN $7 WHEN 3 THEN $8 ELSE $9 END
                    END
            RETURNING failures, blocked_until, last_attempt";
        let (attempts, blocked_until, last): (i64, i64, Option<String>) = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(key)
            .bind(now)
            .bind(limits.forget_before)
            .bind(limits.threshold)
            .bind(limits.blocks[0])
            .bind(limits.blocks[1])
            .bind(limits.blocks[2])
            .bind(limits.blocks[3])
            .bind(limits.blocks[4])
            .bind(&attempt)
            .fetch_one(pool)
            .await)?;
        Ok(Counted {
            admitted: last.as_deref() == Some(attempt.as_str()),
            attempts,
            blocked_until,
        })
    }

    /// Takes one admitted attempt back (it succeeded), never below zero.
    pub async fn refund_attempt(&self, key: &str) -> Result<()> {
        on_pool!(self, pool => sqlx::query(
            "UPDATE sign_in_throttle SET failures = CASE WHEN failures > 0 THEN failures - 1 ELSE 0 END
             WHERE key = $1",
        )
        .bind(key)
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
