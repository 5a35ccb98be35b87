//! An ingested monitoring row as the store keeps it.

use chrono::{DateTime, Utc};

/// One row to store: its timestamp, its `id` if it has one, and the rest of the row as a JSON
/// object.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRecord {
    pub timestamp: DateTime<Utc>,
    pub id: Option<String>,
    pub data: String,
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
    pub data: String,
    /// The late label: its JSON value and when it became known (`labelled_at`, else when it
    /// was received).
    pub late_label: Option<(String, DateTime<Utc>)>,
}
