//! Persistence on SQLite (the embedded default) or PostgreSQL (for several
//! replicas), chosen at runtime by the database URL.
//!
//! Each backend owns its migrations (`migrations/sqlite`, `migrations/postgres`),
//! embedded in the binary and run at startup. Queries are written once in the
//! SQL both backends accept (`$1` placeholders, `RETURNING`) and run on either
//! pool through [`on_pool!`]; only what truly differs is written per backend.

/// Runs `$body` with `$pool` bound to whichever pool `$storage` holds. The body
/// is compiled once per backend, so a query that one backend's driver cannot
/// type-check fails the build rather than production.
macro_rules! on_pool {
    ($storage:expr, $pool:ident => $body:expr) => {
        match $storage {
            Storage::Sqlite($pool) => $body,
            Storage::Postgres($pool) => $body,
        }
    };
}

/// In transaction `$tx`: drops what a streaming answer `$id` keeps beside
/// its row (its lease), once the row holds how it ended. Its journal pieces
/// go with the journal's trim (and chunks a process of the previous version
/// wrote, with the sweep's).
macro_rules! drop_streaming_rows {
    ($tx:expr, $id:expr) => {{
        sqlx::query("DELETE FROM answer_leases WHERE message_id = $1")
            .bind($id)
            .execute(&mut *$tx)
            .await?;
    }};
}

/// Starts a transaction that writes. See [`WritePool`].
macro_rules! begin_write {
    ($pool:expr) => {
        crate::storage::WritePool::begin_write($pool)
    };
}

mod conversations;
mod images;
mod journal;
mod leases;
mod model;
mod search;
mod shares;
mod spending;
mod throttle;
mod users;

use std::{path::Path, str::FromStr, time::Duration};

use sqlx::{
    PgPool, SqlitePool,
    postgres::PgPoolOptions,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

pub use conversations::ListCursor;
pub use images::{ImageRow, NewImage, by_message};
pub use journal::{JournalRow, decode as decode_journal, encode as encode_journal};
pub use leases::{ANSWERS_CHANNEL, AnswerNews};
pub use model::*;
pub use search::SearchRow;
pub use spending::{DayTotals, Refused, StudentUse};
pub use throttle::{Counted, Limits};

use crate::config::DatabaseSettings;

#[derive(Clone, Debug)]
pub enum Storage {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("cannot prepare the database directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StorageError {
    /// The database did not take the work in time: no connection came free
    /// within the pool's wait, or SQLite's single writer stayed busy. The
    /// request wrote nothing and may be sent again.
    pub fn is_overloaded(&self) -> bool {
        match self {
            StorageError::Database(sqlx::Error::PoolTimedOut) => true,
            StorageError::Database(sqlx::Error::Database(err)) => {
                // SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes.
                err.code()
                    .and_then(|code| code.parse::<i32>().ok())
                    .is_some_and(|code| matches!(code & 0xff, 5 | 6))
                    && err.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some()
            }
            _ => false,
        }
    }
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// A pool whose transactions write.
///
/// SQLite has one writer at a time. Its own waiting (the busy timeout)
/// polls with sleeps of up to 100 ms, and a transaction that read before it
/// wrote cannot wait at all: it fails with "database is locked" the moment
/// another connection has committed. Sharing the pool with readers, a
/// writer also queued for a connection behind every page load. Under load
/// (two thousand answers starting and ending) that meant failures and
/// seconds of waiting. So each SQLite file gets one connection of its own
/// for write transactions: writers queue for it first come first served,
/// never behind readers, for at most [`WRITER_WAIT`] (then the work is
/// refused as busy, 503), and each takes the write lock as it begins
/// (`BEGIN IMMEDIATE`). PostgreSQL locks rows and waits by itself: its
/// writers use the pool and a plain `BEGIN`.
pub(crate) trait WritePool {
    type Db: sqlx::Database;
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = sqlx::Result<sqlx::Transaction<'static, Self::Db>>> + Send;
}

/// How long a write waits for SQLite's writer before it is refused as busy.
pub(crate) const WRITER_WAIT: Duration = Duration::from_secs(10);

/// The writer connection of each SQLite file this process has open.
static SQLITE_WRITERS: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<std::path::PathBuf, SqlitePool>>,
> = std::sync::LazyLock::new(Default::default);

/// The writer connection of the SQLite file `pool` opens (made on first use).
fn sqlite_writer(pool: &SqlitePool) -> SqlitePool {
    let options = pool.connect_options();
    let mut writers = SQLITE_WRITERS.lock().unwrap();
    if let Some(writer) = writers.get(options.get_filename()) {
        return writer.clone();
    }
    // The writer is one connection: from its acquire to its release is how
    // long one write transaction held every other writer back.
    let taken = std::sync::Arc::new(std::sync::Mutex::new(None::<std::time::Instant>));
    let (on_take, on_release) = (taken.clone(), taken);
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(WRITER_WAIT)
        .before_acquire(move |_, _| {
            *on_take.lock().unwrap() = Some(std::time::Instant::now());
            Box::pin(async { Ok(true) })
        })
        .after_release(move |_, _| {
            if let Some(taken) = on_release.lock().unwrap().take() {
                metrics::histogram!("weasel_db_writer_held_seconds").record(taken.elapsed().as_secs_f64());
            }
            Box::pin(async { Ok(true) })
        })
        .connect_lazy_with((*options).clone());
    writers.insert(options.get_filename().to_path_buf(), writer.clone());
    writer
}

impl WritePool for SqlitePool {
    type Db = sqlx::Sqlite;
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = sqlx::Result<sqlx::Transaction<'static, sqlx::Sqlite>>> + Send
    {
        let writer = sqlite_writer(self);
        timed_write(async move { writer.begin_with("BEGIN IMMEDIATE").await })
    }
}

impl WritePool for PgPool {
    type Db = sqlx::Postgres;
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = sqlx::Result<sqlx::Transaction<'static, sqlx::Postgres>>> + Send
    {
        timed_write(self.begin())
    }
}

/// A thread of its own for SQLite's busiest write transactions: the
/// questions' (`begin_questions`, several at a time) and the flusher's
/// (text, ends, titles, search index). The rest stay where they are
/// called: renames and deletes are rare.
///
/// Each statement of a transaction is a round trip to the connection's
/// worker thread; a task of the main runtime that awaits it goes back into
/// the runtime's queue behind every reader's stream before it sends the
/// next statement, so under load one transaction held the one writer for
/// tens of milliseconds while the questions behind it queued. Here, on a
/// runtime with nothing else to run, the next statement follows the last at once.
static WRITES: std::sync::LazyLock<tokio::runtime::Handle> = std::sync::LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the database's writes");
    let handle = runtime.handle().clone();
    std::thread::Builder::new()
        .name("sqlite-writes".into())
        .spawn(move || runtime.block_on(std::future::pending::<()>()))
        .expect("a thread for the database's writes");
    handle
});

impl Storage {
    /// Runs `work` (write transactions) on SQLite's writes thread; on
    /// PostgreSQL, which has no single writer, where it is.
    pub async fn on_writes_thread<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = T> + Send + 'static,
    ) -> T {
        match self {
            Storage::Sqlite(_) => match WRITES.spawn(work).await {
                Ok(output) => output,
                Err(err) => std::panic::resume_unwind(err.into_panic()),
            },
            Storage::Postgres(_) => work.await,
        }
    }
}

/// A write transaction's begin, its wait counted in
/// `weasel_db_write_wait_seconds`: the queue for SQLite's writer, or for a
/// PostgreSQL connection. Where a request's time goes under load.
async fn timed_write<T>(begin: impl std::future::Future<Output = sqlx::Result<T>>) -> sqlx::Result<T> {
    let started = std::time::Instant::now();
    let begun = begin.await;
    metrics::histogram!("weasel_db_write_wait_seconds").record(started.elapsed().as_secs_f64());
    begun
}

impl Storage {
    /// Connects (creating a SQLite file and its directory if needed) and
    /// brings the schema up to date.
    pub async fn connect(settings: &DatabaseSettings) -> Result<Self> {
        let storage = if settings.url.starts_with("sqlite:") {
            Storage::Sqlite(connect_sqlite(settings).await?)
        } else {
            // PostgreSQL's writers take their connection from this pool, so
            // a write waits for one as long as a SQLite write waits for its
            // writer ([`WRITER_WAIT`]) before it is refused as busy (503).
            // With 5 s, 2,000 answers starting at once on two cores had
            // 30–187 questions refused; with 10 s, none (docs/deploy.md).
            let pool = PgPoolOptions::new()
                .max_connections(settings.max_connections)
                .acquire_timeout(WRITER_WAIT)
                .connect(&settings.url)
                .await?;
            Storage::Postgres(pool)
        };
        storage.migrate().await?;
        Ok(storage)
    }

    async fn migrate(&self) -> Result<()> {
        // On PostgreSQL the migrator holds an advisory lock, so replicas
        // starting together do not race.
        match self {
            Storage::Sqlite(pool) => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
            Storage::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    pub fn kind(&self) -> app::api::DatabaseKind {
        match self {
            Storage::Sqlite(_) => app::api::DatabaseKind::Sqlite,
            Storage::Postgres(_) => app::api::DatabaseKind::Postgres,
        }
    }

    /// One round trip to the database, for `/readyz`.
    pub async fn ping(&self) -> Result<()> {
        on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Another pool of `connections` on the same database, for work that
    /// must not queue behind the main pool: a heartbeat stuck behind busy
    /// requests would let this process's leases expire while it is alive.
    pub fn own_pool(&self, connections: u32) -> Storage {
        match self {
            Storage::Sqlite(pool) => Storage::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(connections)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect_lazy_with((*pool.connect_options()).clone()),
            ),
            Storage::Postgres(pool) => Storage::Postgres(
                PgPoolOptions::new()
                    .max_connections(connections)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect_lazy_with((*pool.connect_options()).clone()),
            ),
        }
    }

    /// Connections open and connections idle, for the metrics.
    pub fn pool_usage(&self) -> (u32, usize) {
        on_pool!(self, pool => (pool.size(), pool.num_idle()))
    }

    /// Closes the pool, and on SQLite the file's writer connection too (a
    /// later connection to the same file opens a new one).
    pub async fn close(&self) {
        if let Storage::Sqlite(pool) = self {
            let writer = SQLITE_WRITERS
                .lock()
                .unwrap()
                .remove(pool.connect_options().get_filename());
            if let Some(writer) = writer {
                writer.close().await;
            }
        }
        on_pool!(self, pool => pool.close().await);
    }
}

/// The page size of a new SQLite file (see `connect_sqlite`).
pub const SQLITE_PAGE_SIZE: u32 = 1024;

async fn connect_sqlite(settings: &DatabaseSettings) -> Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str(&settings.url)?
        .create_if_missing(true)
        .foreign_keys(true)
        // WAL lets readers proceed while an answer is being written.
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        // Small pages: WAL mode writes every page a transaction touches
        // whole, twice (to the WAL, then at the checkpoint), and a question
        // touches about a dozen pages for a few hundred bytes of rows. With
        // 4 KB pages that was ≈ 63 KB of disk per question, with 1 KB pages
        // ≈ 19 KB (`answer_bench`). Only a new file takes it; an existing
        // one keeps its pages (docs/deploy.md says how to convert it).
        .page_size(SQLITE_PAGE_SIZE)
        // A checkpoint copies each changed page once however often it
        // changed: fewer, larger checkpoints (≈ 10 MB of WAL between them)
        // write the hot pages (the journal's end, the day's rows) less often.
        .pragma("wal_autocheckpoint", settings.sqlite_checkpoint_pages.to_string())
        .busy_timeout(Duration::from_secs(5));
    let file = options.get_filename();
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_dir(dir)?;
    }
    let pool = SqlitePoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await?;
    Ok(pool)
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| StorageError::DataDir {
        path: dir.display().to_string(),
        source,
    })
}

/// Turns a unique-constraint violation into [`StorageError::Conflict`].
pub(crate) fn conflict_on_unique(what: &'static str) -> impl FnOnce(sqlx::Error) -> StorageError {
    move |err| match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StorageError::Conflict(what),
        _ => StorageError::Database(err),
    }
}

/// Milliseconds since the Unix epoch, the unit every timestamp column uses.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}
