//! What a browser sees of many concurrent answers: `scripts/bench-streams.sh`.
//!
//! `answer_bench --server target/release/weasel-server [--n 100,1000]
//! [--rate 25,60] [--db sqlite,postgres] [--bytes 2000-9000] [--ramp 10]
//! [--auth-cache SECONDS] [--students COUNT] [--no-floor] [--keep]`
//!
//! For each combination it starts the real server binary as a process of its
//! own, on a new database, pointed at a Bedrock emulator in this process
//! (`WEASEL_BEDROCK_ENDPOINT_URL`, the AWS SDK path production uses). It asks
//! N questions over HTTP, spread evenly over the ramp, each for a Korean
//! explanation of a length drawn from `--bytes`, streamed at `--rate`
//! tokens (text deltas) per second, and reads every answer's events over
//! HTTP as a browser does. The emulator notes when it hands each delta to
//! the connection; the reader notes when the event carrying that text
//! arrives. It prints:
//! - added latency per event (arrival − emulator send) p50/p99/max;
//! - time-to-first-token overhead: the reader's wait from asking to the first
//!   text, minus the emulator's own wait from the request to its first delta;
//! - the server's resident memory per open stream, CPU seconds per answer;
//! - database writes per answer: journal pieces and their encoded bytes
//!   (the server's counters), bytes written to disk (SQLite: the process's write_bytes;
//!   PostgreSQL: WAL bytes, and with them the table and index pages it
//!   wrote; both after a checkpoint), and write amplification = bytes
//!   written ÷ final size;
//! - answers complete, lost, and whether every reader's text equals the
//!   emulator's, byte for byte.
//!
//! Before the server runs, the same load goes straight to the emulator
//! through the AWS SDK: that floor is this generator's own latency (it runs
//! on the same cores), printed so it can be told apart from the server's.

#[path = "support/accounts.rs"]
mod accounts;
#[path = "support/client.rs"]
mod client;
#[path = "support/postgres.rs"]
mod postgres;

use std::{
    collections::HashMap,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use aws_sdk_bedrockruntime::types::{ContentBlock, ConversationRole, ConverseStreamOutput, Message};
use base64::Engine;
use bedrock_emulator::Sent;
use client::{free_port, percentile, read_answer};
use futures_util::StreamExt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

struct Options {
    server: PathBuf,
    sizes: Vec<usize>,
    rates: Vec<u64>,
    backends: Vec<Backend>,
    bytes: (usize, usize),
    ramp: Duration,
    floor: bool,
    /// `WEASEL_AUTH_CACHE_SECS` for the server; its default when `None`.
    auth_cache: Option<u64>,
    /// How many students ask (answers are dealt round-robin).
    students: Option<usize>,
    /// Keep each run's directory (SQLite's files, the server's log).
    keep: bool,
}

fn list<T: std::str::FromStr>(value: &str, what: &str) -> Vec<T> {
    value
        .split(',')
        .map(|v| v.trim().parse().unwrap_or_else(|_| panic!("{what}: '{v}'")))
        .collect()
}

fn options() -> Options {
    let mut options = Options {
        server: PathBuf::from("target/release/weasel-server"),
        sizes: vec![100, 1000],
        rates: vec![25],
        backends: vec![Backend::Sqlite, Backend::Postgres],
        bytes: (2_000, 9_000),
        ramp: Duration::from_secs(10),
        floor: true,
        auth_cache: None,
        students: None,
        keep: false,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        if flag == "--no-floor" {
            options.floor = false;
            continue;
        }
        if flag == "--keep" {
            options.keep = true;
            continue;
        }
        let value = args.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--server" => options.server = value.into(),
            "--n" => options.sizes = list(value, "--n"),
            "--rate" => options.rates = list(value, "--rate"),
            "--db" => {
                options.backends = value
                    .split(',')
                    .map(|v| match v {
                        "sqlite" => Backend::Sqlite,
                        "postgres" => Backend::Postgres,
                        other => panic!("--db: '{other}' is not sqlite or postgres"),
                    })
                    .collect()
            }
            "--bytes" => {
                let (low, high) = value.split_once('-').unwrap_or((value, value));
                options.bytes = (
                    low.parse().expect("--bytes LOW-HIGH"),
                    high.parse().expect("--bytes LOW-HIGH"),
                );
            }
            "--ramp" => options.ramp = Duration::from_secs_f64(value.parse().expect("--ramp SECONDS")),
            "--auth-cache" => options.auth_cache = Some(value.parse().expect("--auth-cache SECONDS")),
            "--students" => options.students = Some(value.parse().expect("--students COUNT")),
            other => panic!("unknown option {other}"),
        }
    }
    options
}

/// When the emulator sent what, per question number.
#[derive(Default)]
struct Sends {
    /// The question as the model received it.
    question: String,
    requested: Option<Instant>,
    /// After each delta: the answer's bytes sent so far, and when.
    text: Vec<(usize, Instant)>,
}

type SendLog = Arc<Mutex<HashMap<usize, Sends>>>;

/// The question number in a `[[q:N]]` marker.
fn question_number(text: &str) -> Option<usize> {
    text.split("[[q:").nth(1)?.split("]]").next()?.parse().ok()
}

fn question(i: usize, bytes: usize, pace_ms: u64) -> String {
    format!("벤치마크 {i}번: 지문을 읽고 물음에 답하시오. [[q:{i}]] [[bytes:{bytes}]] [[pace:{pace_ms}]]")
}

/// Answer lengths drawn evenly from `low..=high`, the same for every run.
fn lengths(n: usize, (low, high): (usize, usize)) -> Vec<usize> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            low + (state % (high - low + 1) as u64) as usize
        })
        .collect()
}

/// What one process has used: resident KiB, CPU seconds, bytes it caused to
/// be written to storage.
struct Usage {
    rss_kib: u64,
    cpu_s: f64,
    write_bytes: u64,
}

fn usage(pid: u32, ticks_per_s: f64) -> Usage {
    let read = |name: &str| std::fs::read_to_string(format!("/proc/{pid}/{name}")).unwrap_or_default();
    let status = read("status");
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    // Fields after the command's closing parenthesis; utime and stime are the
    // 12th and 13th of them.
    let stat = read("stat");
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let tick = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    let write_bytes = io_write_bytes(&read("io"));
    Usage {
        rss_kib,
        cpu_s: (tick(11) + tick(12)) / ticks_per_s,
        write_bytes,
    }
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0)
}

/// A counter's value in Prometheus text.
fn counter(metrics: &str, name: &str) -> f64 {
    counter_with(metrics, name, "")
}

/// A counter's value summed over the series whose labels contain `labels`.
fn counter_with(metrics: &str, name: &str, labels: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']) && l.contains(labels))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A histogram's cumulative buckets `(le, count)` in Prometheus text, summed
/// over the series whose labels contain `labels`.
fn buckets(metrics: &str, name: &str, labels: &str) -> Vec<(f64, f64)> {
    let mut buckets: Vec<(f64, f64)> = vec![];
    let prefix = format!("{name}_bucket{{");
    for line in metrics
        .lines()
        .filter(|l| l.starts_with(&prefix) && l.contains(labels))
    {
        let le = line
            .split("le=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .map(|le| {
                if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap_or(f64::NAN)
                }
            });
        let count = line.rsplit(' ').next().and_then(|c| c.parse::<f64>().ok());
        if let (Some(le), Some(count)) = (le, count) {
            match buckets.iter_mut().find(|(l, _)| *l == le) {
                Some(bucket) => bucket.1 += count,
                None => buckets.push((le, count)),
            }
        }
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    buckets
}

/// What a histogram recorded between two scrapes: how many, how many over
/// `over` seconds, and the bucket bound its p99 lies under.
fn histogram_between(before: &str, after: &str, name: &str, labels: &str, over: f64) -> String {
    let (b, a) = (buckets(before, name, labels), buckets(after, name, labels));
    let count_at =
        |buckets: &[(f64, f64)], le: f64| buckets.iter().find(|(l, _)| *l == le).map_or(0.0, |(_, c)| *c);
    let delta: Vec<(f64, f64)> = a.iter().map(|(le, c)| (*le, c - count_at(&b, *le))).collect();
    let total = delta.last().map_or(0.0, |(_, c)| *c);
    if total == 0.0 {
        return "none recorded".into();
    }
    let within = delta.iter().rfind(|(le, _)| *le <= over).map_or(0.0, |(_, c)| *c);
    let p99 = delta
        .iter()
        .find(|(_, c)| *c >= total * 0.99)
        .map_or(f64::INFINITY, |(le, _)| *le);
    format!(
        "{total:.0}, {:.0} over {:.0} ms, p99 ≤ {} ms",
        total - within,
        over * 1000.0,
        if p99.is_finite() {
            format!("{:.0}", p99 * 1000.0)
        } else {
            "∞".into()
        }
    )
}

/// The kernel's TCP counters that show connections waiting to be accepted
/// (`/proc/net/netstat`): listen-queue overflows and drops, SYN retransmits.
fn tcp_counters() -> HashMap<String, i64> {
    let text = std::fs::read_to_string("/proc/net/netstat").unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let mut counters = HashMap::new();
    for pair in lines.chunks(2) {
        if let [names, values] = pair {
            for (name, value) in names.split_whitespace().zip(values.split_whitespace()).skip(1) {
                if let Ok(value) = value.parse() {
                    counters.insert(name.to_string(), value);
                }
            }
        }
    }
    counters
}

/// Latency figures: p50 / p99 / max in milliseconds.
fn spread(mut values: Vec<Duration>) -> String {
    values.sort();
    format!(
        "p50 {:.1} / p99 {:.1} / max {:.1} ms",
        percentile(&values, 0.5),
        percentile(&values, 0.99),
        percentile(&values, 1.0)
    )
}

fn p99(values: &[Duration]) -> f64 {
    let mut values = values.to_vec();
    values.sort();
    percentile(&values, 0.99)
}

struct Emulator {
    addr: std::net::SocketAddr,
    log: SendLog,
}

async fn emulator() -> Emulator {
    let log = SendLog::default();
    let recorder = {
        let log = log.clone();
        Arc::new(move |last: &str, sent: Sent| {
            let now = Instant::now();
            if let Some(i) = question_number(last) {
                let mut log = log.lock().unwrap();
                let sends = log.entry(i).or_default();
                match sent {
                    Sent::Request => {
                        sends.requested = Some(now);
                        sends.question = last.to_string();
                    }
                    Sent::Text { end } => sends.text.push((end, now)),
                }
            }
        })
    };
    let config = bedrock_emulator::Config {
        recorder: Some(recorder),
        ..Default::default()
    };
    let addr = bedrock_emulator::spawn("127.0.0.1:0".parse().unwrap(), config)
        .await
        .expect("emulator");
    Emulator { addr, log }
}

/// When each question of a run is asked: evenly over the ramp.
fn start_at(i: usize, n: usize, ramp: Duration) -> Duration {
    ramp.mul_f64(i as f64 / n.max(1) as f64)
}

/// The generator and emulator alone: the same load through the AWS SDK,
/// straight to the emulator. Added latency per delta (arrival − send).
async fn floor(n: usize, pace_ms: u64, options: &Options) {
    let emulator = emulator().await;
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(format!("http://{}", emulator.addr))
        .credentials_provider(aws_sdk_bedrockruntime::config::Credentials::new(
            "bench", "bench", None, None, "static",
        ))
        .load()
        .await;
    let sdk = aws_sdk_bedrockruntime::Client::new(&config);
    let lengths = lengths(n, options.bytes);
    let started = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (sdk, text, wait) = (
                sdk.clone(),
                question(i, lengths[i], pace_ms),
                start_at(i, n, options.ramp),
            );
            tokio::spawn(async move {
                tokio::time::sleep_until((started + wait).into()).await;
                let message = Message::builder()
                    .role(ConversationRole::User)
                    .content(ContentBlock::Text(text))
                    .build()
                    .expect("a message");
                let mut arrivals = vec![];
                let Ok(output) = sdk
                    .converse_stream()
                    .model_id("global.anthropic.claude-sonnet-4-6")
                    .messages(message)
                    .send()
                    .await
                else {
                    return None;
                };
                let mut stream = output.stream;
                let mut bytes = 0;
                while let Ok(Some(event)) = stream.recv().await {
                    if let ConverseStreamOutput::ContentBlockDelta(delta) = event
                        && let Some(aws_sdk_bedrockruntime::types::ContentBlockDelta::Text(text)) =
                            delta.delta
                    {
                        bytes += text.len();
                        arrivals.push((bytes, Instant::now()));
                    }
                }
                Some(arrivals)
            })
        })
        .collect();
    let (mut added, mut failed) = (vec![], 0);
    for (i, task) in tasks.into_iter().enumerate() {
        let Some(arrivals) = task.await.ok().flatten() else {
            failed += 1;
            continue;
        };
        let log = emulator.log.lock().unwrap();
        let sent: HashMap<usize, Instant> = log
            .get(&i)
            .map(|s| s.text.iter().copied().collect())
            .unwrap_or_default();
        added.extend(
            arrivals
                .iter()
                .filter_map(|(end, at)| Some(at.saturating_duration_since(*sent.get(end)?))),
        );
    }
    println!(
        "  floor (generator → emulator directly, no server): {} events, added latency {}{}",
        added.len(),
        spread(added),
        if failed > 0 {
            format!("; {failed} streams failed")
        } else {
            String::new()
        }
    );
}

struct Server {
    child: Child,
    base: String,
    metrics: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_server(
    options: &Options,
    database_url: &str,
    emulator: &Emulator,
    smtp: std::net::SocketAddr,
    dir: &std::path::Path,
) -> Server {
    let (port, metrics_port) = (free_port(), free_port());
    let log = std::fs::File::create(dir.join("server.log")).expect("server log");
    let mut command = Command::new(&options.server);
    command.env_clear();
    // Settings an experiment may vary, passed on from the benchmark's own environment.
    for name in ["WEASEL_SQLITE_CHECKPOINT_PAGES", "WEASEL_DB_MAX_CONNECTIONS"] {
        if let Ok(value) = std::env::var(name) {
            command.env(name, value);
        }
    }
    if let Some(secs) = options.auth_cache {
        command.env("WEASEL_AUTH_CACHE_SECS", secs.to_string());
    }
    #[expect(
        clippy::zombie_processes,
        reason = "the Server that owns it waits for it when dropped"
    )]
    let child = command
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("WEASEL_ADDR", format!("127.0.0.1:{port}"))
        .env("WEASEL_METRICS_ADDR", format!("127.0.0.1:{metrics_port}"))
        .env("WEASEL_SMTP_URL", format!("smtp://{smtp}"))
        .env("WEASEL_MODEL_PROVIDER", "bedrock")
        .env("WEASEL_BEDROCK_ENDPOINT_URL", format!("http://{}", emulator.addr))
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_REGION", "us-east-1")
        .env("RUST_LOG", "warn")
        // Fixed, so that sessions outlive a restart of the server.
        .env(
            "WEASEL_SESSION_KEY",
            base64::engine::general_purpose::STANDARD.encode([7u8; 64]),
        )
        // Each student comes from an address of its own (sign-up is
        // limited per address).
        .env("WEASEL_TRUST_FORWARDED_FOR", "true")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("the server starts");
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..600 {
        if let Ok(r) = reqwest::get(format!("{base}/readyz")).await
            && r.status().is_success()
        {
            return Server {
                child,
                base,
                metrics: format!("http://127.0.0.1:{metrics_port}/metrics"),
            };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the server was not ready in 60 s; see {}",
        dir.join("server.log").display()
    );
}

/// The database's own count of bytes written: WAL bytes on PostgreSQL.
async fn wal_bytes(database_url: &str) -> Option<u64> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(database_url).await.ok()?;
    sqlx::query_scalar::<_, i64>("SELECT wal_bytes::bigint FROM pg_stat_wal")
        .fetch_one(&mut conn)
        .await
        .ok()
        .map(|b| b as u64)
}

/// Bytes of table and index pages PostgreSQL has written (by its
/// checkpointer, its background writer and its backends), after a
/// `CHECKPOINT`: the pages a run dirtied are then on disk, not waiting in
/// shared buffers. With its WAL, what the database wrote, as SQLite's
/// process count below is.
async fn postgres_page_bytes(database_url: &str) -> Option<u64> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(database_url).await.ok()?;
    sqlx::query("CHECKPOINT").execute(&mut conn).await.ok()?;
    sqlx::query_scalar::<_, i64>(
        "SELECT (buffers_checkpoint + buffers_clean + buffers_backend) * current_setting('block_size')::bigint
         FROM pg_stat_bgwriter",
    )
    .fetch_one(&mut conn)
    .await
    .ok()
    .map(|b| b as u64)
}

/// SQLite: copies what the WAL holds into the database file, as the
/// server's next automatic checkpoint would, from this process; the bytes
/// that took. Without it a run would not pay for the pages it left in the WAL.
async fn sqlite_checkpoint_bytes(database_url: &str) -> u64 {
    use sqlx::Connection;
    let before = io_write_bytes(&std::fs::read_to_string("/proc/self/io").unwrap_or_default());
    if let Ok(mut conn) = sqlx::SqliteConnection::connect(database_url).await {
        let _ = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut conn)
            .await;
        let _ = conn.close().await;
    }
    io_write_bytes(&std::fs::read_to_string("/proc/self/io").unwrap_or_default()).saturating_sub(before)
}

fn io_write_bytes(io: &str) -> u64 {
    io.lines()
        .find_map(|l| l.strip_prefix("write_bytes:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

async fn run(n: usize, rate: u64, backend: Backend, options: &Options) -> bool {
    let pace_ms = (1000 / rate.max(1)).max(1);
    println!(
        "{backend:?}, N = {n}, {:.0} tokens/s, answers of {}–{} bytes, asked over {:.0} s:",
        1000.0 / pace_ms as f64,
        options.bytes.0,
        options.bytes.1,
        options.ramp.as_secs_f64()
    );
    if options.floor {
        floor(n, pace_ms, options).await;
    }
    let dir = std::env::temp_dir().join(format!("weasel-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("work directory");
    let (database_url, pg_name) = match backend {
        Backend::Sqlite => (format!("sqlite://{}/bench.db?mode=rwc", dir.display()), None),
        Backend::Postgres => {
            let (url, name) = postgres::create_database("weasel_bench").await;
            (url, Some(name))
        }
    };
    let emulator = emulator().await;
    let outbox = mail_sink::Outbox::default();
    let smtp = mail_sink::spawn_smtp("127.0.0.1:0".parse().unwrap(), outbox.clone())
        .await
        .expect("mail sink");
    let mut server = start_server(options, &database_url, &emulator, smtp, &dir).await;

    // Students share the load, each with a connection pool and an address
    // of its own, like browsers: by default a few (up to 4), `--students`.
    let students: Vec<reqwest::Client> = {
        let count = options
            .students
            .unwrap_or(n.div_ceil(250).min(4))
            .clamp(1, n.max(1));
        let started = Instant::now();
        let students: Vec<reqwest::Client> = futures_util::stream::iter(0..count)
            .map(|s| {
                let (base, outbox) = (server.base.clone(), outbox.clone());
                async move {
                    let mut address = reqwest::header::HeaderMap::new();
                    let hop = format!("10.{}.{}.{}", (s >> 16) & 255, (s >> 8) & 255, s & 255);
                    address.insert("x-forwarded-for", hop.parse().unwrap());
                    let client = reqwest::Client::builder()
                        .cookie_store(true)
                        .default_headers(address)
                        .pool_max_idle_per_host(n / count + 10)
                        .build()
                        .unwrap();
                    accounts::sign_up(&client, &base, &outbox, &format!("bench{s}@example.com")).await;
                    client
                }
            })
            .buffer_unordered(8)
            .collect()
            .await;
        if count > 4 {
            println!(
                "  {count} students signed up in {:.1} s; the server restarted",
                started.elapsed().as_secs_f64()
            );
            // Each sign-up hashed a password (argon2, 19 MiB each): the
            // freed memory stays in the process and would hide what the
            // streams take. A fresh process on the same database serves the
            // run (sessions are in the database; cookies are per host, not port).
            drop(server);
            let _ = std::fs::rename(dir.join("server.log"), dir.join("sign-up.log"));
            server = start_server(options, &database_url, &emulator, smtp, &dir).await;
        }
        students
    };
    let pid = server.child.id();
    let ticks = clock_ticks();
    let fetch_metrics = || async { reqwest::get(&server.metrics).await.ok()?.text().await.ok() };
    let metrics_before = fetch_metrics().await.unwrap_or_default();
    let wal_before = wal_bytes(&database_url).await;
    let pg_pages_before = postgres_page_bytes(&database_url).await;
    if backend == Backend::Sqlite {
        sqlite_checkpoint_bytes(&database_url).await;
    }
    let tcp_before = tcp_counters();
    let before = usage(pid, ticks);

    let lengths = lengths(n, options.bytes);
    let open = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let readers: Vec<_> = (0..n)
        .map(|i| {
            let client = students[i % students.len()].clone();
            let (base, text, wait, open) = (
                server.base.clone(),
                question(i, lengths[i], pace_ms),
                start_at(i, n, options.ramp),
                open.clone(),
            );
            tokio::spawn(async move {
                tokio::time::sleep_until((started + wait).into()).await;
                let asked_at = Instant::now();
                let id = match client::ask(&client, &base, &text).await {
                    Ok(id) => id,
                    Err(why) => return (asked_at, asked_at, Err(why)),
                };
                let answered_at = Instant::now();
                open.fetch_add(1, Ordering::Relaxed);
                let seen = read_answer(client, vec![base], id, None, Duration::from_secs(600)).await;
                open.fetch_sub(1, Ordering::Relaxed);
                (asked_at, answered_at, Ok(seen))
            })
        })
        .collect();
    // Memory while streams are open: the highest sample, and how many were open.
    let finished = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (open, finished) = (open.clone(), finished.clone());
        tokio::spawn(async move {
            let mut peak = (0u64, 0usize);
            while !finished.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let (rss, now_open) = (usage(pid, ticks).rss_kib, open.load(Ordering::Relaxed));
                if now_open > peak.1 || (now_open == peak.1 && rss > peak.0) {
                    peak = (rss, now_open);
                }
            }
            peak
        })
    };
    let mut added = vec![];
    let mut first_token = vec![];
    // Where the first token's wait goes: the ask request, and how long after
    // the question the server called the model.
    let (mut asking, mut to_model) = (vec![], vec![]);
    let (mut complete, mut refused, mut other_end, mut differing, mut unmatched) = (0, 0, 0, 0, 0);
    let mut never_reached = 0;
    let mut final_bytes = 0usize;
    for (i, reader) in readers.into_iter().enumerate() {
        let (asked_at, answered_at, seen) = reader.await.expect("a reader");
        asking.push(answered_at.saturating_duration_since(asked_at));
        let seen = match seen {
            Ok(seen) => seen,
            Err(why) => {
                refused += 1;
                if refused <= 3 {
                    println!("  question {i} refused: {why}");
                }
                continue;
            }
        };
        match seen.ended.as_deref() {
            Some("complete") => complete += 1,
            other => {
                other_end += 1;
                if other_end <= 3 {
                    println!("  answer {i} ended {other:?}, error {:?}", seen.error);
                }
            }
        }
        let log = emulator.log.lock().unwrap();
        // An answer whose question never reached the model cannot hold its text.
        let Some(sends) = log.get(&i) else {
            never_reached += 1;
            continue;
        };
        let sent: HashMap<usize, Instant> = sends.text.iter().copied().collect();
        for (end, at) in &seen.ends {
            match sent.get(end) {
                Some(when) => added.push(at.saturating_duration_since(*when)),
                None => unmatched += 1,
            }
        }
        if let (Some(first), Some(requested), Some(first_sent)) =
            (seen.ends.first(), sends.requested, sends.text.first())
        {
            let model_wait = first_sent.1.saturating_duration_since(requested);
            to_model.push(requested.saturating_duration_since(asked_at));
            first_token.push(
                first
                    .1
                    .saturating_duration_since(asked_at)
                    .saturating_sub(model_wait),
            );
        }
        let sent_bytes = sends.text.last().map_or(0, |(end, _)| *end);
        let expected = bedrock_emulator::long_answer_for(&sends.question).unwrap_or_default();
        if seen.text != expected || sent_bytes != expected.len() {
            differing += 1;
        }
        final_bytes += seen.text.len();
    }
    let elapsed = started.elapsed();
    finished.store(true, Ordering::Relaxed);
    let (peak_rss, peak_open) = sampler.await.unwrap_or((0, 0));
    let after = usage(pid, ticks);
    let wal_after = wal_bytes(&database_url).await;
    let pg_pages_after = postgres_page_bytes(&database_url).await;
    let sqlite_rest = match backend {
        Backend::Sqlite => sqlite_checkpoint_bytes(&database_url).await,
        Backend::Postgres => 0,
    };
    let metrics_after = fetch_metrics().await.unwrap_or_default();
    let delta = |name: &str| counter(&metrics_after, name) - counter(&metrics_before, name);
    let answers = (n - refused).max(1) as f64;

    println!(
        "  answers: {n} asked, {complete} complete, {other_end} ended otherwise, {refused} refused, \
         {differing} with text differing from the model's (lost or duplicated bytes), \
         {never_reached} whose question never reached the model, in {:.1} s",
        elapsed.as_secs_f64()
    );
    println!(
        "  added latency per event ({} events): {}",
        added.len(),
        spread(added.clone())
    );
    println!("  time-to-first-token overhead: {}", spread(first_token.clone()));
    println!(
        "    of which: the ask request {}; the model called after the question {}",
        spread(asking),
        spread(to_model)
    );
    println!(
        "    the server's own time for those ask requests: {}; its waits to begin a write transaction: {}",
        histogram_between(
            &metrics_before,
            &metrics_after,
            "weasel_http_request_duration_seconds",
            "route=\"/api/ask\"",
            0.25
        ),
        histogram_between(
            &metrics_before,
            &metrics_after,
            "weasel_db_write_wait_seconds",
            "",
            0.25
        ),
    );
    println!(
        "    a task woken from another thread waited for a runtime worker (probe, 10/s): {}",
        histogram_between(
            &metrics_before,
            &metrics_after,
            "weasel_runtime_wake_delay_seconds",
            "",
            0.025
        ),
    );
    if backend == Backend::Sqlite {
        println!(
            "    how long each write transaction held SQLite's one writer: {}",
            histogram_between(
                &metrics_before,
                &metrics_after,
                "weasel_db_writer_held_seconds",
                "",
                0.025
            ),
        );
    }
    let tcp_after = tcp_counters();
    let tcp = |name: &str| tcp_after.get(name).unwrap_or(&0) - tcp_before.get(name).unwrap_or(&0);
    println!(
        "    the kernel (whole machine): {} listen-queue overflows, {} listen drops, {} SYN retransmits",
        tcp("ListenOverflows"),
        tcp("ListenDrops"),
        tcp("TCPSynRetrans"),
    );
    let loads = |from: &str| {
        let labels = format!("from=\"{from}\"");
        counter_with(&metrics_after, "weasel_auth_loads_total", &labels)
            - counter_with(&metrics_before, "weasel_auth_loads_total", &labels)
    };
    println!(
        "    sessions and users of signed-in requests: {:.0} served from memory, {:.0} read from the database",
        loads("memory"),
        loads("database"),
    );
    if refused + other_end > 0
        && let Ok(log) = std::fs::read_to_string(dir.join("server.log"))
    {
        // Warnings of one kind differ only in their numbers (ids, seconds):
        // counted under one line, the most frequent first.
        let mut kinds = std::collections::BTreeMap::<String, (usize, String)>::new();
        for line in log.lines().filter(|l| l.contains("WARN") || l.contains("ERROR")) {
            let from = line.find("WARN").or_else(|| line.find("ERROR")).unwrap_or(0);
            let message: String = line[from..].chars().take(300).collect();
            let kind: String = message
                .chars()
                .map(|c| if c.is_ascii_digit() { '#' } else { c })
                .collect();
            kinds.entry(kind).or_insert((0, message)).0 += 1;
        }
        let mut kinds: Vec<_> = kinds.into_values().collect();
        kinds.sort_by_key(|kind| std::cmp::Reverse(kind.0));
        for (count, example) in kinds.iter().take(8) {
            println!("    server log, {count}×: {example}");
        }
    }
    if unmatched > 0 {
        println!("  {unmatched} events did not end where a model delta ended");
    }
    let per_stream = peak_rss.saturating_sub(before.rss_kib) as f64 / peak_open.max(1) as f64;
    println!(
        "  server: RSS {} → {} KiB with {peak_open} streams open = {per_stream:.1} KiB per open stream; \
         CPU {:.3} s per answer",
        before.rss_kib,
        peak_rss,
        (after.cpu_s - before.cpu_s) / answers
    );
    let (flushes, chunks, chunk_bytes, rows, row_bytes) = (
        delta("weasel_answer_flushes_total"),
        delta("weasel_answer_chunks_written_total"),
        delta("weasel_answer_chunk_bytes_total"),
        delta("weasel_answer_rows_written_total"),
        delta("weasel_answer_row_bytes_total"),
    );
    let final_size = final_bytes.max(1) as f64;
    let logical = (chunk_bytes + row_bytes) / final_size;
    // The log alone (PostgreSQL's WAL), and everything the database wrote
    // once the run's pages were checkpointed: comparable between the two.
    let (disk_what, disk) = match (wal_before, wal_after, pg_pages_before, pg_pages_after) {
        (Some(b), Some(a), Some(pb), Some(pa)) => (
            format!(
                "WAL bytes (whole cluster) per answer {:.0} ({:.2}× the text); WAL and the pages PostgreSQL wrote, checkpointed,",
                a.saturating_sub(b) as f64 / answers,
                a.saturating_sub(b) as f64 / final_bytes.max(1) as f64,
            ),
            a.saturating_sub(b) + pa.saturating_sub(pb),
        ),
        _ => (
            "bytes the server process wrote, the WAL's rest checkpointed,".to_string(),
            after.write_bytes.saturating_sub(before.write_bytes) + sqlite_rest,
        ),
    };
    println!(
        "  database: {flushes:.0} flush transactions (one journal row each); per answer {:.1} journal pieces ({:.0} bytes) + {:.2} answer-row writes \
         ({:.0} bytes, each one search-index update) for {:.0} bytes of text: write amplification {logical:.2}; \
         {disk_what} per answer {:.0} ({:.2}× the text)",
        chunks / answers,
        chunk_bytes / answers,
        rows / answers,
        row_bytes / answers,
        final_size / answers,
        disk as f64 / answers,
        disk as f64 / final_size,
    );
    let (batches, batched) = (
        delta("weasel_question_batch_size_count"),
        delta("weasel_question_batch_size_sum"),
    );
    if batches > 0.0 {
        println!(
            "  questions: {batched:.0} written in {batches:.0} transactions ({:.2} per transaction)",
            batched / batches
        );
    }
    println!(
        "  readers: {:.0} times one fell behind its answer's live buffer and caught up from the text so far",
        delta("weasel_readers_lagged_total")
    );
    let p99_added = p99(&added);
    let p99_first = p99(&first_token);
    // The goal is in KB (1,000 bytes); RSS comes in KiB.
    let per_stream_kb = per_stream * 1.024;
    println!(
        "  goals: p99 added latency {p99_added:.1} ms (< 100: {}), TTFT overhead p99 {p99_first:.1} ms (< 250: {}), \
         memory per stream {:.1} KB (≤ 100 KB: {}), write amplification {logical:.2} (≤ 3: {}), \
         not complete or not byte-exact {} (0: {})",
        verdict(p99_added < 100.0),
        verdict(p99_first < 250.0),
        per_stream_kb,
        verdict(per_stream_kb <= 100.0),
        verdict(logical <= 3.0),
        other_end + differing + refused + never_reached,
        verdict(other_end + differing + refused + never_reached == 0),
    );
    drop(server);
    if options.keep {
        println!("  kept: {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    if let Some(name) = pg_name {
        postgres::drop_database(&name).await;
    }
    other_end + differing + refused + never_reached == 0
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

#[tokio::main]
async fn main() {
    let options = options();
    let mut intact = true;
    for &backend in &options.backends {
        for &rate in &options.rates {
            for &n in &options.sizes {
                intact &= run(n, rate, backend, &options).await;
            }
        }
    }
    // Latency goals are printed, not enforced; losing text fails the run.
    if !intact {
        eprintln!(
            "answer_bench: some answers did not complete, were refused, or differ from the model's text"
        );
        std::process::exit(1);
    }
}
