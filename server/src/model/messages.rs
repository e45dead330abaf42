//! The Anthropic Messages shape on Bedrock: `InvokeModelWithResponseStream`
//! with a Messages body (`anthropic_version: bedrock-2023-05-31`), through
//! the AWS SDK (its SigV4 signing and credential chain). Newer Claude
//! models (Opus 4.7 and later, Sonnet 5.x) are served this way, not through
//! Converse. The stream's `chunk` events carry Anthropic's own events:
//! usage arrives in `message_start` (input, cache write, cache read) and
//! `message_delta` (output, with the stop reason).
//!
//! Sampling parameters are left out: the newer generation refuses
//! `temperature` with a 400.

use aws_sdk_bedrockruntime::{
    Client,
    error::SdkError,
    primitives::Blob,
    types::{ResponseStream, error::ResponseStreamError},
};
use futures_util::stream;
use serde_json::{Value, json};

use base64::Engine;

use super::{ModelError, ModelEvent, ModelRequest, ModelStream, Usage, bedrock::initial_error};
use crate::storage::Role;

/// The request body: the system prompt and the conversation, with cache
/// points after the system prompt and at the end of the last message.
pub(super) fn body(request: &ModelRequest, max_tokens: i32, cache: bool) -> Value {
    let cache_control = |on: bool| on.then(|| json!({ "type": "ephemeral" }));
    let mut system = json!({ "type": "text", "text": request.system });
    if let Some(control) = cache_control(cache) {
        system["cache_control"] = control;
    }
    let last = request.turns.len().saturating_sub(1);
    let messages: Vec<Value> = request
        .turns
        .iter()
        .enumerate()
        .map(|(i, turn)| {
            let mut content: Vec<Value> = turn
                .images
                .iter()
                .map(|image| {
                    json!({ "type": "image", "source": {
                        "type": "base64",
                        "media_type": image.format.media_type(),
                        "data": base64::engine::general_purpose::STANDARD.encode(&image.bytes),
                    }})
                })
                .collect();
            if !turn.text.is_empty() || content.is_empty() {
                content.push(json!({ "type": "text", "text": turn.text }));
            }
            if let Some(control) = cache_control(cache && i == last)
                && let Some(block) = content.last_mut()
            {
                block["cache_control"] = control;
            }
            let role = match turn.role {
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            json!({ "role": role, "content": content })
        })
        .collect();
    json!({
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": max_tokens,
        "system": [system],
        "messages": messages,
    })
}

fn stream_error(
    err: SdkError<ResponseStreamError, aws_smithy_types::event_stream::RawMessage>,
) -> ModelError {
    match err {
        SdkError::ServiceError(service) => match service.into_err() {
            ResponseStreamError::ThrottlingException(_) => ModelError::Throttled,
            ResponseStreamError::ServiceUnavailableException(_) => {
                ModelError::Unavailable("unavailable".into())
            }
            ResponseStreamError::ModelTimeoutException(_) => ModelError::Timeout,
            other => ModelError::Stream(
                aws_sdk_bedrockruntime::error::ProvideErrorMetadata::message(&other)
                    .unwrap_or("model stream error")
                    .to_string(),
            ),
        },
        other => ModelError::Stream(format!("{other:?}").chars().take(300).collect()),
    }
}

/// What one Anthropic stream event means here; `usage` gathers the counts
/// spread over `message_start` and `message_delta`.
fn event(payload: &Value, usage: &mut Usage) -> Option<Result<ModelEvent, ModelError>> {
    let count = |v: &Value| v.as_i64().unwrap_or(0);
    match payload["type"].as_str()? {
        "message_start" => {
            let start = &payload["message"]["usage"];
            usage.input_tokens = count(&start["input_tokens"]);
            usage.cache_write_tokens = count(&start["cache_creation_input_tokens"]);
            usage.cache_read_tokens = count(&start["cache_read_input_tokens"]);
            usage.output_tokens = count(&start["output_tokens"]);
            None
        }
        "content_block_delta" if payload["delta"]["type"] == "text_delta" => Some(Ok(ModelEvent::Text(
            payload["delta"]["text"].as_str()?.to_string(),
        ))),
        "message_delta" => {
            if let Some(output) = payload["usage"]["output_tokens"].as_i64() {
                usage.output_tokens = output;
            }
            let reason = payload["delta"]["stop_reason"].as_str()?;
            Some(Ok(ModelEvent::Stop(reason.to_string())))
        }
        "message_stop" => Some(Ok(ModelEvent::Usage(*usage))),
        "error" => Some(Err(match payload["error"]["type"].as_str() {
            Some("overloaded_error") | Some("rate_limit_error") => ModelError::Throttled,
            _ => ModelError::Stream(
                payload["error"]["message"]
                    .as_str()
                    .unwrap_or("error")
                    .to_string(),
            ),
        })),
        _ => None,
    }
}

pub(super) async fn stream(client: &Client, model_id: &str, body: Value) -> Result<ModelStream, ModelError> {
    let output = client
        .invoke_model_with_response_stream()
        .model_id(model_id)
        .content_type("application/json")
        .accept("application/json")
        .body(Blob::new(body.to_string()))
        .send()
        .await
        .map_err(initial_error)?;
    let events = stream::unfold(Some((output.body, Usage::default())), |state| async move {
        let (mut receiver, mut usage) = state?;
        loop {
            let part = match receiver.recv().await {
                Ok(Some(ResponseStream::Chunk(part))) => part,
                Ok(Some(_)) => continue,
                Ok(None) => return None,
                Err(err) => return Some((Err(stream_error(err)), None)),
            };
            let Some(payload) = part
                .bytes
                .and_then(|bytes| serde_json::from_slice::<Value>(bytes.as_ref()).ok())
            else {
                continue;
            };
            if let Some(mapped) = event(&payload, &mut usage) {
                return Some((mapped, Some((receiver, usage))));
            }
        }
    });
    Ok(Box::pin(events))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Purpose, Turn};

    #[test]
    fn cache_points_follow_the_system_prompt_and_the_last_message() {
        let request = ModelRequest {
            purpose: Purpose::Answer,
            system: "You are Weasel".into(),
            turns: vec![
                Turn::text(Role::User, "지문"),
                Turn::text(Role::Assistant, "답"),
                Turn::text(Role::User, "다음"),
            ],
        };
        let body = body(&request, 100, true);
        assert_eq!(body["anthropic_version"], "bedrock-2023-05-31");
        assert!(body.get("temperature").is_none());
        assert_eq!(body["system"][0]["cache_control"]["type"], "ephemeral");
        assert!(body["messages"][0]["content"][0].get("cache_control").is_none());
        assert_eq!(
            body["messages"][2]["content"][0]["cache_control"]["type"],
            "ephemeral"
        );
        assert!(
            super::body(&request, 100, false)["system"][0]
                .get("cache_control")
                .is_none()
        );
    }

    #[test]
    fn usage_is_gathered_from_start_and_delta() {
        let mut usage = Usage::default();
        let start = json!({ "type": "message_start", "message": { "usage": {
            "input_tokens": 12, "cache_creation_input_tokens": 2000, "cache_read_input_tokens": 0, "output_tokens": 1 } } });
        assert!(event(&start, &mut usage).is_none());
        let delta = json!({ "type": "content_block_delta", "index": 0, "delta": { "type": "text_delta", "text": "정답" } });
        assert_eq!(
            event(&delta, &mut usage),
            Some(Ok(ModelEvent::Text("정답".into())))
        );
        let stop = json!({ "type": "message_delta", "delta": { "stop_reason": "max_tokens" }, "usage": { "output_tokens": 7 } });
        assert_eq!(
            event(&stop, &mut usage),
            Some(Ok(ModelEvent::Stop("max_tokens".into())))
        );
        assert_eq!(
            event(&json!({ "type": "message_stop" }), &mut usage),
            Some(Ok(ModelEvent::Usage(Usage {
                input_tokens: 12,
                output_tokens: 7,
                cache_read_tokens: 0,
                cache_write_tokens: 2000
            })))
        );
    }
}
