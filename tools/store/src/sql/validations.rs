//! Validation reports of candidate versions.

use crate::StoreError;
use crate::validation::Validation;

use super::SqlStore;

pub(super) async fn save_validation(s: &SqlStore, v: &Validation) -> Result<(), StoreError> {
    let body = serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let inserted = sqlx::query(
        "INSERT INTO validations (id, model, candidate_version, champion_version, job_id, \
         verdict, report_digest, body, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
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
    .execute(&s.pool)
    .await;
    match inserted {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
            Err(StoreError::UnknownModel(v.model.clone()))
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn validation(s: &SqlStore, id: &str) -> Result<Option<Validation>, StoreError> {
    let row: Option<(String,)> = sqlx::query_as("SELECT body FROM validations WHERE id = $1")
        .bind(id)
        .fetch_optional(&s.pool)
        .await?;
    row.map(|(b,)| parse_validation(&b)).transpose()
}

pub(super) async fn latest_validation(
    s: &SqlStore,
    model: &str,
    version: &str,
) -> Result<Option<Validation>, StoreError> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT body FROM validations WHERE model = $1 AND candidate_version = $2 \
         ORDER BY created_at DESC, rowid DESC LIMIT 1",
    )
    .bind(model)
    .bind(version)
    .fetch_optional(&s.pool)
    .await?;
    row.map(|(b,)| parse_validation(&b)).transpose()
}

pub(super) fn parse_validation(body: &str) -> Result<Validation, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt(format!("validation: {e}")))
}
