//! The photo routes:
//! - `POST /api/images`: one image as the body → [`UploadedImage`] JSON, or
//!   an [`UploadRefusal`] (4xx, in the uploader's language);
//! - `DELETE /api/images/{id}`: takes an unsent upload back;
//! - `GET /images/{id}`: the image, for its owner only;
//! - `GET /s/{token}/images/{id}`: the image, through a live share link;
//! - `POST /api/transcribe`: the photos written out as text, streamed as
//!   lines of JSON ([`TranscriptEvent`]).
//!
//! Images are answered with their stored type, `nosniff`, `private` caching
//! (they never change under an id) and a sandboxing CSP, and 404 for
//! anything the caller may not see, so ids cannot be probed.

use std::{sync::Arc, time::Duration};

use app::{
    api::{UploadRefusal, UploadedImage},
    error::PhotoProblem,
    i18n::Lang,
    stream::{TranscribeRequest, TranscriptEvent},
};
use axum::{
    Json,
    body::Body,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures_util::StreamExt;

use super::{ImageError, Images, UploadError};
use crate::{
    auth::AuthSession,
    model::{ModelEvent, Usage},
    solve::{SolveError, Solver},
};

fn lang_of(headers: &HeaderMap) -> Lang {
    let get = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    Lang::negotiate(get(header::COOKIE), get(header::ACCEPT_LANGUAGE))
}

fn refusal(status: StatusCode, problem: PhotoProblem, lang: Lang) -> Response {
    let body = UploadRefusal {
        error: problem.code().into(),
        message: problem.message(lang).into(),
    };
    (status, Json(body)).into_response()
}

fn unauthorized(lang: Lang) -> Response {
    let message = app::error::AppError::Unauthorized.message(lang);
    (
        StatusCode::UNAUTHORIZED,
        Json(UploadRefusal {
            error: "unauthorized".into(),
            message,
        }),
    )
        .into_response()
}

pub async fn upload(
    State(images): State<Arc<Images>>,
    auth: AuthSession,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let lang = lang_of(&headers);
    let Some(user) = auth.user.map(|u| u.id) else {
        return unauthorized(lang);
    };
    let limit = images.settings().upload_max_bytes;
    let too_large = || refusal(StatusCode::PAYLOAD_TOO_LARGE, PhotoProblem::TooLarge, lang);
    // Refused before reading when the size is announced.
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if announced.is_some_and(|len| len > limit) {
        return too_large();
    }
    let Ok(raw) = axum::body::to_bytes(body, limit).await else {
        return too_large();
    };
    match images.upload(user, raw).await {
        Ok(uploaded) => (
            StatusCode::CREATED,
            Json(UploadedImage {
                id: uploaded.id,
                width: uploaded.width,
                height: uploaded.height,
                bytes: uploaded.bytes,
            }),
        )
            .into_response(),
        Err(err) => upload_refusal(err, lang),
    }
}

fn upload_refusal(err: UploadError, lang: Lang) -> Response {
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    match err {
        UploadError::Image(problem) => {
            let (status, problem) = match problem {
                ImageError::Empty => (StatusCode::BAD_REQUEST, PhotoProblem::Empty),
                ImageError::NotAnImage => (StatusCode::UNSUPPORTED_MEDIA_TYPE, PhotoProblem::NotAnImage),
                ImageError::Unsupported => (StatusCode::UNSUPPORTED_MEDIA_TYPE, PhotoProblem::Unsupported),
                ImageError::Broken => (unprocessable, PhotoProblem::Broken),
                ImageError::TooManyPixels => (unprocessable, PhotoProblem::TooManyPixels),
                ImageError::TooSmall => (unprocessable, PhotoProblem::TooSmall),
                ImageError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, PhotoProblem::TooLarge),
            };
            refusal(status, problem, lang)
        }
        UploadError::DailyLimit => refusal(StatusCode::TOO_MANY_REQUESTS, PhotoProblem::DailyLimit, lang),
        UploadError::TooFast { retry_after_secs } => {
            let mut response = refusal(StatusCode::TOO_MANY_REQUESTS, PhotoProblem::TooFast, lang);
            if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        UploadError::Storage(err) => {
            tracing::error!(error = %err, "cannot record an upload");
            refusal(StatusCode::SERVICE_UNAVAILABLE, PhotoProblem::Unavailable, lang)
        }
        UploadError::Store(err) => {
            tracing::error!(error = %err, "cannot store an upload");
            refusal(StatusCode::SERVICE_UNAVAILABLE, PhotoProblem::Unavailable, lang)
        }
    }
}

pub async fn discard(
    State(images): State<Arc<Images>>,
    auth: AuthSession,
    Path(id): Path<String>,
) -> Response {
    let Some(user) = auth.user.map(|u| u.id) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    match images.discard(user, &id).await {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => StatusCode::NOT_FOUND.into_response(),
        Err(err) => {
            tracing::error!(error = %err, "cannot take an upload back");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

fn image_response(found: Result<Option<(crate::storage::ImageRow, Vec<u8>)>, UploadError>) -> Response {
    match found {
        Ok(Some((row, bytes))) => {
            let mut response = Response::new(Body::from(bytes));
            let headers = response.headers_mut();
            let media_type = if row.media_type == "image/png" {
                "image/png"
            } else {
                "image/jpeg"
            };
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=31536000, immutable"),
            );
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; sandbox"),
            );
            headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("inline"));
            response
        }
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(err) => {
            tracing::error!(error = %err, "cannot read an image");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

pub async fn owned(State(images): State<Arc<Images>>, auth: AuthSession, Path(id): Path<String>) -> Response {
    let Some(user) = auth.user.map(|u| u.id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    image_response(images.for_owner(user, &id).await)
}

pub async fn shared(
    State(images): State<Arc<Images>>,
    Path((token, id)): Path<(String, String)>,
) -> Response {
    image_response(images.for_share(&token, &id).await)
}

/// One line of the transcript stream.
fn line(event: &TranscriptEvent) -> axum::body::Bytes {
    let mut json = serde_json::to_vec(event).unwrap_or_default();
    json.push(b'\n');
    json.into()
}

pub async fn transcribe(
    State(solver): State<Arc<Solver>>,
    auth: AuthSession,
    headers: HeaderMap,
    Json(request): Json<TranscribeRequest>,
) -> Response {
    let lang = lang_of(&headers);
    let Some(user) = auth.user.map(|u| u.id) else {
        return unauthorized(lang);
    };
    let transcription = match solver
        .transcribe(user, &request.images, request.subject.into())
        .await
    {
        Ok(transcription) => transcription,
        Err(err) => {
            let status = match &err {
                SolveError::Limit(_) => StatusCode::TOO_MANY_REQUESTS,
                SolveError::Restarting | SolveError::Model(_) => StatusCode::SERVICE_UNAVAILABLE,
                SolveError::Storage(_) => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            let message = app::error::AppError::from(err).message(lang);
            return (
                status,
                Json(UploadRefusal {
                    error: "transcribe".into(),
                    message,
                }),
            )
                .into_response();
        }
    };
    let failed = lang
        .t(
            "사진을 다 읽지 못했어요. 읽은 데까지 고치거나 다시 읽어 주세요.",
            "The photos could not be read to the end. Fix what was read, or read them again.",
        )
        .to_string();
    let (tx, rx) = tokio::sync::mpsc::channel::<axum::body::Bytes>(64);
    tokio::spawn(async move {
        let mut stream = transcription.stream;
        let mut usage = Usage::default();
        let mut message = None;
        let idle: Duration = transcription.idle_timeout;
        loop {
            match tokio::time::timeout(idle, stream.next()).await {
                Ok(Some(Ok(ModelEvent::Text(text)))) => {
                    // The student left: the model is stopped, what was read is still paid.
                    if tx.send(line(&TranscriptEvent::Text { text })).await.is_err() {
                        break;
                    }
                }
                Ok(Some(Ok(ModelEvent::Usage(used)))) => usage = used,
                Ok(Some(Ok(ModelEvent::Stop(_)))) => {}
                Ok(None) => break,
                Ok(Some(Err(err))) => {
                    tracing::warn!(error = %err, "a transcription failed");
                    message = Some(failed.clone());
                    break;
                }
                Err(_) => {
                    message = Some(failed.clone());
                    break;
                }
            }
        }
        let _ = tx.send(line(&TranscriptEvent::Done { message })).await;
        solver
            .settle_transcription(
                transcription.user,
                &transcription.day,
                &transcription.model_id,
                &usage,
            )
            .await;
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, std::io::Error>(b), rx))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/x-ndjson; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        // Proxies must pass each line on as it comes.
        .header("x-accel-buffering", "no")
        .body(Body::from_stream(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
