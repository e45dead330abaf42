//! Three replicas on one PostgreSQL behind nginx, driven like exam night.
//!
//! `cargo run -p weasel-server --example replicas -- --server target/debug/weasel-server`
//! (`scripts/check-replicas.sh` does it, inside the test command). It starts
//! three real server processes and nginx (round-robin, SSE buffering off),
//! then, printing what it counts:
//! 1. signs students up through the proxy and checks that each session works
//!    on every replica directly;
//! 2. starts `--answers` answers, each followed by a browser-like reader
//!    that reconnects with `Last-Event-ID` whenever its stream closes; some
//!    readers leave one replica mid-answer and resume on another; a sample
//!    is also read on all three replicas at once, for the cross-replica
//!    event latency;
//! 3. restarts the three replicas one at a time (SIGTERM, wait, start again)
//!    while those answers stream and new questions keep coming;
//! 4. starts more answers and `kill -9`s one replica mid-answer: its answers
//!    must become interrupted, with their text, within the lease period, and
//!    no other replica's answer may be touched.
//!
//! It fails (exit 1) when an answer is lost, a reader's text differs from
//! what is stored, a replica does not exit 0 on SIGTERM, or a question is
//! refused.

#[path = "support/accounts.rs"]
mod accounts;
#[path = "support/client.rs"]
mod client;
#[path = "support/postgres.rs"]
mod postgres;

use std::{
    collections::HashSet,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use base64::Engine;
use client::{Seen, ask, free_port, percentile, read_answer};
use futures_util::StreamExt;

/// The lease the replicas are started with (seconds): short, so the crash
/// phase sees it expire quickly.
const LEASE_SECS: u64 = 3;

struct Options {
    server: PathBuf,
    nginx: String,
    answers: usize,
    pace_ms: u64,
    students: usize,
}

fn options() -> Options {
    let mut options = Options {
        server: PathBuf::from("target/debug/weasel-server"),
        nginx: "nginx".into(),
        answers: 500,
        pace_ms: 40,
        students: 10,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = pair.get(1).cloned().unwrap_or_default();
        match pair[0].as_str() {
            "--server" => options.server = value.into(),
            "--nginx" => options.nginx = value,
            "--answers" => options.answers = value.parse().expect("--answers N"),
            "--pace" => options.pace_ms = value.parse().expect("--pace MS"),
            "--students" => options.students = value.parse().expect("--students N"),
            other => panic!("unknown option {other}"),
        }
    }
    options
}

struct Cluster {
    dir: PathBuf,
    server: PathBuf,
    env: Vec<(String, String)>,
    ports: [u16; 3],
    children: Mutex<[Option<Child>; 3]>,
}

impl Cluster {
    fn start(&self, i: usize) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("replica-{i}.log")))
            .expect("log file");
        let child = Command::new(&self.server)
            .envs(self.env.iter().cloned())
            .env("WEASEL_ADDR", format!("127.0.0.1:{}", self.ports[i]))
            .env("HOSTNAME", format!("replica-{i}"))
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("replica starts");
        self.children.lock().unwrap()[i] = Some(child);
    }

    fn signal(&self, i: usize, signal: &str) {
        let pid = self.children.lock().unwrap()[i].as_ref().expect("running").id();
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill {signal} {pid}");
    }

    /// Waits for replica `i` to exit; its exit code.
    async fn wait_exit(&self, i: usize, limit: Duration) -> Option<i32> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(child) = self.children.lock().unwrap()[i].as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Some(status.code().unwrap_or(-1));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    async fn wait_ready(&self, i: usize) {
        let url = format!("http://127.0.0.1:{}/readyz", self.ports[i]);
        for _ in 0..600 {
            if let Ok(r) = reqwest::get(&url).await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("replica {i} not ready in 60 s; see {}", self.dir.display());
    }

    fn stop_all(&self) {
        for child in self.children.lock().unwrap().iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn nginx_config(dir: &Path, listen: u16, ports: &[u16; 3]) -> String {
    let servers: String = ports
        .iter()
        // No passive marking: a replica refusing one question while it drains
        // must not be skipped for the next; each request finds a live one.
        .map(|p| format!("        server 127.0.0.1:{p} max_fails=0;\n"))
        .collect();
    let d = dir.display();
    format!(
        "worker_processes 1;
worker_rlimit_nofile 20000;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
events {{ worker_connections 10000; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    upstream weasel {{
{servers}        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{listen};
        location / {{
            proxy_pass http://weasel;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            # Server-sent events go through as they are written.
            proxy_buffering off;
            proxy_read_timeout 1h;
            # A replica that is restarting refuses new questions with 503
            # before doing anything: the next replica takes them.
            proxy_next_upstream error timeout http_502 http_503 non_idempotent;
        }}
    }}
}}
"
    )
}

#[tokio::main]
async fn main() {
    let options = options();
    let dir = std::env::temp_dir().join(format!("weasel-replicas-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("work directory");
    let (database_url, database) = postgres::create_database("weasel_replicas").await;
    let failed = run(&options, &dir, &database_url).await;
    postgres::drop_database(&database).await;
    if failed.is_empty() {
        println!("replicas: all checks passed (logs in {})", dir.display());
    } else {
        for failure in &failed {
            eprintln!("replicas: FAILED: {failure}");
        }
        eprintln!("replicas: logs in {}", dir.display());
        std::process::exit(1);
    }
}

async fn run(options: &Options, dir: &Path, database_url: &str) -> Vec<String> {
    let mut failed = vec![];
    let outbox = mail_sink::Outbox::default();
    let smtp = mail_sink::spawn_smtp("127.0.0.1:0".parse().unwrap(), outbox.clone())
        .await
        .expect("mail sink");
    let key: Vec<u8> = (0..64).map(|_| rand::random::<u8>()).collect();
    let proxy_port = free_port();
    let ports = [free_port(), free_port(), free_port()];
    let env = [
        ("DATABASE_URL", database_url.to_string()),
        ("WEASEL_PUBLIC_URL", format!("http://127.0.0.1:{proxy_port}/")),
        (
            "WEASEL_SESSION_KEY",
            base64::engine::general_purpose::STANDARD.encode(&key),
        ),
        ("WEASEL_SMTP_URL", format!("smtp://{smtp}")),
        ("WEASEL_MODEL_PROVIDER", "emulator".into()),
        ("WEASEL_ANSWER_LEASE_SECS", LEASE_SECS.to_string()),
        ("WEASEL_SHUTDOWN_GRACE_SECS", "90".into()),
        ("WEASEL_DB_MAX_CONNECTIONS", "20".into()),
        ("RUST_LOG", "warn,weasel_server=info".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let cluster = Arc::new(Cluster {
        dir: dir.to_path_buf(),
        server: options.server.clone(),
        env,
        ports,
        children: Mutex::new([None, None, None]),
    });
    for i in 0..3 {
        cluster.start(i);
    }
    for i in 0..3 {
        cluster.wait_ready(i).await;
    }
    std::fs::write(dir.join("nginx.conf"), nginx_config(dir, proxy_port, &ports)).expect("nginx.conf");
    let mut nginx = Command::new(&options.nginx)
        .args([
            "-p",
            &dir.display().to_string(),
            "-c",
            "nginx.conf",
            "-g",
            "daemon off;",
        ])
        .current_dir(dir)
        .stdout(Stdio::null())
        .spawn()
        .expect("nginx starts");
    let proxy = format!("http://127.0.0.1:{proxy_port}");
    let direct: Vec<String> = ports.iter().map(|p| format!("http://127.0.0.1:{p}")).collect();
    for _ in 0..100 {
        if reqwest::get(format!("{proxy}/healthz"))
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "replicas: 3 servers on ports {ports:?} behind nginx on {proxy_port}, one PostgreSQL; lease {LEASE_SECS} s"
    );

    // 1. Students; each session, made through the proxy, works everywhere.
    let mut students = vec![];
    for s in 0..options.students {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(400)
            .build()
            .unwrap();
        let email = format!("student{s}@example.com");
        accounts::sign_up(&client, &proxy, &outbox, &email).await;
        for base in &direct {
            let me: serde_json::Value = client
                .post(format!("{base}/api/me"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap_or_default();
            if me["email"].as_str() != Some(email.as_str()) {
                failed.push(format!("{email}'s session does not work on {base}: {me}"));
            }
        }
        students.push(client);
    }
    println!(
        "replicas: {} students signed up through the proxy; every session works on all 3 replicas: {}",
        students.len(),
        if failed.is_empty() { "yes" } else { "NO" }
    );

    // 2. Answers, each followed through the proxy; some leave one replica
    // for another mid-answer; a sample is read on all three at once.
    let started = Instant::now();
    let give_up = Duration::from_secs(240);
    let refused = Arc::new(AtomicUsize::new(0));
    // Asked together (50 in flight), so they all stream at once.
    let asked: Vec<(usize, Result<i64, String>)> = futures_util::stream::iter(0..options.answers)
        .map(|i| {
            let (client, proxy) = (students[i % students.len()].clone(), proxy.clone());
            let question = format!("시험 {i}번 문제 [[pace:{}]]", options.pace_ms);
            async move { (i, ask(&client, &proxy, &question).await) }
        })
        .buffer_unordered(50)
        .collect()
        .await;
    let mut ids = vec![];
    for (i, result) in asked {
        match result {
            Ok(id) => ids.push((i, id)),
            Err(why) => {
                refused.fetch_add(1, Ordering::Relaxed);
                failed.push(format!("question {i} refused: {why}"));
            }
        }
    }
    ids.sort();
    let mut readers = vec![];
    let mut sampled = vec![];
    for &(i, id) in &ids {
        let client = students[i % students.len()].clone();
        let (bases, leave) = if i % 10 == 0 {
            // Leaves replica A after 3 events; resumes on replica B.
            (vec![direct[i % 3].clone(), direct[(i + 1) % 3].clone()], Some(3))
        } else {
            (vec![proxy.clone()], None)
        };
        readers.push((
            id,
            tokio::spawn(read_answer(client.clone(), bases, id, leave, give_up)),
        ));
        if i % 10 == 5 {
            let all: Vec<_> = direct
                .iter()
                .map(|base| tokio::spawn(read_answer(client.clone(), vec![base.clone()], id, None, give_up)))
                .collect();
            sampled.push(all);
        }
    }
    println!(
        "replicas: {} answers started in {:.1} s ({} followed on all three replicas, {} moving between replicas)",
        ids.len(),
        started.elapsed().as_secs_f64(),
        sampled.len(),
        ids.iter().filter(|(i, _)| i % 10 == 0).count()
    );

    // 3. Rolling restart while they stream and new questions arrive.
    let asking = {
        let (client, proxy, refused) = (students[0].clone(), proxy.clone(), refused.clone());
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let mut asked = vec![];
            let mut errors = vec![];
            let mut n = 0;
            while !flag.load(Ordering::Relaxed) {
                match ask(&client, &proxy, &format!("재시작 중 질문 {n} [[pace:5]]")).await {
                    Ok(id) => asked.push(id),
                    Err(why) => {
                        refused.fetch_add(1, Ordering::Relaxed);
                        errors.push(why);
                    }
                }
                n += 1;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            (asked, errors)
        });
        (stop, task)
    };
    // A steady stretch first (the cross-replica latency is measured there).
    tokio::time::sleep(Duration::from_secs(6)).await;
    let restart_began = Instant::now();
    for i in 0..3 {
        let signalled = Instant::now();
        cluster.signal(i, "-TERM");
        let code = cluster.wait_exit(i, Duration::from_secs(120)).await;
        let drained = signalled.elapsed();
        println!(
            "replicas: rolling restart: replica {i} exited with {code:?} {:.1} s after SIGTERM",
            drained.as_secs_f64()
        );
        if code != Some(0) {
            failed.push(format!("replica {i} exited with {code:?} on SIGTERM"));
        }
        cluster.start(i);
        cluster.wait_ready(i).await;
    }
    asking.0.store(true, Ordering::Relaxed);
    let (asked_meanwhile, errors) = asking.1.await.unwrap();
    println!(
        "replicas: {} questions asked during the rolling restart, {} refused {:?}",
        asked_meanwhile.len(),
        errors.len(),
        errors.iter().collect::<HashSet<_>>()
    );
    if !errors.is_empty() {
        failed.push(format!(
            "{} questions refused during the rolling restart",
            errors.len()
        ));
    }

    // Everything from phases 2–3 ends complete, byte-exact.
    let storage = weasel_server::storage::Storage::connect(&weasel_server::config::DatabaseSettings::new(
        database_url,
        4,
    ))
    .await
    .expect("database");
    let mut latencies = vec![];
    for all in sampled {
        let mut views = vec![];
        for reader in all {
            views.push(reader.await.unwrap());
        }
        // Every byte position the writer's readers got, and when each of the
        // three readers first had it: the earliest is the writer's own
        // (from memory); the others' delay is the cross-replica latency.
        let Some(writer) = views.iter().max_by_key(|v| v.ends.len()) else {
            continue;
        };
        for &(end, _) in &writer.ends {
            let times: Vec<Instant> = views
                .iter()
                .filter_map(|v| v.ends.iter().find(|(e, _)| *e >= end).map(|(_, t)| *t))
                .collect();
            // Before the rolling restart: afterwards a restarted replica's
            // reader catches up in one jump, which is not latency.
            if times.len() == 3 && times.iter().all(|t| *t < restart_began) {
                let first = *times.iter().min().unwrap();
                let mut lags: Vec<Duration> = times.iter().map(|t| t.duration_since(first)).collect();
                lags.sort();
                // The two readers that are not the writer's.
                latencies.extend_from_slice(&lags[1..]);
            }
        }
    }
    latencies.sort();
    let mut tally = Tally::default();
    for (id, reader) in readers {
        let seen = reader.await.unwrap();
        tally.check(&storage, id, &seen, false).await;
    }
    for id in asked_meanwhile {
        let seen = read_answer(students[0].clone(), vec![proxy.clone()], id, None, give_up).await;
        tally.check(&storage, id, &seen, false).await;
    }
    println!(
        "replicas: cross-replica event latency while all {} answers streamed (readers of a replica that \
         follows another's answer vs. the writer's own): p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms over {} events",
        ids.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
        latencies.len()
    );
    tally.print("streaming through a rolling restart");
    if tally.complete != tally.started {
        failed.push(format!(
            "rolling restart: {} of {} answers did not complete",
            tally.started - tally.complete,
            tally.started
        ));
    }
    failed.append(&mut tally.failures);

    // 4. kill -9 of one replica mid-answer.
    let victim = 1;
    let mut crash_ids = vec![];
    for i in 0..60 {
        let client = &students[i % students.len()];
        match ask(
            client,
            &proxy,
            &format!("정전 {i} [[pace:{}]]", options.pace_ms * 2),
        )
        .await
        {
            Ok(id) => crash_ids.push(id),
            Err(why) => failed.push(format!("crash-phase question {i} refused: {why}")),
        }
    }
    let readers: Vec<_> = crash_ids
        .iter()
        .enumerate()
        .map(|(i, &id)| {
            let client = students[i % students.len()].clone();
            (
                id,
                tokio::spawn(read_answer(client, vec![proxy.clone()], id, None, give_up)),
            )
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let owners = owners(&storage).await;
    let victims: HashSet<i64> = owners
        .iter()
        .filter(|(_, owner)| owner.starts_with(&format!("replica-{victim}-")))
        .map(|(id, _)| *id)
        .collect();
    cluster.signal(victim, "-KILL");
    let killed_at = Instant::now();
    let _ = cluster.wait_exit(victim, Duration::from_secs(5)).await;
    let mut tally = Tally::default();
    let mut marked_after = Duration::ZERO;
    for (id, reader) in readers {
        let seen = reader.await.unwrap();
        if victims.contains(&id)
            && let Some(at) = seen.ended_at
        {
            marked_after = marked_after.max(at.saturating_duration_since(killed_at));
        }
        tally.check(&storage, id, &seen, victims.contains(&id)).await;
    }
    tally.print(&format!(
        "kill -9 of replica {victim} ({} of its answers were live)",
        victims.len()
    ));
    println!(
        "replicas: the dead replica's answers were all marked interrupted within {:.1} s of the kill (lease {LEASE_SECS} s)",
        marked_after.as_secs_f64()
    );
    if tally.interrupted != victims.len() || tally.complete + tally.interrupted != tally.started {
        failed.push(format!(
            "kill -9: {} interrupted (expected exactly the {} answers replica {victim} wrote), {} complete of {}",
            tally.interrupted,
            victims.len(),
            tally.complete,
            tally.started
        ));
    }
    if marked_after
        > Duration::from_secs(LEASE_SECS) + Duration::from_secs(LEASE_SECS) / 3 + Duration::from_secs(2)
    {
        failed.push(format!("kill -9: answers marked only after {marked_after:?}"));
    }
    failed.append(&mut tally.failures);

    let _ = nginx.kill();
    let _ = nginx.wait();
    cluster.stop_all();
    storage.close().await;
    failed
}

/// Streaming answers and the instance that holds each one's lease.
async fn owners(storage: &weasel_server::storage::Storage) -> Vec<(i64, String)> {
    match storage {
        weasel_server::storage::Storage::Postgres(pool) => {
            sqlx::query_as("SELECT message_id, owner FROM answer_leases")
                .fetch_all(pool)
                .await
                .expect("leases")
        }
        weasel_server::storage::Storage::Sqlite(_) => vec![],
    }
}

#[derive(Default)]
struct Tally {
    started: usize,
    complete: usize,
    interrupted: usize,
    other: usize,
    lost: usize,
    reconnects: usize,
    lost_bytes_at_crash: usize,
    failures: Vec<String>,
}

impl Tally {
    /// Compares what a reader saw with what is stored.
    async fn check(
        &mut self,
        storage: &weasel_server::storage::Storage,
        id: i64,
        seen: &Seen,
        may_be_cut: bool,
    ) {
        use weasel_server::storage::{MessageId, MessageStatus};
        self.started += 1;
        self.reconnects += seen.reconnects;
        let stored = storage.answer(MessageId(id)).await.ok().flatten();
        let Some(stored) = stored else {
            self.lost += 1;
            self.failures.push(format!("answer {id}: gone from the database"));
            return;
        };
        match (stored.status, seen.ended.as_deref()) {
            (MessageStatus::Complete, Some("complete")) if stored.content == seen.text => self.complete += 1,
            (MessageStatus::Interrupted, Some("interrupted"))
                if may_be_cut && seen.text.starts_with(&stored.content) =>
            {
                self.interrupted += 1;
                self.lost_bytes_at_crash += seen.text.len() - stored.content.len();
            }
            (status, ended) => {
                if status == MessageStatus::Streaming || ended.is_none() {
                    self.lost += 1;
                } else {
                    self.other += 1;
                }
                self.failures.push(format!(
                    "answer {id}: stored {status:?} with {} bytes; the reader saw {ended:?} with {} bytes",
                    stored.content.len(),
                    seen.text.len()
                ));
            }
        }
    }

    fn print(&self, phase: &str) {
        println!(
            "replicas: {phase}: started {}, complete {}, interrupted {}, other {}, lost {} (must be 0); \
             reader reconnects {}; bytes readers saw but the crash lost {}",
            self.started,
            self.complete,
            self.interrupted,
            self.other,
            self.lost,
            self.reconnects,
            self.lost_bytes_at_crash
        );
    }
}
