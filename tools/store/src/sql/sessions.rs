//! Approver sessions of the approval page, kept as SHA-256 of their ids.

use chrono::{DateTime, Utc};

use crate::StoreError;
use crate::approver_session::ApproverSession;

use super::SqlStore;

pub(super) async fn create_session(
    store: &SqlStore,
    session: &ApproverSession,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM approver_sessions WHERE expires_us <= $1")
        .bind(session.created_at.timestamp_micros())
        .execute(&store.pool)
        .await?;
    let models = match &session.models {
        Some(m) => Some(serde_json::to_string(m).map_err(|e| StoreError::Corrupt(e.to_string()))?),
        None => None,
    };
    sqlx::query(
        "INSERT INTO approver_sessions (id_hash, subject, scopes, models, created_us, expires_us) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&session.id_hash)
    .bind(&session.subject)
    .bind(session.scopes.join(" "))
    .bind(models)
    .bind(session.created_at.timestamp_micros())
    .bind(session.expires_at.timestamp_micros())
    .execute(&store.pool)
    .await?;
    Ok(())
}

pub(super) async fn session(
    s: &SqlStore,
    id_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<ApproverSession>, StoreError> {
    let row: Option<SessionRow> = sqlx::query_as(
        "SELECT subject, scopes, models, created_us, expires_us FROM approver_sessions \
         WHERE id_hash = $1 AND expires_us > $2",
    )
    .bind(id_hash)
    .bind(now.timestamp_micros())
    .fetch_optional(&s.pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let models = row
        .models
        .map(|m| serde_json::from_str(&m))
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("approver session models: {e}")))?;
    let at = |us: i64| DateTime::from_timestamp_micros(us).unwrap_or_default();
    Ok(Some(ApproverSession {
        id_hash: id_hash.to_owned(),
        subject: row.subject,
        scopes: row.scopes.split_whitespace().map(str::to_owned).collect(),
        models,
        created_at: at(row.created_us),
        expires_at: at(row.expires_us),
    }))
}

pub(super) async fn revoke_session(s: &SqlStore, id_hash: &str) -> Result<bool, StoreError> {
    let deleted = sqlx::query("DELETE FROM approver_sessions WHERE id_hash = $1")
        .bind(id_hash)
        .execute(&s.pool)
        .await?;
    Ok(deleted.rows_affected() == 1)
}

/// An `approver_sessions` row.
#[derive(sqlx::FromRow)]
struct SessionRow {
    subject: String,
    scopes: String,
    models: Option<String>,
    created_us: i64,
    expires_us: i64,
}
