//! Test support: fresh databases on both backends and the real application
//! started on a random port.

use std::{future::Future, net::SocketAddr, path::Path};

use sqlx::{Connection, Executor, PgConnection};
use tempfile::TempDir;
use tokio::{sync::oneshot, task::JoinHandle};
use weasel_server::{
    config::{DatabaseSettings, Secret, Settings},
    startup::Application,
    storage::{Conversation, MessageStatus, NewMessage, Role, Storage, Subject, UserId},
};

/// Where the tests create (and drop) their PostgreSQL databases.
pub fn postgres_admin_url() -> String {
    std::env::var("WEASEL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const BACKENDS: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

/// A database that exists for one test only.
pub struct TestDatabase {
    pub url: String,
    pg_name: Option<String>,
    _dir: Option<TempDir>,
}

impl TestDatabase {
    pub async fn create(backend: Backend) -> TestDatabase {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                // A nested directory checks that the server creates it.
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("nested/weasel.db").display()
                );
                TestDatabase {
                    url,
                    pg_name: None,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let name = format!("weasel_test_{}", uuid::Uuid::new_v4().simple());
                let admin = postgres_admin_url();
                let mut conn = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
                    panic!("PostgreSQL at {admin} is needed by the tests (set WEASEL_TEST_POSTGRES_URL): {e}")
                });
                conn.execute(
                    format!(r#"CREATE DATABASE "{name}" ENCODING 'UTF8' TEMPLATE template0"#).as_str(),
                )
                .await
                .expect("create test database");
                let mut url = url::Url::parse(&admin).expect("admin URL");
                url.set_path(&name);
                TestDatabase {
                    url: url.to_string(),
                    pg_name: Some(name),
                    _dir: None,
                }
            }
        }
    }

    pub fn settings(&self) -> DatabaseSettings {
        DatabaseSettings::new(self.url.clone(), 5)
    }

    pub async fn storage(&self) -> Storage {
        Storage::connect(&self.settings())
            .await
            .expect("connect to test database")
    }
}

/// Dropping the value drops the PostgreSQL database, on a thread of its own
/// because `Drop` cannot await; so a failing test leaves nothing behind.
impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else { return };
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime
                .block_on(async {
                    let mut conn = PgConnection::connect(&postgres_admin_url()).await?;
                    conn.execute(format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#).as_str())
                        .await?;
                    Ok::<_, sqlx::Error>(())
                })
                .map_err(std::io::Error::other)
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("warning: could not drop a test database: {dropped:?}");
        }
    }
}

/// Runs `test` once per backend, each on a fresh database that is dropped
/// afterwards even when the test fails.
pub async fn on_each_backend<F, Fut>(test: F)
where
    F: Fn(Backend, Storage) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    for backend in BACKENDS {
        let db = TestDatabase::create(backend).await;
        let storage = db.storage().await;
        let outcome = tokio::spawn(test(backend, storage.clone())).await;
        storage.close().await;
        drop(db);
        if let Err(err) = outcome {
            eprintln!("failed on {backend:?}");
            std::panic::resume_unwind(err.into_panic());
        }
    }
}

/// The real application, serving on a random port until dropped or stopped.
pub struct TestApp {
    pub addr: SocketAddr,
    pub metrics_addr: Option<SocketAddr>,
    pub client: reqwest::Client,
    pub database: Option<TestDatabase>,
    /// Every mail the app sent (through SMTP, to a sink of its own).
    pub outbox: mail_sink::Outbox,
    /// What it was started with.
    pub settings: Settings,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Starts the app after `adjust` has changed its settings.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> TestApp {
        let database = TestDatabase::create(backend).await;
        let mut settings = test_settings(&database.url, Path::new("target/site"));
        let outbox = mail_sink::Outbox::default();
        let smtp = mail_sink::spawn_smtp("127.0.0.1:0".parse().unwrap(), outbox.clone())
            .await
            .expect("mail sink");
        settings.mail.smtp_url = Some(Secret::new(format!("smtp://{smtp}")));
        adjust(&mut settings);
        Self::start(settings, Some(database), outbox).await
    }

    /// Another replica of this app: the same database, session key and
    /// mail sink, a port and instance name of its own. Its database is
    /// dropped with this app, not with it.
    pub async fn replica(&self) -> TestApp {
        let mut settings = self.settings.clone();
        settings.replica.instance_id =
            format!("{}-replica-{:08x}", settings.replica.instance_id, rand_suffix());
        Self::start(settings, None, self.outbox.clone()).await
    }

    async fn start(settings: Settings, database: Option<TestDatabase>, outbox: mail_sink::Outbox) -> TestApp {
        let app = Application::build(&settings).await.expect("application starts");
        let addr = app.local_addr();
        let metrics_addr = app.metrics_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        TestApp {
            addr,
            metrics_addr,
            client,
            database,
            outbox,
            settings,
            stop: Some(stop),
            server: Some(server),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request")
    }

    /// A browser-like client that keeps cookies (one per simulated person).
    pub fn browser(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
    }

    /// A new account, its email confirmed, signed in on a fresh browser-like client.
    pub async fn signed_up(&self, email: &str) -> reqwest::Client {
        let client = self.browser();
        let response = self.sign_up_and_confirm(&client, email, PASSWORD).await;
        assert_eq!(response.status(), reqwest::StatusCode::OK, "sign-in of {email}");
        client
    }

    /// Signs up, opens the confirmation mail's link and signs in there, as a
    /// person would; returns the sign-in's response.
    pub async fn sign_up_and_confirm(
        &self,
        client: &reqwest::Client,
        email: &str,
        password: &str,
    ) -> reqwest::Response {
        let address = email.trim().to_lowercase();
        let seen = self.outbox.to(&address).len();
        let form = [
            ("email", email),
            ("password", password),
            ("confirm", password),
            ("next", "/"),
        ];
        let response = self.call(client, "sign_up", &form).await;
        assert_eq!(response.status(), reqwest::StatusCode::OK, "sign-up of {email}");
        let token = link_parameter(&self.mail_to(&address, seen).await, "/sign-in", "verify");
        let form = [
            ("email", email),
            ("password", password),
            ("next", "/"),
            ("verify", &token),
        ];
        self.call(client, "sign_in", &form).await
    }

    /// The next mail to `address` after the `seen` it already had.
    pub async fn mail_to(&self, address: &str, seen: usize) -> mail_sink::Mail {
        self.outbox
            .wait_for(address, seen, std::time::Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("no mail to {address} within 10 s"))
    }

    /// Calls a server function the way the hydrated page does (form-encoded, JSON back).
    pub async fn call(
        &self,
        client: &reqwest::Client,
        function: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        client
            .post(self.url(&format!("/api/{function}")))
            .form(form)
            .send()
            .await
            .expect("request")
    }

    /// Runs one SQL statement on the app's database (a test arranging a state
    /// no request can make, such as an expired link).
    pub async fn execute(&self, sql: &str) {
        let storage = self.storage().await;
        match &storage {
            Storage::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
            Storage::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
        storage.close().await;
    }

    /// The application's storage, for checking what a request wrote.
    pub async fn storage(&self) -> Storage {
        self.database.as_ref().expect("database").storage().await
    }

    /// Stops the server gracefully and drops its database.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server ran");
        }
        self.database.take();
    }
}

fn rand_suffix() -> u32 {
    uuid::Uuid::new_v4().as_u128() as u32
}

/// The password the helpers sign up with.
pub const PASSWORD: &str = "correct horse battery";

/// The value of `parameter` in the mail's link to `path`.
pub fn link_parameter(mail: &mail_sink::Mail, path: &str, parameter: &str) -> String {
    mail.links()
        .iter()
        .filter_map(|link| url::Url::parse(link).ok())
        .filter(|url| url.path() == path)
        .find_map(|url| {
            url.query_pairs()
                .find(|(k, _)| k == parameter)
                .map(|(_, v)| v.into_owned())
        })
        .unwrap_or_else(|| panic!("no {path}?{parameter}= link in {:?}", mail.body))
}

/// Where this test process keeps uploaded photos.
pub fn test_image_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("weasel-test-images-{}", std::process::id()))
}

pub fn test_settings(database_url: &str, site_root: &Path) -> Settings {
    let database_url = database_url.to_string();
    let site_root = site_root.display().to_string();
    Settings::from_lookup(move |name| match name {
        "WEASEL_ADDR" => Some("127.0.0.1:0".into()),
        "DATABASE_URL" => Some(database_url.clone()),
        "WEASEL_SITE_ROOT" => Some(site_root.clone()),
        // Stopping a test app waits at most this long for its answers.
        "WEASEL_SHUTDOWN_GRACE_SECS" => Some("2".into()),
        // Photos go to a directory of this test process, not the checkout.
        "WEASEL_IMAGE_DIR" => Some(test_image_dir().display().to_string()),
        _ => None,
    })
    .expect("test settings")
}

/// A conversation of `owner` holding `turns`, every one complete.
pub async fn seed_conversation(
    storage: &Storage,
    owner: UserId,
    subject: Subject,
    title: &str,
    turns: &[(Role, &str)],
) -> Conversation {
    let conversation = storage
        .create_conversation(owner, subject, title)
        .await
        .expect("create conversation");
    for &(role, content) in turns {
        let message = NewMessage {
            role,
            content,
            status: MessageStatus::Complete,
        };
        storage
            .append_message(conversation.id, &message)
            .await
            .expect("append message");
    }
    conversation
}
