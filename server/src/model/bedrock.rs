//! AWS Bedrock ConverseStream through the official SDK.

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, retry::RetryConfig, timeout::TimeoutConfig};
use aws_sdk_bedrockruntime::{
    Client,
    config::Credentials,
    error::{ProvideErrorMetadata, SdkError},
    types::{
        ContentBlock, ContentBlockDelta, ConversationRole, ConverseStreamOutput, InferenceConfiguration,
        Message, SystemContentBlock, error::ConverseStreamOutputError,
    },
};
use futures_util::stream;

use super::{ModelError, ModelEvent, ModelProvider, ModelRequest, ModelStream, Purpose, Usage};
use crate::{config::ModelSettings, storage::Role};

/// Enough for a title of a few words in any language.
const TITLE_MAX_TOKENS: i32 = 40;

pub struct Bedrock {
    client: Client,
    model_id: String,
    title_model_id: String,
    max_tokens: i32,
    temperature: f32,
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
            model_id: settings.model_id.clone(),
            title_model_id: settings.title_model_id.clone(),
            max_tokens: settings.max_tokens,
            temperature: settings.temperature,
            emulator,
        }
    }
}

fn message(turn: &super::Turn) -> Result<Message, ModelError> {
    let role = match turn.role {
        Role::User => ConversationRole::User,
        Role::Assistant => ConversationRole::Assistant,
    };
    Message::builder()
        .role(role)
        .content(ContentBlock::Text(turn.text.clone()))
        .build()
        .map_err(|e| ModelError::Rejected(e.to_string()))
}

fn initial_error<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    err: SdkError<E, R>,
) -> ModelError {
    match &err {
        SdkError::ServiceError(service) => match service.err().code() {
            Some("ThrottlingException") | Some("ModelNotReadyException") => ModelError::Throttled,
            Some("ModelTimeoutException") => ModelError::Timeout,
            Some("ServiceUnavailableException") | Some("InternalServerException") => {
                ModelError::Unavailable(service.err().message().unwrap_or_default().to_string())
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

    fn is_emulator(&self) -> bool {
        self.emulator
    }

    async fn stream(&self, request: ModelRequest) -> Result<ModelStream, ModelError> {
        let messages = request.turns.iter().map(message).collect::<Result<Vec<_>, _>>()?;
        let (model_id, max_tokens, temperature) = match request.purpose {
            Purpose::Answer => (&self.model_id, self.max_tokens, self.temperature),
            Purpose::Title => (&self.title_model_id, TITLE_MAX_TOKENS, 0.0),
        };
        let output = self
            .client
            .converse_stream()
            .model_id(model_id)
            .system(SystemContentBlock::Text(request.system))
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
