//! The two request shapes Bedrock's runtime takes for Claude, read into one
//! form, and their streamed answers written back on the wire:
//! - **Converse** (`/model/{id}/converse-stream`): Bedrock's own JSON;
//!   events `messageStart`, `contentBlockDelta`, `contentBlockStop`,
//!   `messageStop`, `metadata` (usage with cache read/write tokens);
//! - **Messages** (`/model/{id}/invoke-with-response-stream` with an
//!   Anthropic Messages body): `chunk` events whose `bytes` carry, base64,
//!   Anthropic's stream events `message_start` (input usage),
//!   `content_block_start`, `content_block_delta`, `content_block_stop`,
//!   `message_delta` (stop reason, output usage) and `message_stop` (with
//!   `amazon-bedrock-invocationMetrics`).
//!
//! Exceptions inside the stream are the same frames for both.

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use axum::body::Bytes;
use serde_json::{Value, json};

use crate::usage::{Billed, Block};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Converse,
    Messages,
}

/// A request in one form: `request` is Converse-like (`system` and
/// `messages` with `text`/`image` blocks) whatever shape it came in, and
/// `blocks` is its prompt for billing, with its cache points.
pub struct Prompt {
    pub request: Value,
    pub blocks: Vec<Block>,
    pub temperature: bool,
}

fn invalid(message: &str) -> String {
    message.to_string()
}

/// Reads a Converse request body.
pub fn converse(body: &Value) -> Result<Prompt, String> {
    let messages = body["messages"]
        .as_array()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| invalid("messages must not be empty"))?;
    let mut blocks = vec![];
    let push = |content: &Value, blocks: &mut Vec<Block>| {
        if content.get("cachePoint").is_some() {
            if let Some(last) = blocks.last_mut() {
                last.cache_point_after = true;
            }
        } else if let Some(text) = content["text"].as_str() {
            blocks.push(Block::text(text));
        } else if content.get("image").is_some() {
            blocks.push(Block::text(&content["image"].to_string()));
        }
    };
    for block in body["system"].as_array().into_iter().flatten() {
        push(block, &mut blocks);
    }
    for message in messages {
        for block in message["content"].as_array().into_iter().flatten() {
            push(block, &mut blocks);
        }
    }
    Ok(Prompt {
        request: body.clone(),
        blocks,
        temperature: body["inferenceConfig"].get("temperature").is_some(),
    })
}

/// Reads an Anthropic Messages body (as InvokeModel takes it on Bedrock).
pub fn messages(body: &Value) -> Result<Prompt, String> {
    if body["anthropic_version"].as_str() != Some("bedrock-2023-05-31") {
        return Err(invalid("anthropic_version: must be bedrock-2023-05-31"));
    }
    if body["max_tokens"].as_u64().is_none() {
        return Err(invalid("max_tokens: field required"));
    }
    let messages = body["messages"]
        .as_array()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| invalid("messages: at least one message is required"))?;
    if messages[0]["role"] != "user" {
        return Err(invalid("messages: the first message must use the \"user\" role"));
    }
    let mut blocks = vec![];
    // Content is a string or a list of typed blocks.
    let read = |content: &Value, blocks: &mut Vec<Block>| -> Vec<Value> {
        let list = match content {
            Value::String(text) => vec![json!({ "type": "text", "text": text })],
            Value::Array(list) => list.clone(),
            _ => vec![],
        };
        list.iter()
            .filter_map(|block| {
                let (converse, billed) = match block["type"].as_str() {
                    Some("text") => {
                        let text = block["text"].as_str().unwrap_or_default();
                        (json!({ "text": text }), Block::text(text))
                    }
                    Some("image") => (
                        json!({ "image": block["source"].clone() }),
                        Block::text(&block["source"].to_string()),
                    ),
                    _ => return None,
                };
                blocks.push(Block {
                    cache_point_after: block.get("cache_control").is_some(),
                    ..billed
                });
                Some(converse)
            })
            .collect()
    };
    let system = read(&body["system"], &mut blocks);
    let converted: Vec<Value> = messages
        .iter()
        .map(|m| json!({ "role": m["role"], "content": read(&m["content"], &mut blocks) }))
        .collect();
    Ok(Prompt {
        request: json!({ "system": system, "messages": converted }),
        blocks,
        temperature: body.get("temperature").is_some(),
    })
}

fn frame(kind: &str, name: &str, payload: &Value) -> Bytes {
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

/// An exception inside the stream (the same in both shapes).
pub fn exception(name: &str, message: &str) -> Bytes {
    frame("exception", name, &json!({ "message": message }))
}

/// A Messages-shape stream event: Anthropic's JSON, base64 in a `chunk`.
fn chunk(event: &Value) -> Bytes {
    let bytes = aws_smithy_types::base64::encode(event.to_string());
    frame("event", "chunk", &json!({ "bytes": bytes }))
}

/// The frames that open an answer.
pub fn start(shape: Shape, model: &str, billed: Billed) -> Vec<Bytes> {
    match shape {
        Shape::Converse => vec![frame("event", "messageStart", &json!({ "role": "assistant" }))],
        Shape::Messages => vec![
            chunk(&json!({
                "type": "message_start",
                "message": {
                    "id": "msg_bdrk_emulator", "type": "message", "role": "assistant",
                    "model": model, "content": [], "stop_reason": null, "stop_sequence": null,
                    "usage": {
                        "input_tokens": billed.input,
                        "cache_creation_input_tokens": billed.cache_write,
                        "cache_read_input_tokens": billed.cache_read,
                        "output_tokens": 1
                    }
                }
            })),
            chunk(&json!({
                "type": "content_block_start", "index": 0,
                "content_block": { "type": "text", "text": "" }
            })),
        ],
    }
}

pub fn delta(shape: Shape, text: &str) -> Bytes {
    match shape {
        Shape::Converse => frame(
            "event",
            "contentBlockDelta",
            &json!({ "contentBlockIndex": 0, "delta": { "text": text } }),
        ),
        Shape::Messages => chunk(&json!({
            "type": "content_block_delta", "index": 0,
            "delta": { "type": "text_delta", "text": text }
        })),
    }
}

pub fn block_stop(shape: Shape) -> Bytes {
    match shape {
        Shape::Converse => frame("event", "contentBlockStop", &json!({ "contentBlockIndex": 0 })),
        Shape::Messages => chunk(&json!({ "type": "content_block_stop", "index": 0 })),
    }
}

pub fn stop(shape: Shape, reason: &str, output_tokens: u64) -> Bytes {
    match shape {
        Shape::Converse => frame("event", "messageStop", &json!({ "stopReason": reason })),
        Shape::Messages => chunk(&json!({
            "type": "message_delta",
            "delta": { "stop_reason": reason, "stop_sequence": null },
            "usage": { "output_tokens": output_tokens }
        })),
    }
}

pub fn end(shape: Shape, billed: Billed, output_tokens: u64) -> Bytes {
    match shape {
        Shape::Converse => frame(
            "event",
            "metadata",
            &json!({
                "usage": {
                    "inputTokens": billed.input, "outputTokens": output_tokens,
                    "totalTokens": billed.input + billed.cache_read + billed.cache_write + output_tokens,
                    "cacheReadInputTokens": billed.cache_read, "cacheWriteInputTokens": billed.cache_write
                },
                "metrics": { "latencyMs": 42 }
            }),
        ),
        Shape::Messages => chunk(&json!({
            "type": "message_stop",
            "amazon-bedrock-invocationMetrics": {
                "inputTokenCount": billed.input, "outputTokenCount": output_tokens,
                "invocationLatency": 42, "firstByteLatency": 10,
                "cacheReadInputTokenCount": billed.cache_read,
                "cacheWriteInputTokenCount": billed.cache_write
            }
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_messages_body_reads_like_a_converse_one() {
        let body = json!({
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 100,
            "system": [{ "type": "text", "text": "You are Weasel", "cache_control": { "type": "ephemeral" } }],
            "messages": [
                { "role": "user", "content": "첫 질문" },
                { "role": "assistant", "content": [{ "type": "text", "text": "답" }] },
                { "role": "user", "content": [{ "type": "text", "text": "다음", "cache_control": { "type": "ephemeral" } }] }
            ]
        });
        let prompt = messages(&body).unwrap();
        assert_eq!(prompt.request["messages"][2]["content"][0]["text"], "다음");
        assert_eq!(prompt.request["system"][0]["text"], "You are Weasel");
        let points: Vec<bool> = prompt.blocks.iter().map(|b| b.cache_point_after).collect();
        assert_eq!(points, [true, false, false, true]);
        assert!(!prompt.temperature);
        assert!(messages(&json!({ "max_tokens": 1, "messages": [] })).is_err());
        let converse_body = json!({
            "system": [{ "text": "s" }, { "cachePoint": { "type": "default" } }],
            "messages": [{ "role": "user", "content": [{ "text": "q" }] }],
            "inferenceConfig": { "temperature": 0.2 }
        });
        let prompt = converse(&converse_body).unwrap();
        assert_eq!(prompt.blocks.len(), 2);
        assert!(prompt.blocks[0].cache_point_after && prompt.temperature);
    }
}
