//! The data server and browser exchange: what server functions return and
//! take, one type each for both ends. No behaviour beyond small formatting
//! helpers; the server functions live in `api`, the ports in `ports`.

use serde::{Deserialize, Serialize};

/// Which database the server runs on, shown to the user as a plain name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

impl DatabaseKind {
    pub fn label(self) -> &'static str {
        match self {
            DatabaseKind::Sqlite => "SQLite",
            DatabaseKind::Postgres => "PostgreSQL",
        }
    }
}

/// What the status line at the bottom of every page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceStatus {
    pub version: String,
    pub database: DatabaseKind,
    pub database_ok: bool,
}

/// The signed-in user, as the UI may see them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub email: String,
    pub display_name: String,
    pub has_password: bool,
    /// Names of the OAuth providers linked to this account.
    pub providers: Vec<String>,
}

/// A sign-in button to show: only configured providers appear.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderView {
    /// URL segment: `google`, `github`, `kakao`, `naver`.
    pub id: String,
    pub label: String,
}

/// The subject of a problem; each has its own instructions for the model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Subject {
    #[default]
    Korean,
    English,
    Math,
    Other,
}

impl Subject {
    pub const ALL: [Subject; 4] = [Subject::Korean, Subject::English, Subject::Math, Subject::Other];

    pub fn code(self) -> &'static str {
        match self {
            Subject::Korean => "korean",
            Subject::English => "english",
            Subject::Math => "math",
            Subject::Other => "other",
        }
    }

    pub fn from_code(code: &str) -> Option<Subject> {
        Subject::ALL.into_iter().find(|s| s.code() == code)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AnswerStatus {
    Streaming,
    Complete,
    Stopped,
    Failed,
    Interrupted,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageView {
    pub id: i64,
    pub from_student: bool,
    pub content: String,
    /// `content` as safe HTML, rendered on the server (Markdown and math for
    /// an answer, math only for a question): the browser renders nothing.
    pub html: String,
    pub status: AnswerStatus,
    /// Why an answer failed: `throttled`, `timeout`, `stream`, `unavailable`,
    /// `rejected`, `model_gone` (the configured model cannot be called),
    /// `incomplete`, `storage`; why one was interrupted: `lost`
    /// (its server died), `shutdown`; or, on a complete answer, `max_tokens`:
    /// the model stopped at its length limit.
    pub error: Option<String>,
    /// A finished answer's tokens and cost (none while it streams).
    pub usage: Option<AnswerUsage>,
    /// A question's photos (their ids), in order.
    #[serde(default)]
    pub images: Vec<String>,
}

/// What one answer used and cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerUsage {
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    /// Millionths of a US dollar.
    pub cost_micros: i64,
}

impl AnswerUsage {
    pub fn tokens(&self) -> i64 {
        self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_write_tokens
    }
}

/// A student's use over a span of days.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageTotals {
    pub answers: i64,
    pub tokens: i64,
    pub cost_micros: i64,
}

/// The signed-in student's use today and this month (Korea's days), with
/// the daily limits (0: none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageView {
    pub today: UsageTotals,
    pub month: UsageTotals,
    pub answers_per_day: i64,
    pub tokens_per_day: i64,
}

/// Dollars with as many decimals as a small amount needs: `$0.0123`,
/// `$12.35`, rounded half up. Integer arithmetic only: formatting a float
/// would bring Rust's float-printing code into the browser's wasm.
pub fn dollars(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let micros = micros.unsigned_abs();
    // From $0.99995 up, four decimals would round to `$1.0000`.
    if micros >= 999_950 {
        let cents = (micros + 5_000) / 10_000;
        format!("{sign}${}.{:02}", cents / 100, cents % 100)
    } else {
        let units = (micros + 50) / 100;
        format!("{sign}${}.{:04}", units / 10_000, units % 10_000)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationView {
    pub id: i64,
    pub title: String,
    /// The title as safe HTML (its math rendered).
    pub title_html: String,
    pub subject: Subject,
    pub messages: Vec<MessageView>,
    /// Answers come from the offline emulator, not from Claude.
    pub emulator: bool,
    /// The token of its public read-only link, while it is shared.
    pub share: Option<String>,
}

/// A conversation opened through its share link: nothing says whose it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedConversation {
    pub title: String,
    /// The title as safe HTML (its math rendered).
    pub title_html: String,
    pub subject: Subject,
    pub messages: Vec<MessageView>,
}

/// The path of a share link.
pub fn share_path(token: &str) -> String {
    format!("/s/{token}")
}

/// One line of the conversation list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationSummary {
    pub id: i64,
    pub title: String,
    /// The title as safe HTML (its math rendered).
    pub title_html: String,
    pub subject: Subject,
    /// Last activity, Unix milliseconds.
    pub updated_at: i64,
    /// One of its photos, when a question had any (the list shows it small).
    #[serde(default)]
    pub photo: Option<String>,
}

/// A page of the conversation list; `next` continues it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationList {
    pub items: Vec<ConversationSummary>,
    pub next: Option<String>,
}

/// A conversation found by search, with the matching text around the hit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchHit {
    pub conversation: i64,
    pub title: String,
    /// The title as safe HTML (its math rendered).
    pub title_html: String,
    pub subject: Subject,
    /// When the matching message was written, Unix milliseconds.
    pub at: i64,
    pub before: String,
    /// The text that matched, as it is written in the message.
    pub matched: String,
    pub after: String,
}

/// Where a question went: its conversation and the answer being written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asked {
    pub conversation: i64,
    pub answer: i64,
}

/// The most photos one question takes.
pub const MAX_PHOTOS: usize = 4;

/// Where a photo is uploaded: `POST` its bytes as the body (one image).
pub const IMAGE_UPLOAD_PATH: &str = "/api/images";

/// A photo the server checked and kept, as its uploader learns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadedImage {
    pub id: String,
    pub width: u32,
    pub height: u32,
    pub bytes: usize,
}

/// Why an upload was refused: a code and a sentence in the uploader's language.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRefusal {
    pub error: String,
    pub message: String,
}

/// A photo, for its owner.
pub fn image_path(id: &str) -> String {
    format!("/images/{id}")
}

/// A photo in a conversation opened by its share link.
pub fn shared_image_path(token: &str, id: &str) -> String {
    format!("/s/{token}/images/{id}")
}

#[cfg(test)]
mod tests {
    use super::dollars;

    #[test]
    fn dollars_show_cents_or_four_decimals() {
        assert_eq!(dollars(0), "$0.0000");
        assert_eq!(dollars(12_345), "$0.0123");
        assert_eq!(dollars(12_350), "$0.0124");
        assert_eq!(dollars(999_949), "$0.9999");
        assert_eq!(dollars(999_950), "$1.00");
        assert_eq!(dollars(1_000_000), "$1.00");
        assert_eq!(dollars(12_345_678), "$12.35");
        assert_eq!(dollars(12_344_999), "$12.34");
        assert_eq!(dollars(-25_000), "-$0.0250");
    }
}
