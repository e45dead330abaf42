//! AWS Bedrock through the official SDK (its SigV4 signing and credential
//! chain): ConverseStream for Claude up to the 4.6 generation, and the
//! Anthropic Messages shape (`InvokeModelWithResponseStream`, see
//! [`super::messages`]) for the generation after it; the shape is chosen per
//! model by configuration. With prompt caching on, the system prompt and the
//! conversation up to the newest question are cache points, so a long
//! passage is paid in full once and read from the cache on follow-ups.

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, retry::RetryConfig, timeout::TimeoutConfig};
use aws_sdk_bedrockruntime::{
    Client,
    config::Credentials,
    error::{ProvideErrorMetadata, SdkError},
    types::{
        CachePointBlock, CachePointType, ContentBlock, ContentBlockDelta, ConversationRole,
        ConverseStreamOutput, ImageBlock, ImageSource, InferenceConfiguration, Message, SystemContentBlock,
        error::ConverseStreamOutputError,
    },
};
use futures_util::stream;

use super::{
    ModelError, ModelEvent, ModelProvider, ModelRequest, ModelStream, Purpose, Usage, check, messages,
};
use crate::{
    config::{ModelSettings, RequestShape},
    storage::Role,
};

/// Enough for a title of a few words in any language.
const TITLE_MAX_TOKENS: i32 = 40;

pub struct Bedrock {
    client: Client,
    /// The control plane, for the startup check.
    control: aws_sdk_bedrock::Client,
    model_id: String,
    shape: RequestShape,
    title_model_id: String,
    title_shape: RequestShape,
    max_tokens: i32,
    temperature: f32,
    prompt_cache: bool,
    emulator: bool,
}

impl Bedrock {
    /// With `endpoint` (the emulator), static dummy credentials are used;
    /// otherwise the standard AWS chain (environment, profile, IRSA, …).
    pub async fn new(settings: &ModelSettings, endpoint: Option<String>, emulator: bool) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(settings.region.clone()))
            .retry_config(RetryConfig::standard().with_max_attempts(3))
            // Connecting may be slow; reading is guarded per event by the solve loop.
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .build(),
            );
        if let Some(url) = endpoint.or_else(|| settings.endpoint_url.clone()) {
            loader = loader.endpoint_url(url);
        }
        if emulator {
            loader =
                loader.credentials_provider(Credentials::new("emulator", "emulator", None, None, "emulator"));
        }
        let config = loader.load().await;
        Bedrock {
            client: Client::new(&config),
            control: aws_sdk_bedrock::Client::new(&config),
            model_id: settings.model_id.clone(),
            shape: settings.shape,
            title_model_id: settings.title_model_id.clone(),
            title_shape: settings.title_shape,
            max_tokens: settings.max_tokens,
            temperature: settings.temperature,
            prompt_cache: settings.prompt_cache,
            emulator,
        }
    }
}

fn cache_point() -> Result<CachePointBlock, ModelError> {
    CachePointBlock::builder()
        .r#type(CachePointType::Default)
        .build()
        .map_err(|e| ModelError::Rejected(e.to_string()))
}

/// One turn as a Converse message; `cache`: a cache point after it.
fn message(turn: &super::Turn, cache: bool) -> Result<Message, ModelError> {
    let role = match turn.role {
        Role::User => ConversationRole::User,
        Role::Assistant => ConversationRole::Assistant,
    };
    let mut builder = Message::builder().role(role);
    // Photos first, then the text (what Anthropic advises for vision).
    for image in &turn.images {
        let format = match image.format {
            super::ImageFormat::Png => aws_sdk_bedrockruntime::types::ImageFormat::Png,
            super::ImageFormat::Jpeg => aws_sdk_bedrockruntime::types::ImageFormat::Jpeg,
        };
        let block = ImageBlock::builder()
            .format(format)
            .source(ImageSource::Bytes(aws_smithy_types::Blob::new(
                image.bytes.to_vec(),
            )))
            .build()
            .map_err(|e| ModelError::Rejected(e.to_string()))?;
        builder = builder.content(ContentBlock::Image(block));
    }
    // Bedrock refuses an empty text block; a photo alone is a question.
    if !turn.text.is_empty() || turn.images.is_empty() {
        builder = builder.content(ContentBlock::Text(turn.text.clone()));
    }
    if cache {
        builder = builder.content(ContentBlock::CachePoint(cache_point()?));
    }
    builder.build().map_err(|e| ModelError::Rejected(e.to_string()))
}

/// Whether Bedrock's refusal says the model itself cannot be called, as
/// opposed to something wrong with this one request.
fn model_is_gone(code: Option<&str>, message: &str) -> bool {
    let message = message.to_lowercase();
    matches!(
        code,
        Some("AccessDeniedException") | Some("ResourceNotFoundException")
    ) || (code == Some("ValidationException")
        && [
            "model identifier is invalid",
            "on-demand throughput",
            "does not support converse",
            "end of life",
        ]
        .iter()
        .any(|sign| message.contains(sign)))
}

pub(super) fn initial_error<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    err: SdkError<E, R>,
) -> ModelError {
    match &err {
        SdkError::ServiceError(service) => match service.err().code() {
            Some("ThrottlingException") | Some("ModelNotReadyException") => ModelError::Throttled,
            Some("ModelTimeoutException") => ModelError::Timeout,
            Some("ServiceUnavailableException") | Some("InternalServerException") => {
                ModelError::Unavailable(service.err().message().unwrap_or_default().to_string())
            }
            code if model_is_gone(code, service.err().message().unwrap_or_default()) => {
                ModelError::ModelGone(service.err().message().unwrap_or("model unavailable").to_string())
            }
            _ => ModelError::Rejected(service.err().message().unwrap_or("rejected").to_string()),
        },
        SdkError::TimeoutError(_) => ModelError::Timeout,
        _ => ModelError::Unavailable(format!("{err:?}").chars().take(300).collect()),
    }
}

fn stream_error(
    err: SdkError<ConverseStreamOutputError, aws_smithy_types::event_stream::RawMessage>,
) -> ModelError {
    match err {
        SdkError::ServiceError(service) => match service.into_err() {
            ConverseStreamOutputError::ThrottlingException(_) => ModelError::Throttled,
            ConverseStreamOutputError::ServiceUnavailableException(_) => {
                ModelError::Unavailable("unavailable".into())
            }
            other => ModelError::Stream(other.message().unwrap_or("model stream error").to_string()),
        },
        other => ModelError::Stream(format!("{other:?}").chars().take(300).collect()),
    }
}

#[async_trait::async_trait]
impl ModelProvider for Bedrock {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn model_for(&self, purpose: Purpose) -> &str {
        match purpose {
            Purpose::Answer | Purpose::Transcribe => &self.model_id,
            Purpose::Title => &self.title_model_id,
        }
    }

    fn is_emulator(&self) -> bool {
        self.emulator
    }

    async fn check_models(&self) {
        let models = [
            (Purpose::Answer, self.model_id.clone()),
            (Purpose::Title, self.title_model_id.clone()),
        ];
        check::check_models(&self.control, &models).await;
    }

    async fn stream(&self, request: ModelRequest) -> Result<ModelStream, ModelError> {
        let (model_id, shape, max_tokens, temperature) = match request.purpose {
            Purpose::Answer | Purpose::Transcribe => {
                (&self.model_id, self.shape, self.max_tokens, self.temperature)
            }
            Purpose::Title => (&self.title_model_id, self.title_shape, TITLE_MAX_TOKENS, 0.0),
        };
        // Titles are a short prompt once: nothing worth caching.
        let cache = self.prompt_cache && request.purpose == Purpose::Answer;
        if shape == RequestShape::Messages {
            let body = messages::body(&request, max_tokens, cache);
            return messages::stream(&self.client, model_id, body).await;
        }
        let last = request.turns.len().saturating_sub(1);
        let turns = request.turns.iter().enumerate();
        let messages = turns
            .map(|(i, turn)| message(turn, cache && i == last))
            .collect::<Result<Vec<_>, _>>()?;
        let mut system = vec![SystemContentBlock::Text(request.system)];
        if cache {
            system.push(SystemContentBlock::CachePoint(cache_point()?));
        }
        let output = self
            .client
            .converse_stream()
            .model_id(model_id)
            .set_system(Some(system))
            .set_messages(Some(messages))
            .inference_config(
                InferenceConfiguration::builder()
                    .max_tokens(max_tokens)
                    .temperature(temperature)
                    .build(),
            )
            .send()
            .await
            .map_err(initial_error)?;
        let events = stream::unfold(Some(output.stream), |receiver| async move {
            let mut receiver = receiver?;
            loop {
                let event = match receiver.recv().await {
                    Ok(Some(event)) => event,
                    Ok(None) => return None,
                    Err(err) => return Some((Err(stream_error(err)), None)),
                };
                let mapped = match event {
                    ConverseStreamOutput::ContentBlockDelta(delta) => match delta.delta {
                        Some(ContentBlockDelta::Text(text)) => ModelEvent::Text(text),
                        _ => continue,
                    },
                    ConverseStreamOutput::MessageStop(stop) => {
                        ModelEvent::Stop(stop.stop_reason.as_str().to_string())
                    }
                    ConverseStreamOutput::Metadata(metadata) => match metadata.usage {
                        Some(usage) => ModelEvent::Usage(Usage {
                            input_tokens: usage.input_tokens.into(),
                            output_tokens: usage.output_tokens.into(),
                            cache_read_tokens: usage.cache_read_input_tokens.unwrap_or_default().into(),
                            cache_write_tokens: usage.cache_write_input_tokens.unwrap_or_default().into(),
                        }),
                        None => continue,
                    },
                    _ => continue,
                };
                return Some((Ok(mapped), Some(receiver)));
            }
        });
        Ok(Box::pin(events))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_about_the_model_are_told_apart() {
        assert!(model_is_gone(
            Some("ValidationException"),
            "The provided model identifier is invalid."
        ));
        assert!(model_is_gone(
            Some("ValidationException"),
            "Invocation of model ID anthropic.claude-sonnet-4-6 with on-demand throughput isn’t supported."
        ));
        assert!(model_is_gone(
            Some("AccessDeniedException"),
            "You don't have access to the model with the specified model ID."
        ));
        assert!(!model_is_gone(
            Some("ValidationException"),
            "messages: text content blocks must be non-empty"
        ));
    }
}
