//! The control plane's two lookups an operator's startup check uses,
//! answered from [`catalogue`]: `GetFoundationModel` (lifecycle: `ACTIVE` or
//! `LEGACY`, with the end of life) and `GetInferenceProfile` (which models a
//! profile routes to). Unknown ids get `ResourceNotFoundException`.

use axum::{
    Json,
    extract::Path,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::{
    catalogue::{self, Lifecycle, Model},
    error_response,
};

/// Region and account in the ARNs the emulator makes up.
const REGION: &str = "us-east-1";
const ACCOUNT: &str = "000000000000";

fn model_arn(model: &Model) -> String {
    format!("arn:aws:bedrock:{REGION}::foundation-model/{}", model.base_id)
}

fn not_found(what: &str, id: &str) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "ResourceNotFoundException",
        &format!("The {what} {id} does not exist."),
    )
}

/// When the emulated profiles were made (timestamps are RFC 3339 strings
/// in this API's JSON).
const CREATED: &str = "2026-01-01T00:00:00Z";

pub async fn foundation_model(Path(id): Path<String>) -> Response {
    let Some(model) = catalogue::foundation_model(&id) else {
        return not_found("model", &id);
    };
    let lifecycle = match model.lifecycle {
        Lifecycle::Active => json!({ "status": "ACTIVE" }),
        Lifecycle::Legacy { end_of_life } => json!({
            "status": "LEGACY",
            "endOfLifeTime": end_of_life,
        }),
    };
    Json(json!({
        "modelDetails": {
            "modelArn": model_arn(model),
            "modelId": model.base_id,
            "modelName": model.name,
            "providerName": "Anthropic",
            "inputModalities": ["TEXT", "IMAGE"],
            "outputModalities": ["TEXT"],
            "responseStreamingSupported": true,
            "customizationsSupported": [],
            "inferenceTypesSupported": ["INFERENCE_PROFILE"],
            "modelLifecycle": lifecycle,
        }
    }))
    .into_response()
}

/// `GetFoundationModelAvailability`: whether this account may invoke the
/// model. The catalogue's `authorized: false` models answer NOT_AUTHORIZED.
pub async fn foundation_model_availability(Path(id): Path<String>) -> Response {
    let Some(model) = catalogue::foundation_model(&id) else {
        return not_found("model", &id);
    };
    let (authorization, entitlement) = if model.authorized {
        ("AUTHORIZED", "AVAILABLE")
    } else {
        ("NOT_AUTHORIZED", "NOT_AVAILABLE")
    };
    Json(json!({
        "modelId": model.base_id,
        "agreementAvailability": { "status": "AVAILABLE" },
        "authorizationStatus": authorization,
        "entitlementAvailability": entitlement,
        "regionAvailability": "AVAILABLE",
    }))
    .into_response()
}

pub async fn inference_profile(Path(id): Path<String>) -> Response {
    let Some((profile, model)) = catalogue::inference_profile(&id) else {
        return not_found("inference profile", &id);
    };
    let profile_id = format!("{profile}.{}", model.base_id);
    Json(json!({
        "inferenceProfileName": format!("{} {}", profile.to_uppercase(), model.name),
        "description": format!("Routes requests to {} across regions.", model.name),
        "createdAt": CREATED,
        "updatedAt": CREATED,
        "inferenceProfileArn": format!("arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/{profile_id}"),
        "models": [{ "modelArn": model_arn(model) }],
        "inferenceProfileId": profile_id,
        "status": "ACTIVE",
        "type": "SYSTEM_DEFINED",
    }))
    .into_response()
}
