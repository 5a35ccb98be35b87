//! The `local` backend: runs a configured command in its own process group.
//!
//! Contract with the trainer (environment variables):
//! - `MLOPS_MODEL`, `MLOPS_JOB_ID`;
//! - `MLOPS_TRAINING_DATA`: training files, separated by `:`;
//! - `MLOPS_HOLDOUT_DATA`: the evaluation file (unset when the model has none);
//! - `MLOPS_OUTPUT_DIR`: an empty directory for the results;
//! - `MLOPS_PARAMS`: the caller's backend parameters as a JSON object (`{}` if none);
//! - `MLOPS_CHAMPION_VERSION`, `MLOPS_CHAMPION_ARTIFACT`: the champion and its artifact (unset if
//!   the model has none). A trainer that measures the champion on the same holdout writes
//!   `baseline_metrics.json` (`{"version": ..., "metrics": {...}}`), which validation prefers;
//!   it may add `"segments": [{"feature", "category", "rows", "candidate": {...},
//!   "champion": {...}}]`, both versions per category of the holdout, which validation lists.
//!
//!
//! The trainer starts with a cleared environment: `PATH`, `HOME` and `LANG` from the server's,
//! the variables above, and those the operator names in `models[].retrain.env`. Nothing else of
//! the server's environment (its auth secret, callback and backend credentials) reaches it.
//!
//! The trainer writes `metrics.json` (an object of metric name to number) and its model artifact
//! into `MLOPS_OUTPUT_DIR` and exits 0. Its stdout and stderr go to `job.log` beside the output
//! directory. A timeout or a cancellation kills the whole process group. After a server restart
//! a job is judged by its process (still alive: running) and its output (`metrics.json`:
//! succeeded; none: failed).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use super::backend::{BackendError, RetrainBackend, StartSpec, Started, Status};
use super::{Candidate, Job, JobState};

/// How long a cancellation waits for the killed trainer to end.
const CANCEL_CONFIRM: Duration = Duration::from_secs(10);

/// File the trainer must write.
pub const METRICS_FILE: &str = "metrics.json";
/// File the trainer may write: the champion's metrics on the same holdout,
/// `{"version": "v1", "metrics": {...}}`.
pub const BASELINE_FILE: &str = "baseline_metrics.json";

struct Running {
    child: Child,
    deadline: Instant,
    cancelled: bool,
}

pub struct LocalBackend {
    command: Vec<String>,
    jobs_dir: PathBuf,
    timeout: Duration,
    /// Names of the server's environment variables passed on besides the contract's.
    pass_env: Vec<String>,
    running: Mutex<HashMap<String, Running>>,
}

/// Variables of the server's environment every trainer gets.
const BASE_ENV: &[&str] = &["PATH", "HOME", "LANG"];

impl LocalBackend {
    /// `command` is the program and its arguments; job directories go under `jobs_dir`.
    pub fn new(command: Vec<String>, jobs_dir: PathBuf, timeout: Duration) -> Self {
        Self {
            command,
            jobs_dir,
            timeout,
            pass_env: Vec::new(),
            running: Mutex::new(HashMap::new()),
        }
    }

    /// Also passes these variables of the server's environment to the trainer.
    pub fn passing_env(mut self, names: Vec<String>) -> Self {
        self.pass_env = names;
        self
    }

    /// `<jobs_dir>/<job id>`: holds `job.log` and `output/`.
    pub fn job_dir(&self, job_id: &str) -> PathBuf {
        self.jobs_dir.join(job_id)
    }

    pub fn output_dir(&self, job_id: &str) -> PathBuf {
        self.job_dir(job_id).join("output")
    }

    pub fn log_path(&self, job_id: &str) -> PathBuf {
        self.job_dir(job_id).join("job.log")
    }

    fn finished(&self, job_id: &str, how: &str) -> Status {
        let metrics = read_metrics(&self.output_dir(job_id).join(METRICS_FILE));
        let ok = metrics.is_ok();
        match (how, ok) {
            ("exit 0", true) | ("gone", true) => Status {
                state: JobState::Succeeded,
                raw_state: how.into(),
                progress: Some(1.0),
                message: None,
            },
            ("exit 0", false) => failed(
                how,
                format!(
                    "the trainer exited 0 but wrote no valid {METRICS_FILE}: {}",
                    metrics.err().map(|e| e.to_string()).unwrap_or_default()
                ),
            ),
            ("gone", false) => failed(
                how,
                format!(
                    "the trainer stopped while the server was down and wrote no {METRICS_FILE}"
                ),
            ),
            _ => failed(
                how,
                format!(
                    "the trainer failed ({how}); see {}",
                    self.log_path(job_id).display()
                ),
            ),
        }
    }
}

fn failed(raw: &str, message: String) -> Status {
    Status::failed(raw, message)
}

fn running(raw: &str) -> Status {
    Status {
        state: JobState::Running,
        raw_state: raw.into(),
        progress: None,
        message: None,
    }
}

fn kill_group(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        // The group may be gone already; nothing else to do then.
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// Waits up to `within` for process `pid` to end (a zombie has ended); true if it has.
/// On Linux nothing polls: a pidfd becomes readable when its process ends.
#[cfg(target_os = "linux")]
pub async fn exited(pid: i32, within: Duration) -> bool {
    let Some(raw) = rustix::process::Pid::from_raw(pid) else {
        return true;
    };
    let fd = match rustix::process::pidfd_open(raw, rustix::process::PidfdFlags::NONBLOCK) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::SRCH) => return true,
        // No pidfds here (a kernel before 5.3): judge by the process table.
        Err(_) => return !process_alive(pid),
    };
    let wait = tokio::task::spawn_blocking(move || {
        let timeout = rustix::event::Timespec::try_from(within).ok();
        let mut fds = [rustix::event::PollFd::new(
            &fd,
            rustix::event::PollFlags::IN,
        )];
        loop {
            match rustix::event::poll(&mut fds, timeout.as_ref()) {
                Err(rustix::io::Errno::INTR) => {}
                Ok(n) => return n > 0,
                Err(_) => return false,
            }
        }
    });
    wait.await.unwrap_or(false)
}

/// Waits up to `within` for process `pid` to end; true if it has. Without pidfds (other
/// Unixes) this looks at the process table every 20 ms.
#[cfg(not(target_os = "linux"))]
pub async fn exited(pid: i32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while process_alive(pid) {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

/// A process that exists and is not a zombie (a killed process whose parent has not reaped it
/// still answers signal 0).
pub fn process_alive(pid: i32) -> bool {
    if kill(Pid::from_raw(pid), None).is_err() {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_none_or(|state| state != 'Z' && state != 'X'),
        Err(_) => true,
    }
}

fn exit_text(status: std::process::ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exit {code}"),
        None => "killed by a signal".into(),
    }
}

#[async_trait]
impl RetrainBackend for LocalBackend {
    fn name(&self) -> &'static str {
        "local"
    }

    async fn start(&self, job: &Job, spec: &StartSpec) -> Result<Started, BackendError> {
        let (program, args) = self
            .command
            .split_first()
            .ok_or_else(|| BackendError::Refused("no trainer command is configured".into()))?;
        let output = self.output_dir(&job.id);
        std::fs::create_dir_all(&output)?;
        let log = std::fs::File::create(self.log_path(&job.id))?;
        let training: Vec<String> = spec
            .training_data
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        let mut cmd = Command::new(program);
        cmd.env_clear();
        for name in BASE_ENV
            .iter()
            .copied()
            .chain(self.pass_env.iter().map(String::as_str))
        {
            if let Some(value) = std::env::var_os(name) {
                cmd.env(name, value);
            }
        }
        cmd.args(args)
            .env("MLOPS_MODEL", &job.model)
            .env("MLOPS_JOB_ID", &job.id)
            .env("MLOPS_TRAINING_DATA", training.join(":"))
            .env("MLOPS_OUTPUT_DIR", &output)
            .env("MLOPS_PARAMS", job.params.to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        if let Some(holdout) = &spec.holdout_data {
            cmd.env("MLOPS_HOLDOUT_DATA", holdout);
        }
        if let Some(champion) = &spec.champion {
            cmd.env("MLOPS_CHAMPION_VERSION", &champion.version)
                .env("MLOPS_CHAMPION_ARTIFACT", &champion.artifact);
        }
        // Its own process group, so a timeout or a cancellation can stop everything it started.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn().map_err(|e| {
            BackendError::Refused(format!("cannot start the trainer `{program}`: {e}"))
        })?;
        let pid = child.id();
        if let Ok(mut map) = self.running.lock() {
            map.insert(
                job.id.clone(),
                Running {
                    child,
                    deadline: Instant::now() + self.timeout,
                    cancelled: false,
                },
            );
        }
        Ok(Started {
            external_id: pid.to_string(),
            external_url: None,
            raw_state: "started".into(),
        })
    }

    async fn poll(&self, job: &Job) -> Result<Status, BackendError> {
        let mut map = self
            .running
            .lock()
            .map_err(|_| BackendError::Refused("the job table is poisoned".into()))?;
        if let Some(run) = map.get_mut(&job.id) {
            let pid = run.child.id();
            if run.cancelled {
                let _ = run.child.wait();
                map.remove(&job.id);
                return Ok(Status {
                    state: JobState::Cancelled,
                    raw_state: "killed".into(),
                    progress: None,
                    message: Some("cancelled; the trainer's process group was killed".into()),
                });
            }
            return match run.child.try_wait()? {
                Some(status) => {
                    map.remove(&job.id);
                    Ok(self.finished(&job.id, &exit_text(status)))
                }
                None if Instant::now() >= run.deadline => {
                    kill_group(pid);
                    let _ = run.child.wait();
                    map.remove(&job.id);
                    Ok(failed(
                        "timed out",
                        format!(
                            "the trainer ran longer than {} s and was killed",
                            self.timeout.as_secs()
                        ),
                    ))
                }
                None => Ok(running(&format!("running (pid {pid})"))),
            };
        }
        drop(map);
        // Not started by this process (the server restarted): judge by the process and output.
        let alive = job
            .external_id
            .as_deref()
            .and_then(|p| p.parse::<i32>().ok())
            .is_some_and(process_alive);
        let overdue = job.started_at.is_some_and(|t| {
            chrono::Utc::now() - t > chrono::Duration::from_std(self.timeout).unwrap_or_default()
        });
        match (alive, overdue) {
            (true, false) => Ok(running("running (adopted after a restart)")),
            (true, true) => {
                if let Some(pid) = job
                    .external_id
                    .as_deref()
                    .and_then(|p| p.parse::<u32>().ok())
                {
                    kill_group(pid);
                }
                Ok(failed(
                    "timed out",
                    "the trainer ran past its timeout and was killed".into(),
                ))
            }
            (false, _) => Ok(self.finished(&job.id, "gone")),
        }
    }

    async fn next_status(&self, job: &Job, interval: Duration) -> Result<Status, BackendError> {
        if self.owns(&job.id) {
            return self.wait(job).await;
        }
        // Adopted after a restart: not our child, so watch the process id.
        tokio::time::sleep(interval.min(ADOPTED_POLL)).await;
        self.poll(job).await
    }

    async fn collect(&self, job: &Job) -> Result<Option<Candidate>, BackendError> {
        let output = self.output_dir(&job.id);
        let metrics = read_metrics(&output.join(METRICS_FILE))?;
        let artifact = artifact(&output).ok_or_else(|| {
            BackendError::Output(format!(
                "the trainer wrote {METRICS_FILE} but no model artifact into MLOPS_OUTPUT_DIR ({})",
                output.display()
            ))
        })?;
        let artifact = std::fs::canonicalize(&artifact)?;
        let baseline_path = output.join(BASELINE_FILE);
        let baseline = if baseline_path.exists() {
            let text = std::fs::read_to_string(&baseline_path)?;
            let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                BackendError::Output(format!("{} is not JSON: {e}", baseline_path.display()))
            })?;
            Some(super::http::baseline(
                &value,
                &baseline_path.display().to_string(),
            )?)
        } else {
            None
        };
        Ok(Some(Candidate {
            metrics,
            artifact_digest: sha256_file(&artifact)?,
            artifact_uri: format!("file://{}", artifact.display()),
            data_snapshot: None,
            baseline,
            label: None,
        }))
    }

    fn log_tail(&self, job: &Job, lines: usize) -> Option<String> {
        let text = std::fs::read_to_string(self.log_path(&job.id)).ok()?;
        let all: Vec<&str> = text.lines().collect();
        let tail = all
            .get(all.len().saturating_sub(lines)..)
            .unwrap_or_default();
        Some(tail.join("\n"))
    }

    async fn cancel(&self, job: &Job) -> Result<(), BackendError> {
        let pid = {
            let mut map = self
                .running
                .lock()
                .map_err(|_| BackendError::Refused("the job table is poisoned".into()))?;
            match map.get_mut(&job.id) {
                Some(run) => {
                    run.cancelled = true;
                    Some(run.child.id())
                }
                None => job.external_id.as_deref().and_then(|p| p.parse().ok()),
            }
        };
        if let Some(pid) = pid {
            kill_group(pid);
            let leader = i32::try_from(pid).unwrap_or(i32::MAX);
            if !exited(leader, CANCEL_CONFIRM).await {
                return Err(BackendError::Refused(format!(
                    "trainer process {pid} is still alive {}s after SIGKILL",
                    CANCEL_CONFIRM.as_secs()
                )));
            }
        }
        Ok(())
    }
}

impl LocalBackend {
    /// Whether this process started `job` and still holds its child.
    fn owns(&self, job_id: &str) -> bool {
        self.running
            .lock()
            .is_ok_and(|map| map.contains_key(job_id))
    }

    /// Waits for a job this process started to end (its process exits, or its timeout kills it)
    /// and returns its final status, without polling.
    pub async fn wait(&self, job: &Job) -> Result<Status, BackendError> {
        let run = self
            .running
            .lock()
            .map_err(|_| BackendError::Refused("the job table is poisoned".into()))?
            .remove(&job.id);
        let Some(Running {
            mut child,
            deadline,
            ..
        }) = run
        else {
            return self.poll(job).await;
        };
        let pid = child.id();
        let remaining = deadline.saturating_duration_since(Instant::now());
        let exited = tokio::task::spawn_blocking(move || {
            let status = child.wait();
            (child, status)
        });
        match tokio::time::timeout(remaining, exited).await {
            Ok(Ok((_, status))) => Ok(self.finished(&job.id, &exit_text(status?))),
            Ok(Err(e)) => Err(BackendError::Refused(format!(
                "waiting for the trainer failed: {e}"
            ))),
            Err(_) => {
                // The blocking wait reaps the process once the group is killed.
                kill_group(pid);
                Ok(failed(
                    "timed out",
                    format!(
                        "the trainer ran longer than {} s and was killed",
                        self.timeout.as_secs()
                    ),
                ))
            }
        }
    }
}

/// How often a trainer this process did not start (adopted after a restart) is looked at.
const ADOPTED_POLL: Duration = Duration::from_secs(1);

/// `metrics.json`: an object of metric name to finite number, at least one.
pub fn read_metrics(path: &Path) -> Result<BTreeMap<String, f64>, BackendError> {
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| BackendError::Output(format!("cannot read {shown}: {e}")))?;
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&text).map_err(|e| {
            BackendError::Output(format!(
                "{shown} is not a JSON object of metric names to numbers: {e}"
            ))
        })?;
    let mut metrics = BTreeMap::new();
    for (name, value) in object {
        match value.as_f64().filter(|v| v.is_finite()) {
            Some(v) => {
                metrics.insert(name, v);
            }
            None => {
                return Err(BackendError::Output(format!(
                    "{shown}: metric `{name}` is {value}, not a finite number"
                )));
            }
        }
    }
    if metrics.is_empty() {
        return Err(BackendError::Output(format!("{shown} holds no metrics")));
    }
    Ok(metrics)
}

/// `sha256:<hex>` of a file's bytes, read in chunks.
pub fn sha256_file(path: &Path) -> Result<String, std::io::Error> {
    use sha2::Digest as _;
    use std::io::Read as _;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(buf.get(..n).unwrap_or_default());
    }
    Ok(format!("sha256:{}", hex::encode(hasher.finalize())))
}

/// The artifact a finished local job produced: the first file in the output directory other
/// than `metrics.json` (by name).
pub fn artifact(output_dir: &Path) -> Option<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(output_dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .is_some_and(|n| n != METRICS_FILE && n != BASELINE_FILE)
        })
        .collect();
    files.sort();
    files.into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str) -> Job {
        Job::pending(
            &super::super::NewJob {
                id: id.into(),
                model: "m".into(),
                backend: "local".into(),
                reason: "test".into(),
                drift_report_id: None,
                idempotency_key: None,
                requested_by: "t".into(),
                params: serde_json::json!({}),
                trace_id: None,
            },
            chrono::Utc::now(),
        )
    }

    fn backend(dir: &Path, script: &str, timeout: Duration) -> LocalBackend {
        LocalBackend::new(
            vec!["sh".into(), "-c".into(), script.into()],
            dir.to_path_buf(),
            timeout,
        )
    }

    async fn wait(b: &LocalBackend, j: &Job) -> Status {
        b.wait(j).await.unwrap()
    }

    fn spec() -> StartSpec {
        StartSpec {
            training_data: vec!["/data/a.csv".into(), "/data/b.csv".into()],
            holdout_data: Some("/data/h.csv".into()),
            champion: None,
        }
    }

    #[tokio::test]
    async fn a_trainer_that_writes_metrics_succeeds_with_the_contract_environment() {
        let dir = tempfile::tempdir().unwrap();
        let b = backend(
            dir.path(),
            "echo \"$MLOPS_MODEL $MLOPS_TRAINING_DATA $MLOPS_HOLDOUT_DATA\"; \
             echo '{\"roc_auc\": 0.9}' > \"$MLOPS_OUTPUT_DIR/metrics.json\"; \
             echo weights > \"$MLOPS_OUTPUT_DIR/model.json\"",
            Duration::from_secs(30),
        );
        let j = job("ok");
        b.start(&j, &spec()).await.unwrap();
        let s = wait(&b, &j).await;
        assert_eq!(
            (s.state, s.raw_state.as_str()),
            (JobState::Succeeded, "exit 0")
        );
        let log = std::fs::read_to_string(b.log_path("ok")).unwrap();
        assert_eq!(log.trim(), "m /data/a.csv:/data/b.csv /data/h.csv");
        assert_eq!(
            artifact(&b.output_dir("ok")).and_then(|p| p.file_name().map(|n| n.to_owned())),
            Some("model.json".into())
        );
    }

    #[tokio::test]
    async fn failures_timeouts_and_cancellation_kill_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let b = backend(dir.path(), "exit 3", Duration::from_secs(30));
        let j = job("fails");
        b.start(&j, &spec()).await.unwrap();
        let s = wait(&b, &j).await;
        assert_eq!(
            (s.state, s.raw_state.as_str()),
            (JobState::Failed, "exit 3")
        );

        let b = backend(dir.path(), "exit 0", Duration::from_secs(30));
        let j = job("no-metrics");
        b.start(&j, &spec()).await.unwrap();
        assert!(wait(&b, &j).await.message.unwrap().contains("metrics.json"));

        // A grandchild in the background must die with the group.
        let b = backend(
            dir.path(),
            "sleep 30 & echo $! > \"$MLOPS_OUTPUT_DIR/../grandchild\"; wait",
            Duration::from_millis(300),
        );
        let j = job("slow");
        b.start(&j, &spec()).await.unwrap();
        let s = wait(&b, &j).await;
        assert_eq!(
            (s.state, s.raw_state.as_str()),
            (JobState::Failed, "timed out")
        );
        let grandchild: i32 = std::fs::read_to_string(dir.path().join("slow/grandchild"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(
            exited(grandchild, Duration::from_secs(10)).await,
            "grandchild still alive"
        );

        let b = backend(dir.path(), "sleep 30", Duration::from_secs(30));
        let j = job("cancel");
        b.start(&j, &spec()).await.unwrap();
        assert_eq!(b.poll(&j).await.unwrap().state, JobState::Running);
        b.cancel(&j).await.unwrap();
        assert_eq!(b.poll(&j).await.unwrap().state, JobState::Cancelled);
    }
}
