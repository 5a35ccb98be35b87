//! The retention sweep: once at start-up and every `limits.retention_sweep_secs`, each model
//! whose policy says `retain = "30d"` loses its blocks of ingested rows whose newest row is
//! older than that, and the late labels left without a row (one transaction per model, then the
//! block files). What it deletes is traced as `retention.pruned` by `mlops-mcp:retention`; every
//! sweep is logged. Replicas may sweep the same model at once: deleting what is already gone
//! deletes nothing. Each sweep also merges each model's small blocks (many small requests) into
//! larger ones (`merged` blocks into `written`), and removes block files no catalog entry names
//! (a crash between writing a block and committing it leaves one).

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
        match app.blocks().prune(app.store(), &model.name, before).await {
            Ok(pruned) if pruned.rows == 0 => {}
            Ok(pruned) => {
                let (r, l) = (pruned.rows, pruned.labels);
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
                        "{r} ingested rows ({} blocks) and {l} late labels older than {} deleted (policy.retain)",
                        pruned.blocks,
                        model.policy.retain.as_deref().unwrap_or_default()
                    ),
                    0,
                ))
                .await;
            }
            Err(error) => tracing::warn!(%error, model = %model.name, "retention sweep failed"),
        }
    }
    let (mut merged, mut written) = (0, 0);
    for model in &app.config().models {
        match app.blocks().compact(app.store(), &model.name).await {
            Ok((m, w)) => (merged, written) = (merged + m, written + w),
            Err(error) => tracing::warn!(%error, model = %model.name, "compacting blocks failed"),
        }
    }
    let orphans = match app.blocks().sweep(app.store()).await {
        Ok(n) => n,
        Err(error) => {
            tracing::warn!(%error, "sweeping block files failed");
            0
        }
    };
    tracing::info!(
        rows,
        labels,
        merged,
        written,
        orphans,
        "retention sweep done"
    );
}

/// Converts rows stored before blocks, then starts the sweep.
pub(crate) fn start(app: &App) {
    let app = app.clone();
    let every = Duration::from_secs(app.config().limits.retention_sweep_secs.max(1));
    tokio::spawn(async move {
        match app.blocks().convert_legacy(app.store()).await {
            Ok(0) => {}
            Ok(rows) => tracing::info!(rows, "rows stored before blocks converted to blocks"),
            Err(error) => tracing::warn!(%error, "converting rows stored before blocks failed"),
        }
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            sweep(&app).await;
        }
    });
}
