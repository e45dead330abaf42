//! Liveness and readiness: `/healthz` says the process answers, `/readyz` that
//! it can also reach its database (load balancers stop sending traffic when not).

use std::{sync::Arc, time::Duration};

use app::api::ServiceStatus;
use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde_json::json;

use crate::{solve::Solver, storage::Storage};

/// A readiness probe must answer quickly even when the database hangs.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Ready when the database answers, took this process's last heartbeat
/// write, and the process is not shutting down.
pub async fn readyz(State(solver): State<Arc<Solver>>) -> impl IntoResponse {
    if solver.draining() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "draining", "database": "ok" })),
        );
    }
    if !database_ok(solver.ping()).await {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "database": "unreachable" })),
        );
    }
    if !solver.ready() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "database": "read-only" })),
        );
    }
    (
        StatusCode::OK,
        Json(json!({ "status": "ready", "database": "ok" })),
    )
}

/// Whether `ping` (one round trip to the database) succeeds in time.
async fn database_ok(ping: impl Future<Output = Result<(), crate::storage::StorageError>>) -> bool {
    match tokio::time::timeout(PING_TIMEOUT, ping).await {
        Ok(Ok(())) => true,
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "database ping failed");
            false
        }
        Err(_) => {
            tracing::warn!("database ping timed out");
            false
        }
    }
}

/// The [`app::ports::Health`] port, answered from storage.
pub struct HealthService {
    pub storage: Storage,
}

#[async_trait::async_trait]
impl app::ports::Health for HealthService {
    async fn status(&self) -> ServiceStatus {
        ServiceStatus {
            version: env!("CARGO_PKG_VERSION").to_string(),
            database: self.storage.kind(),
            database_ok: database_ok(self.storage.ping()).await,
        }
    }
}
