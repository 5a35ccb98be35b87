//! The human decision on a promotion request, whatever the channel: the approver's scope and
//! grant, the store's rules, then the champion moved (in MLflow too where the model has it).

use chrono::Utc;
use mlops_auth::{Principal, scopes};

use crate::model::CHAMPION;
use crate::promotion::{Decision, DecisionRefused, Promotion, PromotionState};
use crate::registry::MlflowRegistry;
use crate::store::Store;

use crate::promotion_gate::*;

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
