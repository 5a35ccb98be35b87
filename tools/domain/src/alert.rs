//! Alerts: a model's drift verdict that asks for action, open until what follows settles it.
//! A check that recommends `investigate` or `retrain` opens one (or changes its level); a later
//! check that clears resolves it; a retraining job acknowledges it; a promotion resolves it.
//! At most one alert per model is not resolved.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::drift_record::RecommendedAction;

/// How urgent an alert is: the verdict that raised it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AlertLevel {
    /// Some features drifted: look, don't retrain yet.
    Investigate,
    /// The dataset drifted by the model's policy: retrain.
    Retrain,
}

impl AlertLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertLevel::Investigate => "investigate",
            AlertLevel::Retrain => "retrain",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Investigate, Self::Retrain]
            .into_iter()
            .find(|l| l.as_str() == s)
    }

    /// The level a verdict asks for; `None` for a verdict that asks for nothing.
    pub fn of(action: RecommendedAction) -> Option<Self> {
        match action {
            RecommendedAction::None => None,
            RecommendedAction::Investigate => Some(AlertLevel::Investigate),
            RecommendedAction::Retrain => Some(AlertLevel::Retrain),
        }
    }
}

/// Where an alert stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// Raised; nobody has acted on it yet.
    Open,
    /// Something is being done (a retraining job was created).
    Acknowledged,
    /// Settled: a later check cleared, or a new champion was promoted.
    Resolved,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Open => "open",
            AlertState::Acknowledged => "acknowledged",
            AlertState::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Open, Self::Acknowledged, Self::Resolved]
            .into_iter()
            .find(|l| l.as_str() == s)
    }
}

/// One alert, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Alert {
    pub id: String,
    pub model: String,
    pub state: AlertState,
    pub level: AlertLevel,
    pub opened_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// The drift report that raised it.
    pub raised_by_report: String,
    /// The newest drift report that changed it.
    pub latest_report: String,
    /// Who ran the check that raised it (a monitor or an agent's principal).
    pub opened_by: String,
    /// The last thing that happened to it, in words.
    pub note: String,
}

impl Alert {
    /// A new open alert raised by the report at `report` (its `mlops://…-reports/{id}` URI).
    pub fn opened(
        model: &str,
        level: AlertLevel,
        report: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Self {
        Alert {
            id: uuid::Uuid::new_v4().to_string(),
            model: model.to_owned(),
            state: AlertState::Open,
            level,
            opened_at: now,
            updated_at: now,
            resolved_at: None,
            raised_by_report: report.to_owned(),
            latest_report: report.to_owned(),
            opened_by: by.to_owned(),
            note: format!("{report} recommends {}", level.as_str()),
        }
    }
}

/// What a new drift verdict does to a model's unresolved alert.
/// The id at the end of a report URI (`mlops://drift-reports/{id}` → `{id}`).
pub fn report_id(report: &str) -> &str {
    report.rsplit('/').next().unwrap_or(report)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Open an alert at this level.
    Open(AlertLevel),
    /// The open alert's level changes.
    Relevel(AlertLevel),
    /// The check cleared: resolve it.
    Resolve,
}

impl Step {
    /// The trace action of this step.
    pub fn action(self) -> &'static str {
        match self {
            Step::Open(_) => "alert.opened",
            Step::Relevel(_) => "alert.updated",
            Step::Resolve => "alert.resolved",
        }
    }
}

/// How something other than a check settles an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    /// Work has started on it (a retraining job).
    Acknowledge,
    /// It is over (a new champion).
    Resolve,
}

/// The step a verdict takes, given the model's unresolved alert. `verdict` is `None` when the
/// check could not give one (too few rows): that neither raises nor clears anything.
pub fn on_verdict(unresolved: Option<&Alert>, verdict: Option<RecommendedAction>) -> Option<Step> {
    let action = verdict?;
    match (unresolved, AlertLevel::of(action)) {
        (None, None) => None,
        (None, Some(level)) => Some(Step::Open(level)),
        (Some(_), None) => Some(Step::Resolve),
        (Some(a), Some(level)) if a.level != level => Some(Step::Relevel(level)),
        (Some(_), Some(_)) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(level: AlertLevel) -> Alert {
        let now = Utc::now();
        Alert {
            id: "a".into(),
            model: "m".into(),
            state: AlertState::Open,
            level,
            opened_at: now,
            updated_at: now,
            resolved_at: None,
            raised_by_report: "r".into(),
            latest_report: "r".into(),
            opened_by: "x".into(),
            note: String::new(),
        }
    }

    #[test]
    fn verdicts_open_relevel_and_resolve() {
        use RecommendedAction as A;
        let inv = alert(AlertLevel::Investigate);
        let table = [
            (None, Some(A::None), None),
            (
                None,
                Some(A::Investigate),
                Some(Step::Open(AlertLevel::Investigate)),
            ),
            (
                None,
                Some(A::Retrain),
                Some(Step::Open(AlertLevel::Retrain)),
            ),
            (
                Some(&inv),
                Some(A::Retrain),
                Some(Step::Relevel(AlertLevel::Retrain)),
            ),
            (Some(&inv), Some(A::Investigate), None),
            (Some(&inv), Some(A::None), Some(Step::Resolve)),
            // No verdict (too few rows): nothing happens, either way.
            (Some(&inv), None, None),
            (None, None, None),
        ];
        for (open, verdict, want) in table {
            assert_eq!(on_verdict(open, verdict), want, "{open:?} {verdict:?}");
        }
    }

    #[test]
    fn names_round_trip() {
        for l in [AlertLevel::Investigate, AlertLevel::Retrain] {
            assert_eq!(AlertLevel::parse(l.as_str()), Some(l));
        }
        for s in [
            AlertState::Open,
            AlertState::Acknowledged,
            AlertState::Resolved,
        ] {
            assert_eq!(AlertState::parse(s.as_str()), Some(s));
        }
        assert_eq!(AlertLevel::parse("panic"), None);
    }
}
