//! The retention sweep: once at start-up and every `limits.retention_sweep_secs`, each model
//! whose policy says `retain = "30d"` loses its ingested rows older than that, and the late
//! labels left without a row (one transaction per model). What it deletes is traced as
//! `retention.pruned` by `mlops-mcp:retention`; every sweep is logged. Replicas may sweep the
//! same model at once: deleting what is already gone deletes nothing.

use std::time::Duration;

use mlops_engine::trace::{NewTraceEvent, Outcome};
use serde_json::json;

use crate::app::App;

/// The principal of the sweep in the trace.
pub const PRINCIPAL: &str = "mlops-mcp:retention";

async fn sweep(app: &App) {
    let now = chrono::Utc::now();
    let (mut rows, mut labels) = (0, 0);
    for model in &app.config().models {
        let Some(keep) = model.policy.retention() else {
            continue;
        };
        let Ok(keep) = chrono::Duration::from_std(keep) else {
            continue;
        };
        let before = now - keep;
        match app.store().prune_records(&model.name, before).await {
            Ok((0, _)) => {}
            Ok((r, l)) => {
                rows += r;
                labels += l;
                let args = json!({"model": model.name, "before": before.to_rfc3339()});
                app.trace(NewTraceEvent::new(
                    uuid::Uuid::new_v4().to_string(),
                    PRINCIPAL,
                    "retention.pruned",
                    &args,
                    Outcome::Ok,
                    format!(
                        "{r} ingested rows and {l} late labels older than {} deleted (policy.retain)",
                        model.policy.retain.as_deref().unwrap_or_default()
                    ),
                    0,
                ))
                .await;
            }
            Err(error) => tracing::warn!(%error, model = %model.name, "retention sweep failed"),
        }
    }
    tracing::info!(rows, labels, "retention sweep done");
}

/// Starts the sweep if any model has a retention; whether it did.
pub(crate) fn start(app: &App) -> bool {
    if !app
        .config()
        .models
        .iter()
        .any(|m| m.policy.retain.is_some())
    {
        return false;
    }
    let app = app.clone();
    let every = Duration::from_secs(app.config().limits.retention_sweep_secs.max(1));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            sweep(&app).await;
        }
    });
    true
}
