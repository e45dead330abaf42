//! The Claude models the emulator serves, as Bedrock lists them in November
//! 2026 (see `/work/shared/models.md` and the AWS model cards): base ids,
//! the cross-region inference profiles that call them on demand, which
//! request shape they take, their lifecycle and their prompt-cache minimum.
//! Ids outside this list are refused the way Bedrock refuses a retired or
//! mistyped id.

/// Which runtime request shapes a model takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shapes {
    /// Converse / ConverseStream, and InvokeModel with an Anthropic Messages body.
    ConverseAndMessages,
    /// Only the Anthropic Messages shape (the generation after 4.6).
    MessagesOnly,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    Active,
    /// Still served until `end_of_life` (RFC 3339, as the API sends it).
    Legacy {
        end_of_life: &'static str,
    },
}

#[derive(Clone, Copy, Debug)]
pub struct Model {
    pub base_id: &'static str,
    pub name: &'static str,
    pub shapes: Shapes,
    pub lifecycle: Lifecycle,
    /// Cross-region inference profiles that exist for it (`global`, `us`, …).
    pub profiles: &'static [&'static str],
    /// Tokens a prefix needs before a cache point caches it.
    pub min_cache_tokens: u64,
    /// Sampling parameters (temperature) are refused (newer generation).
    pub rejects_temperature: bool,
    /// This (emulated) account may invoke it: Fable 5 stands for a model
    /// whose access was never granted.
    pub authorized: bool,
}

pub const MODELS: &[Model] = &[
    Model {
        base_id: "anthropic.claude-sonnet-4-6",
        name: "Claude Sonnet 4.6",
        shapes: Shapes::ConverseAndMessages,
        lifecycle: Lifecycle::Active,
        profiles: &["global", "us", "eu", "jp"],
        min_cache_tokens: 1024,
        rejects_temperature: false,
        authorized: true,
    },
    Model {
        base_id: "anthropic.claude-haiku-4-5-20251001-v1:0",
        name: "Claude Haiku 4.5",
        shapes: Shapes::ConverseAndMessages,
        lifecycle: Lifecycle::Active,
        profiles: &["global", "us", "eu", "jp", "apac"],
        min_cache_tokens: 4096,
        rejects_temperature: false,
        authorized: true,
    },
    Model {
        base_id: "anthropic.claude-opus-4-6-v1",
        name: "Claude Opus 4.6",
        shapes: Shapes::ConverseAndMessages,
        lifecycle: Lifecycle::Active,
        profiles: &["global", "us", "eu", "jp", "apac"],
        min_cache_tokens: 4096,
        rejects_temperature: false,
        authorized: true,
    },
    Model {
        base_id: "anthropic.claude-sonnet-4-5-20250929-v1:0",
        name: "Claude Sonnet 4.5",
        shapes: Shapes::ConverseAndMessages,
        lifecycle: Lifecycle::Legacy {
            end_of_life: "2026-11-30T00:00:00Z",
        },
        profiles: &["global", "us", "eu", "jp"],
        min_cache_tokens: 1024,
        rejects_temperature: false,
        authorized: true,
    },
    Model {
        base_id: "anthropic.claude-opus-4-7",
        name: "Claude Opus 4.7",
        shapes: Shapes::MessagesOnly,
        lifecycle: Lifecycle::Active,
        profiles: &["global", "us"],
        min_cache_tokens: 4096,
        rejects_temperature: true,
        authorized: true,
    },
    Model {
        base_id: "anthropic.claude-sonnet-5",
        name: "Claude Sonnet 5",
        shapes: Shapes::MessagesOnly,
        lifecycle: Lifecycle::Active,
        profiles: &["global", "us"],
        min_cache_tokens: 4096,
        rejects_temperature: true,
        authorized: true,
    },
    Model {
        base_id: "anthropic.claude-fable-5",
        name: "Claude Fable 5",
        shapes: Shapes::MessagesOnly,
        lifecycle: Lifecycle::Active,
        profiles: &["global", "us"],
        min_cache_tokens: 1024,
        rejects_temperature: true,
        authorized: false,
    },
];

/// Why a model id cannot be called.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Retired, mistyped or never existed.
    Invalid,
    /// A base id that needs an inference profile for on-demand calls.
    OnDemand(String),
}

impl Refusal {
    /// Bedrock's message for it.
    pub fn message(&self) -> String {
        match self {
            Refusal::Invalid => "The provided model identifier is invalid.".into(),
            Refusal::OnDemand(id) => format!(
                "Invocation of model ID {id} with on-demand throughput isn’t supported. Retry your request \
                 with the ID or ARN of an inference profile that contains this model."
            ),
        }
    }
}

/// The id without an ARN's prefix (`arn:aws:bedrock:…:inference-profile/`).
fn bare(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

/// The model a runtime call with `id` reaches, or why it cannot.
pub fn resolve(id: &str) -> Result<&'static Model, Refusal> {
    let id = bare(id);
    if let Some(model) = MODELS.iter().find(|m| m.base_id == id) {
        return Err(Refusal::OnDemand(model.base_id.into()));
    }
    let (profile, base) = id.split_once('.').ok_or(Refusal::Invalid)?;
    MODELS
        .iter()
        .find(|m| m.base_id == base && m.profiles.contains(&profile))
        .ok_or(Refusal::Invalid)
}

/// A foundation model by its base id (the control plane's lookup).
pub fn foundation_model(id: &str) -> Option<&'static Model> {
    let id = bare(id);
    MODELS.iter().find(|m| m.base_id == id)
}

/// An inference profile by its id: the profile prefix and the model.
pub fn inference_profile(id: &str) -> Option<(&'static str, &'static Model)> {
    let (profile, base) = bare(id).split_once('.')?;
    MODELS
        .iter()
        .find(|m| m.base_id == base)
        .and_then(|m| m.profiles.iter().find(|p| **p == profile).map(|p| (*p, m)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_reach_models_and_base_ids_need_one() {
        assert_eq!(
            resolve("global.anthropic.claude-sonnet-4-6").unwrap().name,
            "Claude Sonnet 4.6"
        );
        assert_eq!(
            resolve("arn:aws:bedrock:ap-northeast-2:123456789012:inference-profile/apac.anthropic.claude-haiku-4-5-20251001-v1:0")
                .unwrap()
                .name,
            "Claude Haiku 4.5"
        );
        assert!(matches!(
            resolve("anthropic.claude-sonnet-4-6"),
            Err(Refusal::OnDemand(_))
        ));
        // Sonnet 4.6 has no apac profile; Claude 3.x is retired.
        assert_eq!(
            resolve("apac.anthropic.claude-sonnet-4-6").unwrap_err(),
            Refusal::Invalid
        );
        assert_eq!(
            resolve("apac.anthropic.claude-3-5-sonnet-20240620-v1:0").unwrap_err(),
            Refusal::Invalid
        );
        assert_eq!(
            resolve("anthropic.claude-3-haiku-20240307-v1:0").unwrap_err(),
            Refusal::Invalid
        );
        assert_eq!(
            inference_profile("global.anthropic.claude-sonnet-5")
                .unwrap()
                .1
                .shapes,
            Shapes::MessagesOnly
        );
    }
}
