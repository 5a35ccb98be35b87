//! An ingested monitoring row as the store keeps it.

use chrono::{DateTime, Utc};

/// One row to store: its timestamp, its `id` if it has one, and the rest of the row (scalar
/// values only; the `id` stays in it).
#[derive(Debug, Clone, PartialEq)]
pub struct NewRecord {
    pub timestamp: DateTime<Utc>,
    pub id: Option<String>,
    pub data: serde_json::Map<String, serde_json::Value>,
}

/// Where a block's bytes are: in the store itself, or in a file of the block directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockPlace {
    /// In the catalog row (the bytes travel with the database: replicas share them).
    Database,
    /// A file name (not a path) under the server's block directory.
    File(String),
}

impl BlockPlace {
    /// As the catalog keeps it: `db`, or `file:NAME`.
    pub fn as_text(&self) -> String {
        match self {
            BlockPlace::Database => "db".into(),
            BlockPlace::File(name) => format!("file:{name}"),
        }
    }

    pub fn from_text(text: &str) -> Option<Self> {
        match text {
            "db" => Some(BlockPlace::Database),
            _ => text
                .strip_prefix("file:")
                .filter(|n| !n.is_empty() && !n.contains(['/', '\\']) && !n.starts_with('.'))
                .map(|n| BlockPlace::File(n.to_owned())),
        }
    }
}

/// A columnar block of one ingest request's rows, to add to the catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct NewBlock {
    pub id: String,
    pub batch: String,
    pub rows: u64,
    pub min_ts: DateTime<Utc>,
    pub max_ts: DateTime<Utc>,
    /// The columns and their block types, `name:type` joined by `,` (for reading, not parsing).
    pub columns: String,
    /// The encoded block (Parquet) size.
    pub bytes: u64,
    pub place: BlockPlace,
    /// The bytes, when the block is kept in the database.
    pub data: Option<Vec<u8>>,
    /// The rows that carry an `id`, with their timestamps (late labels find their rows here).
    pub ids: Vec<(String, DateTime<Utc>)>,
}

/// A catalog entry of a block that overlaps a window.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockEntry {
    pub id: String,
    pub rows: u64,
    pub min_ts: DateTime<Utc>,
    pub max_ts: DateTime<Utc>,
    pub bytes: u64,
    pub place: BlockPlace,
}

/// What retention removed: rows (in whole blocks), late labels left without a row, and the
/// block files to delete now that the catalog no longer names them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pruned {
    pub blocks: u64,
    pub rows: u64,
    pub labels: u64,
    pub files: Vec<String>,
}

/// Rows and block bytes a model holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub model: String,
    pub rows: u64,
    pub bytes: u64,
}

/// A batch of rows stored before blocks existed (one row per JSON text), to convert.
#[derive(Debug, Clone, PartialEq)]
pub struct LegacyBatch {
    pub model: String,
    pub batch: String,
    /// The store's id of the last row taken (rows are taken in id order).
    pub last: i64,
    /// Each row's timestamp and JSON text.
    pub rows: Vec<(DateTime<Utc>, String)>,
}

/// A label sent after its row: the row's `id`, the label as a JSON scalar, and when the outcome
/// became known (if the sender says).
#[derive(Debug, Clone, PartialEq)]
pub struct NewLabel {
    pub row_id: String,
    pub label: String,
    pub labelled_at: Option<DateTime<Utc>>,
}

/// What a labels request stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelsStored {
    pub stored: usize,
    /// Ids with no ingested row (the first 20), not stored.
    pub unknown: Vec<String>,
    pub unknown_count: usize,
}

/// A row of a window with the label sent for it later, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowRow {
    pub timestamp: DateTime<Utc>,
    pub data: serde_json::Map<String, serde_json::Value>,
    /// The late label: its JSON value and when it became known (`labelled_at`, else when it
    /// was received).
    pub late_label: Option<(String, DateTime<Utc>)>,
}
