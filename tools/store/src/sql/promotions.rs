//! Promotion requests, their decisions and the alias move that completes them.

use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, FromRow};

use crate::evidence;
use crate::model::CHAMPION;
use crate::promotion::{
    Decision, DecisionRefused, NewPromotion, Opened, Promotion, PromotionState,
};
use crate::{Store, StoreError};

use super::models::{alias_target, move_alias};
use super::validations::parse_validation;
use super::{SqlStore, parse_time};

pub(super) async fn open_promotion(s: &SqlStore, p: &NewPromotion) -> Result<Opened, StoreError> {
    let mut tx = s.write_tx().await?;
    sqlx::query(
        "UPDATE promotions SET state = 'expired', finished_at = $1 \
         WHERE model = $2 AND state = 'pending_approval' AND expires_us <= $3",
    )
    .bind(p.requested_at.to_rfc3339())
    .bind(&p.model)
    .bind(p.requested_at.timestamp_micros())
    .execute(&mut *tx)
    .await?;
    let open: Option<PromotionRow> = sqlx::query_as(&format!(
        "SELECT {PROMOTION_COLUMNS} FROM promotions WHERE model = $1 \
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
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'pending_approval', $12, $13)",
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
    .bind(i64::from(p.rollback))
    .execute(&mut *tx)
    .await?;
    let created = promotion_by_id(&mut tx, &p.id)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("promotion {} vanished", p.id)))?;
    tx.commit().await?;
    Ok(Opened::New(created))
}

pub(super) async fn promotion(s: &SqlStore, id: &str) -> Result<Option<Promotion>, StoreError> {
    let mut conn = s.pool.acquire().await?;
    promotion_by_id(&mut conn, id).await
}

pub(super) async fn list_promotions(
    s: &SqlStore,
    state: Option<PromotionState>,
    limit: u32,
) -> Result<Vec<Promotion>, StoreError> {
    let state = state.map(PromotionState::as_str);
    let rows: Vec<PromotionRow> = sqlx::query_as(&format!(
        "SELECT {PROMOTION_COLUMNS} FROM promotions WHERE ($1 IS NULL OR state = $2) \
         ORDER BY requested_at DESC, id LIMIT $3"
    ))
    .bind(state)
    .bind(state)
    .bind(i64::from(limit))
    .fetch_all(&s.pool)
    .await?;
    rows.into_iter().map(PromotionRow::into_promotion).collect()
}

pub(super) async fn decide_promotion(
    s: &SqlStore,
    id: &str,
    by: &str,
    decision: &Decision,
    now: DateTime<Utc>,
) -> Result<Result<Promotion, DecisionRefused>, StoreError> {
    let (state, note) = match decision {
        Decision::Approve { note } => ("promoting", note.clone()),
        Decision::Deny { reason } => ("denied", Some(reason.clone())),
    };
    let mut tx = s.write_tx().await?;
    let Some(current) = promotion_by_id(&mut tx, id).await? else {
        tx.rollback().await?;
        return Ok(Err(DecisionRefused::Unknown(id.to_owned())));
    };
    if let Some(r) = DecisionRefused::of(&current, by, now) {
        tx.rollback().await?;
        return Ok(Err(r));
    }
    // The WHERE repeats every rule, so the database itself lets one decision through.
    let decided = sqlx::query(
        "UPDATE promotions SET state = $1, decided_by = $2, decided_at = $3, decision_note = $4, \
         finished_at = CASE WHEN $5 = 'denied' THEN $6 ELSE finished_at END \
         WHERE id = $7 AND state = 'pending_approval' AND requested_by <> $8 AND expires_us > $9",
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

pub(super) async fn complete_promotion(
    s: &SqlStore,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Promotion, StoreError> {
    let mut tx = s.write_tx().await?;
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
        "UPDATE promotions SET state = $1, failure_reason = $2, finished_at = $3 WHERE id = $4",
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

pub(super) async fn fail_promotion(
    s: &SqlStore,
    id: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Promotion, StoreError> {
    sqlx::query(
        "UPDATE promotions SET state = 'failed', failure_reason = $1, finished_at = $2 \
         WHERE id = $3 AND state = 'promoting'",
    )
    .bind(reason)
    .bind(now.to_rfc3339())
    .bind(id)
    .execute(&s.pool)
    .await?;
    s.promotion(id)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("promotion {id} is not known")))
}

pub(super) const PROMOTION_COLUMNS: &str = "id, model, candidate_version, validation_id, justification, \
    requested_by, requested_at, expires_us, candidate_digest, validation_digest, \
    champion_at_request, state, decided_by, decided_at, decision_note, failure_reason, \
    finished_at, trace_id, rollback";

#[derive(FromRow)]
pub(super) struct PromotionRow {
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
    /// 0 or 1 (an integer on both databases: the `Any` driver reads SQLite's booleans as such).
    rollback: i64,
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
            rollback: self.rollback != 0,
        })
    }
}

pub(super) async fn promotion_by_id(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<Promotion>, StoreError> {
    let row: Option<PromotionRow> = sqlx::query_as(&format!(
        "SELECT {PROMOTION_COLUMNS} FROM promotions WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(PromotionRow::into_promotion).transpose()
}

/// Why an approved promotion may not proceed ([`evidence::broken`]), or `None` if the evidence
/// still holds, judged on what the store holds now.
pub(super) async fn broken_precondition(
    conn: &mut AnyConnection,
    p: &Promotion,
) -> Result<Option<String>, StoreError> {
    let digest: Option<(String,)> = sqlx::query_as(
        "SELECT artifact_digest FROM model_versions WHERE model = $1 AND version = $2",
    )
    .bind(&p.model)
    .bind(&p.candidate_version)
    .fetch_optional(&mut *conn)
    .await?;
    let validation: Option<(String, String)> =
        sqlx::query_as("SELECT report_digest, body FROM validations WHERE id = $1")
            .bind(&p.validation_id)
            .fetch_optional(&mut *conn)
            .await?;
    let validation = match validation {
        Some((digest, body)) => Some((digest, parse_validation(&body)?)),
        None => None,
    };
    let now = evidence::Evidence {
        candidate_digest: digest.map(|(d,)| d),
        validation,
        champion: alias_target(conn, &p.model, CHAMPION).await?,
    };
    Ok(evidence::broken(p, &now))
}
