//! `get_validation`, `request_promotion`, `get_promotion` and the human decision, on top of the
//! store. No MCP types here; every channel (tools, CLI, web page, webhook) goes through
//! [`decide`], so the rules hold whatever the channel.

use chrono::{DateTime, Duration, Utc};
use mlops_auth::{Principal, scopes};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::CHAMPION;
use crate::promotion::{
    Decision, DecisionRefused, NewPromotion, Opened, Promotion, PromotionState,
};
use crate::registry::{MlflowRegistry, Registries};
use crate::store::{Store, StoreError};
use crate::validation::{self, Validation, Verdict};

/// Input of `get_validation`: a job, or a model and version.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetValidationInput {
    /// The retraining job whose candidate to validate (its `produced_version`).
    pub job_id: Option<String>,
    /// Or the model …
    pub model: Option<String>,
    /// … and the candidate version, e.g. `v2`.
    pub version: Option<String>,
}

/// A validation as an agent sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ValidationView {
    #[serde(flatten)]
    pub validation: Validation,
    /// This validation as a resource.
    pub uri: String,
    pub next_step: String,
}

impl ValidationView {
    pub fn new(validation: Validation) -> Self {
        let next_step = match validation.verdict {
            Verdict::Passed => format!(
                "Call request_promotion with model \"{}\", candidate_version \"{}\", validation_id \"{}\" and a justification citing the evidence. A human approves or denies it.",
                validation.model, validation.candidate_version, validation.id
            ),
            Verdict::Failed => format!(
                "Do not request promotion of {}: report the failed rules to the model's owner.",
                validation.candidate_version
            ),
        };
        Self {
            uri: format!("mlops://validations/{}", validation.id),
            validation,
            next_step,
        }
    }
}

/// Input of `request_promotion`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestPromotionInput {
    pub model: String,
    /// The version to promote, e.g. `v2`.
    pub candidate_version: String,
    /// The `id` get_validation returned for this candidate.
    pub validation_id: String,
    /// Why it should be promoted, citing the evidence (a reviewer reads it).
    pub justification: String,
    /// A rollback to a former champion (e.g. the current one misbehaves in production): its
    /// validation against the current champion is shown to the approver but need not pass.
    #[serde(default)]
    pub rollback: bool,
}

/// A promotion request as an agent sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PromotionView {
    #[serde(flatten)]
    pub promotion: Promotion,
    /// True if this call opened it; false if the model already had a request waiting.
    pub created: bool,
    /// Where a human approves or denies it.
    pub approval_url: String,
    pub uri: String,
    pub next_step: String,
}

/// Input of `get_promotion`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetPromotionInput {
    /// The `id` request_promotion returned.
    pub request_id: String,
}

/// Why a validation, request or decision could not be made. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    #[error("model `{0}` is not known; call list_models to see the models you may use")]
    UnknownModel(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadInput(String),
    #[error(transparent)]
    Refused(#[from] DecisionRefused),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Settings of the approval gate.
#[derive(Clone)]
pub struct GateSettings {
    /// How long a request waits for a decision.
    pub expiry: Duration,
    /// The approval page, e.g. `http://127.0.0.1:8080/approvals`.
    pub page_url: String,
    /// The models' MLflow registries, where they have one.
    pub registries: Registries,
}

fn page(settings: &GateSettings, id: &str) -> String {
    format!("{}/{id}", settings.page_url.trim_end_matches('/'))
}

fn promotion_view(
    p: Promotion,
    created: bool,
    settings: &GateSettings,
    now: DateTime<Utc>,
) -> PromotionView {
    let mut p = p;
    p.state = p.effective_state(now);
    let next_step = match p.state {
        PromotionState::PendingApproval => format!(
            "Wait for a human decision (until {}); check with get_promotion. You cannot approve it yourself.",
            p.expires_at.format("%Y-%m-%d %H:%M UTC")
        ),
        PromotionState::Promoting => "The promotion was approved and is being carried out; check again with get_promotion.".into(),
        PromotionState::Promoted => format!("{} is now the champion of {}.", p.candidate_version, p.model),
        PromotionState::Denied => "A human denied the promotion; read decision_note and report it. Do not request it again unchanged.".into(),
        PromotionState::Expired => "Nobody decided in time; request the promotion again if it is still wanted.".into(),
        PromotionState::Failed => "The promotion was approved but the evidence no longer held (see failure_reason); validate again and request a new promotion.".into(),
    };
    PromotionView {
        approval_url: page(settings, &p.id),
        uri: format!("mlops://promotions/{}", p.id),
        created,
        promotion: p,
        next_step,
    }
}

/// Validates a model's version against its current champion and stores the result. With an
/// MLflow registry, the candidate's metrics are read back from its MLflow run.
pub async fn validate_version(
    store: &dyn Store,
    registries: &Registries,
    model: &str,
    version: &str,
    job_id: Option<String>,
    by: &str,
) -> Result<Validation, ApprovalError> {
    let record = store
        .get_model(model)
        .await?
        .ok_or_else(|| ApprovalError::UnknownModel(model.to_owned()))?;
    let candidate = record
        .versions
        .iter()
        .find(|v| v.version == version)
        .ok_or_else(|| {
            ApprovalError::NotFound(format!(
                "model `{model}` has no version `{version}`; the model card lists its versions"
            ))
        })?;
    let baseline = candidate
        .baseline
        .as_ref()
        .map(|b| (b.version.clone(), b.metrics.clone()));
    let mut candidate = candidate.clone();
    let mut source = "the metrics registered with the version".to_owned();
    if let Some(mlflow) = registries.mlflow(model) {
        let found = mlflow
            .find_version(version)
            .await
            .map_err(|e| ApprovalError::BadInput(format!("{e}; validation needs the registry")))?;
        if let Some((mv, Some(run_id))) = found {
            candidate.metrics = mlflow.run_metrics(&run_id).await.map_err(|e| {
                ApprovalError::BadInput(format!("{e}; validation needs the registry"))
            })?;
            source = format!("MLflow run {run_id} of `{}` version {mv}", mlflow.name);
        }
    }
    let mut v = validation::validate(
        uuid::Uuid::new_v4().to_string(),
        &record,
        &candidate,
        baseline.as_ref(),
        job_id.or_else(|| candidate.training_job.clone()),
        by,
        Utc::now(),
    );
    v.set_metrics_source(source);
    store.save_validation(&v).await?;
    Ok(v)
}

/// `get_validation`: the newest validation of the candidate if the champion and the candidate's
/// artifact are unchanged since, else a new one.
pub async fn get_validation(
    store: &dyn Store,
    registries: &Registries,
    principal: &Principal,
    input: &GetValidationInput,
) -> Result<ValidationView, ApprovalError> {
    let (model, version) = match (&input.job_id, &input.model, &input.version) {
        (Some(job_id), None, None) => {
            let job = store
                .get_job(job_id)
                .await?
                .filter(|j| principal.may_access_model(&j.model))
                .ok_or_else(|| {
                    ApprovalError::NotFound(format!(
                        "job `{job_id}` is not known; pass the job id trigger_retrain returned, or \
                     model and version"
                    ))
                })?;
            let version = job.produced_version.clone().ok_or_else(|| {
                ApprovalError::BadInput(format!(
                    "job `{job_id}` has produced no version (it is {}); call get_job to follow it",
                    job.state.as_str()
                ))
            })?;
            (job.model, version)
        }
        (None, Some(model), Some(version)) => (model.clone(), version.clone()),
        _ => {
            return Err(ApprovalError::BadInput(
                "pass either job_id, or model and version (e.g. {\"model\": \"fraud-detector\", \"version\": \"v2\"})".into(),
            ));
        }
    };
    if !principal.may_access_model(&model) {
        return Err(ApprovalError::UnknownModel(model));
    }
    let record = store
        .get_model(&model)
        .await?
        .ok_or_else(|| ApprovalError::UnknownModel(model.clone()))?;
    let champion = record.aliased(CHAMPION).map(|c| c.version.clone());
    let digest = record
        .versions
        .iter()
        .find(|v| v.version == version)
        .map(|v| v.artifact_digest.clone());
    if let Some(v) = store.latest_validation(&model, &version).await?
        && v.champion_version == champion
        && Some(&v.candidate_digest) == digest.as_ref()
    {
        return Ok(ValidationView::new(v));
    }
    let v = validate_version(
        store,
        registries,
        &model,
        &version,
        input.job_id.clone(),
        &principal.subject,
    )
    .await?;
    Ok(ValidationView::new(v))
}

/// `request_promotion`: opens a request bound to the evidence, if the validation passed and
/// still describes the registry.
pub async fn request_promotion(
    store: &dyn Store,
    principal: &Principal,
    input: &RequestPromotionInput,
    settings: &GateSettings,
    trace_id: &str,
) -> Result<PromotionView, ApprovalError> {
    if !principal.may_access_model(&input.model) {
        return Err(ApprovalError::UnknownModel(input.model.clone()));
    }
    if input.justification.trim().is_empty() {
        return Err(ApprovalError::BadInput(
            "`justification` is empty: say why this version should serve production, citing the validation".into(),
        ));
    }
    let record = store
        .get_model(&input.model)
        .await?
        .ok_or_else(|| ApprovalError::UnknownModel(input.model.clone()))?;
    let v = store
        .validation(&input.validation_id)
        .await?
        .filter(|v| v.model == input.model)
        .ok_or_else(|| {
            ApprovalError::NotFound(format!(
                "validation `{}` of `{}` is not known; call get_validation for the candidate first",
                input.validation_id, input.model
            ))
        })?;
    if v.candidate_version != input.candidate_version {
        return Err(ApprovalError::BadInput(format!(
            "validation `{}` is of version {}, not {}",
            v.id, v.candidate_version, input.candidate_version
        )));
    }
    if input.rollback {
        let former = store
            .alias_history(&input.model)
            .await?
            .iter()
            .any(|c| c.alias == CHAMPION && c.version == input.candidate_version);
        if !former {
            return Err(ApprovalError::BadInput(format!(
                "refused: {} was never the champion of {}, so promoting it is not a rollback; validate it and request a normal promotion",
                input.candidate_version, input.model
            )));
        }
    } else if v.verdict != Verdict::Passed {
        return Err(ApprovalError::BadInput(format!(
            "refused: {} did not pass validation — {}",
            v.candidate_version,
            v.reasons.join(" ")
        )));
    }
    let candidate = record
        .versions
        .iter()
        .find(|c| c.version == input.candidate_version)
        .ok_or_else(|| {
            ApprovalError::NotFound(format!(
                "version {} is not registered",
                input.candidate_version
            ))
        })?;
    let champion = record.aliased(CHAMPION).map(|c| c.version.clone());
    if champion.as_deref() == Some(candidate.version.as_str()) {
        return Err(ApprovalError::BadInput(format!(
            "{} is already the champion of {}",
            candidate.version, input.model
        )));
    }
    if candidate.artifact_digest != v.candidate_digest || champion != v.champion_version {
        return Err(ApprovalError::BadInput(format!(
            "validation `{}` is out of date (the candidate's artifact or the champion changed since); call get_validation again",
            v.id
        )));
    }
    let now = Utc::now();
    let new = NewPromotion {
        id: uuid::Uuid::new_v4().to_string(),
        model: input.model.clone(),
        candidate_version: candidate.version.clone(),
        validation_id: v.id.clone(),
        // Stored without control characters: approvers read it in terminals, pages and chats.
        justification: crate::untrusted::strip_controls(input.justification.trim()),
        requested_by: principal.subject.clone(),
        requested_at: now,
        expires_at: now + settings.expiry,
        candidate_digest: candidate.artifact_digest.clone(),
        validation_digest: v.report_digest.clone(),
        champion_at_request: champion,
        rollback: input.rollback,
        trace_id: Some(trace_id.to_owned()),
    };
    Ok(match store.open_promotion(&new).await? {
        Opened::New(p) => promotion_view(p, true, settings, now),
        Opened::Existing(p) => promotion_view(p, false, settings, now),
    })
}

/// `get_promotion`.
pub async fn get_promotion(
    store: &dyn Store,
    principal: &Principal,
    id: &str,
    settings: &GateSettings,
) -> Result<PromotionView, ApprovalError> {
    let p = store
        .promotion(id)
        .await?
        .filter(|p| principal.may_access_model(&p.model))
        .ok_or_else(|| {
            ApprovalError::NotFound(format!(
                "promotion request `{id}` is not known; request_promotion returns request ids, and \
             list_models shows each model's pending request"
            ))
        })?;
    Ok(promotion_view(p, false, settings, Utc::now()))
}

/// A human's decision through any channel: needs `promotion:approve` and the model in the
/// approver's grant; on approval the evidence is checked again and the champion moved (or the
/// request fails with the reason).
pub async fn decide(
    store: &dyn Store,
    approver: &Principal,
    id: &str,
    decision: &Decision,
    settings: &GateSettings,
) -> Result<PromotionView, ApprovalError> {
    if !approver.has_scope(scopes::PROMOTION_APPROVE) {
        return Err(ApprovalError::BadInput(format!(
            "deciding a promotion requires the scope `{}`, which `{}` does not have",
            scopes::PROMOTION_APPROVE,
            approver.subject
        )));
    }
    let current = store
        .promotion(id)
        .await?
        .filter(|p| approver.may_access_model(&p.model))
        .ok_or_else(|| DecisionRefused::Unknown(id.to_owned()))?;
    if let Decision::Deny { reason } = decision
        && reason.trim().is_empty()
    {
        return Err(ApprovalError::BadInput("a denial needs a reason".into()));
    }
    let now = Utc::now();
    let decided = store
        .decide_promotion(&current.id, &approver.subject, decision, now)
        .await??;
    let done = if decided.state != PromotionState::Promoting {
        decided
    } else if let Some(mlflow) = settings.registries.mlflow(&decided.model) {
        promote_in_mlflow(store, mlflow, &decided).await?
    } else {
        store.complete_promotion(&decided.id, Utc::now()).await?
    };
    Ok(promotion_view(done, false, settings, now))
}

/// Moves MLflow's `champion` alias, then the store's, each after its checks; a failure on
/// either side leaves both where they were and fails the request with the reason.
async fn promote_in_mlflow(
    store: &dyn Store,
    mlflow: &MlflowRegistry,
    p: &Promotion,
) -> Result<Promotion, ApprovalError> {
    let fail = |why: String| async move { store.fail_promotion(&p.id, &why, Utc::now()).await };
    let expected = match &p.champion_at_request {
        Some(v) => match mlflow.find_version(v).await {
            Ok(found) => found.map(|(mv, _)| mv),
            Err(e) => return Ok(fail(e.to_string()).await?),
        },
        None => None,
    };
    let candidate = match mlflow.find_version(&p.candidate_version).await {
        Ok(Some((mv, _))) => mv,
        Ok(None) => {
            return Ok(fail(format!(
                "{} is not registered in MLflow (`{}`)",
                p.candidate_version, mlflow.name
            ))
            .await?);
        }
        Err(e) => return Ok(fail(e.to_string()).await?),
    };
    let current = match mlflow.alias(CHAMPION).await {
        Ok(c) => c,
        Err(e) => return Ok(fail(e.to_string()).await?),
    };
    if current != expected {
        return Ok(fail(format!(
            "MLflow's champion alias changed since the request (now version {}, then {})",
            current.as_deref().unwrap_or("none"),
            expected.as_deref().unwrap_or("none")
        ))
        .await?);
    }
    if let Err(e) = mlflow.set_alias(CHAMPION, &candidate).await {
        return Ok(fail(e.to_string()).await?);
    }
    let done = store.complete_promotion(&p.id, Utc::now()).await?;
    if done.state == PromotionState::Promoted {
        let by = done.decided_by.clone().unwrap_or_default();
        for (k, v) in [
            ("approved_by", by.as_str()),
            ("approval_id", done.id.as_str()),
        ] {
            if let Err(e) = mlflow.set_tag(&candidate, k, v).await {
                tracing::warn!(error = %e, "MLflow version tag not set");
            }
        }
    } else {
        // The store's checks failed after MLflow moved: put MLflow back.
        let undo = match &current {
            Some(v) => mlflow.set_alias(CHAMPION, v).await,
            None => mlflow.delete_alias(CHAMPION).await,
        };
        if let Err(e) = undo {
            tracing::error!(error = %e, request = %done.id, "MLflow champion alias could not be restored");
        }
    }
    Ok(done)
}
