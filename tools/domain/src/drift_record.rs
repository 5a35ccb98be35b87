//! A drift report as the store keeps it: the columns the fleet views read without parsing
//! (verdict, share, action, who asked) and the full report as a document in a numbered format,
//! so the stored shape does not change whenever the tool's output does.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The document format this build writes: the `check_drift` output of this release, as JSON.
pub const FORMAT: u32 = 1;

/// What to do about the drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecommendedAction {
    /// No feature drifted.
    None,
    /// Some features drifted, below the model's dataset threshold: look, don't retrain yet.
    Investigate,
    /// The dataset drifted by the model's policy: retrain.
    Retrain,
}

impl RecommendedAction {
    pub fn as_str(self) -> &'static str {
        match self {
            RecommendedAction::None => "none",
            RecommendedAction::Investigate => "investigate",
            RecommendedAction::Retrain => "retrain",
        }
    }
}

/// One stored drift report.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftRecord {
    pub id: String,
    pub model: String,
    pub checked_at: DateTime<Utc>,
    /// The principal that asked for it.
    pub requested_by: String,
    pub dataset_drift: bool,
    pub drifted_share: f64,
    pub recommended_action: RecommendedAction,
    /// Format of `document` ([`FORMAT`] for what this build writes).
    pub format: u32,
    /// The whole report, as the engine wrote it.
    pub document: String,
}

impl RecommendedAction {
    /// Parses a stored action (`none`, `investigate`, `retrain`).
    pub fn parse(s: &str) -> Option<Self> {
        [Self::None, Self::Investigate, Self::Retrain]
            .into_iter()
            .find(|a| a.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip() {
        for a in [
            RecommendedAction::None,
            RecommendedAction::Investigate,
            RecommendedAction::Retrain,
        ] {
            assert_eq!(RecommendedAction::parse(a.as_str()), Some(a));
        }
        assert_eq!(RecommendedAction::parse("panic"), None);
    }
}
