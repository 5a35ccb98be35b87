//! The catalog of ingested rows: one columnar block per ingest request (stored whole or not at
//! all, within a per-model budget), the ids of its rows, retention by whole blocks, and the
//! conversion of rows stored before blocks.

use chrono::{DateTime, Utc};

use crate::StoreError;
use crate::record::{BlockEntry, BlockPlace, Held, LegacyBatch, NewBlock, Pruned};

use super::{SqlStore, multi_row_insert};

/// Row ids per `INSERT` (4 parameters each, within SQLite's limit of 32,766).
const IDS_PER_INSERT: usize = 1000;

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn time(us: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(us)
        .ok_or_else(|| StoreError::Corrupt(format!("block timestamp {us}")))
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

async fn add_block(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    model: &str,
    block: &NewBlock,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO record_blocks (id, model, batch, min_ts_us, max_ts_us, rows, bytes, \
         columns, location, data, ingested_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&block.id)
    .bind(model)
    .bind(&block.batch)
    .bind(micros(block.min_ts))
    .bind(micros(block.max_ts))
    .bind(i64::try_from(block.rows).unwrap_or(i64::MAX))
    .bind(i64::try_from(block.bytes).unwrap_or(i64::MAX))
    .bind(&block.columns)
    .bind(block.place.as_text())
    .bind(block.data.clone())
    .bind(Utc::now().to_rfc3339())
    .execute(&mut **tx)
    .await?;
    for chunk in block.ids.chunks(IDS_PER_INSERT) {
        let sql = multi_row_insert(
            "INSERT INTO record_ids (model, row_id, block, ts_us) VALUES ",
            4,
            chunk.len(),
        );
        let mut q = sqlx::query(&sql);
        for (row_id, ts) in chunk {
            q = q.bind(model).bind(row_id).bind(&block.id).bind(micros(*ts));
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

pub(super) async fn insert_block(
    s: &SqlStore,
    model: &str,
    block: &NewBlock,
    max_rows: u64,
) -> Result<u64, StoreError> {
    let known: Option<(String,)> = sqlx::query_as("SELECT name FROM models WHERE name = $1")
        .bind(model)
        .fetch_optional(&s.pool)
        .await?;
    if known.is_none() {
        return Err(StoreError::UnknownModel(model.to_owned()));
    }
    let mut tx = s.write_tx().await?;
    // Counted under the write lock, so concurrent requests cannot pass the budget together.
    let held: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(rows), 0) AS BIGINT) FROM record_blocks WHERE model = $1",
    )
    .bind(model)
    .fetch_one(&mut *tx)
    .await?;
    let (held, adding) = (count(held), block.rows);
    if held.saturating_add(adding) > max_rows {
        tx.rollback().await?;
        return Err(StoreError::OverBudget {
            model: model.to_owned(),
            held,
            adding,
            max: max_rows,
        });
    }
    add_block(&mut tx, model, block).await?;
    tx.commit().await?;
    Ok(block.rows)
}

type EntryRow = (String, i64, i64, i64, i64, String);

fn entry((id, rows, min, max, bytes, location): EntryRow) -> Result<BlockEntry, StoreError> {
    Ok(BlockEntry {
        rows: count(rows),
        min_ts: time(min)?,
        max_ts: time(max)?,
        bytes: count(bytes),
        place: BlockPlace::from_text(&location)
            .ok_or_else(|| StoreError::Corrupt(format!("block {id} location {location:?}")))?,
        id,
    })
}

pub(super) async fn blocks(
    s: &SqlStore,
    model: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<BlockEntry>, StoreError> {
    let rows: Vec<EntryRow> = sqlx::query_as(
        "SELECT id, rows, min_ts_us, max_ts_us, bytes, location FROM record_blocks \
         WHERE model = $1 AND max_ts_us >= $2 AND min_ts_us < $3 ORDER BY seq",
    )
    .bind(model)
    .bind(micros(from))
    .bind(micros(to))
    .fetch_all(&s.pool)
    .await?;
    rows.into_iter().map(entry).collect()
}

pub(super) async fn small_blocks(
    s: &SqlStore,
    model: &str,
    small: u64,
    limit: u32,
) -> Result<Vec<BlockEntry>, StoreError> {
    let rows: Vec<EntryRow> = sqlx::query_as(
        "SELECT id, rows, min_ts_us, max_ts_us, bytes, location FROM record_blocks \
         WHERE model = $1 AND rows < $2 ORDER BY seq LIMIT $3",
    )
    .bind(model)
    .bind(i64::try_from(small).unwrap_or(i64::MAX))
    .bind(i64::from(limit))
    .fetch_all(&s.pool)
    .await?;
    rows.into_iter().map(entry).collect()
}

pub(super) async fn replace_blocks(
    s: &SqlStore,
    model: &str,
    old: &[String],
    block: &NewBlock,
) -> Result<bool, StoreError> {
    let mut tx = s.write_tx().await?;
    let mut gone = 0;
    for chunk in old.chunks(IDS_PER_INSERT) {
        let list = (0..chunk.len())
            .map(|i| format!("${}", i + 2))
            .collect::<Vec<_>>()
            .join(", ");
        for (statement, counts) in [
            (
                format!("DELETE FROM record_ids WHERE model = $1 AND block IN ({list})"),
                false,
            ),
            (
                format!("DELETE FROM record_blocks WHERE model = $1 AND id IN ({list})"),
                true,
            ),
        ] {
            let mut q = sqlx::query(&statement).bind(model);
            for id in chunk {
                q = q.bind(id);
            }
            let n = q.execute(&mut *tx).await?.rows_affected();
            if counts {
                gone += n;
            }
        }
    }
    if gone != old.len() as u64 {
        tx.rollback().await?;
        return Ok(false);
    }
    add_block(&mut tx, model, block).await?;
    tx.commit().await?;
    Ok(true)
}

pub(super) async fn block_data(s: &SqlStore, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let row: Option<(Option<Vec<u8>>,)> =
        sqlx::query_as("SELECT data FROM record_blocks WHERE id = $1")
            .bind(id)
            .fetch_optional(&s.pool)
            .await?;
    Ok(row.and_then(|(d,)| d))
}

pub(super) async fn prune_records(
    s: &SqlStore,
    model: &str,
    before: DateTime<Utc>,
) -> Result<Pruned, StoreError> {
    let mut tx = s.write_tx().await?;
    let old: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT id, rows, location FROM record_blocks WHERE model = $1 AND max_ts_us < $2",
    )
    .bind(model)
    .bind(micros(before))
    .fetch_all(&mut *tx)
    .await?;
    if old.is_empty() {
        tx.rollback().await?;
        return Ok(Pruned::default());
    }
    for statement in [
        "DELETE FROM record_ids WHERE block IN (SELECT id FROM record_blocks \
         WHERE model = $1 AND max_ts_us < $2)",
        "DELETE FROM record_blocks WHERE model = $1 AND max_ts_us < $2",
    ] {
        sqlx::query(statement)
            .bind(model)
            .bind(micros(before))
            .execute(&mut *tx)
            .await?;
    }
    let labels = sqlx::query(
        "DELETE FROM labels WHERE model = $1 AND NOT EXISTS \
         (SELECT 1 FROM record_ids r WHERE r.model = labels.model AND r.row_id = labels.row_id)",
    )
    .bind(model)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    let mut pruned = Pruned {
        blocks: old.len() as u64,
        labels,
        ..Pruned::default()
    };
    for (_, rows, location) in old {
        pruned.rows += count(rows);
        if let Some(BlockPlace::File(name)) = BlockPlace::from_text(&location) {
            pruned.files.push(name);
        }
    }
    Ok(pruned)
}

pub(super) async fn held_records(s: &SqlStore) -> Result<Vec<Held>, StoreError> {
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT model, CAST(SUM(rows) AS BIGINT), CAST(SUM(bytes) AS BIGINT) FROM record_blocks \
         GROUP BY model ORDER BY model",
    )
    .fetch_all(&s.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(model, rows, bytes)| Held {
            model,
            rows: count(rows),
            bytes: count(bytes),
        })
        .collect())
}

pub(super) async fn block_files(s: &SqlStore) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT location FROM record_blocks WHERE location <> 'db'")
            .fetch_all(&s.pool)
            .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(l,)| match BlockPlace::from_text(&l) {
            Some(BlockPlace::File(name)) => Some(name),
            _ => None,
        })
        .collect())
}

pub(super) async fn legacy_batch(
    s: &SqlStore,
    max_rows: usize,
) -> Result<Option<LegacyBatch>, StoreError> {
    let first: Option<(String, String)> =
        sqlx::query_as("SELECT model, batch FROM records ORDER BY id LIMIT 1")
            .fetch_optional(&s.pool)
            .await?;
    let Some((model, batch)) = first else {
        return Ok(None);
    };
    let rows: Vec<(i64, i64, String)> = sqlx::query_as(
        "SELECT id, ts_us, data FROM records WHERE model = $1 AND batch = $2 ORDER BY id LIMIT $3",
    )
    .bind(&model)
    .bind(&batch)
    .bind(i64::try_from(max_rows).unwrap_or(i64::MAX))
    .fetch_all(&s.pool)
    .await?;
    let last = rows.last().map_or(0, |r| r.0);
    let rows = rows
        .into_iter()
        .map(|(_, ts, data)| Ok((time(ts)?, data)))
        .collect::<Result<_, StoreError>>()?;
    Ok(Some(LegacyBatch {
        model,
        batch,
        last,
        rows,
    }))
}

pub(super) async fn convert_legacy(
    s: &SqlStore,
    legacy: &LegacyBatch,
    block: &NewBlock,
) -> Result<(), StoreError> {
    let mut tx = s.write_tx().await?;
    let gone = sqlx::query("DELETE FROM records WHERE model = $1 AND batch = $2 AND id <= $3")
        .bind(&legacy.model)
        .bind(&legacy.batch)
        .bind(legacy.last)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    // Another replica converted it first: nothing to add.
    if gone as usize != legacy.rows.len() {
        tx.rollback().await?;
        return Ok(());
    }
    add_block(&mut tx, &legacy.model, block).await?;
    tx.commit().await?;
    Ok(())
}
