//! Retraining jobs: admission under the cost controls, state changes and the breaker.

use chrono::Utc;
use sqlx::{AnyConnection, FromRow};

use crate::admission;
use crate::jobs::{Admission, Budget, Candidate, Job, JobState, JobUpdate, NewJob};
use crate::model::NewVersion;
use crate::{Store, StoreError};

use super::job_history::history;
use super::models::insert_version;
use super::{SqlStore, parse_time};

pub(super) async fn job_counts(s: &SqlStore) -> Result<Vec<(JobState, u64)>, StoreError> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, COUNT(*) FROM jobs GROUP BY state")
            .fetch_all(&s.pool)
            .await?;
    rows.into_iter()
        .map(|(state, n)| {
            let parsed = JobState::parse(&state)
                .ok_or_else(|| StoreError::Corrupt(format!("job state `{state}`")))?;
            Ok((parsed, u64::try_from(n).unwrap_or(0)))
        })
        .collect()
}

pub(super) async fn create_job(
    s: &SqlStore,
    job: &NewJob,
    budget: &Budget<'_>,
) -> Result<Admission, StoreError> {
    // One writer at a time from the first statement: the checks below and the insert see
    // the same state, whichever process or connection triggers concurrently.
    let mut tx = s.write_tx().await?;
    let existing: Option<JobRow> = sqlx::query_as(&format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE model = $1 AND \
         ((idempotency_key IS NOT NULL AND idempotency_key = $2) \
          OR state IN ('pending', 'running')) \
         ORDER BY (idempotency_key IS NOT NULL AND idempotency_key = $3) DESC LIMIT 1"
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
    if let Err(refusal) = admission::check(
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
         VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $8, $9, $10, $11)",
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

pub(super) async fn get_job(s: &SqlStore, id: &str) -> Result<Option<Job>, StoreError> {
    let mut conn = s.pool.acquire().await?;
    job_by_id(&mut conn, id).await
}

pub(super) async fn list_jobs(
    s: &SqlStore,
    model: Option<&str>,
    limit: u32,
) -> Result<Vec<Job>, StoreError> {
    let rows: Vec<JobRow> = sqlx::query_as(&format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE ($1 IS NULL OR model = $2) \
         ORDER BY created_at DESC, id DESC LIMIT $3"
    ))
    .bind(model)
    .bind(model)
    .bind(i64::from(limit))
    .fetch_all(&s.pool)
    .await?;
    rows.into_iter().map(JobRow::into_job).collect()
}

pub(super) async fn claim_start(
    s: &SqlStore,
    id: &str,
    owner: &str,
) -> Result<Option<Job>, StoreError> {
    let now = Utc::now().to_rfc3339();
    let claimed = sqlx::query(
        "UPDATE jobs SET state = 'running', raw_state = 'starting', started_at = $1, \
         updated_at = $2, owner = $3 WHERE id = $4 AND state = 'pending'",
    )
    .bind(&now)
    .bind(&now)
    .bind(owner)
    .bind(id)
    .execute(&s.pool)
    .await?;
    if claimed.rows_affected() == 0 {
        return Ok(None);
    }
    s.get_job(id).await
}

pub(super) async fn update_job(s: &SqlStore, id: &str, u: &JobUpdate) -> Result<Job, StoreError> {
    let mut conn = s.pool.acquire().await?;
    apply_update(&mut conn, id, u).await?;
    job_by_id(&mut conn, id)
        .await?
        .ok_or_else(|| StoreError::UnknownJob(id.to_owned()))
}

pub(super) async fn finish_job(
    s: &SqlStore,
    id: &str,
    u: &JobUpdate,
    candidate: Option<&Candidate>,
) -> Result<(Job, bool), StoreError> {
    let mut tx = s.write_tx().await?;
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
            sqlx::query_as("SELECT version FROM model_versions WHERE model = $1")
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
            None => mlops_domain::version::next_version(taken.iter().map(|(v,)| v.as_str())),
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

pub(super) async fn active_jobs(s: &SqlStore) -> Result<Vec<Job>, StoreError> {
    let rows: Vec<JobRow> = sqlx::query_as(&format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE state IN ('pending', 'running') ORDER BY created_at"
    ))
    .fetch_all(&s.pool)
    .await?;
    rows.into_iter().map(JobRow::into_job).collect()
}

pub(super) async fn job_by_id(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<Job>, StoreError> {
    let row: Option<JobRow> =
        sqlx::query_as(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"))
            .bind(id)
            .fetch_optional(conn)
            .await?;
    row.map(JobRow::into_job).transpose()
}

/// Applies `u` to job `id` if it is still active. Errors if the job does not exist.
pub(super) async fn apply_update(
    conn: &mut AnyConnection,
    id: &str,
    u: &JobUpdate,
) -> Result<(), StoreError> {
    let now = Utc::now().to_rfc3339();
    let state = u.state.map(JobState::as_str);
    let result = sqlx::query(
        "UPDATE jobs SET \
         state = COALESCE($1, state), raw_state = COALESCE($2, raw_state), \
         progress = COALESCE(CAST($3 AS DOUBLE PRECISION), progress), message = COALESCE($4, message), \
         external_id = COALESCE($5, external_id), external_url = COALESCE($6, external_url), \
         produced_version = COALESCE($7, produced_version), \
         started_at = CASE WHEN $8 = 'running' AND started_at IS NULL THEN $9 ELSE started_at END, \
         finished_at = CASE WHEN $10 IN ('succeeded', 'failed', 'cancelled') AND finished_at IS NULL \
                       THEN $11 ELSE finished_at END, \
         updated_at = $12 WHERE id = $13 AND state IN ('pending', 'running')",
    )
    .bind(state)
    .bind(&u.raw_state)
    // As text: sqlx 0.8's `Any` driver sends a NULL f64 to PostgreSQL as a float4, after which
    // the cached statement rejects a real f64. Rust prints an f64 so that it parses back exactly.
    .bind(u.progress.map(|p| p.to_string()))
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

pub(super) const JOB_COLUMNS: &str = "id, model, backend, state, raw_state, reason, drift_report_id, \
    idempotency_key, requested_by, params, external_id, external_url, progress, message, \
    produced_version, trace_id, created_at, started_at, finished_at, updated_at";

#[derive(FromRow)]
pub(super) struct JobRow {
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
    pub(super) fn into_job(self) -> Result<Job, StoreError> {
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
