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

/// An image block checked and read, as the normalized request holds it
/// (the bytes dropped), with its billing block.
fn image_block(path: &str, declared: &str, data: &str, cache: bool) -> Result<(Value, Block), String> {
    let seen = crate::vision::see(path, declared, data)?;
    let block = Block {
        cache_point_after: cache,
        ..Block::image(seen.tokens, data)
    };
    let value = json!({ "image": {
        "format": seen.format, "width": seen.width, "height": seen.height, "text": seen.text,
    }});
    Ok((value, block))
}

fn too_many_images(count: usize) -> Result<(), String> {
    if count > crate::vision::MAX_IMAGES {
        return Err(format!(
            "The model returned the following errors: Too many images: {count} > {} images per request",
            crate::vision::MAX_IMAGES
        ));
    }
    Ok(())
}

/// Reads a Converse request body.
pub fn converse(body: &Value) -> Result<Prompt, String> {
    let messages = body["messages"]
        .as_array()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| invalid("messages must not be empty"))?;
    let mut blocks: Vec<Block> = vec![];
    let read = |path: String, content: &Value, blocks: &mut Vec<Block>| -> Result<Option<Value>, String> {
        if content.get("cachePoint").is_some() {
            if let Some(last) = blocks.last_mut() {
                last.cache_point_after = true;
            }
            Ok(Some(content.clone()))
        } else if let Some(text) = content["text"].as_str() {
            blocks.push(Block::text(text));
            Ok(Some(content.clone()))
        } else if let Some(image) = content.get("image") {
            let declared = image["format"].as_str().unwrap_or_default();
            let data = image["source"]["bytes"].as_str().unwrap_or_default();
            let (value, block) = image_block(&path, declared, data, false)?;
            blocks.push(block);
            Ok(Some(value))
        } else {
            Ok(None)
        }
    };
    for (j, block) in body["system"].as_array().into_iter().flatten().enumerate() {
        read(format!("system.{j}"), block, &mut blocks)?;
    }
    let mut normalized = vec![];
    for (i, message) in messages.iter().enumerate() {
        let mut content = vec![];
        for (j, block) in message["content"].as_array().into_iter().flatten().enumerate() {
            if let Some(value) = read(format!("messages.{i}.content.{j}"), block, &mut blocks)? {
                content.push(value);
            }
        }
        normalized.push(json!({ "role": message["role"], "content": content }));
    }
    too_many_images(blocks.iter().filter(|b| b.image).count())?;
    let mut request = body.clone();
    request["messages"] = Value::Array(normalized);
    Ok(Prompt {
        request,
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
    let read = |path: &str, content: &Value, blocks: &mut Vec<Block>| -> Result<Vec<Value>, String> {
        let list = match content {
            Value::String(text) => vec![json!({ "type": "text", "text": text })],
            Value::Array(list) => list.clone(),
            _ => vec![],
        };
        let mut converted = vec![];
        for (j, block) in list.iter().enumerate() {
            let cache = block.get("cache_control").is_some();
            match block["type"].as_str() {
                Some("text") => {
                    let text = block["text"].as_str().unwrap_or_default();
                    converted.push(json!({ "text": text }));
                    blocks.push(Block {
                        cache_point_after: cache,
                        ..Block::text(text)
                    });
                }
                Some("image") => {
                    let source = &block["source"];
                    let declared = source["media_type"]
                        .as_str()
                        .and_then(|m| m.strip_prefix("image/"))
                        .unwrap_or_default();
                    let data = source["data"].as_str().unwrap_or_default();
                    let (value, billed) = image_block(&format!("{path}.{j}"), declared, data, cache)?;
                    converted.push(value);
                    blocks.push(billed);
                }
                _ => {}
            }
        }
        Ok(converted)
    };
    let system = read("system", &body["system"], &mut blocks)?;
    let mut converted = vec![];
    for (i, m) in messages.iter().enumerate() {
        let content = read(&format!("messages.{i}.content"), &m["content"], &mut blocks)?;
        converted.push(json!({ "role": m["role"], "content": content }));
    }
    too_many_images(blocks.iter().filter(|b| b.image).count())?;
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
