//! Password hashing (argon2id) and the rules a new password must meet.
//!
//! Hashing is deliberately slow, so it runs on the blocking thread pool, at
//! most one per core at a time: a burst of sign-ins queues instead of
//! starving the async runtime or exhausting memory (19 MiB per hash).

use std::sync::{Arc, OnceLock};

use app::error::{Field, FieldError, Problem};
use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version,
    password_hash::{SaltString, rand_core::OsRng},
};
use tokio::sync::Semaphore;

/// OWASP's recommended argon2id setting (19 MiB, 2 passes, 1 lane): about
/// 25 ms on one core of the build machine (see `examples/password_cost.rs`).
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub const MIN_LENGTH: usize = 10;
pub const MAX_LENGTH: usize = 128;

/// zxcvbn's score a new password needs: 3 is "safely unguessable"
/// (about 10^8 guesses), enough against an online attack and a slow hash.
const MIN_SCORE: u8 = 3;

#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
}

impl Default for Passwords {
    fn default() -> Self {
        // Made now, so the first unknown-account sign-in is not slower than the rest.
        dummy_hash();
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        Passwords {
            permits: Arc::new(Semaphore::new(cores)),
        }
    }
}

impl Passwords {
    pub async fn hash(&self, password: String) -> String {
        self.blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2()
                .hash_password(password.as_bytes(), &salt)
                .expect("argon2 hashing cannot fail")
                .to_string()
        })
        .await
    }

    /// Verifies `password` against `hash`. Without a hash (unknown email,
    /// OAuth-only account) it verifies against a dummy one, so the answer
    /// takes as long as a real check and reveals nothing.
    pub async fn verify(&self, password: String, hash: Option<String>) -> bool {
        self.blocking(move || {
            let (hash, real) = match hash {
                Some(hash) => (hash, true),
                None => (dummy_hash().to_string(), false),
            };
            let matches = PasswordHash::new(&hash)
                .map(|parsed| argon2().verify_password(password.as_bytes(), &parsed).is_ok())
                .unwrap_or(false);
            real && matches
        })
        .await
    }

    async fn blocking<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> T {
        let _permit = self.permits.acquire().await.expect("semaphore never closed");
        tokio::task::spawn_blocking(work)
            .await
            .expect("password hashing panicked")
    }
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(b"not a real password", &salt)
            .expect("argon2")
            .to_string()
    })
}

/// Trims and lower-cases an email, and checks its shape (something@domain.tld).
pub fn normalize_email(raw: &str) -> Result<String, Problem> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err(Problem::Required);
    }
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                // Reserved names never receive mail; `.invalid` is what
                // accounts made without an email get (see `oauth`).
                && ![".invalid", ".localhost", ".local"].iter().any(|tld| domain.ends_with(tld))
        });
    if valid {
        Ok(email)
    } else {
        Err(Problem::EmailInvalid)
    }
}

/// Every problem with a new password and its confirmation.
pub fn check_new_password(email: &str, password: &str, confirm: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let length = password.chars().count();
    let problem = if length == 0 {
        Some(Problem::Required)
    } else if length < MIN_LENGTH {
        Some(Problem::PasswordTooShort)
    } else if length > MAX_LENGTH {
        Some(Problem::PasswordTooLong)
    } else if !email.is_empty()
        && password
            .to_lowercase()
            .contains(email.split('@').next().unwrap_or(email))
    {
        Some(Problem::PasswordContainsEmail)
    } else {
        weakness(email, password)
    };
    if let Some(problem) = problem {
        errors.push(FieldError {
            field: Field::Password,
            problem,
        });
    }
    if password != confirm {
        errors.push(FieldError {
            field: Field::Confirm,
            problem: Problem::PasswordsDiffer,
        });
    }
    errors
}

/// Why zxcvbn (whose lists hold the common and breached passwords, names
/// and words) would guess `password` too soon, if it would.
fn weakness(email: &str, password: &str) -> Option<Problem> {
    use zxcvbn::feedback::Warning;
    let mut inputs: Vec<&str> = email
        .split(['@', '.', '_', '-', '+'])
        .filter(|p| p.len() > 2)
        .collect();
    inputs.extend(["weasel", "wease1"]);
    let estimate = zxcvbn::zxcvbn(password, &inputs);
    if u8::from(estimate.score()) >= MIN_SCORE {
        return None;
    }
    Some(match estimate.feedback().and_then(|f| f.warning()) {
        Some(
            Warning::ThisIsATop10Password
            | Warning::ThisIsATop100Password
            | Warning::ThisIsACommonPassword
            | Warning::ThisIsSimilarToACommonlyUsedPassword,
        ) => Problem::PasswordTooCommon,
        Some(
            Warning::StraightRowsOfKeysAreEasyToGuess
            | Warning::ShortKeyboardPatternsAreEasyToGuess
            | Warning::RepeatsLikeAaaAreEasyToGuess
            | Warning::RepeatsLikeAbcAbcAreOnlySlightlyHarderToGuess
            | Warning::SequencesLikeAbcAreEasyToGuess,
        ) => Problem::PasswordPattern,
        Some(Warning::RecentYearsAreEasyToGuess | Warning::DatesAreOftenEasyToGuess) => Problem::PasswordDate,
        _ => Problem::PasswordGuessable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised() {
        assert_eq!(
            normalize_email("  Student@Example.COM "),
            Ok("student@example.com".into())
        );
        assert_eq!(normalize_email(""), Err(Problem::Required));
        for bad in [
            "no-at-sign",
            "a@b",
            "a@@b.com",
            "@b.com",
            "a b@c.com",
            "a@.com",
            "a@com.",
            "github-12@users.invalid",
            "me@host.localhost",
        ] {
            assert_eq!(normalize_email(bad), Err(Problem::EmailInvalid), "{bad}");
        }
    }

    #[test]
    fn password_rules() {
        let problems = |p: &str, c: &str| {
            check_new_password("minji@example.com", p, c)
                .into_iter()
                .map(|e| e.problem)
                .collect::<Vec<_>>()
        };
        assert_eq!(problems("correct horse battery", "correct horse battery"), []);
        assert_eq!(problems("한글비밀번호도괜찮아요", "한글비밀번호도괜찮아요"), []);
        assert_eq!(problems("short", "short"), [Problem::PasswordTooShort]);
        assert_eq!(
            problems(&"x".repeat(129), &"x".repeat(129)),
            [Problem::PasswordTooLong]
        );
        assert_eq!(problems("1234567890", "1234567890"), [Problem::PasswordTooCommon]);
        // Long enough, but guessed in minutes by anyone with zxcvbn's lists.
        assert_eq!(
            problems("password123", "password123"),
            [Problem::PasswordTooCommon]
        );
        assert_eq!(problems("sarang1234", "sarang1234"), [Problem::PasswordTooCommon]);
        assert_eq!(problems("aaaaaaaaaa", "aaaaaaaaaa"), [Problem::PasswordPattern]);
        assert_eq!(problems("19990101abc", "19990101abc"), [Problem::PasswordDate]);
        assert_eq!(
            problems("Tr0ub4dour&3", "Tr0ub4dour&3"),
            [Problem::PasswordGuessable]
        );
        assert_eq!(problems("blue-river-42-kite", "blue-river-42-kite"), []);
        assert_eq!(
            problems("minji-is-great", "minji-is-great"),
            [Problem::PasswordContainsEmail]
        );
        assert_eq!(
            problems("correct horse battery", "correct horse"),
            [Problem::PasswordsDiffer]
        );
        assert_eq!(problems("", ""), [Problem::Required]);
    }

    #[tokio::test]
    async fn hashes_verify_and_unknown_users_never_match() {
        let passwords = Passwords::default();
        let hash = passwords.hash("correct horse battery".into()).await;
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(
            passwords
                .verify("correct horse battery".into(), Some(hash.clone()))
                .await
        );
        assert!(!passwords.verify("wrong horse battery".into(), Some(hash)).await);
        assert!(!passwords.verify("not a real password".into(), None).await);
        assert!(!passwords.verify("x".into(), Some("garbage".into())).await);
    }
}
