//! The one error type server functions return. It crosses the wire as JSON,
//! carries codes rather than sentences, and the UI words it in the reader's
//! language ([`AppError::message`]); internal causes never leave the server.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

use crate::i18n::Lang;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("sign-in required")]
    Unauthorized,
    #[error("not found")]
    NotFound,
    #[error("invalid input: {0:?}")]
    Invalid(Vec<FieldError>),
    /// Wrong email or password, or an email that cannot be used: one outcome,
    /// so nobody can learn which accounts exist.
    #[error("these credentials were not accepted")]
    BadCredentials,
    /// The password was right, but the account's email is not verified yet;
    /// a new link has been sent.
    #[error("email not verified")]
    EmailUnverified,
    /// A link from a mail that is unknown, used or expired.
    #[error("link expired or used")]
    LinkExpired,
    #[error("too many attempts; retry in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    #[error("request refused")]
    Forbidden,
    /// The action does not fit the answer's state (say, retrying one still being written).
    #[error("conflicting state")]
    Conflict,
    /// The request itself was malformed: a missing or mistyped field, a body
    /// that is not what the endpoint reads, a NUL character.
    #[error("malformed request")]
    BadRequest,
    /// The request body is larger than the server accepts.
    #[error("request too large")]
    TooLarge,
    /// This server is restarting and takes no new questions; another will.
    #[error("restarting")]
    Restarting,
    /// The database could not take the request in time (every connection
    /// busy): nothing was written, the same request may be sent again.
    #[error("busy")]
    Busy,
    /// A daily limit is reached; it lifts at midnight in Korea.
    #[error("daily limit reached: {limit:?}")]
    LimitReached { limit: DailyLimit, resets_in_secs: i64 },
    #[error("internal error")]
    Internal,
    /// The request never completed (network, decoding): made on the client.
    #[error("request failed: {0}")]
    Transport(String),
}

/// Which daily limit stopped a new question.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DailyLimit {
    /// The student asked the day's number of questions.
    Answers { per_day: i64 },
    /// The student's answers used the day's tokens.
    Tokens,
    /// Everyone's answers together reached the day's budget.
    Budget,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Field {
    Email,
    Password,
    Confirm,
    CurrentPassword,
    Question,
    Title,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Problem {
    Required,
    TooLong,
    EmailInvalid,
    PasswordTooShort,
    PasswordTooLong,
    PasswordTooCommon,
    /// Keyboard rows, repeats, sequences.
    PasswordPattern,
    /// Dates and years.
    PasswordDate,
    /// Guessable for another reason (say, a word or a name with a digit).
    PasswordGuessable,
    PasswordContainsEmail,
    PasswordsDiffer,
    CurrentPasswordWrong,
    ConfirmationDiffers,
    /// More photos than a question takes.
    TooManyPhotos,
    /// A photo is no longer there (removed, or sent already).
    PhotoGone,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: Field,
    pub problem: Problem,
}

impl AppError {
    pub fn invalid(field: Field, problem: Problem) -> Self {
        AppError::Invalid(vec![FieldError { field, problem }])
    }

    /// The problem with `field`, if this error names one.
    pub fn field(&self, field: Field) -> Option<Problem> {
        match self {
            AppError::Invalid(errors) => errors.iter().find(|e| e.field == field).map(|e| e.problem),
            _ => None,
        }
    }

    /// A sentence for the person who caused it.
    pub fn message(&self, lang: Lang) -> String {
        match self {
            AppError::Unauthorized => lang.t("로그인이 필요해요.", "Please sign in first.").into(),
            AppError::NotFound => lang.t("찾을 수 없어요.", "Not found.").into(),
            AppError::Invalid(_) => lang
                .t(
                    "입력한 내용을 확인해 주세요.",
                    "Please check the highlighted fields.",
                )
                .into(),
            AppError::BadCredentials => lang
                .t(
                    "이메일 또는 비밀번호가 올바르지 않아요.",
                    "The email or password is not correct.",
                )
                .into(),
            AppError::EmailUnverified => lang
                .t(
                    "이메일 주소 확인이 아직 끝나지 않았어요. 확인 메일을 다시 보냈으니, 메일의 링크를 열고 비밀번호를 한 번 더 입력해 주세요.",
                    "Your email is not confirmed yet. We sent the link again: open it and enter your password once more.",
                )
                .into(),
            AppError::LinkExpired => lang
                .t(
                    "링크가 만료되었거나 이미 사용되었어요. 새 링크를 요청해 주세요.",
                    "This link has expired or was already used. Please ask for a new one.",
                )
                .into(),
            AppError::Throttled { retry_after_secs } => {
                let minutes = retry_after_secs.div_ceil(60);
                match lang {
                    Lang::Ko => format!("시도가 너무 많아요. {minutes}분 뒤에 다시 시도해 주세요."),
                    Lang::En => format!("Too many attempts. Try again in {minutes} min."),
                }
            }
            AppError::Forbidden => lang.t("요청이 거부되었어요.", "This request was refused.").into(),
            AppError::Conflict => lang
                .t(
                    "지금은 할 수 없어요. 화면을 새로고침해 주세요.",
                    "Not possible right now. Reload the page.",
                )
                .into(),
            AppError::BadRequest => lang
                .t(
                    "요청을 처리할 수 없어요. 페이지를 새로고침한 뒤 다시 시도해 주세요.",
                    "This request could not be read. Reload the page and try again.",
                )
                .into(),
            AppError::TooLarge => lang
                .t(
                    "보낸 내용이 너무 커요. 줄여서 다시 보내 주세요.",
                    "What you sent is too large. Please send less.",
                )
                .into(),
            AppError::Restarting => lang
                .t(
                    "서버가 잠깐 다시 시작하는 중이에요. 몇 초 뒤에 다시 보내 주세요.",
                    "The server is restarting for a moment. Send it again in a few seconds.",
                )
                .into(),
            AppError::Busy => lang
                .t(
                    "지금 질문이 한꺼번에 몰려 받지 못했어요. 아무것도 저장되지 않았으니 잠시 뒤 그대로 다시 보내 주세요.",
                    "Too many questions arrived at once. Nothing was saved: send it again in a moment.",
                )
                .into(),
            AppError::LimitReached { limit, resets_in_secs } => {
                let hours = (*resets_in_secs).max(60).div_euclid(3600);
                let minutes = ((*resets_in_secs).max(60) % 3600).div_euclid(60);
                let (ko_wait, en_wait) = if hours > 0 {
                    (format!("약 {hours}시간 {minutes}분 뒤"), format!("in about {hours} h {minutes} min"))
                } else {
                    (format!("약 {}분 뒤", minutes.max(1)), format!("in about {} min", minutes.max(1)))
                };
                match (limit, lang) {
                    (DailyLimit::Answers { per_day }, Lang::Ko) => format!(
                        "오늘 질문할 수 있는 {per_day}번을 모두 썼어요. 한국 시간 자정({ko_wait})에 다시 질문할 수 있어요."
                    ),
                    (DailyLimit::Answers { per_day }, Lang::En) => format!(
                        "You have asked today's {per_day} questions. You can ask again at midnight Korea time ({en_wait})."
                    ),
                    (DailyLimit::Tokens, Lang::Ko) => format!(
                        "오늘 쓸 수 있는 답변 분량을 모두 썼어요. 한국 시간 자정({ko_wait})에 다시 질문할 수 있어요."
                    ),
                    (DailyLimit::Tokens, Lang::En) => format!(
                        "You have used today's share of answers. You can ask again at midnight Korea time ({en_wait})."
                    ),
                    (DailyLimit::Budget, Lang::Ko) => format!(
                        "오늘은 Weasel이 받을 수 있는 질문이 모두 찼어요. 한국 시간 자정({ko_wait})에 다시 열려요."
                    ),
                    (DailyLimit::Budget, Lang::En) => format!(
                        "Weasel has taken all the questions it can today. It opens again at midnight Korea time ({en_wait})."
                    ),
                }
            }
            AppError::Internal => lang
                .t(
                    "서버에 문제가 생겼어요. 잠시 뒤 다시 시도해 주세요.",
                    "Something went wrong. Please try again.",
                )
                .into(),
            AppError::Transport(_) => lang
                .t(
                    "서버에 연결할 수 없어요. 네트워크를 확인해 주세요.",
                    "Cannot reach the server. Check your connection.",
                )
                .into(),
        }
    }
}

impl Problem {
    pub fn message(self, lang: Lang) -> &'static str {
        match self {
            Problem::Required => lang.t("필수 항목이에요.", "This field is required."),
            Problem::TooLong => lang.t("너무 길어요. 조금 줄여 주세요.", "Too long. Please shorten it."),
            Problem::EmailInvalid => lang.t(
                "올바른 이메일 주소를 입력해 주세요.",
                "Enter a valid email address.",
            ),
            Problem::PasswordTooShort => {
                lang.t("비밀번호는 10자 이상이어야 해요.", "Use at least 10 characters.")
            }
            Problem::PasswordTooLong => {
                lang.t("비밀번호는 128자 이하여야 해요.", "Use at most 128 characters.")
            }
            Problem::PasswordTooCommon => lang.t(
                "너무 흔한 비밀번호예요. 다른 비밀번호를 써 주세요.",
                "This password is too common. Choose another.",
            ),
            Problem::PasswordPattern => lang.t(
                "키보드 배열, 반복, 연속된 글자는 쉽게 추측돼요. 단어 몇 개를 이어 보세요.",
                "Keyboard rows, repeats and sequences are easy to guess. Try a few unrelated words.",
            ),
            Problem::PasswordDate => lang.t(
                "날짜와 연도는 쉽게 추측돼요. 다른 비밀번호를 써 주세요.",
                "Dates and years are easy to guess. Choose another password.",
            ),
            Problem::PasswordGuessable => lang.t(
                "추측하기 쉬운 비밀번호예요. 서로 관계없는 단어를 한두 개 더 넣어 보세요.",
                "This password is easy to guess. Add a word or two that do not belong together.",
            ),
            Problem::PasswordContainsEmail => lang.t(
                "비밀번호에 이메일 주소를 넣지 마세요.",
                "The password must not contain your email.",
            ),
            Problem::PasswordsDiffer => lang.t("비밀번호가 서로 달라요.", "The passwords do not match."),
            Problem::CurrentPasswordWrong => lang.t(
                "현재 비밀번호가 올바르지 않아요.",
                "The current password is not correct.",
            ),
            Problem::TooManyPhotos => PhotoProblem::TooMany.message(lang),
            Problem::PhotoGone => lang.t(
                "사진 하나를 찾을 수 없어요. 사진을 다시 붙여 주세요.",
                "A photo is no longer there. Please attach it again.",
            ),
            Problem::ConfirmationDiffers => {
                lang.t("확인 문구가 일치하지 않아요.", "The confirmation does not match.")
            }
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    /// On the server, arguments that cannot be read are the caller's fault:
    /// 400, not the 500 server_fn would answer. In the browser every such
    /// error is a failed request.
    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            #[cfg(feature = "ssr")]
            ServerFnErrorErr::Args(_)
            | ServerFnErrorErr::MissingArg(_)
            | ServerFnErrorErr::Deserialization(_) => crate::ports::respond::<()>(Err(AppError::BadRequest))
                .err()
                .unwrap_or(AppError::BadRequest),
            other => AppError::Transport(other.to_string()),
        }
    }
}

/// Why a photo cannot be used, for the server's refusals and the
/// browser's own checks alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhotoProblem {
    NotAnImage,
    Unsupported,
    Broken,
    TooLarge,
    TooManyPixels,
    TooSmall,
    Empty,
    DailyLimit,
    TooFast,
    TooMany,
    Unavailable,
    CannotOpen,
}

impl PhotoProblem {
    pub fn code(self) -> &'static str {
        match self {
            PhotoProblem::NotAnImage => "not_an_image",
            PhotoProblem::Unsupported => "unsupported",
            PhotoProblem::Broken => "broken",
            PhotoProblem::TooLarge => "too_large",
            PhotoProblem::TooManyPixels => "too_many_pixels",
            PhotoProblem::TooSmall => "too_small",
            PhotoProblem::Empty => "empty",
            PhotoProblem::DailyLimit => "daily_limit",
            PhotoProblem::TooFast => "too_fast",
            PhotoProblem::TooMany => "too_many",
            PhotoProblem::Unavailable => "unavailable",
            PhotoProblem::CannotOpen => "cannot_open",
        }
    }

    pub fn message(self, lang: Lang) -> &'static str {
        match self {
            PhotoProblem::NotAnImage => lang.t(
                "이미지 파일이 아니에요. JPEG, PNG, WebP, GIF 사진을 올려 주세요.",
                "This file is not an image. Please attach a JPEG, PNG, WebP or GIF photo.",
            ),
            PhotoProblem::Unsupported => lang.t(
                "이 이미지 형식은 쓸 수 없어요. JPEG, PNG, WebP, GIF로 올려 주세요.",
                "This image format cannot be used. Please attach JPEG, PNG, WebP or GIF.",
            ),
            PhotoProblem::Broken => lang.t(
                "이미지 파일이 손상되어 열 수 없어요. 다시 찍거나 다른 파일을 골라 주세요.",
                "The image file is damaged and cannot be opened. Please take it again or pick another file.",
            ),
            PhotoProblem::TooLarge => lang.t(
                "파일이 너무 커요. 10MB 이하의 사진을 올려 주세요.",
                "The file is too large. Please attach a photo of at most 10 MB.",
            ),
            PhotoProblem::TooManyPixels => lang.t(
                "이미지가 너무 커요. 가로세로 8000픽셀 이하로 올려 주세요.",
                "The image is too large. Please keep it under 8000 pixels a side.",
            ),
            PhotoProblem::TooSmall => lang.t(
                "이미지가 너무 작아서 문제를 읽을 수 없어요.",
                "The image is too small to read a problem from.",
            ),
            PhotoProblem::Empty => lang.t("빈 파일이에요.", "The file is empty."),
            PhotoProblem::DailyLimit => lang.t(
                "오늘 올릴 수 있는 사진을 모두 올렸어요. 한국 시간 자정에 다시 올릴 수 있어요.",
                "You have attached today's photos. You can attach more at midnight Korea time.",
            ),
            PhotoProblem::TooFast => lang.t(
                "사진을 너무 빨리 올리고 있어요. 몇 분 뒤에 다시 올려 주세요.",
                "Too many photos in a short time. Please try again in a few minutes.",
            ),
            PhotoProblem::TooMany => lang.t(
                "한 질문에 사진은 4장까지 붙일 수 있어요.",
                "A question can have at most 4 photos.",
            ),
            PhotoProblem::Unavailable => lang.t(
                "사진을 저장하지 못했어요. 잠시 뒤 다시 올려 주세요.",
                "The photo could not be saved. Please try again in a moment.",
            ),
            PhotoProblem::CannotOpen => lang.t(
                "이 브라우저에서 열 수 없는 사진이에요 (HEIC 등). JPEG나 PNG로 바꿔서 올려 주세요.",
                "This browser cannot open the photo (HEIC?). Please convert it to JPEG or PNG.",
            ),
        }
    }
}
