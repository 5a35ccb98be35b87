//! SQLite store (the default): one file, WAL journal, created and migrated on first open.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{FromRow, Row, SqliteConnection, SqlitePool};

use super::{ModelRecord, Store, StoreError};
use crate::check_drift::StoredDriftReport;
use crate::jobs::limits::{self, History};
use crate::jobs::{Admission, Budget, Candidate, Job, JobState, JobUpdate, NewJob};
use crate::model::{Alias, AliasChange, Baseline, CHAMPION, ModelSpec, ModelVersion, NewVersion};
use crate::promotion::{
    Decision, DecisionRefused, NewPromotion, Opened, Promotion, PromotionState,
};
use crate::trace::{self, GENESIS_HASH, NewTraceEvent, TraceEvent};
use crate::validation::Validation;

/// How many times an append is retried when another process extended the chain first.
const APPEND_ATTEMPTS: usize = 5;

/// This build's SQLite migrations.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

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
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    /// The underlying pool (tests use it to tamper with rows).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn versions(&self, model: &str) -> Result<Vec<ModelVersion>, StoreError> {
        let rows: Vec<VersionRow> = sqlx::query_as(
            "SELECT model, version, metrics, artifact_uri, artifact_digest, training_job, \
             data_snapshot, created_by, created_at, baseline_version, baseline_metrics \
             FROM model_versions WHERE model = ? ORDER BY created_at, version",
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
        // Every transaction that reads before it writes takes the write lock first (IMMEDIATE):
        // a deferred one would fail with SQLITE_BUSY_SNAPSHOT, which no busy timeout retries,
        // whenever another connection wrote between its read and its write.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
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
    async fn job_counts(&self) -> Result<Vec<(JobState, u64)>, StoreError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, COUNT(*) FROM jobs GROUP BY state")
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter()
            .map(|(state, n)| {
                let parsed = JobState::parse(&state)
                    .ok_or_else(|| StoreError::Corrupt(format!("job state `{state}`")))?;
                Ok((parsed, u64::try_from(n).unwrap_or(0)))
            })
            .collect()
    }

    async fn ready(&self) -> Result<(), StoreError> {
        let expected = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await?;
        let applied = applied.unwrap_or(0);
        if applied < expected {
            return Err(StoreError::NotReady(format!(
                "the schema is at migration {applied}; this build needs {expected}"
            )));
        }
        Ok(())
    }

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
        let mut conn = self.pool.acquire().await?;
        insert_version(&mut conn, v).await
    }

    async fn set_alias(
        &self,
        model: &str,
        alias: &str,
        version: &str,
        set_by: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        move_alias(&mut tx, model, alias, version, set_by, reason).await?;
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
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

    async fn create_job(&self, job: &NewJob, budget: &Budget<'_>) -> Result<Admission, StoreError> {
        // One writer at a time from the first statement: the checks below and the insert see
        // the same state, whichever process or connection triggers concurrently.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let existing: Option<JobRow> = sqlx::query_as(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE model = ? AND \
             ((idempotency_key IS NOT NULL AND idempotency_key = ?) \
              OR state IN ('pending', 'running')) \
             ORDER BY (idempotency_key IS NOT NULL AND idempotency_key = ?) DESC LIMIT 1"
        ))
        .bind(&job.model)
        .bind(&job.idempotency_key)
        .bind(&job.idempotency_key)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = existing {
            tx.commit().await?;
            return Ok(Admission::Existing(row.into_job()?));
        }
        let history = history(&mut tx, &job.model, budget.now).await?;
        if let Err(refusal) = limits::check(
            &job.model,
            budget.spec,
            &history,
            budget.max_concurrent,
            budget.now,
        ) {
            tx.rollback().await?;
            return Ok(Admission::Refused(refusal));
        }
        let created = Job::pending(job, budget.now);
        let now = budget.now.to_rfc3339();
        let params =
            serde_json::to_string(&job.params).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let inserted = sqlx::query(
            "INSERT INTO jobs (id, model, backend, state, reason, drift_report_id, \
             idempotency_key, requested_by, params, trace_id, created_at, updated_at) \
             VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&job.id)
        .bind(&job.model)
        .bind(&job.backend)
        .bind(&job.reason)
        .bind(&job.drift_report_id)
        .bind(&job.idempotency_key)
        .bind(&job.requested_by)
        .bind(params)
        .bind(&job.trace_id)
        .bind(&now)
        .bind(&now)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {
                tx.commit().await?;
                Ok(Admission::New(created))
            }
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                Err(StoreError::UnknownModel(job.model.clone()))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn get_job(&self, id: &str) -> Result<Option<Job>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        job_by_id(&mut conn, id).await
    }

    async fn list_jobs(&self, model: Option<&str>, limit: u32) -> Result<Vec<Job>, StoreError> {
        let rows: Vec<JobRow> = sqlx::query_as(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE (? IS NULL OR model = ?) \
             ORDER BY created_at DESC, id DESC LIMIT ?"
        ))
        .bind(model)
        .bind(model)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(JobRow::into_job).collect()
    }

    async fn claim_start(&self, id: &str) -> Result<Option<Job>, StoreError> {
        let now = Utc::now().to_rfc3339();
        let claimed = sqlx::query(
            "UPDATE jobs SET state = 'running', raw_state = 'starting', started_at = ?, \
             updated_at = ? WHERE id = ? AND state = 'pending'",
        )
        .bind(&now)
        .bind(&now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        if claimed.rows_affected() == 0 {
            return Ok(None);
        }
        self.get_job(id).await
    }

    async fn update_job(&self, id: &str, u: &JobUpdate) -> Result<Job, StoreError> {
        let mut conn = self.pool.acquire().await?;
        apply_update(&mut conn, id, u).await?;
        job_by_id(&mut conn, id)
            .await?
            .ok_or_else(|| StoreError::UnknownJob(id.to_owned()))
    }

    async fn finish_job(
        &self,
        id: &str,
        u: &JobUpdate,
        candidate: Option<&Candidate>,
    ) -> Result<(Job, bool), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let job = job_by_id(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::UnknownJob(id.to_owned()))?;
        if !job.state.is_active() {
            tx.rollback().await?;
            return Ok((job, false));
        }
        let mut update = u.clone();
        if let Some(c) = candidate {
            let taken: Vec<(String,)> =
                sqlx::query_as("SELECT version FROM model_versions WHERE model = ?")
                    .bind(&job.model)
                    .fetch_all(&mut *tx)
                    .await?;
            let version = match &c.label {
                Some(label) if taken.iter().any(|(v,)| v == label) => {
                    return Err(StoreError::VersionExists {
                        model: job.model.clone(),
                        version: label.clone(),
                    });
                }
                Some(label) => label.clone(),
                None => next_version(taken.iter().map(|(v,)| v.as_str())),
            };
            insert_version(
                &mut tx,
                &NewVersion {
                    model: job.model.clone(),
                    version: version.clone(),
                    metrics: c.metrics.clone(),
                    artifact_uri: c.artifact_uri.clone(),
                    artifact_digest: c.artifact_digest.clone(),
                    training_job: Some(job.id.clone()),
                    data_snapshot: c.data_snapshot.clone(),
                    created_by: job.requested_by.clone(),
                    baseline: c.baseline.clone(),
                },
            )
            .await?;
            update.produced_version = Some(version);
        }
        apply_update(&mut tx, id, &update).await?;
        let job = job_by_id(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::UnknownJob(id.to_owned()))?;
        tx.commit().await?;
        Ok((job, true))
    }

    async fn active_jobs(&self) -> Result<Vec<Job>, StoreError> {
        let rows: Vec<JobRow> = sqlx::query_as(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE state IN ('pending', 'running') ORDER BY created_at"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(JobRow::into_job).collect()
    }

    async fn retrain_history(
        &self,
        model: &str,
        now: DateTime<Utc>,
    ) -> Result<History, StoreError> {
        let mut conn = self.pool.acquire().await?;
        history(&mut conn, model, now).await
    }

    async fn reset_breaker(&self, model: &str, by: &str) -> Result<(), StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO retrain_breaker_resets (model, reset_by, reset_at) VALUES (?, ?, ?)",
        )
        .bind(model)
        .bind(by)
        .bind(Utc::now().to_rfc3339())
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                Err(StoreError::UnknownModel(model.to_owned()))
            }
            Err(e) => Err(e.into()),
        }
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

    async fn save_validation(&self, v: &Validation) -> Result<(), StoreError> {
        let body = serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let inserted = sqlx::query(
            "INSERT INTO validations (id, model, candidate_version, champion_version, job_id, \
             verdict, report_digest, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&v.id)
        .bind(&v.model)
        .bind(&v.candidate_version)
        .bind(&v.champion_version)
        .bind(&v.job_id)
        .bind(v.verdict.as_str())
        .bind(&v.report_digest)
        .bind(body)
        .bind(v.created_at.to_rfc3339())
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                Err(StoreError::UnknownModel(v.model.clone()))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn validation(&self, id: &str) -> Result<Option<Validation>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as("SELECT body FROM validations WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|(b,)| parse_validation(&b)).transpose()
    }

    async fn latest_validation(
        &self,
        model: &str,
        version: &str,
    ) -> Result<Option<Validation>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT body FROM validations WHERE model = ? AND candidate_version = ? \
             ORDER BY created_at DESC, rowid DESC LIMIT 1",
        )
        .bind(model)
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(b,)| parse_validation(&b)).transpose()
    }

    async fn open_promotion(&self, p: &NewPromotion) -> Result<Opened, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "UPDATE promotions SET state = 'expired', finished_at = ? \
             WHERE model = ? AND state = 'pending_approval' AND expires_us <= ?",
        )
        .bind(p.requested_at.to_rfc3339())
        .bind(&p.model)
        .bind(p.requested_at.timestamp_micros())
        .execute(&mut *tx)
        .await?;
        let open: Option<PromotionRow> = sqlx::query_as(&format!(
            "SELECT {PROMOTION_COLUMNS} FROM promotions WHERE model = ? \
             AND state IN ('pending_approval', 'promoting')"
        ))
        .bind(&p.model)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = open {
            tx.commit().await?;
            return Ok(Opened::Existing(row.into_promotion()?));
        }
        sqlx::query(
            "INSERT INTO promotions (id, model, candidate_version, validation_id, justification, \
             requested_by, requested_at, expires_us, candidate_digest, validation_digest, \
             champion_at_request, state, trace_id, rollback) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending_approval', ?, ?)",
        )
        .bind(&p.id)
        .bind(&p.model)
        .bind(&p.candidate_version)
        .bind(&p.validation_id)
        .bind(&p.justification)
        .bind(&p.requested_by)
        .bind(p.requested_at.to_rfc3339())
        .bind(p.expires_at.timestamp_micros())
        .bind(&p.candidate_digest)
        .bind(&p.validation_digest)
        .bind(&p.champion_at_request)
        .bind(&p.trace_id)
        .bind(p.rollback)
        .execute(&mut *tx)
        .await?;
        let created = promotion_by_id(&mut tx, &p.id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("promotion {} vanished", p.id)))?;
        tx.commit().await?;
        Ok(Opened::New(created))
    }

    async fn promotion(&self, id: &str) -> Result<Option<Promotion>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        promotion_by_id(&mut conn, id).await
    }

    async fn list_promotions(
        &self,
        state: Option<PromotionState>,
        limit: u32,
    ) -> Result<Vec<Promotion>, StoreError> {
        let state = state.map(PromotionState::as_str);
        let rows: Vec<PromotionRow> = sqlx::query_as(&format!(
            "SELECT {PROMOTION_COLUMNS} FROM promotions WHERE (? IS NULL OR state = ?) \
             ORDER BY requested_at DESC, id LIMIT ?"
        ))
        .bind(state)
        .bind(state)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(PromotionRow::into_promotion).collect()
    }

    async fn decide_promotion(
        &self,
        id: &str,
        by: &str,
        decision: &Decision,
        now: DateTime<Utc>,
    ) -> Result<Result<Promotion, DecisionRefused>, StoreError> {
        let (state, note) = match decision {
            Decision::Approve { note } => ("promoting", note.clone()),
            Decision::Deny { reason } => ("denied", Some(reason.clone())),
        };
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let Some(current) = promotion_by_id(&mut tx, id).await? else {
            tx.rollback().await?;
            return Ok(Err(DecisionRefused::Unknown(id.to_owned())));
        };
        let refusal = if current.state != PromotionState::PendingApproval {
            Some(DecisionRefused::AlreadyDecided(current.state.as_str()))
        } else if current.requested_by == by {
            Some(DecisionRefused::OwnRequest(by.to_owned()))
        } else if now >= current.expires_at {
            Some(DecisionRefused::Expired(current.expires_at))
        } else {
            None
        };
        if let Some(r) = refusal {
            tx.rollback().await?;
            return Ok(Err(r));
        }
        // The WHERE repeats every rule, so the database itself lets one decision through.
        let decided = sqlx::query(
            "UPDATE promotions SET state = ?, decided_by = ?, decided_at = ?, decision_note = ?, \
             finished_at = CASE WHEN ? = 'denied' THEN ? ELSE finished_at END \
             WHERE id = ? AND state = 'pending_approval' AND requested_by <> ? AND expires_us > ?",
        )
        .bind(state)
        .bind(by)
        .bind(now.to_rfc3339())
        .bind(note)
        .bind(state)
        .bind(now.to_rfc3339())
        .bind(id)
        .bind(by)
        .bind(now.timestamp_micros())
        .execute(&mut *tx)
        .await?;
        if decided.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(Err(DecisionRefused::AlreadyDecided("decided")));
        }
        let p = promotion_by_id(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("promotion {id} vanished")))?;
        tx.commit().await?;
        Ok(Ok(p))
    }

    async fn complete_promotion(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Promotion, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let p = promotion_by_id(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("promotion {id} is not known")))?;
        if p.state != PromotionState::Promoting {
            tx.rollback().await?;
            return Ok(p);
        }
        let failure = broken_precondition(&mut tx, &p).await?;
        if failure.is_none() {
            let reason = format!(
                "promotion {} approved by {}: {}",
                p.id,
                p.decided_by.as_deref().unwrap_or("unknown"),
                p.justification
            );
            move_alias(
                &mut tx,
                &p.model,
                CHAMPION,
                &p.candidate_version,
                p.decided_by.as_deref().unwrap_or("unknown"),
                &reason,
            )
            .await?;
        }
        sqlx::query(
            "UPDATE promotions SET state = ?, failure_reason = ?, finished_at = ? WHERE id = ?",
        )
        .bind(if failure.is_none() {
            "promoted"
        } else {
            "failed"
        })
        .bind(&failure)
        .bind(now.to_rfc3339())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let done = promotion_by_id(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("promotion {id} vanished")))?;
        tx.commit().await?;
        Ok(done)
    }

    async fn fail_promotion(
        &self,
        id: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Promotion, StoreError> {
        sqlx::query(
            "UPDATE promotions SET state = 'failed', failure_reason = ?, finished_at = ? \
             WHERE id = ? AND state = 'promoting'",
        )
        .bind(reason)
        .bind(now.to_rfc3339())
        .bind(id)
        .execute(&self.pool)
        .await?;
        self.promotion(id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("promotion {id} is not known")))
    }

    async fn record_delivery(&self, id: &str) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO webhook_deliveries (id, received_at) VALUES (?, ?) ON CONFLICT(id) DO NOTHING",
        )
        .bind(id)
        .bind(Utc::now().to_rfc3339())
        .execute(&self.pool)
        .await?;
        Ok(inserted.rows_affected() == 1)
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

/// Points `alias` at `version` and records the move in the alias history.
async fn move_alias(
    conn: &mut SqliteConnection,
    model: &str,
    alias: &str,
    version: &str,
    set_by: &str,
    reason: &str,
) -> Result<(), StoreError> {
    let exists: Option<(String,)> =
        sqlx::query_as("SELECT version FROM model_versions WHERE model = ? AND version = ?")
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
        "INSERT INTO model_aliases (model, alias, version, set_by, set_at) VALUES (?, ?, ?, ?, ?) \
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
         VALUES (?, ?, ?, ?, ?, ?, ?)",
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

async fn alias_target(
    conn: &mut SqliteConnection,
    model: &str,
    alias: &str,
) -> Result<Option<String>, StoreError> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT version FROM model_aliases WHERE model = ? AND alias = ?")
            .bind(model)
            .bind(alias)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.map(|(v,)| v))
}

const PROMOTION_COLUMNS: &str = "id, model, candidate_version, validation_id, justification, \
    requested_by, requested_at, expires_us, candidate_digest, validation_digest, \
    champion_at_request, state, decided_by, decided_at, decision_note, failure_reason, \
    finished_at, trace_id, rollback";

#[derive(FromRow)]
struct PromotionRow {
    id: String,
    model: String,
    candidate_version: String,
    validation_id: String,
    justification: String,
    requested_by: String,
    requested_at: String,
    expires_us: i64,
    candidate_digest: String,
    validation_digest: String,
    champion_at_request: Option<String>,
    state: String,
    decided_by: Option<String>,
    decided_at: Option<String>,
    decision_note: Option<String>,
    failure_reason: Option<String>,
    finished_at: Option<String>,
    trace_id: Option<String>,
    rollback: bool,
}

impl PromotionRow {
    fn into_promotion(self) -> Result<Promotion, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("{what} of promotion {}", self.id));
        let optional_time = |t: &Option<String>| t.as_deref().map(parse_time).transpose();
        Ok(Promotion {
            state: PromotionState::parse(&self.state).ok_or_else(|| corrupt("state"))?,
            requested_at: parse_time(&self.requested_at)?,
            expires_at: DateTime::from_timestamp_micros(self.expires_us)
                .ok_or_else(|| corrupt("expiry"))?,
            decided_at: optional_time(&self.decided_at)?,
            finished_at: optional_time(&self.finished_at)?,
            id: self.id,
            model: self.model,
            candidate_version: self.candidate_version,
            validation_id: self.validation_id,
            justification: self.justification,
            requested_by: self.requested_by,
            candidate_digest: self.candidate_digest,
            validation_digest: self.validation_digest,
            champion_at_request: self.champion_at_request,
            decided_by: self.decided_by,
            decision_note: self.decision_note,
            failure_reason: self.failure_reason,
            trace_id: self.trace_id,
            rollback: self.rollback,
        })
    }
}

async fn promotion_by_id(
    conn: &mut SqliteConnection,
    id: &str,
) -> Result<Option<Promotion>, StoreError> {
    let row: Option<PromotionRow> = sqlx::query_as(&format!(
        "SELECT {PROMOTION_COLUMNS} FROM promotions WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(PromotionRow::into_promotion).transpose()
}

fn parse_validation(body: &str) -> Result<Validation, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt(format!("validation: {e}")))
}

/// Why an approved promotion may not proceed, or `None` if the evidence still holds.
async fn broken_precondition(
    conn: &mut SqliteConnection,
    p: &Promotion,
) -> Result<Option<String>, StoreError> {
    let digest: Option<(String,)> = sqlx::query_as(
        "SELECT artifact_digest FROM model_versions WHERE model = ? AND version = ?",
    )
    .bind(&p.model)
    .bind(&p.candidate_version)
    .fetch_optional(&mut *conn)
    .await?;
    match digest {
        None => {
            return Ok(Some(format!(
                "candidate {} is no longer registered",
                p.candidate_version
            )));
        }
        Some((d,)) if d != p.candidate_digest => {
            return Ok(Some(format!(
                "the candidate's artifact changed since the request (digest {d}, requested {})",
                p.candidate_digest
            )));
        }
        Some(_) => {}
    }
    let validation: Option<(String, String)> =
        sqlx::query_as("SELECT report_digest, body FROM validations WHERE id = ?")
            .bind(&p.validation_id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some((stored_digest, body)) = validation else {
        return Ok(Some(format!("validation {} is gone", p.validation_id)));
    };
    let v = parse_validation(&body)?;
    let actual = format!(
        "sha256:{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(v.report.as_bytes()))
    );
    if stored_digest != p.validation_digest
        || actual != p.validation_digest
        || v.report_digest != actual
    {
        return Ok(Some(format!(
            "the validation report changed since the request (digest {actual}, requested {})",
            p.validation_digest
        )));
    }
    if v.verdict != crate::validation::Verdict::Passed && !p.rollback {
        return Ok(Some("the validation did not pass".into()));
    }
    let champion = alias_target(conn, &p.model, CHAMPION).await?;
    if champion != p.champion_at_request {
        return Ok(Some(format!(
            "the champion changed since the request (now {}, then {})",
            champion.as_deref().unwrap_or("none"),
            p.champion_at_request.as_deref().unwrap_or("none")
        )));
    }
    Ok(None)
}

/// `v<N+1>` where N is the largest number among versions named `v<N>` (0 if none).
pub fn next_version<'a>(taken: impl Iterator<Item = &'a str>) -> String {
    let highest = taken
        .filter_map(|v| v.strip_prefix('v').and_then(|n| n.parse::<u64>().ok()))
        .max()
        .unwrap_or(0);
    format!("v{}", highest + 1)
}

async fn insert_version(
    conn: &mut SqliteConnection,
    v: &NewVersion,
) -> Result<ModelVersion, StoreError> {
    let created_at = Utc::now();
    let metrics =
        serde_json::to_string(&v.metrics).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let (baseline_version, baseline_metrics) = match &v.baseline {
        Some(b) => (
            Some(b.version.clone()),
            Some(
                serde_json::to_string(&b.metrics)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            ),
        ),
        None => (None, None),
    };
    let result = sqlx::query(
        "INSERT INTO model_versions (model, version, metrics, artifact_uri, artifact_digest, \
         training_job, data_snapshot, created_by, created_at, baseline_version, baseline_metrics) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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

async fn job_by_id(conn: &mut SqliteConnection, id: &str) -> Result<Option<Job>, StoreError> {
    let row: Option<JobRow> =
        sqlx::query_as(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?"))
            .bind(id)
            .fetch_optional(conn)
            .await?;
    row.map(JobRow::into_job).transpose()
}

/// Applies `u` to job `id` if it is still active. Errors if the job does not exist.
async fn apply_update(
    conn: &mut SqliteConnection,
    id: &str,
    u: &JobUpdate,
) -> Result<(), StoreError> {
    let now = Utc::now().to_rfc3339();
    let state = u.state.map(JobState::as_str);
    let result = sqlx::query(
        "UPDATE jobs SET \
         state = COALESCE(?, state), raw_state = COALESCE(?, raw_state), \
         progress = COALESCE(?, progress), message = COALESCE(?, message), \
         external_id = COALESCE(?, external_id), external_url = COALESCE(?, external_url), \
         produced_version = COALESCE(?, produced_version), \
         started_at = CASE WHEN ? = 'running' AND started_at IS NULL THEN ? ELSE started_at END, \
         finished_at = CASE WHEN ? IN ('succeeded', 'failed', 'cancelled') AND finished_at IS NULL \
                       THEN ? ELSE finished_at END, \
         updated_at = ? WHERE id = ? AND state IN ('pending', 'running')",
    )
    .bind(state)
    .bind(&u.raw_state)
    .bind(u.progress)
    .bind(&u.message)
    .bind(&u.external_id)
    .bind(&u.external_url)
    .bind(&u.produced_version)
    .bind(state)
    .bind(&now)
    .bind(state)
    .bind(&now)
    .bind(&now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    if result.rows_affected() == 0 && job_by_id(conn, id).await?.is_none() {
        return Err(StoreError::UnknownJob(id.to_owned()));
    }
    Ok(())
}

/// What the cost controls of `model` need to know at `now`.
async fn history(
    conn: &mut SqliteConnection,
    model: &str,
    now: DateTime<Utc>,
) -> Result<History, StoreError> {
    let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT state, created_at, finished_at FROM jobs WHERE model = ? \
         ORDER BY created_at DESC, id DESC LIMIT 1000",
    )
    .bind(model)
    .fetch_all(&mut *conn)
    .await?;
    let reset: Option<(String,)> = sqlx::query_as(
        "SELECT reset_at FROM retrain_breaker_resets WHERE model = ? ORDER BY id DESC LIMIT 1",
    )
    .bind(model)
    .fetch_optional(&mut *conn)
    .await?;
    let reset_at = reset.map(|(t,)| parse_time(&t)).transpose()?;
    let (active,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM jobs WHERE state IN ('pending', 'running')")
            .fetch_one(&mut *conn)
            .await?;
    let mut history = History {
        active_all_models: u32::try_from(active).unwrap_or(u32::MAX),
        ..History::default()
    };
    let day_ago = now - chrono::Duration::hours(24);
    let mut counting_failures = true;
    for (state, created, finished) in rows {
        let created = parse_time(&created)?;
        if created > day_ago {
            history.started_last_day.push(created);
        }
        if let Some(f) = finished.as_deref().map(parse_time).transpose()? {
            history.last_finished =
                Some(history.last_finished.map_or(f, |l: DateTime<Utc>| l.max(f)));
        }
        // Failures count back to the last success or the last reset.
        if counting_failures {
            if state == JobState::Succeeded.as_str() || reset_at.is_some_and(|r| created <= r) {
                counting_failures = false;
            } else if state == JobState::Failed.as_str() {
                history.consecutive_failures += 1;
            }
        }
    }
    Ok(history)
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

const JOB_COLUMNS: &str = "id, model, backend, state, raw_state, reason, drift_report_id, \
    idempotency_key, requested_by, params, external_id, external_url, progress, message, \
    produced_version, trace_id, created_at, started_at, finished_at, updated_at";

#[derive(FromRow)]
struct JobRow {
    id: String,
    model: String,
    backend: String,
    state: String,
    raw_state: Option<String>,
    reason: String,
    drift_report_id: Option<String>,
    idempotency_key: Option<String>,
    requested_by: String,
    params: String,
    external_id: Option<String>,
    external_url: Option<String>,
    progress: Option<f64>,
    message: Option<String>,
    produced_version: Option<String>,
    trace_id: Option<String>,
    created_at: String,
    started_at: Option<String>,
    finished_at: Option<String>,
    updated_at: String,
}

impl JobRow {
    fn into_job(self) -> Result<Job, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("{what} of job {}", self.id));
        let state = JobState::parse(&self.state).ok_or_else(|| corrupt("state"))?;
        let params = serde_json::from_str(&self.params).map_err(|_| corrupt("params"))?;
        let optional_time = |t: &Option<String>| t.as_deref().map(parse_time).transpose();
        Ok(Job {
            state,
            params,
            created_at: parse_time(&self.created_at)?,
            started_at: optional_time(&self.started_at)?,
            finished_at: optional_time(&self.finished_at)?,
            updated_at: parse_time(&self.updated_at)?,
            id: self.id,
            model: self.model,
            backend: self.backend,
            raw_state: self.raw_state,
            reason: self.reason,
            drift_report_id: self.drift_report_id,
            idempotency_key: self.idempotency_key,
            requested_by: self.requested_by,
            external_id: self.external_id,
            external_url: self.external_url,
            progress: self.progress,
            message: self.message,
            produced_version: self.produced_version,
            trace_id: self.trace_id,
        })
    }
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
    baseline_version: Option<String>,
    baseline_metrics: Option<String>,
}

impl VersionRow {
    fn into_version(self) -> Result<ModelVersion, StoreError> {
        let corrupt = |what: &str, e: serde_json::Error| {
            StoreError::Corrupt(format!("{what} of {}: {e}", self.version))
        };
        let metrics: BTreeMap<String, f64> =
            serde_json::from_str(&self.metrics).map_err(|e| corrupt("metrics", e))?;
        let baseline = match (self.baseline_version, self.baseline_metrics.as_deref()) {
            (Some(version), Some(m)) => Some(Baseline {
                version,
                metrics: serde_json::from_str(m).map_err(|e| corrupt("baseline metrics", e))?,
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
