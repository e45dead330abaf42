//! The startup check of the configured models, through Bedrock's control
//! plane (`GetInferenceProfile`, then `GetFoundationModel` for the model it
//! routes to), never by spending tokens. Each model gets one log line and
//! the gauge `weasel_model_available{purpose}`: 1 (active or legacy), 0
//! (gone: retired, mistyped, or no such profile; or no access granted to
//! this account, `GetFoundationModelAvailability`), absent when the check
//! itself could not run (no permission for the control plane, no network);
//! a legacy model also sets `weasel_model_end_of_life_timestamp_seconds`.

use aws_sdk_bedrock::{
    Client,
    error::{ProvideErrorMetadata, SdkError},
    types::{AuthorizationStatus, EntitlementAvailability, FoundationModelLifecycleStatus},
};

use super::Purpose;

/// What the control plane says about one model id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Availability {
    Active,
    /// Served until the given end of life (RFC 3339), if the API gave one.
    Legacy {
        end_of_life: Option<String>,
    },
    /// Bedrock does not know it (retired or mistyped).
    Gone(String),
    /// It exists, but this account may not invoke it (model access not granted).
    NoAccess(String),
    /// The check could not be made.
    Unknown(String),
}

/// `arn:…/global.anthropic.x` → `global.anthropic.x`.
fn bare(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

/// Whether `id` names an inference profile rather than a foundation model.
fn is_profile(id: &str) -> bool {
    id.contains(":inference-profile/")
        || id.contains(":application-inference-profile/")
        || ["global.", "us.", "eu.", "apac.", "jp.", "au.", "us-gov.", "ca."]
            .iter()
            .any(|prefix| bare(id).starts_with(prefix))
}

fn failed<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Availability {
    match err {
        SdkError::ServiceError(service) => match service.err().code() {
            Some("ResourceNotFoundException") | Some("ValidationException") => {
                Availability::Gone(service.err().message().unwrap_or("not found").to_string())
            }
            code => Availability::Unknown(format!(
                "{}: {}",
                code.unwrap_or("error"),
                service.err().message().unwrap_or_default()
            )),
        },
        other => Availability::Unknown(format!("{other}")),
    }
}

/// Asks the control plane about `id`.
pub async fn availability(client: &Client, id: &str) -> Availability {
    let mut model = bare(id).to_string();
    if is_profile(id) {
        match client
            .get_inference_profile()
            .inference_profile_identifier(id)
            .send()
            .await
        {
            Ok(profile) => match profile.models().first().and_then(|m| m.model_arn()) {
                Some(arn) => model = bare(arn).to_string(),
                None => return Availability::Gone("the profile routes to no model".into()),
            },
            Err(err) => return failed(&err),
        }
    }
    let found = match client
        .get_foundation_model()
        .model_identifier(&model)
        .send()
        .await
    {
        Ok(found) => found,
        Err(err) => return failed(&err),
    };
    // Whether this account may invoke it; a check that cannot run (no
    // permission for it) leaves the answer to the first request.
    if let Ok(access) = client
        .get_foundation_model_availability()
        .model_id(&model)
        .send()
        .await
    {
        let authorized = *access.authorization_status() == AuthorizationStatus::Authorized;
        let entitled = *access.entitlement_availability() == EntitlementAvailability::Available;
        if !authorized || !entitled {
            return Availability::NoAccess(format!(
                "authorization {}, entitlement {}",
                access.authorization_status().as_str(),
                access.entitlement_availability().as_str()
            ));
        }
    }
    let lifecycle = found.model_details().and_then(|d| d.model_lifecycle());
    match lifecycle.map(|l| l.status()) {
        Some(FoundationModelLifecycleStatus::Legacy) => Availability::Legacy {
            end_of_life: lifecycle
                .and_then(|l| l.end_of_life_time())
                .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok()),
        },
        _ => Availability::Active,
    }
}

fn purpose_label(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Answer => "answer",
        Purpose::Title => "title",
        Purpose::Transcribe => "transcribe",
    }
}

/// Checks each `(purpose, model id)` once; logs and sets the gauges.
pub async fn check_models(client: &Client, models: &[(Purpose, String)]) -> Vec<Availability> {
    let mut found = vec![];
    for (purpose, id) in models {
        let label = purpose_label(*purpose);
        let availability = availability(client, id).await;
        match &availability {
            Availability::Active => {
                tracing::info!(purpose = label, model = %id, "model is available on Bedrock");
                metrics::gauge!("weasel_model_available", "purpose" => label).set(1.0);
            }
            Availability::Legacy { end_of_life } => {
                tracing::warn!(
                    purpose = label, model = %id, end_of_life = end_of_life.as_deref().unwrap_or("not given"),
                    "model is LEGACY on Bedrock: move to a current model before its end of life"
                );
                metrics::gauge!("weasel_model_available", "purpose" => label).set(1.0);
                if let Some(seconds) = end_of_life.as_deref().and_then(|t| {
                    aws_smithy_types::DateTime::from_str(t, aws_smithy_types::date_time::Format::DateTime)
                        .ok()
                }) {
                    metrics::gauge!("weasel_model_end_of_life_timestamp_seconds", "purpose" => label)
                        .set(seconds.secs() as f64);
                }
            }
            Availability::Gone(why) => {
                tracing::error!(
                    purpose = label, model = %id, reason = %why,
                    "model is NOT available on Bedrock (retired or mistyped): set WEASEL_MODEL_ID / WEASEL_TITLE_MODEL_ID to a current inference profile"
                );
                metrics::gauge!("weasel_model_available", "purpose" => label).set(0.0);
            }
            Availability::NoAccess(why) => {
                tracing::error!(
                    purpose = label, model = %id, reason = %why,
                    "this AWS account may NOT invoke the model: grant model access in the Bedrock console (or pick another model)"
                );
                metrics::gauge!("weasel_model_available", "purpose" => label).set(0.0);
            }
            Availability::Unknown(why) => {
                tracing::info!(purpose = label, model = %id, reason = %why, "cannot check the model with the Bedrock control plane");
            }
        }
        found.push(availability);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_told_from_models() {
        assert!(is_profile("global.anthropic.claude-sonnet-4-6"));
        assert!(is_profile(
            "arn:aws:bedrock:ap-northeast-2:123456789012:inference-profile/apac.anthropic.claude-haiku-4-5-20251001-v1:0"
        ));
        assert!(!is_profile("anthropic.claude-sonnet-4-6"));
        assert_eq!(
            bare("arn:aws:bedrock:us-east-1::foundation-model/anthropic.x"),
            "anthropic.x"
        );
    }
}
