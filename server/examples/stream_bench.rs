//! Concurrent answer streams through the real server: `scripts/bench-streams.sh N…`
//! (or `cargo run --release -p weasel-server --example stream_bench -- 100 1000`).
//!
//! For each N it signs a user in, asks N questions at once (the in-process
//! Bedrock emulator answers, 240-odd text deltas each), and follows every
//! answer twice: directly from the solver, and as a browser does, over
//! server-sent events. For every text delta, the difference between the two
//! arrival times is the latency the server adds on the way to the browser
//! (session check, SSE framing, HTTP); p50/p99 are printed. Memory per open
//! stream is the growth of this process's resident memory (server, emulator
//! and clients together, so an upper bound) divided by N. It also prints what
//! the database was asked to write per answer.
//!
//! `--postgres` runs on a fresh PostgreSQL database (created and dropped
//! through `WEASEL_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`)
//! instead of SQLite.

#[path = "support/accounts.rs"]
mod accounts;
#[path = "support/postgres.rs"]
mod postgres;

use std::{
    collections::HashMap,
    sync::Arc,
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use futures_util::StreamExt;
use weasel_server::{config::Settings, solve::LiveEvent, startup::Application, storage::MessageId};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Offsets → arrival instants, as seen by the solver itself.
async fn direct(solver: Arc<weasel_server::solve::Solver>, id: MessageId) -> HashMap<usize, Instant> {
    let mut seen = HashMap::new();
    if let Ok(Some(subscription)) = solver.follow(id).await {
        let mut events = subscription.events;
        while let Ok(LiveEvent::Delta { offset, .. }) = events.recv().await {
            seen.insert(offset, Instant::now());
        }
    }
    seen
}

/// Offsets → arrival instants, over server-sent events.
async fn over_sse(client: reqwest::Client, url: String) -> HashMap<usize, Instant> {
    let mut seen = HashMap::new();
    let response = client.get(url).send().await.expect("SSE request");
    let mut body = response.bytes_stream();
    let mut buffer = Vec::<u8>::new();
    while let Some(Ok(chunk)) = body.next().await {
        let now = Instant::now();
        // Bytes first: a network chunk may end inside a multi-byte character.
        buffer.extend_from_slice(&chunk);
        while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
            let event = String::from_utf8_lossy(&buffer.drain(..end + 2).collect::<Vec<_>>()).into_owned();
            if event.contains("event: done") {
                return seen;
            }
            let delta = event
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .and_then(|data| serde_json::from_str::<serde_json::Value>(data).ok());
            if let Some(offset) = delta.and_then(|d| d["offset"].as_u64()) {
                seen.insert(offset as usize, now);
            }
        }
    }
    seen
}

async fn run(n: usize, postgres: bool) {
    let dir = tempfile_dir();
    let (db, pg_name) = if postgres {
        let (url, name) = postgres::create_database("weasel_bench").await;
        (url, Some(name))
    } else {
        (format!("sqlite://{}/bench.db?mode=rwc", dir.display()), None)
    };
    // Sign-up confirms the address by mail: a local sink receives it.
    let outbox = mail_sink::Outbox::default();
    let smtp = mail_sink::spawn_smtp("127.0.0.1:0".parse().unwrap(), outbox.clone())
        .await
        .expect("mail sink");
    let settings = Settings::from_lookup(|name| match name {
        "WEASEL_ADDR" => Some("127.0.0.1:0".into()),
        "WEASEL_SMTP_URL" => Some(format!("smtp://{smtp}")),
        "DATABASE_URL" => Some(db.clone()),
        "WEASEL_DB_MAX_CONNECTIONS" => Some("16".into()),
        "RUST_LOG" => Some("warn".into()),
        _ => None,
    })
    .expect("settings");
    let app = Application::build(&settings).await.expect("app");
    let addr = app.local_addr();
    let solver = app.solver();
    tokio::spawn(app.run_until(std::future::pending()));

    let client = reqwest::Client::builder()
        .cookie_store(true)
        .pool_max_idle_per_host(n + 10)
        .build()
        .unwrap();
    let url = |path: &str| format!("http://{addr}{path}");
    accounts::sign_up(&client, &format!("http://{addr}"), &outbox, "bench@example.com").await;

    let base_rss = rss_kib();
    let started = Instant::now();
    let asks = (0..n).map(|i| {
        let (client, ask) = (client.clone(), url("/api/ask"));
        async move {
            let question = format!("벤치마크 질문 {i} [[pace:40]]");
            let form = [("subject", "math"), ("question", question.as_str())];
            let asked: serde_json::Value = client
                .post(ask)
                .form(&form)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            MessageId(asked["answer"].as_i64().expect("answer id"))
        }
    });
    let ids: Vec<MessageId> = futures_util::future::join_all(asks).await;
    let followers: Vec<_> = ids
        .iter()
        .map(|&id| {
            let direct = tokio::spawn(direct(solver.clone(), id));
            let sse = tokio::spawn(over_sse(
                client.clone(),
                url(&format!("/api/answers/{}/events", id.0)),
            ));
            (direct, sse)
        })
        .collect();
    // Resident memory while all streams are open.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let open_rss = rss_kib();
    let open_now = solver.active();

    let mut added = Vec::new();
    let mut events = 0usize;
    for (direct, sse) in followers {
        let (direct, sse) = (direct.await.unwrap(), sse.await.unwrap());
        for (offset, at) in &sse {
            events += 1;
            if let Some(seen) = direct.get(offset) {
                added.push(at.saturating_duration_since(*seen));
            }
        }
    }
    added.sort();
    // What the database was asked to write for these answers: the flusher's
    // chunks while they streamed, then each answer's row once, complete.
    let storage = solver.storage();
    let user = storage
        .user_by_email("bench@example.com")
        .await
        .unwrap()
        .expect("bench user")
        .id;
    let mut final_bytes = 0usize;
    for id in &ids {
        final_bytes += storage
            .message_of(user, *id)
            .await
            .unwrap()
            .map_or(0, |m| m.content.len());
    }
    let flushed = solver.flush_stats();
    let (flushes, chunks, chunk_bytes) = (
        flushed.transactions.load(Ordering::Relaxed),
        flushed.chunks.load(Ordering::Relaxed),
        flushed.bytes.load(Ordering::Relaxed) as usize,
    );
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{} N={n:>5}: {events} delta events in {:.1} s; added latency per event p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms; \
         {open_now} streams open at the sample; memory {:.1} KiB per open stream (RSS {} → {} KiB)",
        if postgres { "PostgreSQL" } else { "SQLite" },
        started.elapsed().as_secs_f64(),
        ms(percentile(&added, 0.5)),
        ms(percentile(&added, 0.99)),
        ms(*added.last().unwrap_or(&Duration::ZERO)),
        (open_rss.saturating_sub(base_rss)) as f64 / n.max(1) as f64,
        base_rss,
        open_rss,
    );
    println!(
        "        database: {flushes} flush transactions for all {n} answers; per answer {:.1} chunk rows, \
         {:.0} bytes written for {:.0} bytes of text (write amplification {:.2}), its row written once at the end",
        chunks as f64 / n.max(1) as f64,
        (chunk_bytes + final_bytes) as f64 / n.max(1) as f64,
        final_bytes as f64 / n.max(1) as f64,
        (chunk_bytes + final_bytes) as f64 / final_bytes.max(1) as f64,
    );
    let _ = std::fs::remove_dir_all(dir);
    if let Some(name) = pg_name {
        postgres::drop_database(&name).await;
    }
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("weasel-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[tokio::main]
async fn main() {
    let postgres = std::env::args().any(|a| a == "--postgres");
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    for n in if sizes.is_empty() { vec![100, 1000] } else { sizes } {
        run(n, postgres).await;
    }
}
