//! Sessions in the application's own database (so any replica can serve any
//! request), behind an encrypted cookie; a session loaded a moment ago is
//! served from [`AuthCache`].

use std::sync::Arc;

use async_trait::async_trait;
use tower_sessions::{
    Expiry, SessionManagerLayer,
    cookie::{Key, SameSite},
    service::PrivateCookie,
    session::{Id, Record},
    session_store::{self, ExpiredDeletion, SessionStore},
};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

use super::cache::{AuthCache, Changed, digest};
use crate::{
    config::SessionSettings,
    storage::{Storage, StorageError},
};

pub const COOKIE_NAME: &str = app::SESSION_COOKIE;

/// The application's session store: the database, with a moment's cache.
#[derive(Clone)]
pub struct Sessions {
    store: Store,
    cache: Arc<AuthCache>,
}

/// The sqlx session store matching the application's backend.
#[derive(Clone, Debug)]
enum Store {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    /// Creates the session table if needed.
    pub async fn new(storage: &Storage, cache: Arc<AuthCache>) -> Result<Self, StorageError> {
        let store = match storage {
            Storage::Sqlite(pool) => Store::Sqlite(SqliteStore::new(pool.clone())),
            Storage::Postgres(pool) => Store::Postgres(PostgresStore::new(pool.clone())),
        };
        match &store {
            Store::Sqlite(store) => store.migrate().await?,
            Store::Postgres(store) => store.migrate().await?,
        }
        Ok(Sessions { store, cache })
    }

    /// Deletes expired sessions every `period`, forever.
    pub fn spawn_cleanup(&self, period: std::time::Duration) {
        let store = self.store.clone();
        tokio::spawn(async move {
            if let Err(err) = store.continuously_delete_expired(period).await {
                tracing::warn!(error = %err, "expired-session cleanup stopped");
            }
        });
    }

    pub fn layer(
        &self,
        settings: &SessionSettings,
        secure: bool,
    ) -> SessionManagerLayer<Sessions, PrivateCookie> {
        let idle = time::Duration::try_from(settings.idle).unwrap_or(time::Duration::days(14));
        SessionManagerLayer::new(self.clone())
            .with_name(COOKIE_NAME)
            .with_http_only(true)
            .with_same_site(SameSite::Lax)
            .with_secure(secure)
            .with_path("/")
            .with_expiry(Expiry::OnInactivity(idle))
            .with_private(Key::from(settings.key.expose()))
    }
}

#[async_trait]
impl SessionStore for Sessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.store.create(record).await?;
        // A new id: no replica has it yet.
        self.cache.wrote_session(record);
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.store.save(record).await?;
        self.cache.wrote_session(record);
        self.cache.session_changed(&record.id).await;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        if let Some(record) = self.cache.session(id) {
            crate::metrics::record_auth_load("session", true);
            return Ok(Some(record));
        }
        crate::metrics::record_auth_load("session", false);
        let epoch = self.cache.epoch();
        let record = self.store.load(id).await?;
        if let Some(record) = &record {
            self.cache.keep_session(epoch, record);
        }
        Ok(record)
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.store.delete(id).await?;
        self.cache.forget(Changed::Session(digest(id)));
        self.cache.session_changed(id).await;
        Ok(())
    }
}

#[async_trait]
impl ExpiredDeletion for Store {
    async fn delete_expired(&self) -> session_store::Result<()> {
        match self {
            Store::Sqlite(s) => s.delete_expired().await,
            Store::Postgres(s) => s.delete_expired().await,
        }
    }
}

#[async_trait]
impl SessionStore for Store {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            Store::Sqlite(s) => s.create(record).await,
            Store::Postgres(s) => s.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            Store::Sqlite(s) => s.save(record).await,
            Store::Postgres(s) => s.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            Store::Sqlite(s) => s.load(id).await,
            Store::Postgres(s) => s.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            Store::Sqlite(s) => s.delete(id).await,
            Store::Postgres(s) => s.delete(id).await,
        }
    }
}
