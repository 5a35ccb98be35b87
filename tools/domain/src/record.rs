//! An ingested monitoring row as the store keeps it.

use chrono::{DateTime, Utc};

/// One row to store: its timestamp and the rest of the row as a JSON object.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRecord {
    pub timestamp: DateTime<Utc>,
    pub data: String,
}
