//! Labels sent after their rows, kept per model and row id, and the windows that join them.

use chrono::Utc;

use crate::StoreError;
use crate::record::{LabelsStored, NewLabel};

use super::{SqlStore, parse_time};

/// Ids named in an unknown-id answer.
const MAX_UNKNOWN_NAMED: usize = 20;
/// Ids per `IN (...)` lookup.
const LOOKUP_CHUNK: usize = 500;

/// Why a labels request stored nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the id {0:?} already has a label; send the request with replace=true to change labels")]
pub struct AlreadyLabelled(pub String);

fn placeholders(from: usize, n: usize) -> String {
    (0..n)
        .map(|i| format!("${}", from + i))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) async fn insert_labels(
    s: &SqlStore,
    model: &str,
    labels: &[NewLabel],
    replace: bool,
) -> Result<Result<LabelsStored, AlreadyLabelled>, StoreError> {
    let mut tx = s.write_tx().await?;
    let mut known = std::collections::HashSet::new();
    let mut labelled = std::collections::HashSet::new();
    for chunk in labels.chunks(LOOKUP_CHUNK) {
        let list = placeholders(2, chunk.len());
        for (table, into) in [("record_ids", &mut known), ("labels", &mut labelled)] {
            let sql = format!(
                "SELECT DISTINCT row_id FROM {table} WHERE model = $1 AND row_id IN ({list})"
            );
            let mut q = sqlx::query_as::<_, (String,)>(&sql).bind(model);
            for l in chunk {
                q = q.bind(&l.row_id);
            }
            into.extend(q.fetch_all(&mut *tx).await?.into_iter().map(|(id,)| id));
        }
    }
    if !replace && let Some(l) = labels.iter().find(|l| labelled.contains(&l.row_id)) {
        return Ok(Err(AlreadyLabelled(l.row_id.clone())));
    }
    let now = Utc::now().to_rfc3339();
    let (mut stored, mut unknown, mut unknown_count) = (0, Vec::new(), 0);
    for l in labels {
        if !known.contains(&l.row_id) {
            unknown_count += 1;
            if unknown.len() < MAX_UNKNOWN_NAMED {
                unknown.push(l.row_id.clone());
            }
            continue;
        }
        sqlx::query(
            "INSERT INTO labels (model, row_id, label, labelled_at, received_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (model, row_id) DO UPDATE SET \
             label = excluded.label, labelled_at = excluded.labelled_at, \
             received_at = excluded.received_at",
        )
        .bind(model)
        .bind(&l.row_id)
        .bind(&l.label)
        .bind(l.labelled_at.map(|t| t.to_rfc3339()))
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        stored += 1;
    }
    tx.commit().await?;
    Ok(Ok(LabelsStored {
        stored,
        unknown,
        unknown_count,
    }))
}

pub(super) async fn labels_of(
    s: &SqlStore,
    model: &str,
    ids: &[String],
) -> Result<Vec<(String, String, chrono::DateTime<Utc>)>, StoreError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(LOOKUP_CHUNK) {
        let sql = format!(
            "SELECT row_id, label, labelled_at, received_at FROM labels \
             WHERE model = $1 AND row_id IN ({})",
            placeholders(2, chunk.len())
        );
        let mut q = sqlx::query_as::<_, (String, String, Option<String>, String)>(&sql).bind(model);
        for id in chunk {
            q = q.bind(id);
        }
        for (id, label, labelled_at, received_at) in q.fetch_all(&s.pool).await? {
            let at = parse_time(labelled_at.as_deref().unwrap_or(&received_at))?;
            out.push((id, label, at));
        }
    }
    Ok(out)
}
