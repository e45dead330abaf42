//! A mail sink: an SMTP server that accepts every message and keeps it in
//! memory, decoded (subject and body as text), so tests can read the mail
//! the application sent, follow its links, and check what it says.
//!
//! It speaks the part of SMTP a mail client uses to hand over a message
//! (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) without TLS or
//! authentication, like the sinks developers run locally.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Json, Router, extract::Query, routing::get};
use base64::Engine;
use serde::{Deserialize, Serialize};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    sync::Notify,
};

/// One message as it arrived.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mail {
    /// Envelope recipients (`RCPT TO`), lower-cased.
    pub to: Vec<String>,
    pub from: String,
    pub subject: String,
    /// The text body, transfer encoding removed.
    pub body: String,
}

impl Mail {
    /// Every `http(s)://` URL in the body.
    pub fn links(&self) -> Vec<String> {
        self.body
            .split(|c: char| c.is_whitespace() || c == '<' || c == '>' || c == '"')
            .filter(|w| w.starts_with("http://") || w.starts_with("https://"))
            .map(str::to_string)
            .collect()
    }
}

/// What the sink has received, shared by its SMTP and HTTP sides.
#[derive(Clone, Default)]
pub struct Outbox {
    mails: Arc<Mutex<Vec<Mail>>>,
    arrived: Arc<Notify>,
}

impl Outbox {
    /// Every message to `address`, oldest first.
    pub fn to(&self, address: &str) -> Vec<Mail> {
        let address = address.to_lowercase();
        self.mails
            .lock()
            .map(|mails| {
                mails
                    .iter()
                    .filter(|m| m.to.contains(&address))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits (up to `timeout`) until `address` has more than `seen` messages,
    /// and returns the newest.
    pub async fn wait_for(&self, address: &str, seen: usize, timeout: Duration) -> Option<Mail> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.arrived.notified();
            let mails = self.to(address);
            if mails.len() > seen {
                return mails.last().cloned();
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    fn push(&self, mail: Mail) {
        if let Ok(mut mails) = self.mails.lock() {
            mails.push(mail);
        }
        self.arrived.notify_waiters();
    }
}

/// Listens for SMTP on `addr` (port 0: any); returns the bound address.
pub async fn spawn_smtp(addr: SocketAddr, outbox: Outbox) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let outbox = outbox.clone();
            tokio::spawn(async move {
                let _ = session(stream, outbox).await;
            });
        }
    });
    Ok(local)
}

#[derive(Deserialize)]
struct ToQuery {
    to: String,
}

/// Serves `GET /messages?to=ADDRESS` (JSON, oldest first) on `addr`.
pub async fn spawn_http(addr: SocketAddr, outbox: Outbox) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let app = Router::new().route(
        "/messages",
        get(move |Query(query): Query<ToQuery>| {
            let outbox = outbox.clone();
            async move { Json(outbox.to(&query.to)) }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(local)
}

async fn session(stream: TcpStream, outbox: Outbox) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 mail-sink ESMTP ready\r\n").await?;
    let mut from = String::new();
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_string();
        let verb = command
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-mail-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
            "HELO" => b"250 mail-sink\r\n",
            "MAIL" => {
                from = angle_address(&command);
                to.clear();
                b"250 OK\r\n"
            }
            "RCPT" => {
                to.push(angle_address(&command).to_lowercase());
                b"250 OK\r\n"
            }
            "DATA" => {
                write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let mut raw = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    // Dot-stuffing: a leading '.' was doubled by the sender.
                    raw.push_str(line.strip_prefix('.').unwrap_or(&line));
                }
                let (subject, body) = decode(&raw);
                outbox.push(Mail {
                    to: std::mem::take(&mut to),
                    from: from.clone(),
                    subject,
                    body,
                });
                b"250 OK: queued\r\n"
            }
            "RSET" => {
                to.clear();
                b"250 OK\r\n"
            }
            "NOOP" => b"250 OK\r\n",
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 command not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
}

fn angle_address(command: &str) -> String {
    command
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(address, _)| address.to_string())
        .unwrap_or_default()
}

/// The subject and text body of a single-part message.
fn decode(raw: &str) -> (String, String) {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
    // Unfold continued header lines.
    let head = head.replace("\n ", " ").replace("\n\t", " ");
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                let (key, value) = l.split_once(':')?;
                key.eq_ignore_ascii_case(name).then(|| value.trim().to_string())
            })
            .unwrap_or_default()
    };
    let subject = decode_words(&header("Subject"));
    let body = match header("Content-Transfer-Encoding").to_ascii_lowercase().as_str() {
        "base64" => {
            let compact: String = body.split_whitespace().collect();
            base64::engine::general_purpose::STANDARD
                .decode(compact)
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                .unwrap_or_default()
        }
        "quoted-printable" => quoted_printable(body),
        _ => body.to_string(),
    };
    (subject, body)
}

/// RFC 2047 encoded words (`=?utf-8?b?…?=`, `=?utf-8?q?…?=`) as text.
/// Adjacent encoded words are joined before decoding: a sender may split a
/// character's bytes between them.
fn decode_words(value: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    for word in value.split_whitespace() {
        let inner = word.strip_prefix("=?").and_then(|w| w.strip_suffix("?="));
        let parts: Vec<&str> = inner.map(|w| w.splitn(3, '?').collect()).unwrap_or_default();
        let bytes = match parts.as_slice() {
            [_, b, text] if b.eq_ignore_ascii_case("b") => {
                base64::engine::general_purpose::STANDARD.decode(text).ok()
            }
            [_, q, text] if q.eq_ignore_ascii_case("q") => {
                Some(quoted_printable(&text.replace('_', " ")).into_bytes())
            }
            _ => None,
        };
        match bytes {
            Some(bytes) => pending.extend(bytes),
            None => {
                if !pending.is_empty() {
                    out.push(String::from_utf8_lossy(&std::mem::take(&mut pending)).into_owned());
                }
                out.push(word.to_string());
            }
        }
    }
    if !pending.is_empty() {
        out.push(String::from_utf8_lossy(&pending).into_owned());
    }
    out.join(" ")
}

fn quoted_printable(text: &str) -> String {
    let mut bytes = Vec::with_capacity(text.len());
    let input = text.replace("=\n", "");
    let raw = input.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'='
            && i + 2 < raw.len() + 1
            && let Some(byte) = raw
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            bytes.push(byte);
            i += 3;
            continue;
        }
        bytes.push(raw[i]);
        i += 1;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_subjects_and_bodies_are_read_as_text() {
        let raw = "Subject: =?utf-8?b?7J2066mU7J28?= ok\r\nContent-Transfer-Encoding: base64\r\n\r\n7JWI64WVIGh0dHA6Ly94L3k/dD0x\r\n";
        let (subject, body) = decode(raw);
        assert_eq!(subject, "이메일 ok");
        assert_eq!(body, "안녕 http://x/y?t=1");
        assert_eq!(quoted_printable("a=3Db=\nc"), "a=bc");
    }
}
