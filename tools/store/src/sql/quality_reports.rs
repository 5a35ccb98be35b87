//! Stored quality reports.

use sqlx::FromRow;

use crate::StoreError;
use crate::drift_record::RecommendedAction;
use crate::quality_record::QualityRecord;

use super::{SqlStore, parse_time};

pub(super) const QUALITY_COLUMNS: &str =
    "id, model, created_at, requested_by, recommended_action, document";

pub(super) async fn save_quality_report(s: &SqlStore, r: &QualityRecord) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "INSERT INTO quality_reports ({QUALITY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
    ))
    .bind(&r.id)
    .bind(&r.model)
    .bind(r.checked_at.to_rfc3339())
    .bind(&r.requested_by)
    .bind(r.recommended_action.as_str())
    .bind(&r.document)
    .execute(&s.pool)
    .await?;
    Ok(())
}

pub(super) async fn quality_report(
    s: &SqlStore,
    id: &str,
) -> Result<Option<QualityRecord>, StoreError> {
    let row: Option<QualityRow> = sqlx::query_as(&format!(
        "SELECT {QUALITY_COLUMNS} FROM quality_reports WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&s.pool)
    .await?;
    row.map(QualityRow::into_record).transpose()
}

/// A `quality_reports` row.
#[derive(FromRow)]
pub(super) struct QualityRow {
    id: String,
    pub(super) model: String,
    created_at: String,
    requested_by: String,
    recommended_action: String,
    document: String,
}

impl QualityRow {
    pub(super) fn into_record(self) -> Result<QualityRecord, StoreError> {
        Ok(QualityRecord {
            recommended_action: RecommendedAction::parse(&self.recommended_action).ok_or_else(
                || StoreError::Corrupt(format!("quality action `{}`", self.recommended_action)),
            )?,
            checked_at: parse_time(&self.created_at)?,
            id: self.id,
            model: self.model,
            requested_by: self.requested_by,
            document: self.document,
        })
    }
}
