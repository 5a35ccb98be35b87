//! Alerts: opened, re-levelled and resolved by drift verdicts, acknowledged by a retraining job,
//! resolved by a promotion. Each change reads the model's unresolved alert and applies the
//! domain's rule ([`crate::alert::on_verdict`]) in one writing transaction, so two replicas
//! checking the same model cannot open two alerts.

use chrono::Utc;
use sqlx::{AnyConnection, FromRow};

use crate::StoreError;
use crate::alert::{self, Alert, AlertLevel, AlertState, Settle, Step};
use crate::drift_record::RecommendedAction;

use super::{SqlStore, parse_time};

const ALERT_COLUMNS: &str = "id, model, state, level, opened_at, updated_at, resolved_at, \
                             raised_by_report, latest_report, opened_by, note";

async fn unresolved(conn: &mut AnyConnection, model: &str) -> Result<Option<Alert>, StoreError> {
    let row: Option<AlertRow> = sqlx::query_as(&format!(
        "SELECT {ALERT_COLUMNS} FROM alerts WHERE model = $1 AND state <> 'resolved'"
    ))
    .bind(model)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(AlertRow::into_alert).transpose()
}

async fn update(conn: &mut AnyConnection, a: &Alert) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE alerts SET state = $1, level = $2, updated_at = $3, resolved_at = $4, \
         latest_report = $5, note = $6 WHERE id = $7",
    )
    .bind(a.state.as_str())
    .bind(a.level.as_str())
    .bind(a.updated_at.to_rfc3339())
    .bind(a.resolved_at.map(|t| t.to_rfc3339()))
    .bind(&a.latest_report)
    .bind(&a.note)
    .bind(&a.id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn apply_verdict(
    s: &SqlStore,
    model: &str,
    report: &str,
    verdict: Option<RecommendedAction>,
    by: &str,
) -> Result<Option<(Step, Alert)>, StoreError> {
    let mut tx = s.write_tx().await?;
    let open = unresolved(&mut tx, model).await?;
    let Some(step) = alert::on_verdict(open.as_ref(), verdict) else {
        return Ok(None);
    };
    let now = Utc::now();
    let alert = match (step, open) {
        (Step::Open(level), _) => {
            let a = Alert::opened(model, level, report, by, now);
            sqlx::query(&format!(
                "INSERT INTO alerts ({ALERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            ))
            .bind(&a.id)
            .bind(&a.model)
            .bind(a.state.as_str())
            .bind(a.level.as_str())
            .bind(a.opened_at.to_rfc3339())
            .bind(a.updated_at.to_rfc3339())
            .bind(None::<String>)
            .bind(&a.raised_by_report)
            .bind(&a.latest_report)
            .bind(&a.opened_by)
            .bind(&a.note)
            .execute(&mut *tx)
            .await?;
            a
        }
        (Step::Relevel(level), Some(mut a)) => {
            a.note = format!(
                "{report} recommends {} (was {})",
                level.as_str(),
                a.level.as_str()
            );
            a.level = level;
            a.updated_at = now;
            a.latest_report = report.to_owned();
            update(&mut tx, &a).await?;
            a
        }
        (Step::Resolve, Some(mut a)) => {
            a.note = format!("a later check cleared it: {report} recommends none");
            a.state = AlertState::Resolved;
            a.updated_at = now;
            a.resolved_at = Some(now);
            a.latest_report = report.to_owned();
            update(&mut tx, &a).await?;
            a
        }
        (_, None) => return Ok(None),
    };
    tx.commit().await?;
    Ok(Some((step, alert)))
}

pub(super) async fn settle_alert(
    s: &SqlStore,
    model: &str,
    how: Settle,
    note: &str,
) -> Result<Option<Alert>, StoreError> {
    let mut tx = s.write_tx().await?;
    let Some(mut a) = unresolved(&mut tx, model).await? else {
        return Ok(None);
    };
    if how == Settle::Acknowledge && a.state == AlertState::Acknowledged {
        return Ok(None);
    }
    let now = Utc::now();
    a.state = match how {
        Settle::Acknowledge => AlertState::Acknowledged,
        Settle::Resolve => AlertState::Resolved,
    };
    a.resolved_at = (how == Settle::Resolve).then_some(now);
    a.updated_at = now;
    note.clone_into(&mut a.note);
    update(&mut tx, &a).await?;
    tx.commit().await?;
    Ok(Some(a))
}

pub(super) async fn alerts(
    s: &SqlStore,
    unresolved_only: bool,
    limit: u32,
) -> Result<Vec<Alert>, StoreError> {
    let rows: Vec<AlertRow> = sqlx::query_as(&format!(
        "SELECT {ALERT_COLUMNS} FROM alerts WHERE ($1 = 0 OR state <> 'resolved') \
         ORDER BY updated_at DESC, id LIMIT $2"
    ))
    .bind(i64::from(unresolved_only))
    .bind(i64::from(limit))
    .fetch_all(&s.pool)
    .await?;
    rows.into_iter().map(AlertRow::into_alert).collect()
}

pub(super) async fn alert(s: &SqlStore, id: &str) -> Result<Option<Alert>, StoreError> {
    let row: Option<AlertRow> =
        sqlx::query_as(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1"))
            .bind(id)
            .fetch_optional(&s.pool)
            .await?;
    row.map(AlertRow::into_alert).transpose()
}

#[derive(FromRow)]
struct AlertRow {
    id: String,
    model: String,
    state: String,
    level: String,
    opened_at: String,
    updated_at: String,
    resolved_at: Option<String>,
    raised_by_report: String,
    latest_report: String,
    opened_by: String,
    note: String,
}

impl AlertRow {
    fn into_alert(self) -> Result<Alert, StoreError> {
        let corrupt = |what: &str, v: &str| StoreError::Corrupt(format!("alert {what} `{v}`"));
        Ok(Alert {
            state: AlertState::parse(&self.state).ok_or_else(|| corrupt("state", &self.state))?,
            level: AlertLevel::parse(&self.level).ok_or_else(|| corrupt("level", &self.level))?,
            opened_at: parse_time(&self.opened_at)?,
            updated_at: parse_time(&self.updated_at)?,
            resolved_at: self.resolved_at.as_deref().map(parse_time).transpose()?,
            id: self.id,
            model: self.model,
            raised_by_report: self.raised_by_report,
            latest_report: self.latest_report,
            opened_by: self.opened_by,
            note: self.note,
        })
    }
}
