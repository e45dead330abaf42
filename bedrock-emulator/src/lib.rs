//! A local stand-in for AWS Bedrock's `ConverseStream`, for tests and offline
//! development. It answers `POST /model/{modelId}/converse-stream` with the
//! real wire protocol (AWS event-stream frames: `messageStart`,
//! `contentBlockDelta`…, `contentBlockStop`, `messageStop`, `metadata`), so the
//! real AWS SDK client is what the application and its tests exercise.
//!
//! Answers are a deterministic function of the request: Korean, Markdown,
//! LaTeX and a "정답:" line, and an echo of the conversation it received so
//! tests can check the context. Markers in the last user message select a
//! pace or a fault for that request:
//!
//! | marker | effect |
//! | --- | --- |
//! | `[[pace:MS]]` | MS milliseconds between text deltas |
//! | `[[fault:throttle]]` | HTTP 429 `ThrottlingException` before the stream |
//! | `[[fault:midstream]]` | a `modelStreamErrorException` frame after some text |
//! | `[[fault:stall]]` | silence after some text, for an hour |
//! | `[[fault:drop]]` | the connection breaks in the middle of a frame |
//! | `[[fault:nostop]]` | the stream ends cleanly but without `messageStop` |
//! | `[[fault:maxtokens]]` | ends with `stopReason: max_tokens` |
//! | `[[once]]` | with a fault: only the first time this question is asked (a transient fault, so retrying works) |
//!
//! A request whose system prompt asks for a *conversation title* (see
//! [`answer::is_title_request`]) gets a short title instead, at once; of the
//! faults only `throttle` applies to it, and it never uses up a `[[once]]`.

use std::{
    collections::HashSet,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use futures_util::{StreamExt, stream};
use serde_json::{Value, json};

mod answer;

pub use answer::compose;

#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Time between text deltas unless a request says otherwise.
    pub pace: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            pace: Duration::from_millis(15),
        }
    }
}

#[derive(Clone)]
struct Emulator {
    config: Config,
    /// Questions whose `[[once]]` fault has already happened.
    faulted: Arc<Mutex<HashSet<String>>>,
}

pub fn router(config: Config) -> Router {
    let emulator = Emulator {
        config,
        faulted: Arc::default(),
    };
    Router::new()
        .route("/model/{model_id}/converse-stream", post(converse_stream))
        .with_state(emulator)
}

/// Serves on `addr` (port 0 for any) in the background; returns the address.
pub async fn spawn(addr: SocketAddr, config: Config) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router(config)).await });
    Ok(local)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    Throttle,
    MidStream,
    Stall,
    Drop,
    NoStop,
    MaxTokens,
}

/// The pace and fault that markers in `text` ask for.
pub fn markers(text: &str) -> (Option<Duration>, Option<Fault>) {
    let pace = text
        .split("[[pace:")
        .nth(1)
        .and_then(|rest| rest.split("]]").next())
        .and_then(|ms| ms.trim().parse().ok())
        .map(Duration::from_millis);
    let fault = [
        ("[[fault:throttle]]", Fault::Throttle),
        ("[[fault:midstream]]", Fault::MidStream),
        ("[[fault:stall]]", Fault::Stall),
        ("[[fault:drop]]", Fault::Drop),
        ("[[fault:nostop]]", Fault::NoStop),
        ("[[fault:maxtokens]]", Fault::MaxTokens),
    ]
    .into_iter()
    .find_map(|(marker, fault)| text.contains(marker).then_some(fault));
    (pace, fault)
}

fn error_response(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        [("x-amzn-errortype", kind)],
        Json(json!({ "message": message })),
    )
        .into_response()
}

async fn converse_stream(
    State(emulator): State<Emulator>,
    Path(model_id): Path<String>,
    body: Bytes,
) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            "Malformed request body",
        );
    };
    let Some(messages) = request["messages"].as_array().filter(|m| !m.is_empty()) else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            "messages must not be empty",
        );
    };
    let last = answer::text_of(messages.last().unwrap_or(&Value::Null));
    let title_request = answer::is_title_request(&request);
    let (pace, mut fault) = markers(&last);
    if fault.is_some() && last.contains("[[once]]") {
        let mut faulted = emulator.faulted.lock().unwrap();
        let used = if title_request {
            faulted.contains(&last)
        } else {
            !faulted.insert(last.clone())
        };
        if used {
            fault = None;
        }
    }
    if title_request && fault != Some(Fault::Throttle) {
        fault = None;
    }
    if fault == Some(Fault::Throttle) {
        return error_response(
            StatusCode::TOO_MANY_REQUESTS,
            "ThrottlingException",
            "Too many requests, please wait before trying again.",
        );
    }
    let (text, pace) = if title_request {
        (answer::title(&last), Duration::ZERO)
    } else {
        (compose(&model_id, &request), pace.unwrap_or(emulator.config.pace))
    };
    let frames = frames(&text, &request, fault);
    let stream = stream::iter(frames).then(move |step| async move {
        match step {
            Step::Frame(bytes) => {
                tokio::time::sleep(pace).await;
                Ok::<_, std::io::Error>(bytes)
            }
            Step::Stall => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(Bytes::new())
            }
            Step::Break => Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "emulated drop",
            )),
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/vnd.amazon.eventstream")
        .header("x-amzn-requestid", "emulator-0000")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

enum Step {
    Frame(Bytes),
    Stall,
    Break,
}

fn frame(kind: &str, name: &str, payload: Value) -> Bytes {
    let type_header = if kind == "event" {
        ":event-type"
    } else {
        ":exception-type"
    };
    let message = Message::new(payload.to_string().into_bytes())
        .add_header(Header::new(
            ":message-type",
            HeaderValue::String(kind.to_string().into()),
        ))
        .add_header(Header::new(
            type_header,
            HeaderValue::String(name.to_string().into()),
        ))
        .add_header(Header::new(
            ":content-type",
            HeaderValue::String("application/json".to_string().into()),
        ));
    let mut buffer = Vec::new();
    write_message_to(&message, &mut buffer).expect("an event frame always encodes");
    Bytes::from(buffer)
}

/// The answer as a sequence of network writes. Deltas are 1–4 characters,
/// and every third frame is split in two writes, so a client must reassemble
/// frames (and multi-byte Korean text) across network chunks.
fn frames(text: &str, request: &Value, fault: Option<Fault>) -> Vec<Step> {
    let mut steps = vec![Step::Frame(frame(
        "event",
        "messageStart",
        json!({ "role": "assistant" }),
    ))];
    let chars: Vec<char> = text.chars().collect();
    let mut deltas = Vec::new();
    let mut at = 0;
    while at < chars.len() {
        let len = 1 + (at * 7 + 3) % 4;
        let end = (at + len).min(chars.len());
        deltas.push(chars[at..end].iter().collect::<String>());
        at = end;
    }
    let cut_after = deltas.len() / 3;
    for (i, delta) in deltas.iter().enumerate() {
        if i == cut_after {
            match fault {
                Some(Fault::MidStream) => {
                    steps.push(Step::Frame(frame(
                        "exception",
                        "modelStreamErrorException",
                        json!({ "message": "The model stream failed (emulated)." }),
                    )));
                    return steps;
                }
                Some(Fault::Stall) => {
                    steps.push(Step::Stall);
                    return steps;
                }
                Some(Fault::Drop) => {
                    let next = frame(
                        "event",
                        "contentBlockDelta",
                        json!({ "contentBlockIndex": 0, "delta": { "text": delta } }),
                    );
                    steps.push(Step::Frame(next.slice(..next.len() / 2)));
                    steps.push(Step::Break);
                    return steps;
                }
                _ => {}
            }
        }
        let bytes = frame(
            "event",
            "contentBlockDelta",
            json!({ "contentBlockIndex": 0, "delta": { "text": delta } }),
        );
        if i % 3 == 2 {
            let middle = bytes.len() / 2;
            steps.push(Step::Frame(bytes.slice(..middle)));
            steps.push(Step::Frame(bytes.slice(middle..)));
        } else {
            steps.push(Step::Frame(bytes));
        }
    }
    steps.push(Step::Frame(frame(
        "event",
        "contentBlockStop",
        json!({ "contentBlockIndex": 0 }),
    )));
    if fault == Some(Fault::NoStop) {
        return steps;
    }
    let stop_reason = if fault == Some(Fault::MaxTokens) {
        "max_tokens"
    } else {
        "end_turn"
    };
    steps.push(Step::Frame(frame(
        "event",
        "messageStop",
        json!({ "stopReason": stop_reason }),
    )));
    let input_tokens = (request.to_string().chars().count() / 3) as u64;
    let output_tokens = deltas.len() as u64;
    steps.push(Step::Frame(frame(
        "event",
        "metadata",
        json!({
            "usage": {
                "inputTokens": input_tokens, "outputTokens": output_tokens,
                "totalTokens": input_tokens + output_tokens,
                "cacheReadInputTokens": 0, "cacheWriteInputTokens": 0
            },
            "metrics": { "latencyMs": 42 }
        }),
    )));
    steps
}
