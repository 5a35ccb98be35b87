//! Tool `trigger_retrain`: asks the runner for a retraining job under the model's cost controls.

use std::collections::BTreeMap;

use mlops_auth::Principal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::get_job::{JobView, view};
use crate::jobs::runner::{DEFAULT_LOG_LINES, Runner};
use crate::jobs::{RetrainError, TriggerRequest};

/// Input of `trigger_retrain`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerRetrainInput {
    /// Model to retrain (a `name` from list_models).
    pub model: String,
    /// Why, in a sentence a human reviewer will read (e.g. "4 of 7 features drifted").
    pub reason: String,
    /// The `report_id` of the check_drift or check_performance report that motivated this, so
    /// the chain of evidence is kept.
    pub drift_report_id: Option<String>,
    /// Your key for this request (letters, digits, `.`, `_`, `-`, `:`; at most 100). Sending
    /// the same key again returns the same job instead of starting another.
    pub idempotency_key: Option<String>,
    /// Backend parameters; only those the model's configuration allows
    /// (`models[].retrain.allowed_params`).
    #[serde(default)]
    pub params: BTreeMap<String, serde_json::Value>,
}

/// Output of `trigger_retrain`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TriggerRetrainOutput {
    /// False if an existing job was returned.
    pub created: bool,
    pub job: JobView,
}

impl TriggerRetrainInput {
    /// What the runner is asked for.
    pub fn request(&self) -> TriggerRequest {
        TriggerRequest {
            model: self.model.clone(),
            reason: self.reason.clone(),
            drift_report_id: self.drift_report_id.clone(),
            idempotency_key: self.idempotency_key.clone(),
            params: self.params.clone(),
        }
    }
}

/// `trigger_retrain`: a new job, or the existing one (same idempotency key, or the model's
/// active job), or a refusal that says which cost control and when to retry.
pub async fn trigger_retrain(
    runner: &Runner,
    principal: &Principal,
    input: &TriggerRetrainInput,
    trace_id: &str,
) -> Result<TriggerRetrainOutput, RetrainError> {
    let (job, created) = runner
        .trigger(principal, &input.request(), trace_id)
        .await?;
    Ok(TriggerRetrainOutput {
        created,
        job: view(runner, job, DEFAULT_LOG_LINES),
    })
}
