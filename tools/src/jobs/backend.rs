//! The retraining backend contract: start, poll, cancel, with states normalised to
//! [`JobState`] and the backend's own state kept as `raw_state`.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;

use super::{Candidate, Job, JobState};

/// What a backend needs to start a job besides the job itself.
#[derive(Debug, Clone, PartialEq)]
pub struct StartSpec {
    /// Training data (the reference snapshot, plus recent labelled data where configured).
    pub training_data: Vec<PathBuf>,
    /// Data the new version is evaluated on.
    pub holdout_data: Option<PathBuf>,
    /// The champion when the job starts, so the trainer can measure it on the same holdout.
    pub champion: Option<ChampionRef>,
}

/// The champion version and its artifact, handed to a trainer.
#[derive(Debug, Clone, PartialEq)]
pub struct ChampionRef {
    pub version: String,
    /// Where its artifact is (a `file://` URI's path, or the URI as registered).
    pub artifact: String,
}

/// A job the backend accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    /// The backend's id for the run (process id, DAG run id, workflow run id…).
    pub external_id: String,
    pub external_url: Option<String>,
    pub raw_state: String,
}

/// A job's state as the backend reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub state: JobState,
    pub raw_state: String,
    pub progress: Option<f64>,
    pub message: Option<String>,
}

impl Status {
    /// A failed job: the backend's state and why, in words.
    pub fn failed(raw_state: &str, message: String) -> Status {
        Status {
            state: JobState::Failed,
            raw_state: raw_state.into(),
            progress: None,
            message: Some(message),
        }
    }
}

/// A backend that could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("the backend refused: {0}")]
    Refused(String),
    #[error("the backend is unreachable: {0}")]
    Unreachable(String),
    /// The job's output is unusable (no or invalid metrics, missing artifact).
    #[error("{0}")]
    Output(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

#[async_trait]
pub trait RetrainBackend: Send + Sync {
    /// `local`, `airflow`, `github_actions`, `webhook`.
    fn name(&self) -> &'static str;
    async fn start(&self, job: &Job, spec: &StartSpec) -> Result<Started, BackendError>;
    async fn poll(&self, job: &Job) -> Result<Status, BackendError>;
    async fn cancel(&self, job: &Job) -> Result<(), BackendError>;

    /// The next status worth looking at: by default the status after `interval`; a backend
    /// that can wait for its job to change (a child process) does so instead.
    async fn next_status(&self, job: &Job, interval: Duration) -> Result<Status, BackendError> {
        tokio::time::sleep(interval).await;
        self.poll(job).await
    }

    /// The model a succeeded job produced (metrics, artifact and its digest), if the backend
    /// reports one. An error fails the job with its message.
    async fn collect(&self, _job: &Job) -> Result<Option<Candidate>, BackendError> {
        Ok(None)
    }

    /// The last `lines` lines of the job's log, where the backend keeps one.
    fn log_tail(&self, _job: &Job, _lines: usize) -> Option<String> {
        None
    }

    /// Whether `start` may be called again for a job whose start was not recorded (the server
    /// stopped in between) without starting it twice: true when the backend deduplicates by
    /// the job's id (a DAG run id, a correlation id, an idempotency header).
    fn restart_is_idempotent(&self) -> bool {
        false
    }
}
