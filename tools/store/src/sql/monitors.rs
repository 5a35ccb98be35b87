//! Monitor runs: the claim of a slot (one row per model and slot; the primary key decides which
//! replica runs it) and its outcome.

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use crate::StoreError;
use crate::monitor::{MonitorRun, RunOutcome};

use super::{SqlStore, parse_time};

const RUN_COLUMNS: &str =
    "model, slot_ms, replica, claimed_at, finished_at, outcome, report_id, detail";

pub(super) async fn claim_monitor_slot(
    s: &SqlStore,
    model: &str,
    slot: DateTime<Utc>,
    replica: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO monitor_runs (model, slot_ms, replica, claimed_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (model, slot_ms) DO NOTHING",
    )
    .bind(model)
    .bind(slot.timestamp_millis())
    .bind(replica)
    .bind(Utc::now().to_rfc3339())
    .execute(&s.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn finish_monitor_run(
    s: &SqlStore,
    model: &str,
    slot: DateTime<Utc>,
    outcome: RunOutcome,
    report_id: Option<&str>,
    detail: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE monitor_runs SET finished_at = $1, outcome = $2, report_id = $3, detail = $4 \
         WHERE model = $5 AND slot_ms = $6",
    )
    .bind(Utc::now().to_rfc3339())
    .bind(outcome.as_str())
    .bind(report_id)
    .bind(detail)
    .bind(model)
    .bind(slot.timestamp_millis())
    .execute(&s.pool)
    .await?;
    Ok(())
}

pub(super) async fn monitor_runs(
    s: &SqlStore,
    model: Option<&str>,
    limit: u32,
) -> Result<Vec<MonitorRun>, StoreError> {
    let rows: Vec<RunRow> = sqlx::query_as(&format!(
        "SELECT {RUN_COLUMNS} FROM monitor_runs WHERE ($1 IS NULL OR model = $2) \
         ORDER BY slot_ms DESC, model LIMIT $3"
    ))
    .bind(model)
    .bind(model)
    .bind(i64::from(limit))
    .fetch_all(&s.pool)
    .await?;
    rows.into_iter().map(RunRow::into_run).collect()
}

/// Every model's newest run.
pub(super) async fn last_monitor_runs(s: &SqlStore) -> Result<Vec<MonitorRun>, StoreError> {
    let rows: Vec<RunRow> = sqlx::query_as(&format!(
        "SELECT {RUN_COLUMNS} FROM (SELECT {RUN_COLUMNS}, ROW_NUMBER() OVER \
         (PARTITION BY model ORDER BY slot_ms DESC) AS n FROM monitor_runs) AS newest WHERE n = 1"
    ))
    .fetch_all(&s.pool)
    .await?;
    rows.into_iter().map(RunRow::into_run).collect()
}

#[derive(FromRow)]
struct RunRow {
    model: String,
    slot_ms: i64,
    replica: String,
    claimed_at: String,
    finished_at: Option<String>,
    outcome: Option<String>,
    report_id: Option<String>,
    detail: String,
}

impl RunRow {
    fn into_run(self) -> Result<MonitorRun, StoreError> {
        let outcome = match self.outcome.as_deref() {
            None => None,
            Some(o) => Some(
                RunOutcome::parse(o)
                    .ok_or_else(|| StoreError::Corrupt(format!("monitor run outcome `{o}`")))?,
            ),
        };
        Ok(MonitorRun {
            slot: DateTime::from_timestamp_millis(self.slot_ms)
                .ok_or_else(|| StoreError::Corrupt(format!("monitor slot {}", self.slot_ms)))?,
            claimed_at: parse_time(&self.claimed_at)?,
            finished_at: self.finished_at.as_deref().map(parse_time).transpose()?,
            model: self.model,
            replica: self.replica,
            outcome,
            report_id: self.report_id,
            detail: self.detail,
        })
    }
}
