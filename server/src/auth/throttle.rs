//! Sign-in throttling: each failure for an account (or a client address)
//! slows the next answer a little; past a threshold the key is blocked, for
//! twice as long at every further failure. A success clears the account's
//! counter; old failures are forgotten after a quiet window.

use std::time::Duration;

use crate::storage::{Storage, StorageError, ThrottleState, now_millis};

#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// Failures allowed before blocking.
    pub threshold: i64,
    pub first_block: Duration,
    pub longest_block: Duration,
    /// A key with no failure for this long starts from zero again.
    pub forget_after: Duration,
}

/// One account: five tries, then 1 min, 2 min, 4 min … up to 15 min.
pub const ACCOUNT: Policy = Policy {
    threshold: 5,
    first_block: Duration::from_secs(60),
    longest_block: Duration::from_secs(15 * 60),
    forget_after: Duration::from_secs(30 * 60),
};

/// One client address. Generous, because a whole school can share one
/// address behind NAT; it stops password spraying, not a forgetful class.
pub const ADDRESS: Policy = Policy {
    threshold: 50,
    first_block: Duration::from_secs(60),
    longest_block: Duration::from_secs(30 * 60),
    forget_after: Duration::from_secs(30 * 60),
};

#[derive(Clone)]
pub struct Throttle {
    storage: Storage,
}

pub fn account_key(email: &str) -> String {
    format!("account:{email}")
}

pub fn address_key(address: &str) -> String {
    format!("address:{address}")
}

impl Throttle {
    pub fn new(storage: Storage) -> Self {
        Throttle { storage }
    }

    /// How long the caller must still wait, if any of the keys is blocked.
    pub async fn blocked_for(&self, keys: &[&str]) -> Result<Option<Duration>, StorageError> {
        let now = now_millis();
        let mut longest = None;
        for key in keys {
            if let Some(state) = self.storage.throttle_state(key).await?
                && state.blocked_until > now
            {
                let wait = Duration::from_millis((state.blocked_until - now) as u64);
                longest = longest.max(Some(wait));
            }
        }
        Ok(longest)
    }

    /// Counts a failure; returns how long to hold the answer back.
    pub async fn failed(&self, key: &str, policy: Policy) -> Result<Duration, StorageError> {
        let now = now_millis();
        let previous = self.storage.throttle_state(key).await?;
        let failures = match previous {
            Some(s) if now - s.last_failure_at < policy.forget_after.as_millis() as i64 => s.failures + 1,
            _ => 1,
        };
        let blocked_until = if failures >= policy.threshold {
            let doublings = (failures - policy.threshold).min(16) as u32;
            let block = policy
                .first_block
                .saturating_mul(1 << doublings)
                .min(policy.longest_block);
            now + block.as_millis() as i64
        } else {
            0
        };
        let state = ThrottleState {
            failures,
            last_failure_at: now,
            blocked_until,
        };
        self.storage.put_throttle_state(key, state).await?;
        Ok(Duration::from_millis(200 * (failures - 1).clamp(0, 5) as u64))
    }

    pub async fn succeeded(&self, key: &str) -> Result<(), StorageError> {
        self.storage.clear_throttle(key).await
    }
}
