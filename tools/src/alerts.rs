//! Alerts as the engine raises and settles them: each change the store makes is traced, and
//! handed to whoever announces it (webhooks, subscribed clients).

use std::sync::Arc;

use serde_json::json;

use crate::alert::{Alert, Settle};
use crate::check_drift::{CheckDriftOutput, RecommendedAction};
use crate::check_performance::CheckPerformanceOutput;
use crate::store::{Store, StoreError};
use crate::trace::{NewTraceEvent, Outcome};
use crate::trace_log::TraceLog;

/// One change to an alert: its trace action (`alert.opened`, `alert.updated`,
/// `alert.acknowledged`, `alert.resolved`) and the alert after it.
#[derive(Debug, Clone)]
pub struct AlertChange {
    pub action: &'static str,
    pub alert: Alert,
}

/// Receives every alert change (to announce it); must not block.
pub type OnAlert = Arc<dyn Fn(AlertChange) + Send + Sync>;

async fn trace(traces: &TraceLog, trace_id: &str, by: &str, change: &AlertChange) {
    let a = &change.alert;
    let args = json!({
        "model": a.model,
        "alert_id": a.id,
        "level": a.level.as_str(),
        "state": a.state.as_str(),
        "report": a.latest_report,
    });
    let event = NewTraceEvent::new(trace_id, by, change.action, &args, Outcome::Ok, &a.note, 0);
    if let Err(error) = traces.record(event).await {
        tracing::error!(%error, "trace event not recorded");
    }
}

/// Applies a drift check's verdict to its model's alert. A check without enough rows gives no
/// verdict and changes nothing.
pub async fn on_drift(
    store: &dyn Store,
    traces: &TraceLog,
    trace_id: &str,
    by: &str,
    output: &CheckDriftOutput,
) -> Result<Option<AlertChange>, StoreError> {
    let verdict = output.has_verdict().then_some(output.recommended_action);
    let report = format!("mlops://drift-reports/{}", output.report_id);
    apply(store, traces, trace_id, by, &output.model, &report, verdict).await
}

/// Applies a quality check's verdict to its model's alert, only upwards: a measured
/// degradation (`retrain`) opens the alert or raises it to retrain; any other result changes
/// nothing. So a quality check and a drift check that disagree do not open and clear the same
/// alert in turn; drift checks, retraining and promotion settle it as before.
pub async fn on_quality(
    store: &dyn Store,
    traces: &TraceLog,
    trace_id: &str,
    by: &str,
    output: &CheckPerformanceOutput,
) -> Result<Option<AlertChange>, StoreError> {
    if !(output.has_verdict() && output.recommended_action == RecommendedAction::Retrain) {
        return Ok(None);
    }
    let report = format!("mlops://quality-reports/{}", output.report_id);
    let verdict = Some(RecommendedAction::Retrain);
    apply(store, traces, trace_id, by, &output.model, &report, verdict).await
}

async fn apply(
    store: &dyn Store,
    traces: &TraceLog,
    trace_id: &str,
    by: &str,
    model: &str,
    report: &str,
    verdict: Option<RecommendedAction>,
) -> Result<Option<AlertChange>, StoreError> {
    let Some((step, alert)) = store.apply_verdict(model, report, verdict, by).await? else {
        return Ok(None);
    };
    let change = AlertChange {
        action: step.action(),
        alert,
    };
    trace(traces, trace_id, by, &change).await;
    Ok(Some(change))
}

/// Acknowledges (a retraining job) or resolves (a promotion) the model's unresolved alert.
pub async fn settle(
    store: &dyn Store,
    traces: &TraceLog,
    trace_id: &str,
    by: &str,
    model: &str,
    how: Settle,
    note: &str,
) -> Result<Option<AlertChange>, StoreError> {
    let Some(alert) = store.settle_alert(model, how, note).await? else {
        return Ok(None);
    };
    let change = AlertChange {
        action: match how {
            Settle::Acknowledge => "alert.acknowledged",
            Settle::Resolve => "alert.resolved",
        },
        alert,
    };
    trace(traces, trace_id, by, &change).await;
    Ok(Some(change))
}
