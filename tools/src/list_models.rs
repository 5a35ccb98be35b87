//! `list_models`: the models this server operates, with their champion and open work.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use mlops_auth::Principal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::CHAMPION;
use crate::store::{ModelRecord, Store, StoreError};

/// Input of `list_models`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListModelsInput {
    /// Only models whose name contains this text (case-insensitive). Omit to list all.
    pub name_contains: Option<String>,
}

/// Output of `list_models`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ListModelsOutput {
    /// The models you may see, sorted by name.
    pub models: Vec<ModelSummary>,
}

/// One model at a glance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModelSummary {
    /// Model name; pass it as `model` to other tools.
    pub name: String,
    /// What the model does.
    pub description: String,
    /// Accountable team or person.
    pub owner: String,
    /// Learning task.
    pub task: String,
    /// The version serving production (alias `champion`), with its evaluation metrics.
    pub champion: Option<VersionSummary>,
    /// Number of registered versions.
    pub version_count: usize,
    /// Verdict of the most recent drift check; null if drift was never checked.
    pub last_drift: Option<DriftVerdict>,
    /// The retraining job in progress; null if none.
    pub active_job: Option<ActiveJob>,
    /// The promotion waiting for a human decision; null if none.
    pub pending_promotion: Option<PendingPromotion>,
    /// The model card resource with full details.
    pub card_uri: String,
    /// What an agent would sensibly do next for this model.
    pub next_step: String,
}

/// A registered version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct VersionSummary {
    /// Version label, e.g. `v1`.
    pub version: String,
    /// Holdout metrics by name (e.g. `roc_auc`, `f1`).
    pub metrics: BTreeMap<String, f64>,
    /// `sha256:` digest of the artifact.
    pub artifact_digest: String,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
}

/// The verdict of a drift check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DriftVerdict {
    pub report_id: String,
    pub dataset_drift: bool,
    pub drifted_share: f64,
    pub recommended_action: String,
    pub checked_at: DateTime<Utc>,
}

/// A retraining job that has not finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ActiveJob {
    pub job_id: String,
    pub state: String,
    pub started_at: DateTime<Utc>,
}

/// A promotion request awaiting approval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PendingPromotion {
    pub request_id: String,
    pub candidate_version: String,
    pub expires_at: DateTime<Utc>,
}

/// Runs `list_models` for `principal`: only models its grant covers.
pub async fn list_models(
    store: &dyn Store,
    principal: &Principal,
    input: &ListModelsInput,
) -> Result<ListModelsOutput, StoreError> {
    let needle = input.name_contains.as_deref().map(str::to_lowercase);
    let mut models = Vec::new();
    let all = store.model_overviews().await?;
    let visible = all
        .iter()
        .filter(|o| principal.may_access_model(&o.record.spec.name))
        .filter(|o| {
            needle
                .as_deref()
                .is_none_or(|n| o.record.spec.name.to_lowercase().contains(n))
        });
    let now = Utc::now();
    for o in visible {
        let mut summary = summarize(&o.record);
        if let Some(job) = &o.active_job {
            summary.next_step = format!(
                "Retraining job {} is {}; call get_job with job_id \"{}\" and wait_seconds 60.",
                job.id,
                job.state.as_str(),
                job.id
            );
            summary.active_job = Some(ActiveJob {
                job_id: job.id.clone(),
                state: job.state.as_str().to_owned(),
                started_at: job.started_at.unwrap_or(job.created_at),
            });
        }
        if let Some(last) = &o.last_drift {
            summary.last_drift = Some(DriftVerdict {
                report_id: last.id.clone(),
                dataset_drift: last.dataset_drift,
                drifted_share: last.drifted_share,
                recommended_action: last.recommended_action.as_str().to_owned(),
                checked_at: last.checked_at,
            });
        }
        if let Some(p) = o
            .pending
            .iter()
            .find(|p| p.effective_state(now) == crate::promotion::PromotionState::PendingApproval)
        {
            summary.next_step = format!(
                "Promotion of {} is waiting for a human decision (request {}); check it with get_promotion.",
                p.candidate_version, p.id
            );
            summary.pending_promotion = Some(PendingPromotion {
                request_id: p.id.clone(),
                candidate_version: p.candidate_version.clone(),
                expires_at: p.expires_at,
            });
        }
        models.push(summary);
    }
    Ok(ListModelsOutput { models })
}

fn summarize(m: &ModelRecord) -> ModelSummary {
    let champion = m.aliased(CHAMPION).map(|v| VersionSummary {
        version: v.version.clone(),
        metrics: v.metrics.clone(),
        artifact_digest: v.artifact_digest.clone(),
        created_at: v.created_at,
    });
    let next_step = if champion.is_some() {
        format!(
            "Call check_drift with model \"{}\" to see whether production data has drifted.",
            m.spec.name
        )
    } else {
        format!(
            "No champion is registered for \"{}\"; nothing to monitor yet.",
            m.spec.name
        )
    };
    ModelSummary {
        name: m.spec.name.clone(),
        description: m.spec.description.clone(),
        owner: m.spec.owner.clone(),
        task: m.spec.task.clone(),
        champion,
        version_count: m.versions.len(),
        last_drift: None,
        active_job: None,
        pending_promotion: None,
        card_uri: format!("mlops://models/{}/card", m.spec.name),
        next_step,
    }
}
