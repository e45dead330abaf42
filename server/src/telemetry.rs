//! Structured logging with `tracing`: readable in development, JSON in production.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber. A second call (as in tests) is a no-op.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_new(&settings.filter).unwrap_or_else(|err| {
        eprintln!(
            "RUST_LOG '{}' is not a valid filter ({err}); using 'info'",
            settings.filter
        );
        EnvFilter::new("info")
    });
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match settings.format {
        // Colours only on a terminal, so log files stay plain text.
        LogFormat::Pretty => registry
            .with(fmt::layer().with_ansi(std::io::stdout().is_terminal()))
            .try_init(),
        LogFormat::Json => registry
            .with(fmt::layer().json().flatten_event(true).with_current_span(true))
            .try_init(),
    };
}
