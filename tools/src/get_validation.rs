//! Tool `get_validation`: the candidate's validation against the champion, reused while the
//! evidence is unchanged; and the validation a finished job's candidate gets at once.

use chrono::Utc;
use mlops_auth::Principal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::CHAMPION;
use crate::registry::Registries;
use crate::store::Store;
use crate::validation::{self, Validation, Verdict};

use crate::jobs::{Job, JobEndHook};
use crate::promotion_gate::*;
use crate::trace::Outcome;

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
    let baseline = candidate.baseline.clone();
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

/// Validates a finished job's candidate against the champion at once (it is validated again on
/// demand by `get_validation`), as the runner's [`JobEndHook`].
pub struct ValidateCandidate {
    pub store: std::sync::Arc<dyn Store>,
    pub registries: Registries,
}

#[async_trait::async_trait]
impl JobEndHook for ValidateCandidate {
    async fn ended(&self, job: &Job) -> Option<(&'static str, Outcome, String)> {
        let version = job.produced_version.as_ref()?;
        let validated = validate_version(
            self.store.as_ref(),
            &self.registries,
            &job.model,
            version,
            Some(job.id.clone()),
            "mlops-mcp",
        )
        .await;
        let (outcome, why) = match validated {
            Ok(v) => (
                Outcome::Ok,
                format!(
                    "validation {} of {version} against champion {}: {}",
                    v.id,
                    v.champion_version.as_deref().unwrap_or("none"),
                    v.verdict.as_str()
                ),
            ),
            Err(e) => (
                Outcome::Error,
                format!("validation of {version} failed: {e}"),
            ),
        };
        Some(("validation.created", outcome, why))
    }
}
