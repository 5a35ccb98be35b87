//! Tool `request_promotion`: opens a request for a human decision, bound to the evidence.

use chrono::Utc;
use mlops_auth::Principal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::CHAMPION;
use crate::promotion::{NewPromotion, Opened};
use crate::store::Store;
use crate::validation::Verdict;

use crate::promotion_gate::*;

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
