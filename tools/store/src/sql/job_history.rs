//! A model's past jobs as the cost controls see them ([`History`]), and the breaker's reset.

use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

use crate::StoreError;
use crate::admission::History;
use crate::jobs::JobState;

use super::{SqlStore, parse_time};

pub(super) async fn retrain_history(
    s: &SqlStore,
    model: &str,
    now: DateTime<Utc>,
) -> Result<History, StoreError> {
    let mut conn = s.pool.acquire().await?;
    history(&mut conn, model, now).await
}

pub(super) async fn reset_breaker(s: &SqlStore, model: &str, by: &str) -> Result<(), StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO retrain_breaker_resets (model, reset_by, reset_at) VALUES ($1, $2, $3)",
    )
    .bind(model)
    .bind(by)
    .bind(Utc::now().to_rfc3339())
    .execute(&s.pool)
    .await;
    match inserted {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
            Err(StoreError::UnknownModel(model.to_owned()))
        }
        Err(e) => Err(e.into()),
    }
}

/// What the cost controls of `model` need to know at `now`.
pub(super) async fn history(
    conn: &mut AnyConnection,
    model: &str,
    now: DateTime<Utc>,
) -> Result<History, StoreError> {
    let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT state, created_at, finished_at FROM jobs WHERE model = $1 \
         ORDER BY created_at DESC, id DESC LIMIT 1000",
    )
    .bind(model)
    .fetch_all(&mut *conn)
    .await?;
    let reset: Option<(String,)> = sqlx::query_as(
        "SELECT reset_at FROM retrain_breaker_resets WHERE model = $1 ORDER BY id DESC LIMIT 1",
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
