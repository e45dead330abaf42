//! The boundary between the UI's server functions and the server's services.
//!
//! Server functions stay thin: they take a [`Services`] from the Leptos
//! context and call it. The server crate implements these traits on top of its
//! storage and providers, so this crate never depends on sqlx or AWS.

use std::sync::Arc;

use leptos::prelude::*;

use crate::api::ServiceStatus;

#[async_trait::async_trait]
pub trait Health: Send + Sync {
    /// Checks the database and reports the service's state.
    async fn status(&self) -> ServiceStatus;
}

/// Everything a server function may call, provided to every request.
#[derive(Clone)]
pub struct Services {
    pub health: Arc<dyn Health>,
}

/// The request's services; an error (never a panic) if the server forgot them.
pub fn services() -> Result<Services, ServerFnError> {
    use_context::<Services>()
        .ok_or_else(|| ServerFnError::ServerError("services missing from context".into()))
}
