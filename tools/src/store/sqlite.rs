//! SQLite store (the default): one file, WAL journal, created and migrated on first open.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{FromRow, Row, SqlitePool};

use super::{ModelRecord, Store, StoreError};
use crate::check_drift::StoredDriftReport;
use crate::model::{Alias, AliasChange, ModelSpec, ModelVersion, NewVersion};
use crate::trace::{self, GENESIS_HASH, NewTraceEvent, TraceEvent};

/// How many times an append is retried when another process extended the chain first.
const APPEND_ATTEMPTS: usize = 5;

/// The SQLite implementation of [`Store`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) and migrates the database at `url` (`sqlite://path`).
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL is durable across process crashes (what we promise); FULL would
            // also cover power loss at a large cost per commit.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Self { pool })
    }

    /// The underlying pool (tests use it to tamper with rows).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn versions(&self, model: &str) -> Result<Vec<ModelVersion>, StoreError> {
        let rows: Vec<VersionRow> = sqlx::query_as(
            "SELECT model, version, metrics, artifact_uri, artifact_digest, training_job, \
             data_snapshot, created_by, created_at FROM model_versions WHERE model = ? \
             ORDER BY created_at, version",
        )
        .bind(model)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(VersionRow::into_version).collect()
    }

    async fn aliases(&self, model: &str) -> Result<Vec<Alias>, StoreError> {
        let rows = sqlx::query(
            "SELECT alias, version, set_by, set_at FROM model_aliases WHERE model = ? ORDER BY alias",
        )
        .bind(model)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Alias {
                    alias: r.try_get("alias")?,
                    version: r.try_get("version")?,
                    set_by: r.try_get("set_by")?,
                    set_at: parse_time(&r.try_get::<String, _>("set_at")?)?,
                })
            })
            .collect()
    }

    async fn record(&self, spec: ModelSpec) -> Result<ModelRecord, StoreError> {
        let versions = self.versions(&spec.name).await?;
        let aliases = self.aliases(&spec.name).await?;
        Ok(ModelRecord {
            spec,
            versions,
            aliases,
        })
    }

    async fn try_append(&self, events: &[NewTraceEvent]) -> Result<Vec<TraceEvent>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let head = sqlx::query("SELECT seq, hash FROM trace_events ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
        let (mut seq, mut prev) = match head {
            Some(row) => (
                row.try_get::<i64, _>("seq")?,
                row.try_get::<String, _>("hash")?,
            ),
            None => (0, GENESIS_HASH.to_owned()),
        };
        let mut stored = Vec::with_capacity(events.len());
        for event in events {
            seq += 1;
            let e = trace::chain(event, seq, &prev);
            sqlx::query(
                "INSERT INTO trace_events (seq, trace_id, at, principal, action, arguments, \
                 outcome, rationale, duration_us, prev_hash, hash) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(e.seq)
            .bind(&e.trace_id)
            .bind(&e.at)
            .bind(&e.principal)
            .bind(&e.action)
            .bind(&e.arguments)
            .bind(e.outcome.as_str())
            .bind(&e.rationale)
            .bind(e.duration_us)
            .bind(&e.prev_hash)
            .bind(&e.hash)
            .execute(&mut *tx)
            .await?;
            prev = e.hash.clone();
            stored.push(e);
        }
        tx.commit().await?;
        Ok(stored)
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn sync_model(&self, spec: &ModelSpec) -> Result<(), StoreError> {
        let json = serde_json::to_string(spec).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO models (name, spec, synced_at) VALUES (?, ?, ?) \
             ON CONFLICT(name) DO UPDATE SET spec = excluded.spec, synced_at = excluded.synced_at",
        )
        .bind(&spec.name)
        .bind(json)
        .bind(Utc::now().to_rfc3339())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn list_models(&self) -> Result<Vec<ModelRecord>, StoreError> {
        let specs: Vec<(String,)> = sqlx::query_as("SELECT spec FROM models ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(specs.len());
        for (json,) in specs {
            out.push(self.record(parse_spec(&json)?).await?);
        }
        Ok(out)
    }

    async fn get_model(&self, name: &str) -> Result<Option<ModelRecord>, StoreError> {
        let spec: Option<(String,)> = sqlx::query_as("SELECT spec FROM models WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        match spec {
            Some((json,)) => Ok(Some(self.record(parse_spec(&json)?).await?)),
            None => Ok(None),
        }
    }

    async fn register_version(&self, v: &NewVersion) -> Result<ModelVersion, StoreError> {
        let created_at = Utc::now();
        let metrics =
            serde_json::to_string(&v.metrics).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let result = sqlx::query(
            "INSERT INTO model_versions (model, version, metrics, artifact_uri, artifact_digest, \
             training_job, data_snapshot, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        .execute(&self.pool)
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
        })
    }

    async fn set_alias(
        &self,
        model: &str,
        alias: &str,
        version: &str,
        set_by: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let exists: Option<(String,)> =
            sqlx::query_as("SELECT version FROM model_versions WHERE model = ? AND version = ?")
                .bind(model)
                .bind(version)
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            return Err(StoreError::UnknownVersion {
                model: model.into(),
                version: version.into(),
            });
        }
        let previous: Option<(String,)> =
            sqlx::query_as("SELECT version FROM model_aliases WHERE model = ? AND alias = ?")
                .bind(model)
                .bind(alias)
                .fetch_optional(&mut *tx)
                .await?;
        let now = Utc::now().to_rfc3339();
        sqlx::query(
            "INSERT INTO model_aliases (model, alias, version, set_by, set_at) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT(model, alias) DO UPDATE SET version = excluded.version, \
             set_by = excluded.set_by, set_at = excluded.set_at",
        )
        .bind(model)
        .bind(alias)
        .bind(version)
        .bind(set_by)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO alias_history (model, alias, version, previous_version, set_by, reason, set_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(model)
        .bind(alias)
        .bind(version)
        .bind(previous.map(|p| p.0))
        .bind(set_by)
        .bind(reason)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn alias_history(&self, model: &str) -> Result<Vec<AliasChange>, StoreError> {
        let rows = sqlx::query(
            "SELECT alias, version, previous_version, set_by, reason, set_at FROM alias_history \
             WHERE model = ? ORDER BY id",
        )
        .bind(model)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AliasChange {
                    alias: r.try_get("alias")?,
                    version: r.try_get("version")?,
                    previous_version: r.try_get("previous_version")?,
                    set_by: r.try_get("set_by")?,
                    reason: r.try_get("reason")?,
                    set_at: parse_time(&r.try_get::<String, _>("set_at")?)?,
                })
            })
            .collect()
    }

    async fn save_drift_report(&self, r: &StoredDriftReport) -> Result<(), StoreError> {
        let json =
            serde_json::to_string(&r.output).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO drift_reports (id, model, created_at, requested_by, dataset_drift, \
             drifted_share, recommended_action, report) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&r.output.report_id)
        .bind(&r.output.model)
        .bind(r.output.checked_at.to_rfc3339())
        .bind(&r.requested_by)
        .bind(r.output.report.dataset_drift)
        .bind(r.output.report.drifted_share)
        .bind(r.output.recommended_action.as_str())
        .bind(json)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn drift_report(&self, id: &str) -> Result<Option<StoredDriftReport>, StoreError> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT requested_by, report FROM drift_reports WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(parse_drift).transpose()
    }

    async fn insert_records(
        &self,
        model: &str,
        batch: &str,
        records: &[crate::records::NewRecord],
    ) -> Result<usize, StoreError> {
        let known: Option<(String,)> = sqlx::query_as("SELECT name FROM models WHERE name = ?")
            .bind(model)
            .fetch_optional(&self.pool)
            .await?;
        if known.is_none() {
            return Err(StoreError::UnknownModel(model.to_owned()));
        }
        let now = chrono::Utc::now().to_rfc3339();
        let mut tx = self.pool.begin().await?;
        // Multi-row inserts, within SQLite's limit on bound parameters.
        for chunk in records.chunks(1000) {
            let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO records (model, ts_us, data, batch, ingested_at) ",
            );
            q.push_values(chunk, |mut row, r| {
                row.push_bind(model)
                    .push_bind(r.timestamp.timestamp_micros())
                    .push_bind(&r.data)
                    .push_bind(batch)
                    .push_bind(&now);
            });
            q.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(records.len())
    }

    async fn records(
        &self,
        model: &str,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT data FROM records WHERE model = ? AND ts_us >= ? AND ts_us < ? \
             ORDER BY ts_us, id LIMIT ?",
        )
        .bind(model)
        .bind(from.timestamp_micros())
        .bind(to.timestamp_micros())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(d,)| d).collect())
    }

    async fn last_drift_report(
        &self,
        model: &str,
    ) -> Result<Option<StoredDriftReport>, StoreError> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT requested_by, report FROM drift_reports WHERE model = ? \
             ORDER BY created_at DESC, rowid DESC LIMIT 1",
        )
        .bind(model)
        .fetch_optional(&self.pool)
        .await?;
        row.map(parse_drift).transpose()
    }

    async fn append_traces(&self, events: &[NewTraceEvent]) -> Result<Vec<TraceEvent>, StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_append(events).await {
                // Another process appended between our read of the head and our insert.
                Err(StoreError::Database(sqlx::Error::Database(e)))
                    if (e.is_unique_violation() || e.code().as_deref() == Some("5"))
                        && attempt < APPEND_ATTEMPTS => {}
                other => return other,
            }
        }
    }

    async fn trace(&self, trace_id: &str) -> Result<Vec<TraceEvent>, StoreError> {
        let rows: Vec<TraceRow> = sqlx::query_as(
            "SELECT seq, trace_id, at, principal, action, arguments, outcome, rationale, \
             duration_us, prev_hash, hash FROM trace_events WHERE trace_id = ? ORDER BY seq",
        )
        .bind(trace_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(TraceRow::into_event).collect()
    }

    async fn trace_events_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<TraceEvent>, StoreError> {
        let rows: Vec<TraceRow> = sqlx::query_as(
            "SELECT seq, trace_id, at, principal, action, arguments, outcome, rationale, \
             duration_us, prev_hash, hash FROM trace_events WHERE seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(TraceRow::into_event).collect()
    }
}

fn parse_drift((requested_by, json): (String, String)) -> Result<StoredDriftReport, StoreError> {
    let output = serde_json::from_str(&json)
        .map_err(|e| StoreError::Corrupt(format!("drift report: {e}")))?;
    Ok(StoredDriftReport {
        requested_by,
        output,
    })
}

fn parse_spec(json: &str) -> Result<ModelSpec, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("model spec: {e}")))
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("timestamp `{s}`: {e}")))
}

#[derive(FromRow)]
struct VersionRow {
    model: String,
    version: String,
    metrics: String,
    artifact_uri: String,
    artifact_digest: String,
    training_job: Option<String>,
    data_snapshot: Option<String>,
    created_by: String,
    created_at: String,
}

impl VersionRow {
    fn into_version(self) -> Result<ModelVersion, StoreError> {
        let metrics: BTreeMap<String, f64> = serde_json::from_str(&self.metrics)
            .map_err(|e| StoreError::Corrupt(format!("metrics of {}: {e}", self.version)))?;
        Ok(ModelVersion {
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

#[derive(FromRow)]
struct TraceRow {
    seq: i64,
    trace_id: String,
    at: String,
    principal: String,
    action: String,
    arguments: String,
    outcome: String,
    rationale: String,
    duration_us: i64,
    prev_hash: String,
    hash: String,
}

impl TraceRow {
    fn into_event(self) -> Result<TraceEvent, StoreError> {
        Ok(TraceEvent {
            outcome: trace::parse_outcome(&self.outcome)?,
            seq: self.seq,
            trace_id: self.trace_id,
            at: self.at,
            principal: self.principal,
            action: self.action,
            arguments: self.arguments,
            rationale: self.rationale,
            duration_us: self.duration_us,
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}
