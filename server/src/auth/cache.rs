//! Sessions and users this process loaded a moment ago.
//!
//! Every request that carries a session cookie loads the session and then
//! its user before anything else. An answer costs two such requests in a
//! few seconds (the question, then its event stream, which the browser
//! opens again after each reconnect), and under load those two reads were
//! where requests queued first for a database connection. Each is kept
//! here for at most `WEASEL_AUTH_CACHE_SECS` (5 s by default).
//!
//! What changes a session or a user is never served stale by this process:
//! its own writes update or drop the entry. Other replicas are told on
//! PostgreSQL (`NOTIFY weasel_auth`, [`listen_forever`]) and drop theirs
//! as the notification arrives; the time limit bounds what a lost
//! notification can cost (a sign-out elsewhere takes effect within it). A
//! listener that reconnects drops everything, since it may have missed some.
//! A load that raced with a drop is not kept ([`AuthCache::epoch`]).

use std::{
    hash::Hash,
    num::NonZeroUsize,
    sync::{
        Mutex, Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use lru::LruCache;
use sha2::{Digest, Sha256};
use tower_sessions::session::{Id, Record};

use crate::storage::{Storage, User, UserId};

/// The PostgreSQL channel replicas tell each other on.
pub const AUTH_CHANNEL: &str = "weasel_auth";

/// At most this many of each are kept (the least recently used go first).
const CAPACITY: usize = 20_000;

pub struct AuthCache {
    ttl: Duration,
    /// By the digest of their id ([`digest`]), as other replicas name them.
    sessions: Kept<u64, Record>,
    users: Kept<UserId, User>,
    /// Counts the drops: a load that saw another value before its query
    /// may hold what a drop meant to remove.
    epoch: AtomicU64,
    /// Where other replicas are told (PostgreSQL only).
    notify: Option<sqlx::PgPool>,
}

/// Entries of one kind and when each was loaded; the least recently used
/// go first when full.
struct Kept<K, V>(Mutex<LruCache<K, (Instant, V)>>);

impl<K: Hash + Eq, V: Clone> Kept<K, V> {
    /// The value under `key` if loaded less than `ttl` ago and `valid`; a
    /// stale or invalid one is dropped.
    fn get(&self, key: &K, ttl: Duration, valid: impl Fn(&V) -> bool) -> Option<V> {
        let mut entries = self.0.lock().unwrap();
        let found = entries
            .get(key)
            .map(|(at, value)| (at.elapsed() < ttl && valid(value)).then(|| value.clone()));
        if let Some(None) = found {
            entries.pop(key);
        }
        found.flatten()
    }

    /// Keeps `value`; with `loaded`, only if the epoch is still the one the
    /// load read (checked under this lock, which [`Self::remove`] holds too).
    fn put(&self, key: K, value: &V, loaded: Option<(&AtomicU64, u64)>) {
        let mut entries = self.0.lock().unwrap();
        if loaded.is_none_or(|(epoch, read)| epoch.load(Ordering::Acquire) == read) {
            entries.put(key, (Instant::now(), value.clone()));
        }
    }

    /// Drops `key` and moves the epoch on, under the lock: a load that read
    /// the epoch before cannot keep its value after this.
    fn remove(&self, key: &K, epoch: &AtomicU64) {
        let mut entries = self.0.lock().unwrap();
        epoch.fetch_add(1, Ordering::AcqRel);
        entries.pop(key);
    }
}

/// What a replica tells the others, as one word: `u<user id>` or
/// `s<digest of a session id>` (the id itself is a credential).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changed {
    User(UserId),
    Session(u64),
}

impl Changed {
    pub fn word(self) -> String {
        match self {
            Changed::User(id) => format!("u{}", id.0),
            Changed::Session(digest) => format!("s{digest}"),
        }
    }

    pub fn parse(word: &str) -> Option<Changed> {
        let (kind, number) = (word.get(..1)?, word.get(1..)?);
        match kind {
            "u" => Some(Changed::User(UserId(number.parse().ok()?))),
            "s" => Some(Changed::Session(number.parse().ok()?)),
            _ => None,
        }
    }
}

/// A session id's digest, as other replicas are told it.
pub fn digest(id: &Id) -> u64 {
    let hash = Sha256::digest(id.0.to_le_bytes());
    u64::from_le_bytes(hash[..8].try_into().expect("8 bytes"))
}

impl AuthCache {
    /// `ttl` zero keeps nothing. Other replicas are told of changes
    /// through `storage` when it is PostgreSQL.
    pub fn new(ttl: Duration, storage: &Storage) -> Self {
        Self::with_notify(
            ttl,
            match storage {
                Storage::Postgres(pool) => Some(pool.clone()),
                Storage::Sqlite(_) => None,
            },
        )
    }

    fn with_notify(ttl: Duration, notify: Option<sqlx::PgPool>) -> Self {
        let capacity = NonZeroUsize::new(CAPACITY).expect("non-zero");
        AuthCache {
            ttl,
            sessions: Kept(Mutex::new(LruCache::new(capacity))),
            users: Kept(Mutex::new(LruCache::new(capacity))),
            epoch: AtomicU64::new(0),
            notify,
        }
    }

    /// Read before a load; [`Self::keep_session`] and [`Self::keep_user`]
    /// keep nothing if a drop happened since.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// The session, if loaded within the time limit and not expired.
    pub fn session(&self, id: &Id) -> Option<Record> {
        let now = time::OffsetDateTime::now_utc();
        self.sessions.get(&digest(id), self.ttl, |record| {
            record.id == *id && record.expiry_date > now
        })
    }

    /// Keeps a session loaded from the database after [`Self::epoch`] read `epoch`.
    pub fn keep_session(&self, epoch: u64, record: &Record) {
        if !self.ttl.is_zero() {
            self.sessions
                .put(digest(&record.id), record, Some((&self.epoch, epoch)));
        }
    }

    /// Keeps a session this process just wrote.
    pub fn wrote_session(&self, record: &Record) {
        if !self.ttl.is_zero() {
            self.sessions.put(digest(&record.id), record, None);
        }
    }

    /// The user, if loaded within the time limit.
    pub fn user(&self, id: UserId) -> Option<User> {
        self.users.get(&id, self.ttl, |_| true)
    }

    /// Keeps a user loaded from the database after [`Self::epoch`] read `epoch`.
    pub fn keep_user(&self, epoch: u64, user: &User) {
        if !self.ttl.is_zero() {
            self.users.put(user.id, user, Some((&self.epoch, epoch)));
        }
    }

    /// Drops what `changed` names, here only.
    pub fn forget(&self, changed: Changed) {
        match changed {
            Changed::User(id) => self.users.remove(&id, &self.epoch),
            Changed::Session(digest) => self.sessions.remove(&digest, &self.epoch),
        }
    }

    /// Drops everything (after notifications may have been missed).
    pub fn forget_all(&self) {
        let mut sessions = self.sessions.0.lock().unwrap();
        let mut users = self.users.0.lock().unwrap();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        sessions.clear();
        users.clear();
    }

    /// A user this process changed (password, confirmation, deletion):
    /// dropped here, and other replicas are told. A failure to tell them is
    /// logged; their entries then end with the time limit.
    pub async fn user_changed(&self, id: UserId) {
        self.forget(Changed::User(id));
        self.tell(Changed::User(id)).await;
    }

    /// A session this process wrote or deleted: other replicas drop theirs.
    pub async fn session_changed(&self, id: &Id) {
        self.tell(Changed::Session(digest(id))).await;
    }

    async fn tell(&self, changed: Changed) {
        let Some(pool) = &self.notify else { return };
        if self.ttl.is_zero() {
            return;
        }
        let sent = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(AUTH_CHANNEL)
            .bind(changed.word())
            .execute(pool)
            .await;
        if let Err(err) = sent {
            tracing::warn!(error = %err, "cannot tell other replicas that a session or user changed");
        }
    }
}

/// Drops what other replicas say changed, until `cache` is gone. On
/// PostgreSQL only; with the cache off there is nothing to drop.
pub async fn listen_forever(cache: Weak<AuthCache>, pool: sqlx::PgPool) {
    loop {
        match cache.upgrade() {
            Some(cache) if !cache.ttl.is_zero() => {}
            _ => return,
        }
        let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for session changes; another replica's sign-out takes effect here within WEASEL_AUTH_CACHE_SECS meanwhile");
                if let Some(cache) = cache.upgrade() {
                    cache.forget_all();
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
        if let Err(err) = listener.listen(AUTH_CHANNEL).await {
            tracing::warn!(error = %err, "cannot listen for session changes; another replica's sign-out takes effect here within WEASEL_AUTH_CACHE_SECS meanwhile");
            tokio::time::sleep(Duration::from_secs(2)).await;
            continue;
        }
        // What was kept while nobody listened may be stale.
        match cache.upgrade() {
            Some(cache) => cache.forget_all(),
            None => return,
        }
        loop {
            let received = listener.try_recv().await;
            let Some(cache) = cache.upgrade() else { return };
            match received {
                Ok(Some(notification)) => {
                    for word in notification.payload().split_ascii_whitespace() {
                        if let Some(changed) = Changed::parse(word) {
                            cache.forget(changed);
                        }
                    }
                }
                // The connection was lost and made again: what was said
                // meanwhile is lost.
                Ok(None) => cache.forget_all(),
                Err(err) => {
                    tracing::warn!(error = %err, "session change notifications interrupted; reconnecting");
                    cache.forget_all();
                    drop(cache);
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_strangers_are_skipped() {
        for changed in [Changed::User(UserId(42)), Changed::Session(u64::MAX)] {
            assert_eq!(Changed::parse(&changed.word()), Some(changed));
        }
        for word in ["", "u", "x5", "u-", "s-1", "한"] {
            assert_eq!(Changed::parse(word), None, "{word}");
        }
    }

    fn user(id: i64, stamp: &str) -> User {
        User {
            id: UserId(id),
            email: format!("u{id}@example.com"),
            display_name: String::new(),
            password_hash: None,
            auth_stamp: stamp.into(),
            created_at: 0,
            email_verified_at: None,
        }
    }

    #[test]
    fn what_was_dropped_is_not_brought_back_by_a_load_that_began_before() {
        let cache = AuthCache::with_notify(Duration::from_secs(60), None);
        let epoch = cache.epoch();
        cache.keep_user(epoch, &user(1, "old"));
        assert_eq!(cache.user(UserId(1)).unwrap().auth_stamp, "old");

        // A load begins, the password changes, then the load ends.
        let racing = cache.epoch();
        cache.forget(Changed::User(UserId(1)));
        cache.keep_user(racing, &user(1, "old"));
        assert!(cache.user(UserId(1)).is_none(), "the stale load was kept");

        let after = cache.epoch();
        cache.keep_user(after, &user(1, "new"));
        assert_eq!(cache.user(UserId(1)).unwrap().auth_stamp, "new");
        cache.forget_all();
        assert!(cache.user(UserId(1)).is_none());
    }

    #[test]
    fn sessions_are_found_by_id_and_dropped_by_digest_and_expiry() {
        let cache = AuthCache::with_notify(Duration::from_secs(60), None);
        let later = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
        let record = |id: i128, expiry_date| Record {
            id: Id(id),
            data: Default::default(),
            expiry_date,
        };
        cache.wrote_session(&record(7, later));
        assert_eq!(cache.session(&Id(7)).map(|r| r.id), Some(Id(7)));
        assert!(cache.session(&Id(8)).is_none());
        cache.forget(Changed::Session(digest(&Id(7))));
        assert!(cache.session(&Id(7)).is_none());

        let past = time::OffsetDateTime::now_utc() - time::Duration::seconds(1);
        cache.wrote_session(&record(9, past));
        assert!(
            cache.session(&Id(9)).is_none(),
            "an expired session is never served"
        );

        let off = AuthCache::with_notify(Duration::ZERO, None);
        off.wrote_session(&record(7, later));
        off.keep_user(off.epoch(), &user(1, "x"));
        assert!(off.session(&Id(7)).is_none() && off.user(UserId(1)).is_none());
    }

    #[test]
    fn a_session_id_is_not_told_as_itself() {
        let id = Id(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        let word = Changed::Session(digest(&id)).word();
        assert!(!word.contains(&id.0.to_string()));
        assert_eq!(digest(&id), digest(&Id(id.0)));
        assert_ne!(digest(&id), digest(&Id(id.0 + 1)));
    }
}
