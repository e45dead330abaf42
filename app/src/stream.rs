//! The answer stream's wire contract, one set of types for both ends:
//! `GET /api/answers/{id}/events` sends server-sent events named [`DELTA`]
//! (data: [`Delta`], id: the byte offset after it) until one named [`DONE`]
//! (data: [`Done`]). The server writes them, the browser reads them.
//!
//! The server also renders the answer (Markdown and math, sanitized) and
//! sends the HTML as patches beside the text: the browser keeps the text
//! (to copy, to resume from) and shows the HTML, and never renders anything
//! itself. Each connection's first delta carries the whole HTML (`at` 0).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::dto::{AnswerStatus, AnswerUsage};

/// The event name of text.
pub const DELTA: &str = "delta";
/// The event name of the end.
pub const DONE: &str = "done";

/// `text` goes at byte `offset` of the answer (replacing anything after it);
/// `html`, when present, updates the answer's HTML. The HTML may trail the
/// text by a tenth of a second: a delta can carry text alone, and a later
/// one HTML alone (empty `text`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delta<'a> {
    pub offset: usize,
    #[serde(borrow)]
    pub text: Cow<'a, str>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub html: Option<HtmlPatch<'a>>,
}

/// The reader truncates the answer's HTML to byte `at`, then appends `html`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HtmlPatch<'a> {
    pub at: usize,
    #[serde(borrow)]
    pub html: Cow<'a, str>,
}

impl HtmlPatch<'_> {
    /// Applies the patch to `html`; false (and `html` untouched) when it
    /// does not fit.
    pub fn apply(&self, html: &mut String) -> bool {
        if self.at > html.len() || !html.is_char_boundary(self.at) {
            return false;
        }
        html.truncate(self.at);
        html.push_str(&self.html);
        true
    }
}

/// How the answer ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    pub status: AnswerStatus,
    /// Why it failed (`throttled`, `timeout`, …), when it did.
    pub error: Option<String>,
    /// Its tokens and cost, when the server that wrote it tells.
    #[serde(default)]
    pub usage: Option<AnswerUsage>,
}

/// Where the events of answer `id` are, continuing after byte `from`.
pub fn events_path(id: i64, from: usize) -> String {
    format!("/api/answers/{id}/events?from={from}")
}

/// Where the photos of a problem are read out as text: `POST` a
/// [`TranscribeRequest`] as JSON; the answer is lines of JSON, one
/// [`TranscriptEvent`] each, ending with [`TranscriptEvent::Done`].
pub const TRANSCRIBE_PATH: &str = "/api/transcribe";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscribeRequest {
    /// Uploaded, not yet sent photos, in order.
    pub images: Vec<String>,
    pub subject: crate::dto::Subject,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum TranscriptEvent {
    /// More of the transcript.
    Text { text: String },
    /// The end; with `message` (in the reader's language) when it failed.
    Done { message: Option<String> },
}
