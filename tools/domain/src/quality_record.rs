//! A stored quality report (`check_performance`): the verdict in fields, the whole report as
//! the engine wrote it.

use chrono::{DateTime, Utc};

use crate::drift_record::RecommendedAction;

#[derive(Debug, Clone, PartialEq)]
pub struct QualityRecord {
    pub id: String,
    pub model: String,
    pub checked_at: DateTime<Utc>,
    /// The principal that asked for it.
    pub requested_by: String,
    pub recommended_action: RecommendedAction,
    /// The whole report (JSON).
    pub document: String,
}
