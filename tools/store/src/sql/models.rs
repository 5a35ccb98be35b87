//! Models, their versions and aliases, and the overviews `list_models` reads.

use std::collections::BTreeMap;

use chrono::Utc;
use sqlx::{AnyConnection, FromRow};

use crate::model::{Alias, AliasChange, Baseline, ModelSpec, ModelVersion, NewVersion};
use crate::{ModelRecord, StoreError};

use super::{SqlStore, parse_spec, parse_time};

impl SqlStore {
    pub(super) async fn versions(&self, model: &str) -> Result<Vec<ModelVersion>, StoreError> {
        let rows: Vec<VersionRow> = sqlx::query_as(
            "SELECT model, version, metrics, artifact_uri, artifact_digest, training_job, \
             data_snapshot, created_by, created_at, baseline_version, baseline_metrics, baseline_segments \
             FROM model_versions WHERE model = $1 ORDER BY created_at, version",
        )
        .bind(model)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(VersionRow::into_version).collect()
    }

    pub(super) async fn aliases(&self, model: &str) -> Result<Vec<Alias>, StoreError> {
        let rows: Vec<AliasRow> = sqlx::query_as(
            "SELECT model, alias, version, set_by, set_at FROM model_aliases WHERE model = $1 ORDER BY alias",
        )
        .bind(model)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(AliasRow::into_alias).collect()
    }

    pub(super) async fn record(&self, spec: ModelSpec) -> Result<ModelRecord, StoreError> {
        let versions = self.versions(&spec.name).await?;
        let aliases = self.aliases(&spec.name).await?;
        Ok(ModelRecord {
            spec,
            versions,
            aliases,
        })
    }
}

pub(super) async fn sync_model(s: &SqlStore, spec: &ModelSpec) -> Result<(), StoreError> {
    let json = serde_json::to_string(spec).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    sqlx::query(
        "INSERT INTO models (name, spec, synced_at) VALUES ($1, $2, $3) \
         ON CONFLICT(name) DO UPDATE SET spec = excluded.spec, synced_at = excluded.synced_at",
    )
    .bind(&spec.name)
    .bind(json)
    .bind(Utc::now().to_rfc3339())
    .execute(&s.pool)
    .await?;
    Ok(())
}

pub(super) async fn list_models(s: &SqlStore) -> Result<Vec<ModelRecord>, StoreError> {
    let specs: Vec<(String,)> = sqlx::query_as("SELECT spec FROM models ORDER BY name")
        .fetch_all(&s.pool)
        .await?;
    let mut out = Vec::with_capacity(specs.len());
    for (json,) in specs {
        out.push(s.record(parse_spec(&json)?).await?);
    }
    Ok(out)
}

pub(super) async fn get_model(s: &SqlStore, name: &str) -> Result<Option<ModelRecord>, StoreError> {
    let spec: Option<(String,)> = sqlx::query_as("SELECT spec FROM models WHERE name = $1")
        .bind(name)
        .fetch_optional(&s.pool)
        .await?;
    match spec {
        Some((json,)) => Ok(Some(s.record(parse_spec(&json)?).await?)),
        None => Ok(None),
    }
}

pub(super) async fn register_version(
    s: &SqlStore,
    v: &NewVersion,
) -> Result<ModelVersion, StoreError> {
    let mut conn = s.pool.acquire().await?;
    insert_version(&mut conn, v).await
}

pub(super) async fn set_alias(
    s: &SqlStore,
    model: &str,
    alias: &str,
    version: &str,
    set_by: &str,
    reason: &str,
) -> Result<(), StoreError> {
    let mut tx = s.write_tx().await?;
    move_alias(&mut tx, model, alias, version, set_by, reason).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn alias_history(
    s: &SqlStore,
    model: &str,
) -> Result<Vec<AliasChange>, StoreError> {
    let rows: Vec<AliasChangeRow> = sqlx::query_as(
        "SELECT alias, version, previous_version, set_by, reason, set_at FROM alias_history \
         WHERE model = $1 ORDER BY id",
    )
    .bind(model)
    .fetch_all(&s.pool)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(AliasChange {
                set_at: parse_time(&r.set_at)?,
                alias: r.alias,
                version: r.version,
                previous_version: r.previous_version,
                set_by: r.set_by,
                reason: r.reason,
            })
        })
        .collect()
}

/// Points `alias` at `version` and records the move in the alias history.
pub(super) async fn move_alias(
    conn: &mut AnyConnection,
    model: &str,
    alias: &str,
    version: &str,
    set_by: &str,
    reason: &str,
) -> Result<(), StoreError> {
    let exists: Option<(String,)> =
        sqlx::query_as("SELECT version FROM model_versions WHERE model = $1 AND version = $2")
            .bind(model)
            .bind(version)
            .fetch_optional(&mut *conn)
            .await?;
    if exists.is_none() {
        return Err(StoreError::UnknownVersion {
            model: model.into(),
            version: version.into(),
        });
    }
    let previous = alias_target(conn, model, alias).await?;
    let now = Utc::now().to_rfc3339();
    sqlx::query(
        "INSERT INTO model_aliases (model, alias, version, set_by, set_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT(model, alias) DO UPDATE SET version = excluded.version, \
         set_by = excluded.set_by, set_at = excluded.set_at",
    )
    .bind(model)
    .bind(alias)
    .bind(version)
    .bind(set_by)
    .bind(&now)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO alias_history (model, alias, version, previous_version, set_by, reason, set_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(model)
    .bind(alias)
    .bind(version)
    .bind(previous)
    .bind(set_by)
    .bind(reason)
    .bind(&now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn alias_target(
    conn: &mut AnyConnection,
    model: &str,
    alias: &str,
) -> Result<Option<String>, StoreError> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT version FROM model_aliases WHERE model = $1 AND alias = $2")
            .bind(model)
            .bind(alias)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.map(|(v,)| v))
}

pub(super) async fn insert_version(
    conn: &mut AnyConnection,
    v: &NewVersion,
) -> Result<ModelVersion, StoreError> {
    let created_at = Utc::now();
    let metrics =
        serde_json::to_string(&v.metrics).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let corrupt = |e: serde_json::Error| StoreError::Corrupt(e.to_string());
    let (baseline_version, baseline_metrics, baseline_segments) = match &v.baseline {
        Some(b) => (
            Some(b.version.clone()),
            Some(serde_json::to_string(&b.metrics).map_err(corrupt)?),
            (!b.segments.is_empty())
                .then(|| serde_json::to_string(&b.segments).map_err(corrupt))
                .transpose()?,
        ),
        None => (None, None, None),
    };
    let result = sqlx::query(
        "INSERT INTO model_versions (model, version, metrics, artifact_uri, artifact_digest, \
         training_job, data_snapshot, created_by, created_at, baseline_version, baseline_metrics, \
         baseline_segments) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&v.model)
    .bind(&v.version)
    .bind(metrics)
    .bind(&v.artifact_uri)
    .bind(&v.artifact_digest)
    .bind(&v.training_job)
    .bind(&v.data_snapshot)
    .bind(&v.created_by)
    .bind(created_at.to_rfc3339())
    .bind(baseline_version)
    .bind(baseline_metrics)
    .bind(baseline_segments)
    .execute(conn)
    .await;
    match result {
        Ok(_) => {}
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(StoreError::VersionExists {
                model: v.model.clone(),
                version: v.version.clone(),
            });
        }
        Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
            return Err(StoreError::UnknownModel(v.model.clone()));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(ModelVersion {
        model: v.model.clone(),
        version: v.version.clone(),
        metrics: v.metrics.clone(),
        artifact_uri: v.artifact_uri.clone(),
        artifact_digest: v.artifact_digest.clone(),
        training_job: v.training_job.clone(),
        data_snapshot: v.data_snapshot.clone(),
        created_by: v.created_by.clone(),
        created_at,
        baseline: v.baseline.clone(),
    })
}

#[derive(FromRow)]
pub(super) struct VersionRow {
    pub(super) model: String,
    version: String,
    metrics: String,
    artifact_uri: String,
    artifact_digest: String,
    training_job: Option<String>,
    data_snapshot: Option<String>,
    created_by: String,
    created_at: String,
    baseline_version: Option<String>,
    baseline_metrics: Option<String>,
    baseline_segments: Option<String>,
}

impl VersionRow {
    pub(super) fn into_version(self) -> Result<ModelVersion, StoreError> {
        let corrupt = |what: &str, e: serde_json::Error| {
            StoreError::Corrupt(format!("{what} of {}: {e}", self.version))
        };
        let metrics: BTreeMap<String, f64> =
            serde_json::from_str(&self.metrics).map_err(|e| corrupt("metrics", e))?;
        let baseline = match (self.baseline_version, self.baseline_metrics.as_deref()) {
            (Some(version), Some(m)) => Some(Baseline {
                version,
                metrics: serde_json::from_str(m).map_err(|e| corrupt("baseline metrics", e))?,
                segments: match self.baseline_segments.as_deref() {
                    Some(s) => serde_json::from_str(s).map_err(|e| corrupt("segments", e))?,
                    None => Vec::new(),
                },
            }),
            _ => None,
        };
        Ok(ModelVersion {
            baseline,
            created_at: parse_time(&self.created_at)?,
            model: self.model,
            version: self.version,
            metrics,
            artifact_uri: self.artifact_uri,
            artifact_digest: self.artifact_digest,
            training_job: self.training_job,
            data_snapshot: self.data_snapshot,
            created_by: self.created_by,
        })
    }
}

/// A `model_aliases` row.
#[derive(FromRow)]
pub(super) struct AliasRow {
    pub(super) model: String,
    alias: String,
    version: String,
    set_by: String,
    set_at: String,
}

impl AliasRow {
    pub(super) fn into_alias(self) -> Result<Alias, StoreError> {
        Ok(Alias {
            set_at: parse_time(&self.set_at)?,
            alias: self.alias,
            version: self.version,
            set_by: self.set_by,
        })
    }
}

/// An `alias_history` row.
#[derive(FromRow)]
struct AliasChangeRow {
    alias: String,
    version: String,
    previous_version: Option<String>,
    set_by: String,
    reason: String,
    set_at: String,
}
