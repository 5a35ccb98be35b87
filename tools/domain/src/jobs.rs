//! Retraining jobs as the store keeps them: normalised states
//! (`pending | running | succeeded | failed | cancelled`, the backend's own state kept beside),
//! who drives each, what creating one needs and what a backend reports.

use std::time::Duration;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A job's normalised state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Pending,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobState {
    pub const ALL: [JobState; 5] = [
        JobState::Pending,
        JobState::Running,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Pending or running: the job still holds its model's one active slot.
    pub fn is_active(self) -> bool {
        matches!(self, JobState::Pending | JobState::Running)
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Job {
    pub id: String,
    pub model: String,
    /// The backend that runs it (`local`, `airflow`, `github_actions`, `webhook`).
    pub backend: String,
    pub state: JobState,
    /// The backend's own state, as it reported it.
    pub raw_state: Option<String>,
    pub reason: String,
    pub drift_report_id: Option<String>,
    pub idempotency_key: Option<String>,
    pub requested_by: String,
    /// Backend parameters the caller passed (allowed by config).
    pub params: serde_json::Value,
    pub external_id: Option<String>,
    pub external_url: Option<String>,
    /// 0..=1 where the backend reports it.
    pub progress: Option<f64>,
    pub message: Option<String>,
    /// The candidate version registered when the job succeeded.
    pub produced_version: Option<String>,
    /// The trace of the call that created the job; the runner's events join it.
    pub trace_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// One server process sharing the store (a replica), as it records its heartbeats.
#[derive(Debug, Clone, PartialEq)]
pub struct Replica {
    /// Unique per process start.
    pub id: String,
    pub host: String,
    pub pid: u32,
    pub started_at: DateTime<Utc>,
}

impl Replica {
    /// A replica with a fresh id on `host` as process `pid`, started `now`.
    pub fn new(host: String, pid: u32, now: DateTime<Utc>) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            host,
            pid,
            started_at: now,
        }
    }
}

/// Who drives an active job, as the store knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobOwner {
    pub job: String,
    pub state: JobState,
    pub created_at: DateTime<Utc>,
    /// The owning replica's id (`None`: not started yet, or started before replicas were
    /// recorded).
    pub owner: Option<String>,
    /// The owner's registration, if it has one.
    pub replica: Option<OwnerSeen>,
}

/// An owning replica's host, process and last heartbeat.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnerSeen {
    pub host: String,
    pub pid: u32,
    pub heartbeat: DateTime<Utc>,
}

impl JobOwner {
    /// Whether the job's owner is gone, judged by `me` at `now`: it has no owner or no
    /// registration, its heartbeat is older than `stale_after`, or it ran on this host and its
    /// process has ended by `alive` (a restart on the same host takes over at once).
    pub fn orphaned(
        &self,
        me: &Replica,
        now: DateTime<Utc>,
        stale_after: Duration,
        alive: impl Fn(i32) -> bool,
    ) -> bool {
        if self.owner.as_deref() == Some(me.id.as_str()) {
            return false;
        }
        let Some(seen) = &self.replica else {
            return true;
        };
        let stale = chrono::Duration::from_std(stale_after).unwrap_or(chrono::Duration::MAX);
        if now - seen.heartbeat > stale {
            return true;
        }
        seen.host == me.host
            && seen.pid != me.pid
            && i32::try_from(seen.pid).is_ok_and(|pid| !alive(pid))
    }
}

/// A job to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub id: String,
    pub model: String,
    pub backend: String,
    pub reason: String,
    pub drift_report_id: Option<String>,
    pub idempotency_key: Option<String>,
    pub requested_by: String,
    pub params: serde_json::Value,
    pub trace_id: Option<String>,
}

impl Job {
    /// The job as it is stored when `new` is created at `now` (the store's own starting point,
    /// also what tests build jobs from).
    pub fn pending(new: &NewJob, now: DateTime<Utc>) -> Job {
        Job {
            id: new.id.clone(),
            model: new.model.clone(),
            backend: new.backend.clone(),
            state: JobState::Pending,
            raw_state: None,
            reason: new.reason.clone(),
            drift_report_id: new.drift_report_id.clone(),
            idempotency_key: new.idempotency_key.clone(),
            requested_by: new.requested_by.clone(),
            params: new.params.clone(),
            external_id: None,
            external_url: None,
            progress: None,
            message: None,
            produced_version: None,
            trace_id: new.trace_id.clone(),
            created_at: now,
            started_at: None,
            finished_at: None,
            updated_at: now,
        }
    }
}

/// The cost controls a new job must pass; the store checks them in the same serialised
/// transaction that creates the job, so concurrent triggers cannot overrun them.
#[derive(Debug, Clone, Copy)]
pub struct Budget<'a> {
    pub spec: &'a crate::retrain_spec::RetrainSpec,
    /// Active jobs allowed across all models.
    pub max_concurrent: u32,
    pub now: DateTime<Utc>,
}

/// What asking the store for a new job did.
#[derive(Debug, Clone, PartialEq)]
pub enum Admission {
    /// A new job.
    New(Job),
    /// The job with the same idempotency key, or the model's active job: nothing was created.
    Existing(Job),
    /// A cost control refused; nothing was created.
    Refused(crate::admission::Refusal),
}

impl Admission {
    /// The new or existing job; `None` when refused.
    pub fn job(&self) -> Option<&Job> {
        match self {
            Admission::New(j) | Admission::Existing(j) => Some(j),
            Admission::Refused(_) => None,
        }
    }
}

/// A model version a succeeded job produced, registered as a candidate when the job finishes.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub metrics: std::collections::BTreeMap<String, f64>,
    pub artifact_uri: String,
    /// `sha256:<hex>` of the artifact.
    pub artifact_digest: String,
    pub data_snapshot: Option<String>,
    /// The champion's metrics on the same holdout, if the trainer measured them.
    pub baseline: Option<crate::model::Baseline>,
    /// The version label to register it under (default: the next `v<N>`).
    pub label: Option<String>,
}

/// A change of state reported by a backend (fields left `None` are kept).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobUpdate {
    pub state: Option<JobState>,
    pub raw_state: Option<String>,
    pub progress: Option<f64>,
    pub message: Option<String>,
    pub external_id: Option<String>,
    pub external_url: Option<String>,
    pub produced_version: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_only_pending_and_running_are_active() {
        for s in JobState::ALL {
            assert_eq!(JobState::parse(s.as_str()), Some(s));
        }
        let active: Vec<JobState> = JobState::ALL
            .into_iter()
            .filter(|s| s.is_active())
            .collect();
        assert_eq!(active, [JobState::Pending, JobState::Running]);
        assert_eq!(JobState::parse("done"), None);
    }
}
