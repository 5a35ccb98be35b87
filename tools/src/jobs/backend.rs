//! The retraining backend contract: start, poll, cancel, with states normalised to
//! [`JobState`] and the backend's own state kept as `raw_state`.

use std::path::PathBuf;

use async_trait::async_trait;

use super::{Job, JobState};

/// What a backend needs to start a job besides the job itself.
#[derive(Debug, Clone, PartialEq)]
pub struct StartSpec {
    /// Training data (the reference snapshot, plus recent labelled data where configured).
    pub training_data: Vec<PathBuf>,
    /// Data the new version is evaluated on.
    pub holdout_data: Option<PathBuf>,
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

/// A backend that could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("the backend refused: {0}")]
    Refused(String),
    #[error("the backend is unreachable: {0}")]
    Unreachable(String),
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
}
