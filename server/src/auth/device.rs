//! Device cookies (OWASP's answer to lockout as a weapon): a browser that
//! signed in to an account successfully gets a long-lived, encrypted cookie
//! naming that account and a random device id. Its later sign-ins to the
//! same account are limited per device, not per account, so strangers'
//! wrong guesses cannot keep the owner out.

use http::{HeaderMap, HeaderValue, header};
use rand::RngCore;
use tower_sessions::cookie::{Cookie, CookieJar, Key, SameSite, time::Duration};

use crate::storage::UserId;

pub const COOKIE_NAME: &str = "weasel_device";
const MAX_AGE_DAYS: i64 = 365;

/// Issues and reads device cookies with a key of their own.
#[derive(Clone)]
pub struct Devices {
    key: Key,
    secure: bool,
}

/// A device that signed in to `user` before.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownDevice {
    pub user: UserId,
    /// Random, per browser: the key its attempts are counted under.
    pub id: String,
}

impl Devices {
    /// `master` is the session key; the cookie is encrypted with the name as
    /// associated data, so a session cookie can never pass for it.
    pub fn new(master: &[u8], secure: bool) -> Self {
        Devices {
            key: Key::from(master),
            secure,
        }
    }

    /// The device cookie the request carries, if one is valid.
    pub fn read(&self, headers: &HeaderMap) -> Option<KnownDevice> {
        let mut jar = CookieJar::new();
        for value in headers.get_all(header::COOKIE) {
            let Ok(value) = value.to_str() else { continue };
            for cookie in Cookie::split_parse(value.to_string()).flatten() {
                if cookie.name() == COOKIE_NAME {
                    jar.add_original(cookie);
                }
            }
        }
        let cookie = jar.private(&self.key).get(COOKIE_NAME)?;
        let (user, id) = cookie.value().split_once('.')?;
        Some(KnownDevice {
            user: UserId(user.parse().ok()?),
            id: id.to_string(),
        })
    }

    /// A `Set-Cookie` for `user` on this device: the same device id again
    /// when the browser already had one for that user, else a new one.
    pub fn issue(&self, user: UserId, current: Option<&KnownDevice>) -> Option<HeaderValue> {
        let id = match current {
            Some(device) if device.user == user => device.id.clone(),
            _ => {
                let mut bytes = [0u8; 16];
                rand::rngs::OsRng.fill_bytes(&mut bytes);
                bytes.iter().map(|b| format!("{b:02x}")).collect()
            }
        };
        let cookie = Cookie::build((COOKIE_NAME, format!("{}.{id}", user.0)))
            .path("/")
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .max_age(Duration::days(MAX_AGE_DAYS))
            .build();
        let mut jar = CookieJar::new();
        jar.private_mut(&self.key).add(cookie);
        let encrypted = jar.get(COOKIE_NAME)?;
        HeaderValue::from_str(&encrypted.to_string()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_reads_back_only_with_its_key() {
        let devices = Devices::new(&[7u8; 64], true);
        let set = devices.issue(UserId(42), None).expect("cookie");
        let text = set.to_str().unwrap();
        assert!(text.contains("HttpOnly") && text.contains("Secure") && text.contains("SameSite=Lax"));
        let pair = text.split(';').next().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("a=b; {pair}")).unwrap(),
        );
        let device = devices.read(&headers).expect("valid");
        assert_eq!(device.user, UserId(42));
        assert_eq!(device.id.len(), 32);
        // Re-issued for the same user: the same device id.
        let again = devices.issue(UserId(42), Some(&device)).unwrap();
        let mut headers2 = HeaderMap::new();
        headers2.insert(
            header::COOKIE,
            HeaderValue::from_str(again.to_str().unwrap().split(';').next().unwrap()).unwrap(),
        );
        assert_eq!(devices.read(&headers2), Some(device));
        // Another key, or a forged value, reads as nothing.
        assert_eq!(Devices::new(&[8u8; 64], true).read(&headers), None);
        let mut forged = HeaderMap::new();
        forged.insert(header::COOKIE, HeaderValue::from_static("weasel_device=42.abc"));
        assert_eq!(devices.read(&forged), None);
    }
}
