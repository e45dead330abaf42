//! Builds the whole application: one function for `main` and for the tests.

use std::{
    future::Future,
    io,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use app::{App, api::ProviderView, ports::Services, shell};
use axum::{
    Router,
    body::Body,
    extract::FromRef,
    http::{HeaderName, Request},
    middleware,
    routing::get,
};
use axum_login::AuthManagerLayerBuilder;
use leptos::{
    config::{Env, LeptosOptions},
    prelude::provide_context,
};
use leptos_axum::{AxumRouteListing, LeptosRoutes, file_and_error_handler_with_context, generate_route_list};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::{
    compression::{
        CompressionLayer, Predicate,
        predicate::{DefaultPredicate, NotForContentType},
    },
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;

use crate::{
    auth::{
        Backend, Passwords,
        cache::{self, AuthCache},
        csrf::{SiteOrigin, reject_cross_site},
        device::Devices,
        oauth::{self, OAuth},
        service::AccountService,
        session_lifetime,
        sessions::Sessions,
        throttle::Throttle,
    },
    config::{Environment, Settings},
    health::{self, HealthService},
    history::HistoryService,
    images::{self, Images},
    locale,
    mail::Mailer,
    model::{ModelProvider, bedrock::Bedrock},
    security::{SecurityHeaders, real_page_redirects, reject_unreadable_input, security_headers},
    solve::{Solver, events, service::SolveService},
    storage::{Storage, StorageError},
};

/// How often expired sessions are deleted from the database.
const SESSION_CLEANUP_PERIOD: std::time::Duration = std::time::Duration::from_secs(3600);

/// State shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub storage: Storage,
    pub oauth: OAuth,
    pub solver: Arc<Solver>,
    pub images: Arc<Images>,
}

impl FromRef<AppState> for Arc<Images> {
    fn from_ref(state: &AppState) -> Self {
        state.images.clone()
    }
}

impl FromRef<AppState> for Arc<Solver> {
    fn from_ref(state: &AppState) -> Self {
        state.solver.clone()
    }
}

impl FromRef<AppState> for OAuth {
    fn from_ref(state: &AppState) -> Self {
        state.oauth.clone()
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl FromRef<AppState> for Storage {
    fn from_ref(state: &AppState) -> Self {
        state.storage.clone()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Mail(#[from] crate::mail::MailError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
}

/// A bound, ready-to-run server. Binding happens in [`Application::build`], so
/// with port 0 the tests learn the real port before the server runs.
pub struct Application {
    listener: TcpListener,
    router: Router,
    storage: Storage,
    solver: Arc<Solver>,
    local_addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    shutdown_grace: std::time::Duration,
}

impl Application {
    pub async fn build(settings: &Settings) -> Result<Self, StartupError> {
        let storage = Storage::connect(&settings.database).await?;
        let auth_cache = Arc::new(AuthCache::new(settings.session.cache, &storage));
        if let Storage::Postgres(pool) = &storage {
            tokio::spawn(cache::listen_forever(Arc::downgrade(&auth_cache), pool.clone()));
        }
        let sessions = Sessions::new(&storage, auth_cache.clone()).await?;
        let images = Images::new(storage.clone(), &settings.images).await;
        Images::spawn_sweeper(&images);
        tracing::info!(
            store = images.store().kind(),
            "photos are kept in the image store"
        );
        let solver = Solver::new(
            storage.clone(),
            model_provider(settings).await?,
            settings.model.idle_timeout,
            settings.replica.clone(),
            settings.spending.clone(),
            settings.model.max_tokens.into(),
            images.clone(),
        );
        for model in [&settings.model.model_id, &settings.model.title_model_id] {
            if settings.spending.prices.price(model).is_none() {
                tracing::warn!(
                    model = %model,
                    "no price for this model (WEASEL_MODEL_PRICES): its answers are counted at the dearest known rates"
                );
            }
        }
        // Registers this process and marks interrupted the answers of
        // processes gone (their leases expired); live ones are left alone.
        solver.keep().await;
        tracing::info!(
            instance = solver.instance_id(),
            "answer leases are held as this instance"
        );
        sessions.spawn_cleanup(SESSION_CLEANUP_PERIOD);
        if settings.session.key.generated {
            tracing::warn!(
                "WEASEL_SESSION_KEY is not set: using a random key, so sign-ins end when the server stops"
            );
        }
        let addr = settings.listen_addr;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartupError::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { addr, source })?;
        let metrics_addr = match settings.metrics_addr {
            Some(addr) => {
                let listener = TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartupError::Bind { addr, source })?;
                crate::metrics::handle();
                Some(crate::metrics::spawn(listener, storage.clone(), solver.clone()))
            }
            None => None,
        };
        let mut settings = settings.clone();
        // Listening on port 0 (tests): the public URL learns the real port.
        if settings.public_url.port() == Some(0) {
            let _ = settings.public_url.set_port(Some(local_addr.port()));
        }
        let mailer = Mailer::new(&settings.mail)?;
        let router = router(
            &settings,
            storage.clone(),
            sessions,
            auth_cache,
            solver.clone(),
            mailer,
            local_addr,
        );
        Ok(Application {
            listener,
            router,
            storage,
            solver,
            local_addr,
            metrics_addr,
            shutdown_grace: settings.replica.shutdown_grace,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Where `/metrics` is served, when `WEASEL_METRICS_ADDR` asked for it.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The answer generator (benchmarks compare its events with what clients receive).
    pub fn solver(&self) -> Arc<Solver> {
        self.solver.clone()
    }

    /// Serves until `shutdown` completes, then drains: readiness fails and
    /// new questions are refused while the answers in progress finish
    /// (within the grace period), followers' streams close, in-flight
    /// requests end, and the database pool closes.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> io::Result<()> {
        // Connection info gives sign-in throttling the client's address.
        let service = self.router.into_make_service_with_connect_info::<SocketAddr>();
        let solver = self.solver.clone();
        let grace = self.shutdown_grace;
        let drained = async move {
            shutdown.await;
            solver.drain(grace).await;
        };
        axum::serve(self.listener, service)
            .with_graceful_shutdown(drained)
            .await?;
        self.storage.close().await;
        Ok(())
    }
}

/// Bedrock through the AWS SDK; with `use_emulator`, the same client pointed at
/// an emulator started inside this process on a loopback port.
async fn model_provider(settings: &Settings) -> Result<Arc<dyn ModelProvider>, StartupError> {
    let model = &settings.model;
    if model.use_emulator {
        let addr = bedrock_emulator::spawn(([127, 0, 0, 1], 0).into(), bedrock_emulator::Config::default())
            .await
            .map_err(|source| StartupError::Bind {
                addr: ([127, 0, 0, 1], 0).into(),
                source,
            })?;
        tracing::warn!(
            "no AWS configuration: answers come from the offline Bedrock emulator at {addr}, not Claude"
        );
        Ok(checked(Arc::new(
            Bedrock::new(model, Some(format!("http://{addr}")), true).await,
        )))
    } else {
        tracing::info!(
            model = model.model_id,
            region = model.region,
            "answers come from AWS Bedrock"
        );
        Ok(checked(Arc::new(Bedrock::new(model, None, false).await)))
    }
}

/// Checks in the background, once, that the configured models can be called.
fn checked(provider: Arc<dyn ModelProvider>) -> Arc<dyn ModelProvider> {
    let checking = provider.clone();
    tokio::spawn(async move { checking.check_models().await });
    provider
}

/// The app's routes, worked out once per process. Generating them renders the
/// app with resource loading switched off by a *process-wide* flag in
/// leptos_server (`SuppressResourceLoad`): any page another `Application` in
/// the same process (the tests run many) rendered meanwhile waited forever.
/// Computed once, before any application of the process serves, it cannot
/// overlap a request.
fn route_list() -> Vec<AxumRouteListing> {
    static ROUTES: Mutex<Option<Vec<AxumRouteListing>>> = Mutex::new(None);
    let mut routes = ROUTES.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    routes.get_or_insert_with(|| generate_route_list(App)).clone()
}

fn router(
    settings: &Settings,
    storage: Storage,
    sessions: Sessions,
    auth_cache: Arc<AuthCache>,
    solver: Arc<Solver>,
    mailer: Mailer,
    local_addr: SocketAddr,
) -> Router {
    let site = SiteFiles::read(&settings.site_root);
    let leptos_options = LeptosOptions::builder()
        .output_name(site.output_name.as_str())
        .site_root(settings.site_root.to_string_lossy().as_ref())
        .site_pkg_dir("pkg")
        .site_addr(local_addr)
        .env(match settings.environment {
            Environment::Development => Env::DEV,
            Environment::Production => Env::PROD,
        })
        .build();
    let passwords = Passwords::default();
    let services = Services {
        health: Arc::new(HealthService {
            storage: storage.clone(),
        }),
        accounts: Arc::new(AccountService {
            storage: storage.clone(),
            passwords: passwords.clone(),
            throttle: Throttle::new(storage.clone()),
            devices: Devices::new(
                settings.session.key.expose(),
                settings.public_url.scheme() == "https",
            ),
            mailer,
            public_url: settings.public_url.clone(),
            trust_forwarded_for: settings.trust_forwarded_for,
            images: solver.images().clone(),
            solver: solver.clone(),
            auth_cache: auth_cache.clone(),
            providers: Arc::new(
                settings
                    .oauth
                    .iter()
                    .map(|p| ProviderView {
                        id: p.provider.id().into(),
                        label: p.provider.label().into(),
                    })
                    .collect(),
            ),
        }),
        solve: Arc::new(SolveService {
            solver: solver.clone(),
        }),
        history: Arc::new(HistoryService {
            storage: storage.clone(),
            images: solver.images().clone(),
            solver: solver.clone(),
        }),
    };
    let secure_cookies = settings.public_url.scheme() == "https";
    let auth_layer = AuthManagerLayerBuilder::new(
        Backend {
            storage: storage.clone(),
            passwords,
            cache: auth_cache,
        },
        sessions.layer(&settings.session, secure_cookies),
    )
    .build();
    let provide_services = move || {
        provide_context(services.clone());
        crate::security::nonce_for_page();
    };
    let oauth = OAuth::new(
        settings.oauth.clone(),
        settings.public_url.clone(),
        storage.clone(),
    );
    let state = AppState {
        leptos_options,
        storage,
        oauth,
        images: solver.images().clone(),
        solver,
    };
    let upload = axum::routing::post(images::http::upload)
        // The route reads at most the upload limit itself, with its own message.
        .layer(axum::extract::DefaultBodyLimit::disable());

    let app_fn = {
        let options = state.leptos_options.clone();
        move || shell(options.clone())
    };
    let router = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/lang/{code}", get(locale::switch_language))
        .route("/api/answers/{id}/events", get(events::answer_events))
        .route(app::api::IMAGE_UPLOAD_PATH, upload)
        .route("/api/images/{id}", axum::routing::delete(images::http::discard))
        .route("/images/{id}", get(images::http::owned))
        .route("/s/{token}/images/{id}", get(images::http::shared))
        .route(
            app::stream::TRANSCRIBE_PATH,
            axum::routing::post(images::http::transcribe),
        )
        .nest_service("/pkg", site.pkg_service())
        .route("/auth/{provider}/start", get(oauth::start))
        .route("/auth/{provider}/callback", get(oauth::callback))
        .leptos_routes_with_context(&state, route_list(), provide_services.clone(), app_fn)
        .fallback(file_and_error_handler_with_context::<AppState, _>(
            provide_services,
            shell,
        ))
        .with_state(state)
        // Inner to outer: session lifetime needs the session, which the auth
        // layer provides; cross-site requests are refused before any of it.
        .layer(middleware::from_fn_with_state(
            settings.session.absolute,
            session_lifetime,
        ))
        .layer(auth_layer)
        .layer(middleware::from_fn(crate::auth::explain_store_failures))
        .layer(middleware::from_fn(reject_unreadable_input))
        .layer(middleware::from_fn(real_page_redirects))
        .layer(middleware::from_fn_with_state(
            SiteOrigin::from_url(&settings.public_url),
            reject_cross_site,
        ))
        .layer(middleware::from_fn_with_state(
            SecurityHeaders {
                hsts: settings.public_url.scheme() == "https",
            },
            security_headers,
        ));
    with_http_layers(router)
}

/// The built browser bundle under `<site root>/pkg`, as `scripts/build-site.sh`
/// leaves it: a directory named after a hash of its content, holding the
/// main wasm, its JS glue, the stylesheet and the pieces of the wasm that
/// lazy pages load (`<site root>/output-name` says `<hash>/weasel`), each
/// with a `.br` and a `.gz` beside it.
struct SiteFiles {
    pkg: std::path::PathBuf,
    output_name: String,
    hashed: bool,
}

impl SiteFiles {
    fn read(site_root: &std::path::Path) -> Self {
        let hashed_name = std::fs::read_to_string(site_root.join("output-name"))
            .ok()
            .map(|name| name.trim().to_owned())
            .filter(|name| {
                // `<hash>/weasel` (or a flat `weasel.<hash>`): nothing that
                // could leave `pkg/`.
                !name.is_empty()
                    && name.split('/').count() <= 2
                    && name.split('/').all(|part| {
                        !part.is_empty()
                            && !part.starts_with('.')
                            && part
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
                    })
            });
        Self {
            pkg: site_root.join("pkg"),
            hashed: hashed_name.is_some(),
            output_name: hashed_name.unwrap_or_else(|| app::OUTPUT_NAME.to_owned()),
        }
    }

    /// Precompressed files by the browser's `Accept-Encoding` (brotli, gzip,
    /// or as they are); a hashed name never changes content, so browsers keep
    /// it for a year without asking again.
    fn pkg_service(&self) -> Router {
        let cache = if self.hashed {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        Router::new()
            .fallback_service(
                tower_http::services::ServeDir::new(&self.pkg)
                    .precompressed_br()
                    .precompressed_gzip(),
            )
            .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static(cache),
            ))
    }
}

/// Request ids (kept from the client's `x-request-id` or made up), a log line
/// per request carrying that id, and compression.
fn with_http_layers(router: Router) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let trace = TraceLayer::new_for_http()
        .make_span_with(|request: &Request<Body>| {
            let id = request
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            // The path only: query strings can carry tokens.
            tracing::info_span!(
                "request",
                method = %request.method(),
                path = %request.uri().path(),
                request_id = %id,
            )
        })
        .on_response(DefaultOnResponse::new().level(Level::INFO));
    router
        // Applied per route, so the route pattern (`MatchedPath`) is known.
        .layer(middleware::from_fn(crate::metrics::track_requests))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                .layer(trace)
                .layer(PropagateRequestIdLayer::new(request_id))
                // Transcripts stream line by line: never held back to compress.
                .layer(CompressionLayer::new().compress_when(
                    DefaultPredicate::new().and(NotForContentType::const_new("application/x-ndjson")),
                )),
        )
}
