//! The demo's production traffic: the last hour of `fraud-detector`'s transactions in the
//! drifted era, each with v1's score in `prediction` and an `id`, ingested as
//! `POST /v1/models/fraud-detector/records` would store them. The outcomes of the older two
//! thirds arrive later, as `POST …/labels` would send them, twenty minutes after each row; the
//! newest third has no label yet. v1 does not know the drifted era's crypto risk, so its quality
//! really falls, and `check_performance` can find it and where.

use chrono::{DateTime, Duration, Utc};
use mlops_engine::Store;
use mlops_engine::blocks::Blocks;
use mlops_engine::demo::{self, Era, LinearScorer};
use mlops_engine::record::{NewLabel, NewRecord};
use mlops_engine::records::Rows;
use serde_json::json;

/// Transactions in the hour.
const ROWS: usize = 3000;
/// Of those, the oldest this many have their label.
const LABELLED: usize = 2000;
const SEED: u64 = 20_260_105;

/// Ingests the traffic unless the model has rows from the last 24 hours; returns how many rows
/// it ingested.
pub async fn ingest(
    store: &dyn Store,
    blocks: &Blocks,
    model: &str,
    max_rows: u64,
    now: DateTime<Utc>,
) -> anyhow::Result<u64> {
    if !store
        .blocks(model, now - Duration::hours(24), now)
        .await?
        .is_empty()
    {
        return Ok(0);
    }
    let v1 = LinearScorer::demo_v1();
    let rows = demo::generate(Era::Drifted, ROWS, SEED);
    let start = now - Duration::hours(1);
    let step = Duration::milliseconds(3_600_000 / ROWS as i64);
    let batch = format!("demo-traffic-{}", now.timestamp());
    let mut records = Vec::with_capacity(ROWS);
    let mut labels = Vec::with_capacity(LABELLED);
    for (i, row) in rows.iter().enumerate() {
        let timestamp = start + step * i as i32;
        let id = format!("tx-{}-{i:05}", now.timestamp());
        // As an ingest request keeps it: the `id` stays among the fields.
        let data = serde_json::Map::from_iter([
            ("id".to_owned(), json!(id)),
            ("amount".to_owned(), json!(row.amount)),
            ("hour".to_owned(), json!(row.hour)),
            ("distance_km".to_owned(), json!(row.distance_km)),
            ("account_age_days".to_owned(), json!(row.account_age_days)),
            ("tx_count_24h".to_owned(), json!(row.tx_count_24h)),
            ("merchant_category".to_owned(), json!(row.merchant_category)),
            ("channel".to_owned(), json!(row.channel)),
            ("prediction".to_owned(), json!(v1.score(row))),
        ]);
        if i < LABELLED {
            labels.push(NewLabel {
                row_id: id.clone(),
                label: u8::from(row.is_fraud).to_string(),
                labelled_at: Some((timestamp + Duration::minutes(20)).min(now)),
            });
        }
        records.push(NewRecord {
            timestamp,
            id: Some(id),
            data,
        });
    }
    let stored = blocks
        .put(store, model, &batch, Rows::from_records(records), max_rows)
        .await
        .map_err(|e| anyhow::anyhow!("demo traffic: {e}"))?;
    store
        .insert_labels(model, &labels, false)
        .await?
        .map_err(|e| anyhow::anyhow!("demo labels: {e}"))?;
    Ok(stored)
}
