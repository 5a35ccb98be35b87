//! Retraining jobs at work: the backend contract and its backends, and the runner that admits,
//! starts, watches and finishes jobs. The job record, its states and the cost controls are the
//! domain's (`mlops_domain::{jobs, admission}`), re-exported here.

pub mod airflow;
pub mod backend;
pub mod end_hook;
pub mod github;
mod http;
pub mod local;
mod retrain_error;
pub mod runner;
pub mod webhook;

pub use end_hook::JobEndHook;
pub use mlops_domain::jobs::*;
pub use retrain_error::RetrainError;

/// What a caller asks the runner to retrain, and why.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TriggerRequest {
    pub model: String,
    /// A sentence a human reviewer reads.
    pub reason: String,
    /// The drift report that motivated it.
    pub drift_report_id: Option<String>,
    /// The caller's key: the same key returns the same job.
    pub idempotency_key: Option<String>,
    /// Backend parameters, checked against the model's `allowed_params`.
    pub params: std::collections::BTreeMap<String, serde_json::Value>,
}

/// This process as a replica: a fresh id, the host name and the process id.
pub fn this_replica() -> Replica {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into());
    Replica::new(host, std::process::id(), chrono::Utc::now())
}

#[cfg(test)]
mod owner_tests {
    use std::time::Duration;

    use chrono::Utc;

    use super::*;

    fn owned_by(replica: Option<OwnerSeen>) -> JobOwner {
        JobOwner {
            job: "j".into(),
            state: JobState::Running,
            created_at: Utc::now(),
            owner: Some("other".into()),
            replica,
        }
    }

    #[test]
    fn an_owner_is_gone_when_silent_unregistered_or_its_local_process_ended() {
        let me = this_replica();
        let now = Utc::now();
        let stale = Duration::from_secs(15);
        let seen = |host: &str, pid: u32, ago: i64| OwnerSeen {
            host: host.into(),
            pid,
            heartbeat: now - chrono::Duration::seconds(ago),
        };
        // Another host, beating: alive. Silent for longer than `stale`: gone.
        assert!(!owned_by(Some(seen("elsewhere", 1, 5))).orphaned(
            &me,
            now,
            stale,
            local::process_alive
        ));
        assert!(owned_by(Some(seen("elsewhere", 1, 16))).orphaned(
            &me,
            now,
            stale,
            local::process_alive
        ));
        // Never registered, or no owner at all: gone.
        assert!(owned_by(None).orphaned(&me, now, stale, local::process_alive));
        // This host: a live process (the test's parent) is alive; an ended one is gone at once.
        let parent = std::os::unix::process::parent_id();
        assert!(!owned_by(Some(seen(&me.host, parent, 1))).orphaned(
            &me,
            now,
            stale,
            local::process_alive
        ));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let ended = child.id();
        child.wait().unwrap();
        assert!(owned_by(Some(seen(&me.host, ended, 1))).orphaned(
            &me,
            now,
            stale,
            local::process_alive
        ));
        // Its own jobs never are.
        let mine = JobOwner {
            owner: Some(me.id.clone()),
            ..owned_by(None)
        };
        assert!(!mine.orphaned(&me, now, stale, local::process_alive));
    }
}
