//! Prometheus metrics. They are served on a listener of their own
//! (`WEASEL_METRICS_ADDR`), never on the public port: the Service exposes it
//! to Prometheus inside the cluster while the Ingress only routes the app.
//!
//! Names follow Prometheus conventions (`_total` counters, `_seconds`
//! histograms). Gauges that describe the present (streams, pool) are read at
//! scrape time rather than kept up to date on every change.

use std::{
    net::SocketAddr,
    sync::{Arc, OnceLock},
    time::{Duration, Instant},
};

use axum::{
    Router,
    extract::{MatchedPath, Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

use crate::{
    solve::Solver,
    storage::{AnswerOutcome, MessageStatus, Storage},
};

/// Seconds: from a fast page to the slowest first token worth measuring,
/// finer around the quarter second a first token must beat.
const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.35, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The process-wide recorder. `metrics` has one global recorder, so every
/// `Application` in a process (the tests start many) shares it.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
            .expect("the bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Fails only when another recorder is installed; then ours stays empty
        // but the process keeps working.
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics will be empty");
        }
        handle
    })
}

/// Measures, ten times a second, how long a task woken from outside the
/// runtime waits for one of its workers: `weasel_runtime_wake_delay_seconds`.
/// Every database reply (SQLite's connection threads) and every new task
/// from another thread waits this long before it runs again, so under load
/// it tells a busy runtime apart from a slow database. One thread per
/// process, started by `main` (not by the tests, whose runtimes come and go).
pub fn spawn_wake_probe(runtime: tokio::runtime::Handle) {
    let probe = move || {
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let woken = Instant::now();
            runtime.spawn(async move {
                metrics::histogram!("weasel_runtime_wake_delay_seconds")
                    .record(woken.elapsed().as_secs_f64());
            });
        }
    };
    if let Err(err) = std::thread::Builder::new().name("wake-probe".into()).spawn(probe) {
        tracing::warn!(error = %err, "cannot start the runtime's wake probe");
    }
}

/// Counts every request and times it to its response head, labelled by the
/// route pattern (`/c/{id}`, never the id: labels must stay few).
pub async fn track_requests(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("weasel_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("weasel_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// What one finished answer cost and how it went.
pub fn record_answer(status: MessageStatus, outcome: &AnswerOutcome) {
    metrics::counter!("weasel_answers_total", "status" => status.as_str()).increment(1);
    if let Some(ms) = outcome.first_token_ms {
        metrics::histogram!("weasel_time_to_first_token_seconds").record(ms as f64 / 1000.0);
    }
    metrics::counter!("weasel_model_tokens_total", "direction" => "input")
        .increment(outcome.input_tokens.max(0) as u64);
    metrics::counter!("weasel_model_tokens_total", "direction" => "output")
        .increment(outcome.output_tokens.max(0) as u64);
    metrics::counter!("weasel_model_tokens_total", "direction" => "cache_read")
        .increment(outcome.cache_read_tokens.max(0) as u64);
    metrics::counter!("weasel_model_tokens_total", "direction" => "cache_write")
        .increment(outcome.cache_write_tokens.max(0) as u64);
    metrics::counter!("weasel_answer_cost_microdollars_total").increment(outcome.cost_micros.max(0) as u64);
    if let Some(kind) = &outcome.error {
        metrics::counter!("weasel_model_errors_total", "kind" => kind.clone()).increment(1);
    }
}

/// A signed-in request's session or user (`what`), served from memory or
/// read from the database (`auth::cache`).
pub fn record_auth_load(what: &'static str, from_memory: bool) {
    let from = if from_memory { "memory" } else { "database" };
    metrics::counter!("weasel_auth_loads_total", "what" => what, "from" => from).increment(1);
}

/// One flush of streaming text: one journal row holding `chunks` pieces, `bytes` long encoded.
pub fn record_flush(chunks: usize, bytes: usize) {
    metrics::counter!("weasel_answer_flushes_total").increment(1);
    metrics::counter!("weasel_answer_chunks_written_total").increment(chunks as u64);
    metrics::counter!("weasel_answer_chunk_bytes_total").increment(bytes as u64);
}

/// An answer's row written at its end (and indexed for search, once).
pub fn record_answer_row(bytes: usize) {
    metrics::counter!("weasel_answer_rows_written_total").increment(1);
    metrics::counter!("weasel_answer_row_bytes_total").increment(bytes as u64);
}

#[derive(Clone)]
struct Scrape {
    storage: Storage,
    solver: Arc<Solver>,
}

/// The `/metrics` router for the private listener.
fn router(storage: Storage, solver: Arc<Solver>) -> Router {
    Router::new()
        .route("/metrics", get(render))
        .with_state(Scrape { storage, solver })
}

async fn render(State(scrape): State<Scrape>) -> impl IntoResponse {
    let (open, idle) = scrape.storage.pool_usage();
    metrics::gauge!("weasel_db_pool_connections", "state" => "idle").set(idle as f64);
    metrics::gauge!("weasel_db_pool_connections", "state" => "in_use")
        .set(open.saturating_sub(idle as u32) as f64);
    metrics::gauge!("weasel_answers_streaming").set(scrape.solver.active() as f64);
    // The day's spending is in the database, shared by every replica: each
    // reports the same figures (alert on max, not sum).
    let day = crate::spending::day_of(time::OffsetDateTime::now_utc());
    match scrape.storage.day_totals(&day).await {
        Ok(totals) => {
            metrics::gauge!("weasel_spend_usd_today").set(totals.spent_micros as f64 / 1e6);
            metrics::gauge!("weasel_spend_reserved_usd_today").set(totals.reserved_micros as f64 / 1e6);
            let budget = scrape.solver.daily_limits().budget_micros;
            metrics::gauge!("weasel_budget_usd_daily").set(budget as f64 / 1e6);
            if budget > 0 {
                let left = budget - totals.spent_micros - totals.reserved_micros;
                metrics::gauge!("weasel_budget_usd_remaining").set(left.max(0) as f64 / 1e6);
            }
        }
        Err(err) => tracing::warn!(error = %err, "cannot read today's spending for /metrics"),
    }
    let handle = handle();
    handle.run_upkeep();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        handle.render(),
    )
}

/// Serves `/metrics` on its own listener until the process ends.
pub fn spawn(listener: TcpListener, storage: Storage, solver: Arc<Solver>) -> SocketAddr {
    let addr = listener.local_addr().unwrap_or_else(|_| ([0, 0, 0, 0], 0).into());
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, router(storage, solver)).await {
            tracing::error!(error = %err, "the metrics listener stopped");
        }
    });
    addr
}
