//! Replicas' heartbeats and who drives each active job.

use chrono::{DateTime, Utc};

use crate::StoreError;
use crate::jobs::{JobOwner, JobState, OwnerSeen, Replica};

use super::{SqlStore, parse_time};

pub(super) async fn heartbeat(
    s: &SqlStore,
    r: &Replica,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO replicas (id, host, pid, started_at, heartbeat_us) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT(id) DO UPDATE SET heartbeat_us = excluded.heartbeat_us",
    )
    .bind(&r.id)
    .bind(&r.host)
    .bind(i64::from(r.pid))
    .bind(r.started_at.to_rfc3339())
    .bind(now.timestamp_micros())
    .execute(&s.pool)
    .await?;
    Ok(())
}

pub(super) async fn job_owners(s: &SqlStore) -> Result<Vec<JobOwner>, StoreError> {
    type OwnerRow = (
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<i64>,
        Option<i64>,
    );
    let rows: Vec<OwnerRow> = sqlx::query_as(
        "SELECT j.id, j.state, j.created_at, j.owner, r.host, r.pid, r.heartbeat_us \
             FROM jobs j LEFT JOIN replicas r ON r.id = j.owner \
             WHERE j.state IN ('pending', 'running') ORDER BY j.created_at",
    )
    .fetch_all(&s.pool)
    .await?;
    rows.into_iter()
        .map(|(job, state, created_at, owner, host, pid, beat)| {
            let state = JobState::parse(&state)
                .ok_or_else(|| StoreError::Corrupt(format!("state of job {job}")))?;
            let replica = match (host, pid, beat) {
                (Some(host), Some(pid), Some(beat)) => Some(OwnerSeen {
                    host,
                    pid: u32::try_from(pid).unwrap_or(0),
                    heartbeat: DateTime::from_timestamp_micros(beat).unwrap_or_default(),
                }),
                _ => None,
            };
            Ok(JobOwner {
                created_at: parse_time(&created_at)?,
                job,
                state,
                owner,
                replica,
            })
        })
        .collect()
}

pub(super) async fn take_over(
    s: &SqlStore,
    id: &str,
    from: Option<&str>,
    to: &str,
) -> Result<bool, StoreError> {
    let moved = sqlx::query(
        "UPDATE jobs SET owner = $1 WHERE id = $2 AND state IN ('pending', 'running') \
         AND (owner = $3 OR (owner IS NULL AND $4 IS NULL))",
    )
    .bind(to)
    .bind(id)
    .bind(from)
    .bind(from)
    .execute(&s.pool)
    .await?;
    Ok(moved.rows_affected() == 1)
}
