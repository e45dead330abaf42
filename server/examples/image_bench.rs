//! What a photo upload costs the server (scripts/bench-images.sh): the
//! release server as a process of its own on SQLite with the directory
//! store, a student signed up through it, and a 4000×3000 phone-sized JPEG
//! uploaded as a browser that did not shrink it would (the worst case: the
//! server decodes 12 megapixels). Prints the time per upload (sent, checked,
//! re-encoded, stored, answered) one at a time, then the wall time and the
//! server's peak resident memory while 20 such uploads run at once.
//!
//!   cargo run --release -p weasel-server --example image_bench -- --server target/release/weasel-server

#[path = "support/accounts.rs"]
mod accounts;

use std::{
    io::Cursor,
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1000.0
}

/// A photo-like 4000×3000 JPEG: gradients and fine texture, so it
/// compresses like a real photo of a page rather than a flat colour.
fn phone_photo() -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let image = image::RgbImage::from_fn(4000, 3000, |x, y| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let noise = (state % 24) as u8;
        let ink = if (y / 40) % 2 == 0 && (x / 12) % 9 != 0 {
            90
        } else {
            0
        };
        let base = 200u8.saturating_sub(ink).saturating_add((x / 80) as u8 % 30);
        image::Rgb([
            base.saturating_add(noise),
            base.saturating_add(noise / 2),
            base.saturating_sub(noise / 3),
        ])
    });
    let mut out = Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92)
        .encode_image(&image)
        .expect("encode");
    out.into_inner()
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn upload(client: &reqwest::Client, base: &str, body: Vec<u8>) -> (Duration, serde_json::Value) {
    let started = Instant::now();
    let response = client
        .post(format!("{base}/api/images"))
        .body(body)
        .send()
        .await
        .expect("upload");
    let status = response.status();
    let json: serde_json::Value = response.json().await.unwrap_or_default();
    assert_eq!(status.as_u16(), 201, "upload refused: {json}");
    (started.elapsed(), json)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mut server_path = String::from("target/release/weasel-server");
    while let Some(arg) = args.next() {
        if arg == "--server" {
            server_path = args.next().expect("--server PATH");
        }
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let outbox = mail_sink::Outbox::default();
    let smtp = mail_sink::spawn_smtp("127.0.0.1:0".parse().unwrap(), outbox.clone())
        .await
        .expect("mail sink");
    let port = free_port();
    let log = std::fs::File::create(dir.path().join("server.log")).expect("log");
    let child = Command::new(&server_path)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("WEASEL_DATA_DIR", dir.path())
        .env("WEASEL_ADDR", format!("127.0.0.1:{port}"))
        .env("WEASEL_SMTP_URL", format!("smtp://{smtp}"))
        .env("WEASEL_DAILY_IMAGES_PER_STUDENT", "0")
        .env("WEASEL_IMAGE_UPLOADS_PER_10_MIN", "0")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("the server starts");
    let pid = child.id();
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..600 {
        if reqwest::get(format!("{}/readyz", server.base))
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let client = reqwest::Client::builder().cookie_store(true).build().unwrap();
    accounts::sign_up(&client, &server.base, &outbox, "bench-photos@example.com").await;

    let photo = phone_photo();
    println!(
        "photo: 4000×3000 JPEG, {:.2} MB (what an unshrunk phone photo weighs)",
        photo.len() as f64 / 1e6
    );
    // One at a time.
    let mut times = vec![];
    let mut stored = serde_json::Value::Null;
    for _ in 0..10 {
        let (took, json) = upload(&client, &server.base, photo.clone()).await;
        times.push(took);
        stored = json;
    }
    times.sort();
    println!(
        "one at a time (10): upload + check + re-encode + store  p50 {:.0} ms  p95 {:.0} ms  → stored {}×{}, {:.0} KB",
        percentile(&times, 0.5),
        percentile(&times, 0.95),
        stored["width"],
        stored["height"],
        stored["bytes"].as_f64().unwrap_or(0.0) / 1e3
    );

    // Twenty at once, the server's memory sampled meanwhile.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(pid);
    let running = Arc::new(AtomicBool::new(true));
    let sampler = {
        let running = running.clone();
        tokio::spawn(async move {
            let mut peak = 0;
            while running.load(Ordering::Relaxed) {
                peak = peak.max(rss_kib(pid));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            peak
        })
    };
    let started = Instant::now();
    let uploads: Vec<_> = (0..20)
        .map(|_| {
            let (client, base, photo) = (client.clone(), server.base.clone(), photo.clone());
            tokio::spawn(async move { upload(&client, &base, photo).await.0 })
        })
        .collect();
    let mut each = vec![];
    for upload in uploads {
        each.push(upload.await.expect("upload task"));
    }
    let wall = started.elapsed();
    running.store(false, Ordering::Relaxed);
    let peak = sampler.await.unwrap_or(0);
    each.sort();
    println!(
        "20 at once: all done in {:.2} s  (each p50 {:.0} ms, max {:.0} ms)",
        wall.as_secs_f64(),
        percentile(&each, 0.5),
        percentile(&each, 1.0)
    );
    println!(
        "server memory: {:.0} MiB before, peak {:.0} MiB while 20 uploads ran (+{:.0} MiB); decodes run {} at a time",
        before as f64 / 1024.0,
        peak as f64 / 1024.0,
        peak.saturating_sub(before) as f64 / 1024.0,
        std::thread::available_parallelism().map_or(2, |n| n.get())
    );
}
