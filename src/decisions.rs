//! A human's decision on a promotion request, whatever the channel (the CLI, the approval
//! page): the engine decides, this traces every outcome and tells the configured receivers.

use mlops_auth::Principal;
use mlops_engine::trace::NewTraceEvent;

use crate::app::App;

/// A human's decision on a promotion request through any channel (CLI, web page), with
/// every outcome traced in the request's trace: the decision, then `promotion.promoted` or
/// `promotion.failed`; a refused attempt as `promotion.decision_refused`.
pub async fn decide_promotion(
    app: &App,
    who: &Principal,
    id: &str,
    decision: &mlops_engine::promotion::Decision,
) -> Result<mlops_engine::promotion_gate::PromotionView, mlops_engine::promotion_gate::ApprovalError>
{
    use mlops_engine::promotion::{Decision, PromotionState};
    use mlops_engine::trace::Outcome;
    let before = app.store().promotion(id).await?;
    let result =
        mlops_engine::decide_promotion::decide(app.store(), who, id, decision, &app.gate()).await;
    let Some(p) = result.as_ref().map(|v| v.promotion.clone()).ok().or(before) else {
        return result;
    };
    let trace_id = p
        .trace_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let args = serde_json::json!({
        "request_id": p.id, "model": p.model, "candidate_version": p.candidate_version, "via": who.via,
    });
    let mut events = Vec::new();
    match &result {
        Ok(view) => {
            let (action, why) = match decision {
                Decision::Approve { note } => (
                    "promotion.approved",
                    format!(
                        "approved{}",
                        note.as_deref()
                            .map(|n| format!(": {n}"))
                            .unwrap_or_default()
                    ),
                ),
                Decision::Deny { reason } => ("promotion.denied", format!("denied: {reason}")),
            };
            events.push((action, Outcome::Ok, why));
            match view.promotion.state {
                PromotionState::Promoted => events.push((
                    "promotion.promoted",
                    Outcome::Ok,
                    format!("{} is now the champion of {}", p.candidate_version, p.model),
                )),
                PromotionState::Failed => events.push((
                    "promotion.failed",
                    Outcome::Error,
                    view.promotion.failure_reason.clone().unwrap_or_default(),
                )),
                _ => {}
            }
        }
        Err(e) => events.push((
            "promotion.decision_refused",
            Outcome::Refused,
            e.to_string(),
        )),
    }
    if let Ok(view) = &result {
        crate::notify::announce(
            &app.receivers(),
            crate::notify::Event::Decided,
            &view.promotion,
        )
        .await;
    }
    for (action, outcome, why) in events {
        app.trace(NewTraceEvent::new(
            &trace_id,
            &who.subject,
            action,
            &args,
            outcome,
            why,
            0,
        ))
        .await;
    }
    if let Ok(view) = &result
        && view.promotion.state == PromotionState::Promoted
    {
        let p = &view.promotion;
        let note = format!(
            "{} promoted to champion by {}",
            p.candidate_version, who.subject
        );
        crate::alerting::settle(
            app,
            &trace_id,
            &who.subject,
            &p.model,
            mlops_engine::alert::Settle::Resolve,
            &note,
        )
        .await;
    }
    result
}
