//! What a model needs, in one word: the state `list_models` shows and sorts a fleet by. The
//! first state that holds, in order of urgency, is the model's state.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::alert::{AlertLevel, AlertState};
use crate::drift_record::RecommendedAction;
use crate::jobs::JobState;
use crate::model::CHAMPION;
use crate::monitor::RunOutcome;
use crate::promotion::PromotionState;
use crate::store::ModelOverview;

/// A pending promotion this close to its expiry is urgent.
const EXPIRING: TimeDelta = TimeDelta::hours(1);

/// A model's state, most urgent first. The first eight need attention.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ModelState {
    /// The newest retraining job failed.
    JobFailed,
    /// Drift asks for a retrain and no job is running.
    DriftRetrain,
    /// The newest quality check found a degraded metric and no job was created since.
    QualityRetrain,
    /// A promotion waits for a human and expires within the hour.
    PromotionExpiring,
    /// A retraining job runs past its timeout.
    JobStuck,
    /// The monitor's newest run failed, or it has missed its runs.
    MonitorFailing,
    /// A promotion waits for a human decision.
    PromotionPending,
    /// Some features drifted, below the retrain threshold.
    DriftInvestigate,
    /// A retraining job is in progress.
    Retraining,
    /// No champion is registered.
    NoChampion,
    /// Never checked for drift.
    Unchecked,
    /// Checked, nothing to do.
    Ok,
}

impl ModelState {
    pub const ALL: [ModelState; 12] = [
        ModelState::JobFailed,
        ModelState::DriftRetrain,
        ModelState::QualityRetrain,
        ModelState::PromotionExpiring,
        ModelState::JobStuck,
        ModelState::MonitorFailing,
        ModelState::PromotionPending,
        ModelState::DriftInvestigate,
        ModelState::Retraining,
        ModelState::NoChampion,
        ModelState::Unchecked,
        ModelState::Ok,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ModelState::JobFailed => "job_failed",
            ModelState::DriftRetrain => "drift_retrain",
            ModelState::QualityRetrain => "quality_retrain",
            ModelState::PromotionExpiring => "promotion_expiring",
            ModelState::JobStuck => "job_stuck",
            ModelState::MonitorFailing => "monitor_failing",
            ModelState::PromotionPending => "promotion_pending",
            ModelState::DriftInvestigate => "drift_investigate",
            ModelState::Retraining => "retraining",
            ModelState::NoChampion => "no_champion",
            ModelState::Unchecked => "unchecked",
            ModelState::Ok => "ok",
        }
    }

    /// Whether an agent or a person should act.
    pub fn needs_attention(self) -> bool {
        self <= ModelState::DriftInvestigate
    }

    /// Position in the urgency order (0 is the most urgent).
    pub fn rank(self) -> u8 {
        ModelState::ALL
            .iter()
            .position(|s| *s == self)
            .and_then(|p| u8::try_from(p).ok())
            .unwrap_or(u8::MAX)
    }
}

/// The drift verdict still waiting for action: an open alert's level; with no alert (a
/// report from before alerts were kept), the newest report's recommendation unless a job was
/// created after it. An acknowledged alert is being acted on.
fn drift_level(o: &ModelOverview) -> Option<AlertLevel> {
    match &o.alert {
        Some(a) if a.state == AlertState::Open => Some(a.level),
        Some(_) => None,
        None => {
            let d = o.last_drift.as_ref()?;
            let acted = o
                .last_job
                .as_ref()
                .is_some_and(|j| j.created_at >= d.checked_at);
            if acted {
                None
            } else {
                AlertLevel::of(d.recommended_action)
            }
        }
    }
}

/// Whether the model's monitor failed its newest run or has not run for two periods.
fn monitor_failing(o: &ModelOverview, now: DateTime<Utc>) -> bool {
    let Some(run) = &o.last_run else { return false };
    if run.outcome == Some(RunOutcome::Failed) {
        return true;
    }
    let Some(spec) = o.record.spec.monitor.as_ref().filter(|m| m.enabled) else {
        return false;
    };
    let Ok(schedule) = spec.schedule("monitor") else {
        return false;
    };
    let period = schedule.period_after(run.slot);
    let missed = now - run.slot;
    missed
        .to_std()
        .is_ok_and(|m| m > period.saturating_mul(2) + Duration::from_secs(60))
}

/// The URI prefix of the reports of check_performance.
const QUALITY_REPORTS: &str = "mlops://quality-reports/";

/// The state of one model at `now`.
pub fn state(o: &ModelOverview, now: DateTime<Utc>) -> ModelState {
    let job = o.last_job.as_ref();
    if job.is_some_and(|j| j.state == JobState::Failed) {
        return ModelState::JobFailed;
    }
    let active = o.active_job();
    let level = drift_level(o);
    if level == Some(AlertLevel::Retrain) && active.is_none() {
        let by_quality = o
            .alert
            .as_ref()
            .is_some_and(|a| a.latest_report.starts_with(QUALITY_REPORTS));
        return if by_quality {
            ModelState::QualityRetrain
        } else {
            ModelState::DriftRetrain
        };
    }
    let degraded = o.last_quality.as_ref().is_some_and(|q| {
        q.recommended_action == RecommendedAction::Retrain
            && o.last_job
                .as_ref()
                .is_none_or(|j| j.created_at < q.checked_at)
    });
    if degraded {
        return ModelState::QualityRetrain;
    }
    let pending = o
        .pending
        .iter()
        .find(|p| p.effective_state(now) == PromotionState::PendingApproval);
    if pending.is_some_and(|p| p.expires_at - now < EXPIRING) {
        return ModelState::PromotionExpiring;
    }
    if let Some(j) = active {
        let timeout = o.record.spec.retrain.as_ref().map_or(0, |r| r.timeout_secs);
        let since = j.started_at.unwrap_or(j.created_at);
        if timeout > 0 && (now - since).num_seconds() > i64::try_from(timeout).unwrap_or(i64::MAX) {
            return ModelState::JobStuck;
        }
    }
    if monitor_failing(o, now) {
        return ModelState::MonitorFailing;
    }
    if pending.is_some() {
        return ModelState::PromotionPending;
    }
    if level == Some(AlertLevel::Investigate) {
        return ModelState::DriftInvestigate;
    }
    if active.is_some() {
        return ModelState::Retraining;
    }
    if o.record.aliased(CHAMPION).is_none() {
        return ModelState::NoChampion;
    }
    if o.last_drift.is_none() {
        return ModelState::Unchecked;
    }
    ModelState::Ok
}

/// What to do about a model in `state`, in one sentence naming the tool and its arguments.
pub fn next_step(o: &ModelOverview, state: ModelState, now: DateTime<Utc>) -> String {
    let name = &o.record.spec.name;
    let job = o.last_job.as_ref();
    let job_id = job.map_or("", |j| j.id.as_str());
    let pending = o
        .pending
        .iter()
        .find(|p| p.effective_state(now) == PromotionState::PendingApproval);
    let report = o
        .alert
        .as_ref()
        .map(|a| crate::alert::report_id(&a.latest_report))
        .or(o.last_drift.as_ref().map(|d| d.id.as_str()))
        .unwrap_or("");
    match state {
        ModelState::JobFailed => format!(
            "Retraining job {job_id} failed; read mlops://jobs/{job_id} for its log before retrying."
        ),
        ModelState::DriftRetrain => {
            format!("Call trigger_retrain with model \"{name}\" and drift_report_id \"{report}\".")
        }
        ModelState::QualityRetrain => {
            let id = o.last_quality.as_ref().map_or("", |q| q.id.as_str());
            format!(
                "Quality degraded: read mlops://quality-reports/{id}, then call trigger_retrain with model \"{name}\" and drift_report_id \"{id}\"."
            )
        }
        ModelState::PromotionExpiring | ModelState::PromotionPending => format!(
            "Promotion {} waits for a human decision; check it with get_promotion.",
            pending.map_or("", |p| p.id.as_str())
        ),
        ModelState::JobStuck => {
            format!("Job {job_id} runs past its timeout; call get_job with job_id \"{job_id}\".")
        }
        ModelState::MonitorFailing => format!(
            "The monitor of \"{name}\" is failing: {}",
            o.last_run
                .as_ref()
                .map_or("it has missed its runs", |r| r.detail.as_str())
        ),
        ModelState::DriftInvestigate => {
            format!("Report the drifted features of drift report {report} to the model owner.")
        }
        ModelState::Retraining => {
            format!("Call get_job with job_id \"{job_id}\" and wait_seconds 60.")
        }
        ModelState::NoChampion => "No champion is registered; nothing to monitor yet.".into(),
        ModelState::Unchecked => {
            format!("Call check_drift with model \"{name}\", or configure a monitor for it.")
        }
        ModelState::Ok => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_seven_states_need_attention_in_urgency_order() {
        let needing: Vec<_> = ModelState::ALL
            .iter()
            .filter(|s| s.needs_attention())
            .collect();
        assert_eq!(needing.len(), 8);
        for (i, s) in ModelState::ALL.iter().enumerate() {
            assert_eq!(usize::from(s.rank()), i);
        }
        assert!(!ModelState::Ok.needs_attention());
    }
}
