//! Stored drift reports ([`DriftRecord`]).

use crate::StoreError;
use crate::drift_record::{DriftRecord, RecommendedAction};

use super::{SqlStore, parse_time};

pub(super) async fn save_drift_report(s: &SqlStore, r: &DriftRecord) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO drift_reports (id, model, created_at, requested_by, dataset_drift, \
         drifted_share, recommended_action, format, report) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&r.id)
    .bind(&r.model)
    .bind(r.checked_at.to_rfc3339())
    .bind(&r.requested_by)
    .bind(i64::from(r.dataset_drift))
    .bind(r.drifted_share)
    .bind(r.recommended_action.as_str())
    .bind(i64::from(r.format))
    .bind(&r.document)
    .execute(&s.pool)
    .await?;
    Ok(())
}

pub(super) async fn drift_report(
    s: &SqlStore,
    id: &str,
) -> Result<Option<DriftRecord>, StoreError> {
    let row: Option<DriftRow> = sqlx::query_as(&format!(
        "SELECT {DRIFT_COLUMNS} FROM drift_reports WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&s.pool)
    .await?;
    row.map(DriftRow::into_record).transpose()
}

pub(super) async fn last_drift_report(
    s: &SqlStore,
    model: &str,
) -> Result<Option<DriftRecord>, StoreError> {
    let row: Option<DriftRow> = sqlx::query_as(&format!(
        "SELECT {DRIFT_COLUMNS} FROM drift_reports WHERE model = $1 \
         ORDER BY created_at DESC, rowid DESC LIMIT 1"
    ))
    .bind(model)
    .fetch_optional(&s.pool)
    .await?;
    row.map(DriftRow::into_record).transpose()
}

pub(super) const DRIFT_COLUMNS: &str = "id, model, created_at, requested_by, dataset_drift, drifted_share, \
                             recommended_action, format, report";

/// A `drift_reports` row.
#[derive(sqlx::FromRow)]
pub(super) struct DriftRow {
    id: String,
    model: String,
    created_at: String,
    requested_by: String,
    dataset_drift: i64,
    drifted_share: f64,
    recommended_action: String,
    format: i64,
    report: String,
}

impl DriftRow {
    pub(super) fn into_record(self) -> Result<DriftRecord, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("drift report {}: {what}", self.id));
        Ok(DriftRecord {
            checked_at: parse_time(&self.created_at)?,
            recommended_action: RecommendedAction::parse(&self.recommended_action)
                .ok_or_else(|| corrupt("unknown recommended action"))?,
            format: u32::try_from(self.format).map_err(|_| corrupt("bad format"))?,
            dataset_drift: self.dataset_drift != 0,
            drifted_share: self.drifted_share,
            requested_by: self.requested_by,
            model: self.model,
            document: self.report,
            id: self.id,
        })
    }
}
