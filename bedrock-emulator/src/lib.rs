//! A local stand-in for AWS Bedrock, for tests and offline development. It
//! speaks the real wire protocol, so the real AWS SDK client is what the
//! application and its tests exercise:
//! - `POST /model/{modelId}/converse-stream` (Converse) and
//!   `POST /model/{modelId}/invoke-with-response-stream` with an Anthropic
//!   Messages body: AWS event-stream frames, see [`shapes`];
//! - `GET /foundation-models/{id}` and `GET /inference-profiles/{id}`, the
//!   control plane's lookups (lifecycle, end of life), see [`control`].
//!
//! Model ids are checked against [`catalogue`]: a retired or unknown id gets
//! Bedrock's `ValidationException`, a base id that needs an inference
//! profile gets the on-demand refusal, a newer model called through
//! Converse is refused, and so is `temperature` on a model that rejects it.
//! Usage is billed with a prompt cache ([`usage`]): cache points
//! (`cachePoint` / `cache_control`) write a long enough prefix once and read
//! it afterwards, reported as cache write and read tokens.
//!
//! Answers are a deterministic function of the request: Korean, Markdown,
//! LaTeX and a "정답:" line, and an echo of the conversation it received so
//! tests can check the context. Markers in the last user message select a
//! pace or a fault for that request:
//!
//! | marker | effect |
//! | --- | --- |
//! | `[[pace:MS]]` | MS milliseconds between text deltas |
//! | `[[bytes:N]]` | a long Korean explanation of about N bytes instead of the usual answer |
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

use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use futures_util::{StreamExt, stream};
use serde_json::{Value, json};

mod answer;
pub mod catalogue;
pub mod control;
pub mod shapes;
pub mod usage;
pub mod vision;

use shapes::Shape;
use usage::{Billed, PromptCache};

pub use answer::{compose, long};

/// What the emulator is about to send for an answer (not for a title).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sent {
    /// The request arrived.
    Request,
    /// A text delta leaves: the answer's first `end` bytes are now sent.
    Text { end: usize },
}

/// Called with the request's last user message and what is sent, at the
/// moment it is handed to the connection: benchmarks time the way from the
/// model to a reader with it.
pub type Recorder = Arc<dyn Fn(&str, Sent) + Send + Sync>;

#[derive(Clone)]
pub struct Config {
    /// Time between text deltas unless a request says otherwise.
    pub pace: Duration,
    pub recorder: Option<Recorder>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            pace: Duration::from_millis(15),
            recorder: None,
        }
    }
}

#[derive(Clone)]
struct Emulator {
    config: Config,
    /// Questions whose `[[once]]` fault has already happened.
    faulted: Arc<Mutex<HashSet<String>>>,
    cache: Arc<PromptCache>,
}

pub fn router(config: Config) -> Router {
    let emulator = Emulator {
        config,
        faulted: Arc::default(),
        cache: Arc::default(),
    };
    Router::new()
        .route("/model/{model_id}/converse-stream", post(converse_stream))
        .route(
            "/model/{model_id}/invoke-with-response-stream",
            post(invoke_with_response_stream),
        )
        .route("/foundation-models/{model_id}", get(control::foundation_model))
        .route(
            "/inference-profiles/{profile_id}",
            get(control::inference_profile),
        )
        .route(
            "/foundation-model-availability/{model_id}",
            get(control::foundation_model_availability),
        )
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

/// The number in a `[[name:N]]` marker of `text`.
fn number(text: &str, name: &str) -> Option<u64> {
    text.split(&format!("[[{name}:"))
        .nth(1)
        .and_then(|rest| rest.split("]]").next())
        .and_then(|n| n.trim().parse().ok())
}

/// The answer to a question with a `[[bytes:N]]` marker: a Korean
/// explanation of about N bytes, deterministic for the question.
pub fn long_answer_for(question: &str) -> Option<String> {
    let bytes = number(question, "bytes")?;
    let seed = question
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    Some(long(seed, bytes as usize))
}

/// The pace and fault that markers in `text` ask for.
pub fn markers(text: &str) -> (Option<Duration>, Option<Fault>) {
    let pace = number(text, "pace").map(Duration::from_millis);
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
    answer_stream(&emulator, &model_id, &body, Shape::Converse)
}

async fn invoke_with_response_stream(
    State(emulator): State<Emulator>,
    Path(model_id): Path<String>,
    body: Bytes,
) -> Response {
    answer_stream(&emulator, &model_id, &body, Shape::Messages)
}

fn validation(message: &str) -> Response {
    error_response(StatusCode::BAD_REQUEST, "ValidationException", message)
}

fn answer_stream(emulator: &Emulator, model_id: &str, body: &[u8], shape: Shape) -> Response {
    let model = match catalogue::resolve(model_id) {
        Ok(model) => model,
        Err(refusal) => return validation(&refusal.message()),
    };
    if !model.authorized {
        return error_response(
            StatusCode::FORBIDDEN,
            "AccessDeniedException",
            "You don't have access to the model with the specified model ID.",
        );
    }
    if shape == Shape::Converse && model.shapes == catalogue::Shapes::MessagesOnly {
        return validation(&format!(
            "{} is served through the Anthropic Messages API (InvokeModel); it does not support Converse.",
            model.name
        ));
    }
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return validation("Malformed request body");
    };
    let prompt = match shape {
        Shape::Converse => shapes::converse(&body),
        Shape::Messages => shapes::messages(&body),
    };
    let prompt = match prompt {
        Ok(prompt) => prompt,
        Err(message) => return validation(&message),
    };
    if model.rejects_temperature && prompt.temperature {
        return validation("temperature is deprecated for this model.");
    }
    let request = prompt.request;
    let messages = request["messages"].as_array().cloned().unwrap_or_default();
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
    } else if let Some(text) = long_answer_for(&last) {
        (text, pace.unwrap_or(emulator.config.pace))
    } else {
        (compose(model_id, &request), pace.unwrap_or(emulator.config.pace))
    };
    let billed = emulator
        .cache
        .bill(model.base_id, model.min_cache_tokens, &prompt.blocks);
    let recorder = emulator.config.recorder.clone().filter(|_| !title_request);
    if let Some(record) = &recorder {
        record(&last, Sent::Request);
    }
    let last = Arc::new(last);
    let frames = frames(shape, model.base_id, &text, billed, fault);
    let stream = stream::iter(frames).then(move |step| {
        let (recorder, last) = (recorder.clone(), last.clone());
        async move {
            match step {
                Step::Frame { bytes, paced, end } => {
                    if paced {
                        tokio::time::sleep(pace).await;
                    }
                    if let (Some(record), Some(end)) = (&recorder, end) {
                        record(&last, Sent::Text { end });
                    }
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
    /// A network write. `paced`: the pace passes before it (not before the
    /// second half of a split frame). `end`: the answer's bytes sent once it
    /// is written, when it completes a text delta.
    Frame {
        bytes: Bytes,
        paced: bool,
        end: Option<usize>,
    },
    Stall,
    Break,
}

impl Step {
    fn write(bytes: Bytes) -> Step {
        Step::Frame {
            bytes,
            paced: true,
            end: None,
        }
    }
}

/// The answer as a sequence of network writes. Deltas are 1–4 characters,
/// and every third frame is split in two writes, so a client must reassemble
/// frames (and multi-byte Korean text) across network chunks.
fn frames(shape: Shape, model: &str, text: &str, billed: Billed, fault: Option<Fault>) -> Vec<Step> {
    let opening = shapes::start(shape, model, billed);
    let mut steps: Vec<Step> = opening
        .into_iter()
        .enumerate()
        .map(|(i, bytes)| Step::Frame {
            bytes,
            paced: i == 0,
            end: None,
        })
        .collect();
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
    let mut sent = 0;
    for (i, delta) in deltas.iter().enumerate() {
        if i == cut_after {
            match fault {
                Some(Fault::MidStream) => {
                    steps.push(Step::write(shapes::exception(
                        "modelStreamErrorException",
                        "The model stream failed (emulated).",
                    )));
                    return steps;
                }
                Some(Fault::Stall) => {
                    steps.push(Step::Stall);
                    return steps;
                }
                Some(Fault::Drop) => {
                    let next = shapes::delta(shape, delta);
                    steps.push(Step::write(next.slice(..next.len() / 2)));
                    steps.push(Step::Break);
                    return steps;
                }
                _ => {}
            }
        }
        let bytes = shapes::delta(shape, delta);
        sent += delta.len();
        if i % 3 == 2 {
            let middle = bytes.len() / 2;
            steps.push(Step::write(bytes.slice(..middle)));
            steps.push(Step::Frame {
                bytes: bytes.slice(middle..),
                paced: false,
                end: Some(sent),
            });
        } else {
            steps.push(Step::Frame {
                bytes,
                paced: true,
                end: Some(sent),
            });
        }
    }
    steps.push(Step::write(shapes::block_stop(shape)));
    if fault == Some(Fault::NoStop) {
        return steps;
    }
    let stop_reason = if fault == Some(Fault::MaxTokens) {
        "max_tokens"
    } else {
        "end_turn"
    };
    let output_tokens = deltas.len() as u64;
    steps.push(Step::write(shapes::stop(shape, stop_reason, output_tokens)));
    steps.push(Step::write(shapes::end(shape, billed, output_tokens)));
    steps
}
