//! Types shared by server and browser, and the server functions that carry them.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Which database the server runs on, shown to the user as a plain name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

impl DatabaseKind {
    pub fn label(self) -> &'static str {
        match self {
            DatabaseKind::Sqlite => "SQLite",
            DatabaseKind::Postgres => "PostgreSQL",
        }
    }
}

/// What the status line at the bottom of every page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceStatus {
    pub version: String,
    pub database: DatabaseKind,
    pub database_ok: bool,
}

/// Asks the server whether it and its database are healthy.
#[server(prefix = "/api", endpoint = "status")]
pub async fn check_status() -> Result<ServiceStatus, ServerFnError> {
    let services = crate::ports::services()?;
    Ok(services.health.status().await)
}
