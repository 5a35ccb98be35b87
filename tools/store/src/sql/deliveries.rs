//! Webhook deliveries already seen, so a retried delivery is applied once.

use chrono::Utc;

use crate::StoreError;

use super::SqlStore;

pub(super) async fn record_delivery(s: &SqlStore, id: &str) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO webhook_deliveries (id, received_at) VALUES ($1, $2) ON CONFLICT(id) DO NOTHING",
    )
    .bind(id)
    .bind(Utc::now().to_rfc3339())
    .execute(&s.pool)
    .await?;
    Ok(inserted.rows_affected() == 1)
}
