//! What `list_models` reads: every model with its versions, aliases, newest job, newest drift
//! report, pending promotions, newest monitor run, unresolved alert and newest quality report. A fixed number of
//! queries whatever the fleet's size (one per kind of row), cached by store generation.

use std::collections::HashMap;
use std::sync::Arc;

use crate::model::{Alias, ModelVersion};
use crate::promotion::PromotionState;
use crate::{ModelOverview, ModelRecord, StoreError};

use super::drift_reports::{DRIFT_COLUMNS, DriftRow};
use super::jobs::{JOB_COLUMNS, JobRow};
use super::models::{AliasRow, VersionRow};
use super::quality_reports::{QUALITY_COLUMNS, QualityRow};
use super::{SqlStore, alerts, monitors, parse_spec};

/// `columns` of the newest row of `table` per model, newest by `order`.
fn newest_per_model(columns: &str, table: &str, order: &str) -> String {
    format!(
        "SELECT {columns} FROM (SELECT {columns}, ROW_NUMBER() OVER \
         (PARTITION BY model ORDER BY {order}) AS n FROM {table}) AS newest WHERE n = 1"
    )
}

fn group<T>(items: Vec<T>, model: impl Fn(&T) -> &str) -> HashMap<String, Vec<T>> {
    let mut by: HashMap<String, Vec<T>> = HashMap::new();
    for item in items {
        by.entry(model(&item).to_owned()).or_default().push(item);
    }
    by
}

fn one<T>(items: Vec<T>, model: impl Fn(&T) -> &str) -> HashMap<String, T> {
    items
        .into_iter()
        .map(|item| (model(&item).to_owned(), item))
        .collect()
}

impl SqlStore {
    /// Reads every model's overview afresh.
    pub(super) async fn read_overviews(&self) -> Result<Vec<ModelOverview>, StoreError> {
        let specs: Vec<(String,)> = sqlx::query_as("SELECT spec FROM models ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        let versions: Vec<VersionRow> = sqlx::query_as(
            "SELECT model, version, metrics, artifact_uri, artifact_digest, training_job, \
             data_snapshot, created_by, created_at, baseline_version, baseline_metrics, baseline_segments \
             FROM model_versions ORDER BY model, created_at, version",
        )
        .fetch_all(&self.pool)
        .await?;
        let versions = versions
            .into_iter()
            .map(VersionRow::into_version)
            .collect::<Result<Vec<ModelVersion>, _>>()?;
        let mut versions = group(versions, |v| &v.model);
        let aliases: Vec<AliasRow> = sqlx::query_as(
            "SELECT model, alias, version, set_by, set_at FROM model_aliases ORDER BY model, alias",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut aliases = group(aliases, |a| &a.model);
        let jobs: Vec<JobRow> = sqlx::query_as(&newest_per_model(
            JOB_COLUMNS,
            "jobs",
            "created_at DESC, id DESC",
        ))
        .fetch_all(&self.pool)
        .await?;
        let mut jobs = one(
            jobs.into_iter()
                .map(JobRow::into_job)
                .collect::<Result<Vec<_>, _>>()?,
            |j| &j.model,
        );
        let drifts: Vec<DriftRow> = sqlx::query_as(&newest_per_model(
            DRIFT_COLUMNS,
            "drift_reports",
            "created_at DESC, rowid DESC",
        ))
        .fetch_all(&self.pool)
        .await?;
        let mut drifts = one(
            drifts
                .into_iter()
                .map(DriftRow::into_record)
                .collect::<Result<Vec<_>, _>>()?,
            |d| &d.model,
        );
        let pending =
            crate::Store::list_promotions(self, Some(PromotionState::PendingApproval), u32::MAX)
                .await?;
        let mut pending = group(pending, |p| &p.model);
        let qualities: Vec<QualityRow> = sqlx::query_as(&newest_per_model(
            QUALITY_COLUMNS,
            "quality_reports",
            "created_at DESC, id DESC",
        ))
        .fetch_all(&self.pool)
        .await?;
        let mut qualities = one(
            qualities
                .into_iter()
                .map(QualityRow::into_record)
                .collect::<Result<Vec<_>, _>>()?,
            |q| &q.model,
        );
        let mut runs = one(monitors::last_monitor_runs(self).await?, |r| &r.model);
        let mut open = one(alerts::alerts(self, true, u32::MAX).await?, |a| &a.model);
        let mut out = Vec::with_capacity(specs.len());
        for (json,) in specs {
            let spec = parse_spec(&json)?;
            let name = spec.name.clone();
            let aliases = aliases
                .remove(&name)
                .unwrap_or_default()
                .into_iter()
                .map(AliasRow::into_alias)
                .collect::<Result<Vec<Alias>, _>>()?;
            out.push(ModelOverview {
                record: ModelRecord {
                    spec,
                    versions: versions.remove(&name).unwrap_or_default(),
                    aliases,
                },
                last_job: jobs.remove(&name),
                last_drift: drifts.remove(&name),
                pending: pending.remove(&name).unwrap_or_default(),
                last_run: runs.remove(&name),
                alert: open.remove(&name),
                last_quality: qualities.remove(&name),
            });
        }
        Ok(out)
    }
}

pub(super) async fn model_overviews(s: &SqlStore) -> Result<Arc<Vec<ModelOverview>>, StoreError> {
    // Read before the rows: a change committed in between makes the cached copy look older
    // than it is (read again next time), never newer.
    let generation = s.generation.read(&s.pool).await?;
    if let Ok(cached) = s.overviews.lock()
        && let Some((at, overviews)) = cached.as_ref()
        && *at == generation
    {
        return Ok(overviews.clone());
    }
    let fresh = Arc::new(s.read_overviews().await?);
    if let Ok(mut cached) = s.overviews.lock()
        && cached.as_ref().is_none_or(|(at, _)| *at <= generation)
    {
        *cached = Some((generation, fresh.clone()));
    }
    Ok(fresh)
}
