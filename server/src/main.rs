use std::process::ExitCode;

use weasel_server::{config::Settings, startup::Application, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    // A `.env` file in the working directory is honoured (development); real
    // environment variables always win over it.
    let _ = dotenvy::dotenv();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("weasel: configuration error: {err}");
            return ExitCode::from(2);
        }
    };
    if std::env::args().nth(1).as_deref() == Some("healthcheck") {
        return healthcheck(&settings).await;
    }
    telemetry::init(&settings.log);
    tracing::debug!(?settings, "configuration");
    weasel_server::metrics::spawn_wake_probe(tokio::runtime::Handle::current());

    let app = match Application::build(&settings).await {
        Ok(app) => app,
        Err(err) => {
            tracing::error!(error = %err, "startup failed");
            eprintln!("weasel: startup failed: {err}");
            return ExitCode::FAILURE;
        }
    };
    let mut url = settings.public_url.clone();
    if settings.listen_addr.port() == 0 {
        let _ = url.set_port(Some(app.local_addr().port()));
    }
    // Listening for SIGTERM before saying ready: a signal that comes right
    // after is a clean shutdown, never the default (the process killed).
    let shutdown = shutdown_signal();
    tracing::info!(addr = %app.local_addr(), "Weasel is ready at {url}");

    match app.run_until(shutdown).await {
        Ok(()) => {
            tracing::info!("shut down cleanly");
            ExitCode::SUCCESS
        }
        Err(err) => {
            tracing::error!(error = %err, "server stopped with an error");
            ExitCode::FAILURE
        }
    }
}

/// Completes on Ctrl-C or SIGTERM (what Kubernetes sends before killing a
/// pod). The signals are caught from the call on, not from the first poll.
fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (mut terminate, mut interrupt) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::interrupt()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let terminate = async {
                match terminate.as_mut() {
                    Some(signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let interrupt = async {
                match interrupt.as_mut() {
                    Some(signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = interrupt => {},
                () = terminate => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutdown requested; finishing in-flight requests");
    }
}

/// `weasel-server healthcheck`: asks the running server's `/healthz` on its
/// own port. The runtime image has no shell or curl, so Docker's HEALTHCHECK
/// runs the binary itself.
async fn healthcheck(settings: &Settings) -> ExitCode {
    let mut addr = settings.listen_addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(2))
        .build();
    let response = match client {
        Ok(client) => client.get(format!("http://{addr}/healthz")).send().await,
        Err(err) => Err(err),
    };
    match response {
        Ok(r) if r.status().is_success() => ExitCode::SUCCESS,
        Ok(r) => {
            eprintln!("weasel: /healthz answered {}", r.status());
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("weasel: /healthz unreachable at {addr}: {err}");
            ExitCode::FAILURE
        }
    }
}
