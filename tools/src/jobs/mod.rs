//! Retraining jobs (issue #4, in progress): the job record the store keeps, the backend
//! contract and the `local` backend. The runner, the other backends and the `trigger_retrain`
//! / `get_job` tools are not built yet.
//! States are normalised to `pending | running | succeeded | failed | cancelled`; the backend's
//! own state is kept beside it.

pub mod backend;
pub mod limits;
pub mod local;

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
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
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
}

/// What creating a job did.
#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    /// A new job.
    New(Job),
    /// The job with the same idempotency key, or the model's active job: nothing was created.
    Existing(Job),
}

impl Created {
    pub fn job(&self) -> &Job {
        match self {
            Created::New(j) | Created::Existing(j) => j,
        }
    }
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
