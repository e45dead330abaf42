//! The money side of answers: letting a new answer in against the daily
//! limits and the budget, and the totals students and operators see. An
//! answer's real cost is settled in [`Storage::finish_answer`], in the
//! transaction that stores how it ended.

use super::{Result, Storage, UserId};
use crate::spending::DailyLimits;

/// In transaction `$tx`: counts one more answer for `$user` on `$day` and
/// reserves `$reserve` of the day's budget unless a limit is reached; the
/// refusal, if one is. Each check and its count are one conditional
/// statement, so simultaneous questions can never both take the last place
/// (the database orders them; the second sees the first). The caller rolls
/// back on a refusal.
macro_rules! admit_in {
    ($tx:expr, $user:expr, $day:expr, $limits:expr, $reserve:expr) => {{
        let counted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO user_days AS u (user_id, day, answers) VALUES ($1, $2, 1)
             ON CONFLICT (user_id, day) DO UPDATE SET answers = u.answers + 1
             WHERE ($3 = 0 OR u.answers < $3) AND ($4 = 0 OR u.tokens < $4)
             RETURNING answers",
        )
        .bind($user)
        .bind($day)
        .bind($limits.answers_per_student)
        .bind($limits.tokens_per_student)
        .fetch_optional(&mut *$tx)
        .await?;
        if counted.is_none() {
            let answers: i64 = sqlx::query_scalar("SELECT answers FROM user_days WHERE user_id = $1 AND day = $2")
                .bind($user)
                .bind($day)
                .fetch_one(&mut *$tx)
                .await?;
            if $limits.answers_per_student > 0 && answers >= $limits.answers_per_student {
                Some($crate::storage::Refused::StudentAnswers)
            } else {
                Some($crate::storage::Refused::StudentTokens)
            }
        } else {
            let reserved: Option<i64> = sqlx::query_scalar(
                "INSERT INTO spend_days AS s (day, reserved_micros, answers) SELECT $1, $2, 1 WHERE $3 = 0 OR $2 <= $3
                 ON CONFLICT (day) DO UPDATE SET reserved_micros = s.reserved_micros + $2, answers = s.answers + 1
                 WHERE $3 = 0 OR s.spent_micros + s.reserved_micros + $2 <= $3
                 RETURNING answers",
            )
            .bind($day)
            .bind($reserve)
            .bind($limits.budget_micros)
            .fetch_optional(&mut *$tx)
            .await?;
            reserved.is_none().then_some($crate::storage::Refused::Budget)
        }
    }};
}
pub(super) use admit_in;

/// Why a new answer was not let in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The student started as many answers today as a day allows.
    StudentAnswers,
    /// The student's answers today used the tokens a day allows.
    StudentTokens,
    /// All answers today together reached the budget.
    Budget,
}

/// A day's totals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct DayTotals {
    pub answers: i64,
    pub spent_micros: i64,
    pub reserved_micros: i64,
}

/// A student's use over some days.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct StudentUse {
    pub answers: i64,
    pub tokens: i64,
    pub spent_micros: i64,
}

impl Storage {
    /// Counts one more answer for `user` on `day` and reserves `reserve`
    /// micro-dollars of the day's budget, unless a limit is reached. Each
    /// check and its count are one conditional statement and both run in
    /// one transaction, so simultaneous questions can never both take the
    /// last place (the database orders them; the second sees the first).
    pub async fn admit_answer(
        &self,
        user: UserId,
        day: &str,
        limits: &DailyLimits,
        reserve: i64,
    ) -> Result<std::result::Result<(), Refused>> {
        Ok(on_pool!(self, pool => async {
            let mut tx = begin_write!(pool).await?;
            if let Some(refused) = admit_in!(tx, user, day, limits, reserve) {
                // Dropping the transaction takes any count back.
                return Ok::<_, sqlx::Error>(Err(refused));
            }
            tx.commit().await?;
            Ok(Ok(()))
        }
        .await)?)
    }

    /// Takes back an admission whose answer could not be started.
    pub async fn release_answer(&self, user: UserId, day: &str, reserve: i64) -> Result<()> {
        on_pool!(self, pool => async {
            let mut tx = begin_write!(pool).await?;
            sqlx::query("UPDATE user_days SET answers = answers - 1 WHERE user_id = $1 AND day = $2 AND answers > 0")
                .bind(user)
                .bind(day)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE spend_days SET reserved_micros = reserved_micros - $2, answers = answers - 1 WHERE day = $1",
            )
            .bind(day)
            .bind(reserve)
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        }
        .await)?;
        Ok(())
    }

    /// Adds `micros` spent outside any answer (conversation titles) to the day.
    pub async fn record_spend(&self, day: &str, micros: i64) -> Result<()> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO spend_days AS s (day, spent_micros) VALUES ($1, $2)
             ON CONFLICT (day) DO UPDATE SET spent_micros = s.spent_micros + $2",
        )
        .bind(day)
        .bind(micros)
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// The day's totals for every student together.
    pub async fn day_totals(&self, day: &str) -> Result<DayTotals> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, DayTotals>(
            "SELECT answers, spent_micros, reserved_micros FROM spend_days WHERE day = $1",
        )
        .bind(day)
        .fetch_optional(pool)
        .await)?
        .unwrap_or_default())
    }

    /// Adds work done for a student that is not an answer (reading
    /// photos): its tokens to their day, its cost to theirs and the service's.
    pub async fn record_student_spend(
        &self,
        user: UserId,
        day: &str,
        tokens: i64,
        micros: i64,
    ) -> Result<()> {
        on_pool!(self, pool => {
            let mut tx = begin_write!(pool).await?;
            sqlx::query(
                "INSERT INTO user_days AS u (user_id, day, tokens, spent_micros) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (user_id, day) DO UPDATE
                 SET tokens = u.tokens + $3, spent_micros = u.spent_micros + $4",
            )
            .bind(user)
            .bind(day)
            .bind(tokens)
            .bind(micros)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO spend_days AS s (day, spent_micros) VALUES ($1, $2)
                 ON CONFLICT (day) DO UPDATE SET spent_micros = s.spent_micros + $2",
            )
            .bind(day)
            .bind(micros)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// A student's use on the days from `first` to `last` (inclusive, `YYYY-MM-DD`).
    pub async fn student_use(&self, user: UserId, first: &str, last: &str) -> Result<StudentUse> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, StudentUse>(
            "SELECT CAST(COALESCE(SUM(answers), 0) AS BIGINT) AS answers,
                    CAST(COALESCE(SUM(tokens), 0) AS BIGINT) AS tokens,
                    CAST(COALESCE(SUM(spent_micros), 0) AS BIGINT) AS spent_micros
             FROM user_days WHERE user_id = $1 AND day >= $2 AND day <= $3",
        )
        .bind(user)
        .bind(first)
        .bind(last)
        .fetch_one(pool)
        .await)?)
    }
}
