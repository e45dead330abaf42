//! Builds the whole application: one function for `main` and for the tests.

use std::{future::Future, io, net::SocketAddr, sync::Arc};

use app::{App, ports::Services, shell};
use axum::{
    Router,
    body::Body,
    extract::FromRef,
    http::{HeaderName, Request},
    routing::get,
};
use leptos::{
    config::{Env, LeptosOptions},
    prelude::provide_context,
};
use leptos_axum::{LeptosRoutes, file_and_error_handler_with_context, generate_route_list};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::{
    compression::CompressionLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;

use crate::{
    config::{Environment, Settings},
    health::{self, HealthService},
    storage::{Storage, StorageError},
};

/// State shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub storage: Storage,
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
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
}

/// A bound, ready-to-run server. Binding happens in [`Application::build`], so
/// with port 0 the tests learn the real port before the server runs.
pub struct Application {
    listener: TcpListener,
    router: Router,
    storage: Storage,
    local_addr: SocketAddr,
}

impl Application {
    pub async fn build(settings: &Settings) -> Result<Self, StartupError> {
        let storage = Storage::connect(&settings.database).await?;
        let addr = settings.listen_addr;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartupError::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { addr, source })?;
        let router = router(settings, storage.clone(), local_addr);
        Ok(Application {
            listener,
            router,
            storage,
            local_addr,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish
    /// and closes the database pool.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> io::Result<()> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await?;
        self.storage.close().await;
        Ok(())
    }
}

fn router(settings: &Settings, storage: Storage, local_addr: SocketAddr) -> Router {
    let leptos_options = LeptosOptions::builder()
        .output_name(app::OUTPUT_NAME)
        .site_root(settings.site_root.to_string_lossy().as_ref())
        .site_pkg_dir("pkg")
        .site_addr(local_addr)
        .env(match settings.environment {
            Environment::Development => Env::DEV,
            Environment::Production => Env::PROD,
        })
        .build();
    let services = Services {
        health: Arc::new(HealthService {
            storage: storage.clone(),
        }),
    };
    let provide_services = move || provide_context(services.clone());
    let state = AppState {
        leptos_options,
        storage,
    };

    let app_fn = {
        let options = state.leptos_options.clone();
        move || shell(options.clone())
    };
    let router = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .leptos_routes_with_context(&state, generate_route_list(App), provide_services.clone(), app_fn)
        .fallback(file_and_error_handler_with_context::<AppState, _>(
            provide_services,
            shell,
        ))
        .with_state(state);
    with_http_layers(router)
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
    router.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
            .layer(trace)
            .layer(PropagateRequestIdLayer::new(request_id))
            .layer(CompressionLayer::new()),
    )
}
