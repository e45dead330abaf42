//! Typed configuration, read once from environment variables at startup.
//!
//! Every setting has a documented default (README, "Configuration"), so a
//! fresh checkout runs with no configuration at all. A bad value stops the
//! server before it binds a port, naming the variable but never echoing a
//! value that may hold a secret.

use std::{fmt, net::SocketAddr, path::PathBuf, str::FromStr, time::Duration};

use base64::Engine;

use url::Url;

use crate::spending::{DailyLimits, PriceTable};

#[derive(Clone)]
pub struct Settings {
    pub listen_addr: SocketAddr,
    /// Where `/metrics` is served, apart from the app so it is never public;
    /// `None` (the default) serves no metrics.
    pub metrics_addr: Option<SocketAddr>,
    /// The URL users reach the app at; decides cookie `Secure` and redirects.
    pub public_url: Url,
    pub database: DatabaseSettings,
    /// Directory holding `pkg/` (wasm, JS, CSS) and the public assets.
    pub site_root: PathBuf,
    pub log: LogSettings,
    pub environment: Environment,
    pub session: SessionSettings,
    /// Behind a load balancer, the client's address is the last hop of
    /// `X-Forwarded-For`; only trust it when one is really there.
    pub trust_forwarded_for: bool,
    /// Only the providers whose client id and secret are set.
    pub oauth: Vec<OAuthProvider>,
    pub model: ModelSettings,
    pub mail: MailSettings,
    pub replica: ReplicaSettings,
    pub spending: SpendingSettings,
    pub images: ImageSettings,
}

/// Where photos of problems are kept, and how many a student may send.
#[derive(Clone, Debug)]
pub struct ImageSettings {
    pub store: ImageStoreSettings,
    /// The largest upload taken in, before the server shrinks it.
    pub upload_max_bytes: usize,
    /// Photos a student may upload per day in Korea (0: no limit).
    pub per_student_per_day: i64,
    /// Uploads a student may make within ten minutes (0: no limit).
    pub uploads_per_10_minutes: i64,
}

#[derive(Clone, Debug)]
pub enum ImageStoreSettings {
    /// Files under a directory (`WEASEL_DATA_DIR/images` by default).
    Directory(PathBuf),
    /// Objects in a bucket, for several replicas.
    S3 {
        bucket: String,
        prefix: String,
        region: Option<String>,
        /// An S3-compatible endpoint instead of AWS (tests, MinIO).
        endpoint: Option<String>,
        /// Keys for such a store; on AWS the standard chain (IRSA) is used.
        keys: Option<(String, Secret)>,
    },
}

impl ImageSettings {
    /// Files under `dir`, with the default limits.
    pub fn in_directory(dir: impl Into<PathBuf>) -> Self {
        ImageSettings {
            store: ImageStoreSettings::Directory(dir.into()),
            upload_max_bytes: 10 << 20,
            per_student_per_day: 60,
            uploads_per_10_minutes: 40,
        }
    }
}

/// What answers cost and how much may be spent per day.
#[derive(Clone, Debug, PartialEq)]
pub struct SpendingSettings {
    pub prices: PriceTable,
    pub limits: DailyLimits,
}

/// How this process shares answers with other replicas on one database.
#[derive(Clone, Debug)]
pub struct ReplicaSettings {
    /// Names this process in answer leases: the host name (a pod's name on
    /// Kubernetes) and a random suffix, new at every start.
    pub instance_id: String,
    /// How long an answer's writer may go silent before any replica marks
    /// the answer interrupted. Renewed every third of it.
    pub lease: Duration,
    /// On SIGTERM, how long answers still being written may take to finish.
    pub shutdown_grace: Duration,
    /// How long the end of an answer is retried while the database refuses
    /// writes before its followers are told it failed (it is still stored,
    /// as failed and with its text, once writes work again).
    pub write_give_up: Duration,
}

#[derive(Clone, Debug)]
pub struct MailSettings {
    /// `smtp://host:25` (plain), `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS) or `smtps://user:pass@host:465`; may hold a password.
    pub smtp_url: Option<Secret>,
    /// The `From:` of every message, e.g. `Weasel <no-reply@weasel.example>`.
    pub from: String,
    /// Without SMTP (development only), messages are written here as files.
    pub outbox_dir: PathBuf,
}

#[derive(Clone, Debug)]
pub struct ModelSettings {
    /// Answer from the built-in Bedrock emulator instead of AWS.
    pub use_emulator: bool,
    pub region: String,
    /// A foundation-model id or a cross-region inference-profile id (`us.anthropic.…`).
    pub model_id: String,
    /// How the answer model is called (`WEASEL_MODEL_API`).
    pub shape: RequestShape,
    /// The cheaper model that names conversations.
    pub title_model_id: String,
    pub title_shape: RequestShape,
    /// Mark the system prompt and the conversation so far as cache points.
    pub prompt_cache: bool,
    pub max_tokens: i32,
    pub temperature: f32,
    /// Another Bedrock endpoint (a VPC endpoint, or an emulator elsewhere).
    pub endpoint_url: Option<String>,
    /// An answer that sends nothing for this long fails as a timeout.
    pub idle_timeout: Duration,
}

/// The request shape a model is called with on Bedrock's runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestShape {
    /// ConverseStream: Claude up to the 4.6 generation.
    Converse,
    /// InvokeModelWithResponseStream with an Anthropic Messages body: the
    /// generation after 4.6 (Opus 4.7 and later, Sonnet 5.x).
    Messages,
}

impl RequestShape {
    /// The shape a model id needs when none is configured.
    pub fn for_model(model_id: &str) -> RequestShape {
        const MESSAGES_ONLY: [&str; 6] = [
            "claude-opus-4-7",
            "claude-opus-4-8",
            "claude-opus-5",
            "claude-sonnet-5",
            "claude-haiku-5",
            "claude-fable-5",
        ];
        if MESSAGES_ONLY.iter().any(|family| model_id.contains(family)) {
            RequestShape::Messages
        } else {
            RequestShape::Converse
        }
    }

    fn from_setting(
        variable: &'static str,
        raw: Option<String>,
        model_id: &str,
    ) -> Result<Self, ConfigError> {
        match raw.as_deref().map(str::trim) {
            None | Some("auto") | Some("") => Ok(RequestShape::for_model(model_id)),
            Some("converse") => Ok(RequestShape::Converse),
            Some("messages") => Ok(RequestShape::Messages),
            Some(other) => Err(problem(
                variable,
                format!("'{other}' is not one of: auto, converse, messages"),
            )),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    Google,
    Github,
    Kakao,
    Naver,
}

impl Provider {
    pub const ALL: [Provider; 4] = [
        Provider::Google,
        Provider::Github,
        Provider::Kakao,
        Provider::Naver,
    ];

    /// In URLs (`/auth/github/start`) and in the database.
    pub fn id(self) -> &'static str {
        match self {
            Provider::Google => "google",
            Provider::Github => "github",
            Provider::Kakao => "kakao",
            Provider::Naver => "naver",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Provider::Google => "Google",
            Provider::Github => "GitHub",
            Provider::Kakao => "Kakao",
            Provider::Naver => "Naver",
        }
    }

    /// The provider's real endpoints: authorization, token, user info.
    fn endpoints(self) -> [&'static str; 3] {
        match self {
            Provider::Google => [
                "https://accounts.google.com/o/oauth2/v2/auth",
                "https://oauth2.googleapis.com/token",
                "https://openidconnect.googleapis.com/v1/userinfo",
            ],
            Provider::Github => [
                "https://github.com/login/oauth/authorize",
                "https://github.com/login/oauth/access_token",
                "https://api.github.com/user",
            ],
            Provider::Kakao => [
                "https://kauth.kakao.com/oauth/authorize",
                "https://kauth.kakao.com/oauth/token",
                "https://kapi.kakao.com/v2/user/me",
            ],
            Provider::Naver => [
                "https://nid.naver.com/oauth2.0/authorize",
                "https://nid.naver.com/oauth2.0/token",
                "https://openapi.naver.com/v1/nid/me",
            ],
        }
    }

    pub fn scopes(self) -> &'static [&'static str] {
        match self {
            Provider::Google => &["openid", "email", "profile"],
            Provider::Github => &["read:user", "user:email"],
            Provider::Kakao => &["account_email", "profile_nickname"],
            // Naver's scopes are chosen in its developer console.
            Provider::Naver => &[],
        }
    }
}

#[derive(Clone, Debug)]
pub struct OAuthProvider {
    pub provider: Provider,
    pub client_id: String,
    pub client_secret: Secret,
    pub auth_url: String,
    pub token_url: String,
    pub userinfo_url: String,
}

/// A configured secret; `Debug` shows `***`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(secret: impl Into<String>) -> Self {
        Secret(secret.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Clone, Debug)]
pub struct SessionSettings {
    pub key: SessionKey,
    /// A session unused for this long ends.
    pub idle: Duration,
    /// A session ends this long after sign-in, however active.
    pub absolute: Duration,
    /// A session or user loaded this long ago is used again without asking
    /// the database (`auth::cache`); zero asks every time.
    pub cache: Duration,
}

/// The 64-byte key that encrypts session cookies. Never printed.
#[derive(Clone)]
pub struct SessionKey {
    bytes: Vec<u8>,
    /// Made up at startup (development only): sessions end with the process.
    pub generated: bool,
}

impl SessionKey {
    pub fn expose(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionKey(***, generated: {})", self.generated)
    }
}

#[derive(Clone)]
pub struct DatabaseSettings {
    /// `sqlite://…` or `postgres://…`; may hold a password, so it is never
    /// printed as is (see [`redact_url`]).
    pub url: String,
    pub max_connections: u32,
    /// SQLite: pages of WAL (1 KB each in a new file) between checkpoints.
    pub sqlite_checkpoint_pages: u32,
}

impl DatabaseSettings {
    /// The database at `url`, with the defaults for everything else.
    pub fn new(url: impl Into<String>, max_connections: u32) -> Self {
        DatabaseSettings {
            url: url.into(),
            max_connections,
            sqlite_checkpoint_pages: DEFAULT_SQLITE_CHECKPOINT_PAGES,
        }
    }
}

/// See `storage::connect_sqlite` for why this many.
pub const DEFAULT_SQLITE_CHECKPOINT_PAGES: u32 = 10_000;

#[derive(Clone, Debug)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A `tracing` filter such as `info,weasel_server=debug`.
    pub filter: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable, coloured when the output is a terminal.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    /// Reads settings through `lookup`, so tests can pass a map instead of
    /// mutating the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let environment = match lookup("WEASEL_ENV").as_deref() {
            None | Some("development") | Some("dev") => Environment::Development,
            Some("production") | Some("prod") => Environment::Production,
            Some(other) => {
                return Err(problem(
                    "WEASEL_ENV",
                    format!("'{other}' is not one of: development, production"),
                ));
            }
        };

        // cargo-leptos passes the address and site root as LEPTOS_* variables.
        let listen_addr = parse(
            "WEASEL_ADDR",
            lookup("WEASEL_ADDR").or_else(|| lookup("LEPTOS_SITE_ADDR")),
            "127.0.0.1:3000",
            "a socket address such as 127.0.0.1:3000 or 0.0.0.0:8080",
        )?;
        let metrics_addr = match lookup("WEASEL_METRICS_ADDR") {
            Some(raw) => Some(parse(
                "WEASEL_METRICS_ADDR",
                Some(raw),
                "",
                "a socket address such as 0.0.0.0:9100",
            )?),
            None => None,
        };
        let public_url = match lookup("WEASEL_PUBLIC_URL") {
            Some(raw) => parse_public_url(&raw)?,
            None => Url::parse(&format!("http://{}/", browsable(listen_addr)))
                .expect("a socket address always forms a valid URL"),
        };

        let data_dir = PathBuf::from(lookup("WEASEL_DATA_DIR").unwrap_or_else(|| "data".into()));
        let url = match lookup("DATABASE_URL") {
            Some(url) => url,
            None => format!("sqlite://{}?mode=rwc", data_dir.join("weasel.db").display()),
        };
        if !(url.starts_with("sqlite:") || url.starts_with("postgres:") || url.starts_with("postgresql:")) {
            // The value is not echoed: it may carry a password.
            return Err(problem(
                "DATABASE_URL",
                "must start with sqlite: or postgres:// (value not shown, it may hold a password)".into(),
            ));
        }
        let max_connections = parse(
            "WEASEL_DB_MAX_CONNECTIONS",
            lookup("WEASEL_DB_MAX_CONNECTIONS"),
            "10",
            "a whole number of connections, at least 1",
        )?;
        if max_connections == 0 {
            return Err(problem("WEASEL_DB_MAX_CONNECTIONS", "must be at least 1".into()));
        }
        let sqlite_checkpoint_pages: u32 = parse(
            "WEASEL_SQLITE_CHECKPOINT_PAGES",
            lookup("WEASEL_SQLITE_CHECKPOINT_PAGES"),
            &DEFAULT_SQLITE_CHECKPOINT_PAGES.to_string(),
            "a whole number of pages, from 1000 to 1000000",
        )?;
        if !(1_000..=1_000_000).contains(&sqlite_checkpoint_pages) {
            return Err(problem(
                "WEASEL_SQLITE_CHECKPOINT_PAGES",
                "must be from 1000 to 1000000".into(),
            ));
        }

        let site_root = PathBuf::from(
            lookup("WEASEL_SITE_ROOT")
                .or_else(|| lookup("LEPTOS_SITE_ROOT"))
                .unwrap_or_else(|| "target/site".into()),
        );

        let format = match lookup("WEASEL_LOG_FORMAT").as_deref() {
            None | Some("pretty") | Some("text") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(problem(
                    "WEASEL_LOG_FORMAT",
                    format!("'{other}' is not one of: pretty, json"),
                ));
            }
        };
        let filter = lookup("RUST_LOG").unwrap_or_else(|| "info,weasel_server=debug,tower_http=info".into());

        let session = SessionSettings {
            key: session_key(lookup("WEASEL_SESSION_KEY"), environment)?,
            idle: hours(
                "WEASEL_SESSION_IDLE_HOURS",
                lookup("WEASEL_SESSION_IDLE_HOURS"),
                "336",
            )?,
            absolute: hours(
                "WEASEL_SESSION_MAX_HOURS",
                lookup("WEASEL_SESSION_MAX_HOURS"),
                "720",
            )?,
            cache: {
                let secs: u64 = parse(
                    "WEASEL_AUTH_CACHE_SECS",
                    lookup("WEASEL_AUTH_CACHE_SECS"),
                    "5",
                    "a whole number of seconds, at most 60",
                )?;
                if secs > 60 {
                    return Err(problem("WEASEL_AUTH_CACHE_SECS", "must be at most 60".into()));
                }
                Duration::from_secs(secs)
            },
        };
        let trust_forwarded_for = parse(
            "WEASEL_TRUST_FORWARDED_FOR",
            lookup("WEASEL_TRUST_FORWARDED_FOR"),
            "false",
            "true or false",
        )?;

        let oauth = oauth_providers(&lookup)?;
        let model = model_settings(&lookup)?;
        let smtp_url = lookup("WEASEL_SMTP_URL").map(Secret);
        if smtp_url.is_none() && environment == Environment::Production {
            return Err(problem(
                "WEASEL_SMTP_URL",
                "is required in production: sign-up and password reset send mail".into(),
            ));
        }
        let mail = MailSettings {
            smtp_url,
            from: lookup("WEASEL_MAIL_FROM").unwrap_or_else(|| {
                format!(
                    "Weasel <no-reply@{}>",
                    public_url.host_str().unwrap_or("localhost")
                )
            }),
            outbox_dir: data_dir.join("outbox"),
        };

        let lease: u64 = parse(
            "WEASEL_ANSWER_LEASE_SECS",
            lookup("WEASEL_ANSWER_LEASE_SECS"),
            "10",
            "a whole number of seconds, at least 3",
        )?;
        if lease < 3 {
            return Err(problem("WEASEL_ANSWER_LEASE_SECS", "must be at least 3".into()));
        }
        let shutdown_grace: u64 = parse(
            "WEASEL_SHUTDOWN_GRACE_SECS",
            lookup("WEASEL_SHUTDOWN_GRACE_SECS"),
            "25",
            "a whole number of seconds",
        )?;
        let write_give_up: u64 = parse(
            "WEASEL_WRITE_GIVE_UP_SECS",
            lookup("WEASEL_WRITE_GIVE_UP_SECS"),
            "20",
            "a whole number of seconds",
        )?;
        let host = lookup("HOSTNAME")
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "weasel".into());
        let replica = ReplicaSettings {
            instance_id: format!("{host}-{:08x}", rand::random::<u32>()),
            lease: Duration::from_secs(lease),
            shutdown_grace: Duration::from_secs(shutdown_grace),
            write_give_up: Duration::from_secs(write_give_up),
        };

        let store = match lookup("WEASEL_S3_BUCKET") {
            Some(bucket) => ImageStoreSettings::S3 {
                bucket,
                prefix: lookup("WEASEL_S3_PREFIX").unwrap_or_else(|| "images/".into()),
                region: lookup("WEASEL_S3_REGION"),
                endpoint: lookup("WEASEL_S3_ENDPOINT"),
                keys: lookup("WEASEL_S3_ACCESS_KEY_ID")
                    .zip(lookup("WEASEL_S3_SECRET_ACCESS_KEY").map(Secret)),
            },
            None => ImageStoreSettings::Directory(
                lookup("WEASEL_IMAGE_DIR").map_or_else(|| data_dir.join("images"), PathBuf::from),
            ),
        };
        let upload_max_mb: usize = parse(
            "WEASEL_IMAGE_UPLOAD_MAX_MB",
            lookup("WEASEL_IMAGE_UPLOAD_MAX_MB"),
            "10",
            "a whole number of megabytes, from 1 to 50",
        )?;
        if !(1..=50).contains(&upload_max_mb) {
            return Err(problem(
                "WEASEL_IMAGE_UPLOAD_MAX_MB",
                "must be from 1 to 50".into(),
            ));
        }
        let images = ImageSettings {
            store,
            upload_max_bytes: upload_max_mb << 20,
            per_student_per_day: parse(
                "WEASEL_DAILY_IMAGES_PER_STUDENT",
                lookup("WEASEL_DAILY_IMAGES_PER_STUDENT"),
                "60",
                "a whole number of photos (0: no limit)",
            )?,
            uploads_per_10_minutes: parse(
                "WEASEL_IMAGE_UPLOADS_PER_10_MIN",
                lookup("WEASEL_IMAGE_UPLOADS_PER_10_MIN"),
                "40",
                "a whole number of uploads (0: no limit)",
            )?,
        };

        Ok(Settings {
            images,
            listen_addr,
            metrics_addr,
            public_url,
            database: DatabaseSettings {
                url,
                max_connections,
                sqlite_checkpoint_pages,
            },
            site_root,
            log: LogSettings { format, filter },
            environment,
            session,
            trust_forwarded_for,
            oauth,
            model,
            mail,
            replica,
            spending: spending_settings(&lookup)?,
        })
    }
}

/// Claude Sonnet 4.6 through the global cross-region inference profile:
/// on-demand in every commercial region (Seoul included), Converse shape.
pub const DEFAULT_MODEL_ID: &str = "global.anthropic.claude-sonnet-4-6";
/// Claude Haiku 4.5, the small model, through its global profile.
pub const DEFAULT_TITLE_MODEL_ID: &str = "global.anthropic.claude-haiku-4-5-20251001-v1:0";

/// `WEASEL_DAILY_ANSWERS_PER_STUDENT`, `WEASEL_DAILY_TOKENS_PER_STUDENT`,
/// `WEASEL_DAILY_BUDGET_USD` (0 or unset: no limit) and `WEASEL_MODEL_PRICES`.
fn spending_settings(lookup: &impl Fn(&str) -> Option<String>) -> Result<SpendingSettings, ConfigError> {
    let prices = PriceTable::with_overrides(lookup("WEASEL_MODEL_PRICES").as_deref())
        .map_err(|why| problem("WEASEL_MODEL_PRICES", why))?;
    let budget_usd: f64 = parse(
        "WEASEL_DAILY_BUDGET_USD",
        lookup("WEASEL_DAILY_BUDGET_USD"),
        "0",
        "an amount in US dollars such as 50 or 12.5",
    )?;
    if !budget_usd.is_finite() || budget_usd < 0.0 {
        return Err(problem("WEASEL_DAILY_BUDGET_USD", "must be 0 or more".into()));
    }
    let limits = DailyLimits {
        answers_per_student: parse(
            "WEASEL_DAILY_ANSWERS_PER_STUDENT",
            lookup("WEASEL_DAILY_ANSWERS_PER_STUDENT"),
            "0",
            "a whole number (0: no limit)",
        )?,
        tokens_per_student: parse(
            "WEASEL_DAILY_TOKENS_PER_STUDENT",
            lookup("WEASEL_DAILY_TOKENS_PER_STUDENT"),
            "0",
            "a whole number (0: no limit)",
        )?,
        budget_micros: (budget_usd * 1e6).round() as i64,
    };
    if limits.answers_per_student < 0 || limits.tokens_per_student < 0 {
        return Err(problem(
            "WEASEL_DAILY_ANSWERS_PER_STUDENT",
            "daily limits are 0 (none) or more".into(),
        ));
    }
    Ok(SpendingSettings { prices, limits })
}

/// Variables through which the AWS SDK finds credentials; with none of them
/// (and no endpoint), `WEASEL_MODEL_PROVIDER=auto` uses the emulator.
const AWS_CREDENTIAL_VARIABLES: [&str; 6] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_PROFILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_BEARER_TOKEN_BEDROCK",
];

fn model_settings(lookup: &impl Fn(&str) -> Option<String>) -> Result<ModelSettings, ConfigError> {
    let endpoint_url = lookup("WEASEL_BEDROCK_ENDPOINT_URL");
    if let Some(url) = &endpoint_url {
        Url::parse(url)
            .map_err(|_| problem("WEASEL_BEDROCK_ENDPOINT_URL", format!("'{url}' is not a URL")))?;
    }
    let aws_configured = AWS_CREDENTIAL_VARIABLES.iter().any(|name| lookup(name).is_some());
    let use_emulator = match lookup("WEASEL_MODEL_PROVIDER").as_deref() {
        None | Some("auto") => !aws_configured && endpoint_url.is_none(),
        Some("emulator") => true,
        Some("bedrock") => false,
        Some(other) => {
            return Err(problem(
                "WEASEL_MODEL_PROVIDER",
                format!("'{other}' is not one of: auto, bedrock, emulator"),
            ));
        }
    };
    let temperature: f32 = parse(
        "WEASEL_MODEL_TEMPERATURE",
        lookup("WEASEL_MODEL_TEMPERATURE"),
        "0.2",
        "a number from 0 to 1",
    )?;
    if !(0.0..=1.0).contains(&temperature) {
        return Err(problem("WEASEL_MODEL_TEMPERATURE", "must be from 0 to 1".into()));
    }
    let idle_secs: u64 = parse(
        "WEASEL_MODEL_IDLE_TIMEOUT_SECS",
        lookup("WEASEL_MODEL_IDLE_TIMEOUT_SECS"),
        "30",
        "a whole number of seconds",
    )?;
    let model_id = lookup("WEASEL_MODEL_ID").unwrap_or_else(|| DEFAULT_MODEL_ID.into());
    let title_model_id = lookup("WEASEL_TITLE_MODEL_ID").unwrap_or_else(|| DEFAULT_TITLE_MODEL_ID.into());
    let prompt_cache = match lookup("WEASEL_PROMPT_CACHE").as_deref().map(str::trim) {
        None | Some("on") | Some("") => true,
        Some("off") => false,
        Some(other) => {
            return Err(problem(
                "WEASEL_PROMPT_CACHE",
                format!("'{other}' is not on or off"),
            ));
        }
    };
    Ok(ModelSettings {
        use_emulator,
        region: lookup("AWS_REGION")
            .or_else(|| lookup("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".into()),
        shape: RequestShape::from_setting("WEASEL_MODEL_API", lookup("WEASEL_MODEL_API"), &model_id)?,
        title_shape: RequestShape::from_setting(
            "WEASEL_TITLE_MODEL_API",
            lookup("WEASEL_TITLE_MODEL_API"),
            &title_model_id,
        )?,
        model_id,
        title_model_id,
        prompt_cache,
        max_tokens: parse(
            "WEASEL_MODEL_MAX_TOKENS",
            lookup("WEASEL_MODEL_MAX_TOKENS"),
            "4096",
            "a whole number",
        )?,
        temperature,
        endpoint_url,
        idle_timeout: Duration::from_secs(idle_secs.max(1)),
    })
}

/// `WEASEL_OAUTH_<PROVIDER>_CLIENT_ID` and `_CLIENT_SECRET` turn a provider
/// on; `_AUTH_URL`, `_TOKEN_URL` and `_USERINFO_URL` point it elsewhere (tests).
fn oauth_providers(lookup: &impl Fn(&str) -> Option<String>) -> Result<Vec<OAuthProvider>, ConfigError> {
    let mut providers = Vec::new();
    for provider in Provider::ALL {
        let var = |suffix: &str| lookup(&format!("WEASEL_OAUTH_{}_{suffix}", provider.id().to_uppercase()));
        let (client_id, secret) = match (var("CLIENT_ID"), var("CLIENT_SECRET")) {
            (Some(id), Some(secret)) => (id, secret),
            (None, None) => continue,
            _ => {
                return Err(problem(
                    oauth_variable(provider),
                    "needs both _CLIENT_ID and _CLIENT_SECRET (or neither)".into(),
                ));
            }
        };
        let [auth, token, userinfo] = provider.endpoints();
        let endpoint = |suffix: &str, default: &str| -> Result<String, ConfigError> {
            let url = var(suffix).unwrap_or_else(|| default.to_string());
            Url::parse(&url)
                .map(|_| url.clone())
                .map_err(|_| problem(oauth_variable(provider), format!("{suffix} '{url}' is not a URL")))
        };
        providers.push(OAuthProvider {
            provider,
            client_id,
            client_secret: Secret(secret),
            auth_url: endpoint("AUTH_URL", auth)?,
            token_url: endpoint("TOKEN_URL", token)?,
            userinfo_url: endpoint("USERINFO_URL", userinfo)?,
        });
    }
    Ok(providers)
}

fn oauth_variable(provider: Provider) -> &'static str {
    match provider {
        Provider::Google => "WEASEL_OAUTH_GOOGLE_*",
        Provider::Github => "WEASEL_OAUTH_GITHUB_*",
        Provider::Kakao => "WEASEL_OAUTH_KAKAO_*",
        Provider::Naver => "WEASEL_OAUTH_NAVER_*",
    }
}

fn hours(variable: &'static str, raw: Option<String>, default: &str) -> Result<Duration, ConfigError> {
    let hours: u64 = parse(variable, raw, default, "a whole number of hours")?;
    if hours == 0 {
        return Err(problem(variable, "must be at least 1".into()));
    }
    Ok(Duration::from_secs(hours * 3600))
}

/// Base64 of at least 64 random bytes (`openssl rand -base64 64`). Required
/// in production; development makes one up so a fresh checkout just runs.
fn session_key(raw: Option<String>, environment: Environment) -> Result<SessionKey, ConfigError> {
    const VARIABLE: &str = "WEASEL_SESSION_KEY";
    let Some(raw) = raw else {
        if environment == Environment::Production {
            return Err(problem(
                VARIABLE,
                "is required in production (base64 of 64 random bytes)".into(),
            ));
        }
        let bytes: Vec<u8> = (0..64).map(|_| rand::random::<u8>()).collect();
        return Ok(SessionKey {
            bytes,
            generated: true,
        });
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(raw.trim())
        .map_err(|_| problem(VARIABLE, "is not valid base64 (value not shown)".into()))?;
    if bytes.len() < 64 {
        return Err(problem(
            VARIABLE,
            format!("must decode to at least 64 bytes, not {}", bytes.len()),
        ));
    }
    Ok(SessionKey {
        bytes,
        generated: false,
    })
}

fn problem(variable: &'static str, problem: String) -> ConfigError {
    ConfigError { variable, problem }
}

fn parse<T: FromStr>(
    variable: &'static str,
    raw: Option<String>,
    default: &str,
    expected: &str,
) -> Result<T, ConfigError> {
    let raw = raw.unwrap_or_else(|| default.to_string());
    raw.trim()
        .parse()
        .map_err(|_| problem(variable, format!("'{raw}' is not {expected}")))
}

fn parse_public_url(raw: &str) -> Result<Url, ConfigError> {
    let url =
        Url::parse(raw).map_err(|e| problem("WEASEL_PUBLIC_URL", format!("'{raw}' is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(problem(
            "WEASEL_PUBLIC_URL",
            format!("'{raw}' must be an http:// or https:// URL with a host"),
        ));
    }
    Ok(url)
}

/// The address a browser on this machine can open: 0.0.0.0 is not one.
fn browsable(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    }
}

/// The URL with any password replaced by `***`, safe to log.
pub fn redact_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        Ok(url) => url.to_string(),
        Err(_) => "<unparsable URL>".into(),
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("listen_addr", &self.listen_addr)
            .field("metrics_addr", &self.metrics_addr)
            .field("public_url", &self.public_url.as_str())
            .field("database", &self.database)
            .field("site_root", &self.site_root)
            .field("log", &self.log)
            .field("environment", &self.environment)
            .field("session", &self.session)
            .field("trust_forwarded_for", &self.trust_forwarded_for)
            .field("oauth", &self.oauth)
            .field("model", &self.model)
            .field("mail", &self.mail)
            .finish()
    }
}

impl fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &redact_url(&self.url))
            .field("max_connections", &self.max_connections)
            .field("sqlite_checkpoint_pages", &self.sqlite_checkpoint_pages)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_need_no_configuration() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.listen_addr.to_string(), "127.0.0.1:3000");
        assert_eq!(s.public_url.as_str(), "http://127.0.0.1:3000/");
        assert_eq!(s.database.url, "sqlite://data/weasel.db?mode=rwc");
        assert_eq!(s.log.format, LogFormat::Pretty);
        assert_eq!(s.environment, Environment::Development);
        assert_eq!(s.site_root, PathBuf::from("target/site"));
        assert_eq!(s.metrics_addr, None, "metrics are off unless asked for");
    }

    #[test]
    fn wildcard_address_gives_a_browsable_public_url() {
        let s = settings(&[("WEASEL_ADDR", "0.0.0.0:8080")]).unwrap();
        assert_eq!(s.public_url.as_str(), "http://127.0.0.1:8080/");
    }

    #[test]
    fn cargo_leptos_variables_are_honoured_but_ours_win() {
        let s = settings(&[
            ("LEPTOS_SITE_ADDR", "127.0.0.1:4000"),
            ("LEPTOS_SITE_ROOT", "site"),
        ])
        .unwrap();
        assert_eq!(s.listen_addr.port(), 4000);
        assert_eq!(s.site_root, PathBuf::from("site"));
        let s = settings(&[
            ("LEPTOS_SITE_ADDR", "127.0.0.1:4000"),
            ("WEASEL_ADDR", "127.0.0.1:5000"),
        ])
        .unwrap();
        assert_eq!(s.listen_addr.port(), 5000);
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = settings(&[("WEASEL_ADDR", "localhost")]).unwrap_err();
        assert_eq!(err.variable, "WEASEL_ADDR");
        assert!(
            err.to_string().contains("'localhost' is not a socket address"),
            "{err}"
        );

        assert_eq!(
            settings(&[("WEASEL_METRICS_ADDR", "9100")]).unwrap_err().variable,
            "WEASEL_METRICS_ADDR"
        );
        assert_eq!(
            settings(&[("WEASEL_LOG_FORMAT", "xml")]).unwrap_err().variable,
            "WEASEL_LOG_FORMAT"
        );
        assert_eq!(
            settings(&[("WEASEL_ENV", "staging")]).unwrap_err().variable,
            "WEASEL_ENV"
        );
        assert_eq!(
            settings(&[("WEASEL_DB_MAX_CONNECTIONS", "0")])
                .unwrap_err()
                .variable,
            "WEASEL_DB_MAX_CONNECTIONS"
        );
        assert_eq!(
            settings(&[("WEASEL_PUBLIC_URL", "ftp://x")])
                .unwrap_err()
                .variable,
            "WEASEL_PUBLIC_URL"
        );
        for pages in ["0", "999", "many"] {
            assert_eq!(
                settings(&[("WEASEL_SQLITE_CHECKPOINT_PAGES", pages)])
                    .unwrap_err()
                    .variable,
                "WEASEL_SQLITE_CHECKPOINT_PAGES"
            );
        }
        assert_eq!(
            settings(&[("WEASEL_SQLITE_CHECKPOINT_PAGES", "50000")])
                .unwrap()
                .database
                .sqlite_checkpoint_pages,
            50_000
        );
    }

    #[test]
    fn a_bad_database_url_is_rejected_without_echoing_it() {
        let err = settings(&[("DATABASE_URL", "mysql://me:hunter2@db/weasel")]).unwrap_err();
        assert_eq!(err.variable, "DATABASE_URL");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn session_key_rules() {
        let dev = settings(&[]).unwrap();
        assert!(dev.session.key.generated && dev.session.key.expose().len() == 64);
        let err = settings(&[("WEASEL_ENV", "production")]).unwrap_err();
        assert_eq!(err.variable, "WEASEL_SESSION_KEY");
        let short = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        assert!(settings(&[("WEASEL_SESSION_KEY", short.as_str())]).is_err());
        let good = base64::engine::general_purpose::STANDARD.encode([7u8; 64]);
        let s = settings(&[
            ("WEASEL_ENV", "production"),
            ("WEASEL_SESSION_KEY", good.as_str()),
            ("WEASEL_SMTP_URL", "smtps://weasel:p4ss@smtp.example.com"),
        ])
        .unwrap();
        assert!(!s.session.key.generated);
        assert!(
            !format!("{s:?}").contains("p4ss"),
            "the SMTP password is never shown"
        );
        assert!(!format!("{s:?}").contains(&good));
        assert_eq!(s.session.idle, Duration::from_secs(14 * 24 * 3600));
    }

    #[test]
    fn production_needs_a_mail_server() {
        let good = base64::engine::general_purpose::STANDARD.encode([7u8; 64]);
        let err = settings(&[
            ("WEASEL_ENV", "production"),
            ("WEASEL_SESSION_KEY", good.as_str()),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "WEASEL_SMTP_URL");
        let dev = settings(&[("WEASEL_PUBLIC_URL", "https://weasel.example/")]).unwrap();
        assert!(dev.mail.smtp_url.is_none());
        assert_eq!(dev.mail.from, "Weasel <no-reply@weasel.example>");
    }

    #[test]
    fn oauth_providers_need_both_id_and_secret() {
        assert!(settings(&[]).unwrap().oauth.is_empty());
        let s = settings(&[
            ("WEASEL_OAUTH_KAKAO_CLIENT_ID", "kakao-id"),
            ("WEASEL_OAUTH_KAKAO_CLIENT_SECRET", "kakao-secret"),
            ("WEASEL_OAUTH_GITHUB_CLIENT_ID", "gh"),
            ("WEASEL_OAUTH_GITHUB_CLIENT_SECRET", "gh-secret"),
            ("WEASEL_OAUTH_GITHUB_TOKEN_URL", "http://127.0.0.1:9/github/token"),
        ])
        .unwrap();
        let ids: Vec<_> = s.oauth.iter().map(|p| p.provider.id()).collect();
        assert_eq!(ids, ["github", "kakao"]);
        assert_eq!(s.oauth[0].token_url, "http://127.0.0.1:9/github/token");
        assert_eq!(s.oauth[1].auth_url, "https://kauth.kakao.com/oauth/authorize");
        assert!(!format!("{s:?}").contains("kakao-secret"));
        let err = settings(&[("WEASEL_OAUTH_NAVER_CLIENT_ID", "x")]).unwrap_err();
        assert_eq!(err.variable, "WEASEL_OAUTH_NAVER_*");
    }

    #[test]
    fn the_emulator_answers_unless_aws_is_configured() {
        let s = settings(&[]).unwrap();
        assert!(s.model.use_emulator);
        assert_eq!(s.model.model_id, "global.anthropic.claude-sonnet-4-6");
        assert!(
            !settings(&[("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token")])
                .unwrap()
                .model
                .use_emulator
        );
        assert!(
            !settings(&[("WEASEL_MODEL_PROVIDER", "bedrock")])
                .unwrap()
                .model
                .use_emulator
        );
        let profile =
            settings(&[("WEASEL_MODEL_ID", "apac.anthropic.claude-sonnet-4-20250514-v1:0")]).unwrap();
        assert_eq!(
            profile.model.model_id,
            "apac.anthropic.claude-sonnet-4-20250514-v1:0"
        );
        assert_eq!(
            settings(&[("WEASEL_MODEL_TEMPERATURE", "3")])
                .unwrap_err()
                .variable,
            "WEASEL_MODEL_TEMPERATURE"
        );
    }

    #[test]
    fn passwords_never_reach_debug_output() {
        let s = settings(&[("DATABASE_URL", "postgres://weasel:hunter2@db:5432/weasel")]).unwrap();
        let printed = format!("{s:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(
            printed.contains("postgres://weasel:***@db:5432/weasel"),
            "{printed}"
        );
    }
}
