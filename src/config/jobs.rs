//! Retraining jobs: where they run, how many at once, how they are watched.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JobsConfig {
    /// Where local jobs keep their log and output, `<dir>/<job id>/` (relative to the config file).
    #[serde(default = "default_jobs_dir")]
    pub dir: PathBuf,
    /// Retraining jobs that may be active at once across all models.
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent: u32,
    /// How often a remote backend (Airflow, GitHub Actions, webhook) is asked about a job.
    #[serde(default = "default_poll_interval")]
    pub poll_interval_secs: u64,
    /// How often a serving process records its heartbeat in the store and looks for jobs
    /// whose owner is gone: replicas sharing a PostgreSQL store take over a crashed replica's
    /// jobs after three silent intervals (at once when it ran on the same host).
    #[serde(default = "default_heartbeat")]
    pub heartbeat_secs: u64,
}

pub(super) fn default_jobs_dir() -> PathBuf {
    PathBuf::from("jobs")
}
pub(super) fn default_max_concurrent() -> u32 {
    2
}
pub(super) fn default_poll_interval() -> u64 {
    10
}
pub(super) fn default_heartbeat() -> u64 {
    5
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            dir: default_jobs_dir(),
            max_concurrent: default_max_concurrent(),
            poll_interval_secs: default_poll_interval(),
            heartbeat_secs: default_heartbeat(),
        }
    }
}

impl JobsConfig {
    /// What is wrong with `[jobs]`: each problem names its key and what to use instead.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.max_concurrent == 0 {
            out.push("jobs.max_concurrent = 0: use at least 1".into());
        }
        if self.poll_interval_secs == 0 {
            out.push("jobs.poll_interval_secs = 0: use a positive number of seconds".into());
        }
        out
    }
}
