//! The monitors this process runs, and alert changes as this process makes them (a check by an agent or a monitor, a retraining
//! job, a promotion): traced by the engine, then told to this process's subscribed clients
//! at once and announced to the configured webhooks in the background. Clients connected to
//! another replica learn of them when their subscription re-reads the store.

use std::sync::Arc;

use mlops_engine::alert::Settle;
use mlops_engine::alerts::{self, AlertChange, OnAlert};
use mlops_engine::check_drift::CheckDriftOutput;
use mlops_engine::check_performance::CheckPerformanceOutput;

use crate::app::App;

/// Tells subscribers and webhooks about `change`, without waiting for the deliveries.
pub(crate) fn publish(app: &App, change: AlertChange) {
    let a = &change.alert;
    tracing::info!(model = %a.model, action = change.action, state = ?a.state, "alert changed");
    // No subscriber is not an error.
    let _ = app.alert_changes().send(change.clone());
    let app = app.clone();
    tokio::spawn(async move {
        crate::notify::announce_alert(&app.receivers(), &change).await;
    });
}

/// [`publish`] as the monitors' callback.
fn publisher(app: &App) -> OnAlert {
    let app = app.clone();
    Arc::new(move |change| publish(&app, change))
}

/// Starts the configured monitors (`[models.monitor]`), their alerts published as above;
/// `serve` calls it once. How many models are monitored.
pub(crate) fn start_monitors(app: &App) -> usize {
    let c = &app.config().monitors;
    let monitors = mlops_engine::monitors::Monitors::new(
        app.shared_store(),
        app.drift().clone(),
        app.traces().clone(),
        &app.config().models,
        mlops_engine::monitors::MonitorSettings {
            tick: std::time::Duration::from_millis(c.tick_ms.max(50)),
            max_concurrent: c.max_concurrent,
        },
        publisher(app),
    );
    let n = monitors.len();
    monitors.spawn();
    n
}

/// Applies a finished check to its model's alert.
pub(crate) async fn after_check(app: &App, trace_id: &str, by: &str, output: &CheckDriftOutput) {
    match alerts::on_drift(app.store(), app.traces(), trace_id, by, output).await {
        Ok(Some(change)) => publish(app, change),
        Ok(None) => {}
        Err(error) => tracing::warn!(%error, model = %output.model, "alert not updated"),
    }
}

/// Applies a finished quality check to its model's alert (only a measured degradation counts).
pub(crate) async fn after_quality(
    app: &App,
    trace_id: &str,
    by: &str,
    output: &CheckPerformanceOutput,
) {
    match alerts::on_quality(app.store(), app.traces(), trace_id, by, output).await {
        Ok(Some(change)) => publish(app, change),
        Ok(None) => {}
        Err(error) => tracing::warn!(%error, model = %output.model, "alert not updated"),
    }
}

/// Acknowledges or resolves `model`'s alert because of what `by` did.
pub(crate) async fn settle(
    app: &App,
    trace_id: &str,
    by: &str,
    model: &str,
    how: Settle,
    note: &str,
) {
    match alerts::settle(app.store(), app.traces(), trace_id, by, model, how, note).await {
        Ok(Some(change)) => publish(app, change),
        Ok(None) => {}
        Err(error) => tracing::warn!(%error, %model, "alert not settled"),
    }
}
