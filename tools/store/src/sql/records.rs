//! Ingested monitoring rows, appended whole per request within a per-model budget.

use crate::StoreError;

use super::{SqlStore, multi_row_insert};

pub(super) async fn insert_records(
    s: &SqlStore,
    model: &str,
    batch: &str,
    records: &[crate::record::NewRecord],
    max_rows: u64,
) -> Result<usize, StoreError> {
    let known: Option<(String,)> = sqlx::query_as("SELECT name FROM models WHERE name = $1")
        .bind(model)
        .fetch_optional(&s.pool)
        .await?;
    if known.is_none() {
        return Err(StoreError::UnknownModel(model.to_owned()));
    }
    let now = chrono::Utc::now().to_rfc3339();
    let mut tx = s.write_tx().await?;
    // Counted under the write lock, so concurrent requests cannot pass the budget together.
    let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM records WHERE model = $1")
        .bind(model)
        .fetch_one(&mut *tx)
        .await?;
    let (held, adding) = (u64::try_from(held).unwrap_or(0), records.len() as u64);
    if held.saturating_add(adding) > max_rows {
        tx.rollback().await?;
        return Err(StoreError::OverBudget {
            model: model.to_owned(),
            held,
            adding,
            max: max_rows,
        });
    }
    // Multi-row inserts, within SQLite's limit on bound parameters (32,766).
    for chunk in records.chunks(1000) {
        let sql = multi_row_insert(
            "INSERT INTO records (model, ts_us, data, batch, ingested_at, row_id) VALUES ",
            6,
            chunk.len(),
        );
        let mut q = sqlx::query(&sql);
        for r in chunk {
            q = q
                .bind(model)
                .bind(r.timestamp.timestamp_micros())
                .bind(&r.data)
                .bind(batch)
                .bind(&now)
                .bind(r.id.as_deref());
        }
        q.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(records.len())
}

pub(super) async fn records(
    s: &SqlStore,
    model: &str,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
    limit: usize,
) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT data FROM records WHERE model = $1 AND ts_us >= $2 AND ts_us < $3 \
         ORDER BY ts_us, id LIMIT $4",
    )
    .bind(model)
    .bind(from.timestamp_micros())
    .bind(to.timestamp_micros())
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(&s.pool)
    .await?;
    Ok(rows.into_iter().map(|(d,)| d).collect())
}

pub(super) async fn prune_records(
    s: &SqlStore,
    model: &str,
    before: chrono::DateTime<chrono::Utc>,
) -> Result<(u64, u64), StoreError> {
    let mut tx = s.write_tx().await?;
    let rows = sqlx::query("DELETE FROM records WHERE model = $1 AND ts_us < $2")
        .bind(model)
        .bind(before.timestamp_micros())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let labels = if rows == 0 {
        0
    } else {
        sqlx::query(
            "DELETE FROM labels WHERE model = $1 AND NOT EXISTS \
             (SELECT 1 FROM records r WHERE r.model = labels.model AND r.row_id = labels.row_id)",
        )
        .bind(model)
        .execute(&mut *tx)
        .await?
        .rows_affected()
    };
    tx.commit().await?;
    Ok((rows, labels))
}

pub(super) async fn record_counts(s: &SqlStore) -> Result<Vec<(String, u64)>, StoreError> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT model, COUNT(*) FROM records GROUP BY model ORDER BY model")
            .fetch_all(&s.pool)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(m, n)| (m, u64::try_from(n).unwrap_or(0)))
        .collect())
}
