//! Sign-in throttling. Every attempt is counted *before* the password is
//! checked, in one statement per key (see [`Storage::count_attempt`]), so
//! parallel guesses cannot all be evaluated. Past a threshold the key cools
//! down, for twice as long each time. A success gives its attempt back.
//!
//! The per-account limit is not a weapon against the owner: a browser that
//! signed in to the account before carries a device cookie
//! (`super::device`), and its attempts are limited per device instead of
//! per account, so strangers' wrong guesses do not lock it out.

use std::time::Duration;

use crate::storage::{Limits, Storage, StorageError, now_millis};

#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// Attempts admitted before the key cools down.
    pub threshold: i64,
    pub first_block: Duration,
    pub longest_block: Duration,
    /// A key with no attempt for this long starts from zero again.
    pub forget_after: Duration,
}

/// One account from unknown devices: five tries, then 1 min, 2, 4, 8, 15.
pub const ACCOUNT: Policy = Policy {
    threshold: 5,
    first_block: Duration::from_secs(60),
    longest_block: Duration::from_secs(15 * 60),
    forget_after: Duration::from_secs(30 * 60),
};

/// One known device of one account: the same numbers, its own counter.
pub const DEVICE: Policy = ACCOUNT;

/// One client address. Generous, because a whole school can share one
/// address behind NAT; it stops password spraying, not a forgetful class.
pub const ADDRESS: Policy = Policy {
    threshold: 50,
    first_block: Duration::from_secs(60),
    longest_block: Duration::from_secs(30 * 60),
    forget_after: Duration::from_secs(30 * 60),
};

/// Sign-ups from one client address: a school signing up together (one
/// address behind NAT) fits; a script making accounts by the thousand does not.
pub const SIGN_UP: Policy = Policy {
    threshold: 100,
    first_block: Duration::from_secs(10 * 60),
    longest_block: Duration::from_secs(60 * 60),
    forget_after: Duration::from_secs(60 * 60),
};

/// Reset mails (and sign-up notices) per address asked for: a few an hour,
/// so nobody can flood an inbox; and reset requests per client address.
pub const RESET_ACCOUNT: Policy = Policy {
    threshold: 5,
    first_block: Duration::from_secs(15 * 60),
    longest_block: Duration::from_secs(60 * 60),
    forget_after: Duration::from_secs(60 * 60),
};

pub const RESET_ADDRESS: Policy = Policy {
    threshold: 30,
    first_block: Duration::from_secs(15 * 60),
    longest_block: Duration::from_secs(60 * 60),
    forget_after: Duration::from_secs(60 * 60),
};

/// "Someone tried to sign up with your address" mails to one address.
pub fn notice_key(email: &str) -> String {
    format!("notice:{email}")
}

pub fn reset_key(email_or_address: &str) -> String {
    format!("reset:{email_or_address}")
}

pub fn account_key(email: &str) -> String {
    format!("account:{email}")
}

pub fn address_key(address: &str) -> String {
    format!("address:{address}")
}

pub fn device_key(device: &str) -> String {
    format!("device:{device}")
}

pub fn sign_up_key(address: &str) -> String {
    format!("sign-up:{address}")
}

impl Policy {
    fn limits(&self, now: i64) -> Limits {
        let block = |doublings: u32| {
            self.first_block
                .saturating_mul(1 << doublings)
                .min(self.longest_block)
                .as_millis() as i64
        };
        Limits {
            forget_before: now - self.forget_after.as_millis() as i64,
            threshold: self.threshold,
            blocks: [block(0), block(1), block(2), block(3), block(4)],
        }
    }
}

#[derive(Clone)]
pub struct Throttle {
    storage: Storage,
}

impl Throttle {
    pub fn new(storage: Storage) -> Self {
        Throttle { storage }
    }

    /// Counts an attempt against every key. `Err(wait)` when one of them is
    /// cooling down; otherwise how long to hold the answer back should the
    /// attempt fail (a little more for each recent attempt).
    pub async fn attempt(&self, keys: &[(&str, Policy)]) -> Result<Result<Duration, Duration>, StorageError> {
        let now = now_millis();
        let mut refused: Option<Duration> = None;
        let mut attempts = 0;
        for (key, policy) in keys {
            let counted = self.storage.count_attempt(key, now, policy.limits(now)).await?;
            if !counted.admitted {
                let wait = Duration::from_millis((counted.blocked_until - now).max(1000) as u64);
                refused = refused.max(Some(wait));
            }
            attempts = attempts.max(counted.attempts);
        }
        Ok(match refused {
            Some(wait) => Err(wait),
            None => Ok(Duration::from_millis(200 * (attempts - 1).clamp(0, 5) as u64)),
        })
    }

    /// After a success: the key starts from zero.
    pub async fn clear(&self, key: &str) -> Result<(), StorageError> {
        self.storage.clear_throttle(key).await
    }

    /// After a success: this attempt does not count against a shared key.
    pub async fn refund(&self, key: &str) -> Result<(), StorageError> {
        self.storage.refund_attempt(key).await
    }
}
