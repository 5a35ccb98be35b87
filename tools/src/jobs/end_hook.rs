//! What else happens when a job ends: the runner calls each hook with the ended job and traces
//! what it reports, so the runner need not know what follows a job (validation, for one).

use async_trait::async_trait;

use crate::jobs::Job;
use crate::trace::Outcome;

/// A step that follows the end of a job.
#[async_trait]
pub trait JobEndHook: Send + Sync {
    /// Acts on `job`, which has just ended; returns the trace event to record (its action,
    /// outcome and why), if any.
    async fn ended(&self, job: &Job) -> Option<(&'static str, Outcome, String)>;
}
