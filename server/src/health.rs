//! Liveness and readiness: `/healthz` says the process answers, `/readyz` that
//! it can also reach its database (load balancers stop sending traffic when not).

use std::time::Duration;

use app::api::ServiceStatus;
use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde_json::json;

use crate::storage::Storage;

/// A readiness probe must answer quickly even when the database hangs.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

pub async fn readyz(State(storage): State<Storage>) -> impl IntoResponse {
    if database_ok(&storage).await {
        (
            StatusCode::OK,
            Json(json!({ "status": "ready", "database": "ok" })),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "database": "unreachable" })),
        )
    }
}

async fn database_ok(storage: &Storage) -> bool {
    match tokio::time::timeout(PING_TIMEOUT, storage.ping()).await {
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
            database_ok: database_ok(&self.storage).await,
        }
    }
}
