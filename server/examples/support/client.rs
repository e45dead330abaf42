//! A browser-like client of the real server for example runs: asks over
//! HTTP and reads an answer's events as `EventSource` does.

use std::time::{Duration, Instant};

use futures_util::StreamExt;

/// A port free now, below the kernel's range for outgoing connections
/// (32768 and up on Linux): a port the kernel picks for `:0` comes from that
/// range, and the servers' own connections (to the database, the emulator)
/// could take it before the server that was meant to listen on it starts.
pub fn free_port() -> u16 {
    for _ in 0..1000 {
        let port = 20_000 + rand::random::<u16>() % 12_000;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between 20000 and 32000");
}

/// What one reader of an answer saw.
#[derive(Default)]
pub struct Seen {
    pub text: String,
    /// After each delta: how many bytes the reader had, and when.
    pub ends: Vec<(usize, Instant)>,
    pub ended: Option<String>,
    /// Why it ended so, when it did not complete.
    pub error: Option<String>,
    pub ended_at: Option<Instant>,
    pub reconnects: usize,
}

/// Reads an answer's events like `EventSource`: whenever the stream closes
/// before `done`, reconnects (through `bases`, in turn) with `Last-Event-ID`.
/// `leave_after` events on the first connection, it leaves on purpose.
pub async fn read_answer(
    client: reqwest::Client,
    bases: Vec<String>,
    id: i64,
    leave_after: Option<usize>,
    give_up: Duration,
) -> Seen {
    let mut seen = Seen::default();
    let started = Instant::now();
    let mut attempt = 0usize;
    while started.elapsed() < give_up {
        let base = &bases[attempt % bases.len()];
        attempt += 1;
        let request = client
            .get(format!("{base}/api/answers/{id}/events"))
            .header("last-event-id", seen.text.len().to_string());
        let response = match request.send().await {
            Ok(r) if r.status().is_success() => r,
            _ => {
                seen.reconnects += 1;
                tokio::time::sleep(Duration::from_millis(300)).await;
                continue;
            }
        };
        let mut body = response.bytes_stream();
        let mut buffer = Vec::<u8>::new();
        let mut events = 0usize;
        'stream: while let Some(Ok(chunk)) = body.next().await {
            let now = Instant::now();
            buffer.extend_from_slice(&chunk);
            while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
                let event =
                    String::from_utf8_lossy(&buffer.drain(..end + 2).collect::<Vec<_>>()).into_owned();
                let data = event.lines().find_map(|l| l.strip_prefix("data: "));
                let Some(data) = data.and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok()) else {
                    continue;
                };
                if event.contains("event: done") {
                    seen.ended = data["status"].as_str().map(str::to_lowercase);
                    seen.error = data["error"].as_str().map(str::to_string);
                    seen.ended_at = Some(now);
                    return seen;
                }
                // A delta without text only corrects the answer's HTML.
                let (Some(offset), Some(text)) = (data["offset"].as_u64(), data["text"].as_str()) else {
                    continue;
                };
                if text.is_empty() {
                    continue;
                }
                let offset = offset as usize;
                assert!(
                    offset <= seen.text.len() && seen.text.is_char_boundary(offset),
                    "answer {id}: delta at {offset} after {} bytes",
                    seen.text.len()
                );
                seen.text.truncate(offset);
                seen.text.push_str(text);
                seen.ends.push((seen.text.len(), now));
                events += 1;
                if attempt == 1 && leave_after == Some(events) {
                    break 'stream;
                }
            }
        }
        seen.reconnects += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    seen
}

/// Asks through `base`; the answer id, or the HTTP status that refused it.
pub async fn ask(client: &reqwest::Client, base: &str, question: &str) -> Result<i64, String> {
    let form = [("subject", "math"), ("question", question)];
    let response = client
        .post(format!("{base}/api/ask"))
        .form(&form)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(response.status().to_string());
    }
    let asked: serde_json::Value = response.json().await.map_err(|e| e.to_string())?;
    asked["answer"].as_i64().ok_or_else(|| "no answer id".into())
}

pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1000.0
}
