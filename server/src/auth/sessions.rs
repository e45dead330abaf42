//! Sessions in the application's own database (so any replica can serve any
//! request), behind an encrypted cookie.

use async_trait::async_trait;
use tower_sessions::{
    Expiry, SessionManagerLayer,
    cookie::{Key, SameSite},
    service::PrivateCookie,
    session::{Id, Record},
    session_store::{self, ExpiredDeletion, SessionStore},
};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

use crate::{
    config::SessionSettings,
    storage::{Storage, StorageError},
};

pub const COOKIE_NAME: &str = "weasel_session";

/// The sqlx session store matching the application's backend.
#[derive(Clone, Debug)]
pub enum Sessions {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Sessions {
    /// Creates the session table if needed.
    pub async fn new(storage: &Storage) -> Result<Self, StorageError> {
        let sessions = match storage {
            Storage::Sqlite(pool) => Sessions::Sqlite(SqliteStore::new(pool.clone())),
            Storage::Postgres(pool) => Sessions::Postgres(PostgresStore::new(pool.clone())),
        };
        match &sessions {
            Sessions::Sqlite(store) => store.migrate().await?,
            Sessions::Postgres(store) => store.migrate().await?,
        }
        Ok(sessions)
    }

    /// Deletes expired sessions every `period`, forever.
    pub fn spawn_cleanup(&self, period: std::time::Duration) {
        let store = self.clone();
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
        match self {
            Sessions::Sqlite(s) => s.create(record).await,
            Sessions::Postgres(s) => s.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            Sessions::Sqlite(s) => s.save(record).await,
            Sessions::Postgres(s) => s.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            Sessions::Sqlite(s) => s.load(id).await,
            Sessions::Postgres(s) => s.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            Sessions::Sqlite(s) => s.delete(id).await,
            Sessions::Postgres(s) => s.delete(id).await,
        }
    }
}

#[async_trait]
impl ExpiredDeletion for Sessions {
    async fn delete_expired(&self) -> session_store::Result<()> {
        match self {
            Sessions::Sqlite(s) => s.delete_expired().await,
            Sessions::Postgres(s) => s.delete_expired().await,
        }
    }
}
