//! `GET /api/answers/{id}/events`: an answer as server-sent events.
//!
//! The payloads are `app::stream`'s types, which the browser reads too.
//! `delta` events carry the end offset as their id, so a reconnecting
//! browser (`Last-Event-ID`) or a reloaded page (`?from=`) continues exactly
//! where it was; `done` ends the stream. Each reader's answer is rendered
//! here ([`render::stream::Streaming`]) and its HTML sent as patches beside
//! the text: the first delta of a connection carries the whole HTML, later
//! ones the HTML at most every [`RENDER_EVERY`]. Keep-alive
//! comments every 15 s stop proxies from closing a quiet stream.

use std::{convert::Infallible, sync::Arc, time::Duration};

use app::stream as wire;
use axum::{
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use tokio::{sync::broadcast, time::Instant};

use render::stream::{Patch, Streaming};

use super::{Ended, LiveEvent, Solver, Subscription, service::api_status};
use crate::{
    auth::AuthSession,
    storage::{MessageId, MessageStatus, UserId},
};

/// How often an answer is looked up again while the database says it
/// streams but no replica's mirror has it yet.
const POLL_EVERY: Duration = Duration::from_millis(500);

/// A reader's HTML is rendered at most this often: text leaves as it comes,
/// and the HTML rides along with the next delta once this much time has
/// passed since the last render (ten frames a second, however fast the
/// model writes: each render reads the answer's last block again, and per
/// token that was most of the server's work for an answer). When the model
/// pauses, what is pending is rendered this long after its last text.
pub const RENDER_EVERY: Duration = Duration::from_millis(100);

#[derive(Deserialize)]
pub struct FromOffset {
    from: Option<usize>,
}

pub async fn answer_events(
    State(solver): State<Arc<Solver>>,
    Path(id): Path<i64>,
    Query(query): Query<FromOffset>,
    headers: HeaderMap,
    auth: AuthSession,
) -> Response {
    let Some(user) = auth.user.map(|u| u.id) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let id = MessageId(id);
    // An answer this process writes for this student needs no query (the
    // browser opens this right after asking); any other is looked up, and
    // another student's answer is as missing as one that does not exist.
    if !solver.generates_for(user, id) {
        match solver.message_row_of(user, id).await {
            Ok(Some(_)) => {}
            Ok(None) => return StatusCode::NOT_FOUND.into_response(),
            Err(err) => {
                tracing::error!(error = %err, "cannot load an answer");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        }
    }
    let from = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .or(query.from)
        .unwrap_or(0);
    // The stream is the reader's whole loop, run by the connection's own
    // task as hyper asks for the next event: one wake per event, nothing
    // queued between the answer's live buffer and the socket, and when the
    // browser goes the loop is dropped with its subscription. On shutdown
    // the stream ends; the browser reconnects elsewhere with its last event id.
    let closing = {
        let solver = solver.clone();
        async move { solver.closing().await }
    };
    let events = follow(solver, user, id, from)
        .map(Ok::<_, Infallible>)
        .take_until(closing);
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// One reader's view of the answer: how much of its text it has, and its
/// HTML, rendered here from the text this connection has seen.
struct Reader {
    /// Bytes of text the reader has.
    sent: usize,
    /// The rendering; `None` until this connection's first delta, which
    /// carries the whole HTML.
    html: Option<Streaming>,
    /// When the HTML was last rendered, and when text last came.
    rendered_at: Instant,
    appended_at: Instant,
}

impl Reader {
    fn new(from: usize) -> Self {
        Self {
            sent: from,
            html: None,
            rendered_at: Instant::now(),
            appended_at: Instant::now(),
        }
    }

    /// When the text the reader has but its HTML lacks must be rendered,
    /// if no more text comes first.
    fn render_due(&self) -> Option<Instant> {
        self.html
            .as_ref()
            .is_some_and(Streaming::pending)
            .then(|| self.appended_at + RENDER_EVERY)
    }

    /// The HTML patch for what is pending, now.
    fn render(&mut self) -> Option<Patch> {
        let patch = self.html.as_mut()?.update();
        self.rendered_at = Instant::now();
        patch
    }

    /// An event with only the HTML that catches up with the text.
    fn render_pending(&mut self) -> Option<Event> {
        let patch = self.render()?;
        Some(delta(self.sent, "", Some(patch)))
    }

    /// The event that brings the reader up to `text` (all of the answer so
    /// far), or `None` when it has all of it and its HTML is up to date.
    fn catch_up(&mut self, text: &str) -> Option<Event> {
        let (offset, rest) = after(text, self.sent);
        let restarts = offset == 0 && self.sent != 0;
        match &mut self.html {
            Some(streaming) if !restarts => streaming.append(text.get(streaming.len()..).unwrap_or_default()),
            _ => self.html.insert(Streaming::default()).append(text),
        }
        let html = self.render();
        self.sent = if restarts {
            text.len()
        } else {
            self.sent.max(offset + rest.len())
        };
        (!rest.is_empty() || html.is_some()).then(|| delta(offset, rest, html))
    }

    /// Live text at byte `offset` (it follows what the reader has), with
    /// its HTML when a render is due.
    fn more(&mut self, offset: usize, text: &str) -> Event {
        if let Some(streaming) = self.html.as_mut()
            && let Some(known) = streaming.len().checked_sub(offset)
        {
            streaming.append(text.get(known..).unwrap_or_default());
        }
        self.sent = offset + text.len();
        self.appended_at = Instant::now();
        let due = self.rendered_at + RENDER_EVERY <= self.appended_at;
        delta(offset, text, if due { self.render() } else { None })
    }

    /// The answer ended: the last patch, when rendering block by block
    /// left the HTML different from the whole answer's, then `done`.
    fn end(&mut self, ended: Ended) -> impl Iterator<Item = Event> + use<> {
        let patch = self.html.as_mut().and_then(Streaming::finish);
        let last = patch.map(|patch| delta(self.sent, "", Some(patch)));
        last.into_iter()
            .chain(std::iter::once(done(ended.status, ended.error, ended.usage)))
    }
}

fn delta(offset: usize, text: &str, html: Option<Patch>) -> Event {
    let data = wire::Delta {
        offset,
        text: text.into(),
        html: html.as_ref().map(|patch| wire::HtmlPatch {
            at: patch.at,
            html: patch.html.as_str().into(),
        }),
    };
    Event::default()
        .event(wire::DELTA)
        .id((offset + text.len()).to_string())
        .data(serde_json::to_string(&data).unwrap_or_default())
}

fn done(status: MessageStatus, error: Option<String>, usage: Option<crate::storage::AnswerUsage>) -> Event {
    let data = wire::Done {
        status: api_status(status),
        error,
        usage: usage.map(super::service::usage_view),
    };
    Event::default()
        .event(wire::DONE)
        .data(serde_json::to_string(&data).unwrap_or_default())
}

/// The part of `text` after `from`, or all of it when `from` does not fit.
/// The part of `text` after byte `from`. A reader that is ahead of `text`
/// (the database is a flush behind memory) gets nothing yet; an offset that
/// is not a character boundary (never sent by us) restarts from the top.
fn after(text: &str, from: usize) -> (usize, &str) {
    if from > text.len() {
        (from, "")
    } else if text.is_char_boundary(from) {
        (from, &text[from..])
    } else {
        (0, text)
    }
}

/// The events that bring a reader from byte `from` to the answer's end.
fn follow(solver: Arc<Solver>, user: UserId, id: MessageId, from: usize) -> impl Stream<Item = Event> {
    async_stream::stream! {
        let mut reader = Reader::new(from);
        loop {
            let subscription = match solver.follow(id).await {
                Ok(subscription) => subscription,
                Err(err) => {
                    tracing::warn!(error = %err, answer = id.0, "cannot follow an answer");
                    return;
                }
            };
            // Not streaming any more (or not yet visible as such): the stored row.
            let Some(Subscription {
                text: so_far,
                ended,
                events: mut live,
            }) = subscription
            else {
                let message = match solver.message_of(user, id).await {
                    Ok(Some(message)) => message,
                    _ => return,
                };
                if let Some(event) = reader.catch_up(&message.content) {
                    yield event;
                }
                if message.status != MessageStatus::Streaming {
                    let ended = Ended {
                        status: message.status,
                        error: message.error,
                        usage: None,
                    };
                    for event in reader.end(ended) {
                        yield event;
                    }
                    return;
                }
                tokio::time::sleep(POLL_EVERY).await;
                continue;
            };
            if let Some(event) = reader.catch_up(&so_far) {
                yield event;
            }
            if let Some(ended) = ended {
                for event in reader.end(ended) {
                    yield event;
                }
                return;
            }
            // A reader too slow for the live buffer (it lagged) is not waited
            // for: it starts again from what it has, with the rest as one
            // delta, and follows live from there.
            loop {
                // Text the HTML lacks is rendered when due, even if no more comes.
                let next = match reader.render_due() {
                    Some(due) => match tokio::time::timeout_at(due, live.recv()).await {
                        Ok(next) => next,
                        Err(_) => {
                            if let Some(event) = reader.render_pending() {
                                yield event;
                            }
                            continue;
                        }
                    },
                    None => live.recv().await,
                };
                match next {
                    Ok(LiveEvent::Delta { offset, mut text }) => {
                        // Deltas that queued up meanwhile leave as one event: no
                        // delay when the server keeps up, fewer writes when it is busy.
                        let mut then = None;
                        loop {
                            match live.try_recv() {
                                Ok(LiveEvent::Delta { text: more, .. }) => text.push_str(&more),
                                Ok(LiveEvent::Done(ended)) => {
                                    then = Some(Some(ended));
                                    break;
                                }
                                Err(broadcast::error::TryRecvError::Empty) => break,
                                Err(err) => {
                                    if matches!(err, broadcast::error::TryRecvError::Lagged(_)) {
                                        metrics::counter!("weasel_readers_lagged_total").increment(1);
                                    }
                                    then = Some(None);
                                    break;
                                }
                            }
                        }
                        yield reader.more(offset, &text);
                        match then {
                            Some(Some(ended)) => {
                                for event in reader.end(*ended) {
                                    yield event;
                                }
                                return;
                            }
                            Some(None) => break,
                            None => {}
                        }
                    }
                    Ok(LiveEvent::Done(ended)) => {
                        for event in reader.end(*ended) {
                            yield event;
                        }
                        return;
                    }
                    // Lagged: catch up from the text so far. Closed: look again.
                    Err(err) => {
                        if matches!(err, broadcast::error::RecvError::Lagged(_)) {
                            metrics::counter!("weasel_readers_lagged_total").increment(1);
                        }
                        break;
                    }
                }
            }
        }
    }
}
