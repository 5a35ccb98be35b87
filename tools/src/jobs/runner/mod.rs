//! The job runner: admits triggers through the cost controls, starts each job exactly once,
//! watches it to the end, registers what a succeeded job produced, and reconciles jobs left
//! active by a previous process. Every decision is a trace event joined to the trace of the
//! call that created the job.
//!
//! Nothing here holds state that matters across a crash: the store does. A job is started by
//! whoever moves it from `pending` to `running` in the store (one process wins), and finished by
//! whoever ends it in the store (the others see it ended and stop).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mlops_auth::Principal;
use tokio::sync::broadcast;

use crate::jobs::airflow::AirflowBackend;
use crate::jobs::backend::{RetrainBackend, StartSpec, Status};
use crate::jobs::github::GithubActionsBackend;
use crate::jobs::local::LocalBackend;
use crate::jobs::webhook::WebhookBackend;
use crate::jobs::{Job, JobState, JobUpdate, Replica, RetrainError};
use crate::model::ModelSpec;
use crate::registry::Registries;
use crate::retrain_spec::{BackendKind, RetrainSpec};
use crate::secrets::Secrets;
use crate::store::Store;
use crate::trace::{NewTraceEvent, Outcome};
use crate::trace_log::TraceLog;

mod admit;
mod drive;
mod finish;
mod reconcile;

/// Lines of log a job view includes unless asked otherwise.
pub const DEFAULT_LOG_LINES: usize = 20;
/// Longest `get_job` may wait.
pub const MAX_WAIT: Duration = Duration::from_secs(60);
/// Job changes kept for slow listeners.
const EVENT_BUFFER: usize = 256;

/// Runner settings from the server configuration (`[jobs]`).
#[derive(Clone)]
pub struct RunnerSettings {
    /// Where local jobs keep their log and output (`<dir>/<job id>/`).
    pub jobs_dir: PathBuf,
    /// Active jobs allowed across all models.
    pub max_concurrent: u32,
    /// How often remote backends are polled.
    pub poll_interval: Duration,
    /// How often this process records its heartbeat and looks for jobs whose owner is gone;
    /// an owner silent for three intervals is gone.
    pub heartbeat: Duration,
    /// Values the server holds (auth, callback and backend secrets): redacted from every log
    /// tail and job message an agent reads, in case a trainer obtained one.
    pub secrets: Secrets,
    /// What follows the end of a job (the candidate's validation, for one), in order.
    pub on_end: Vec<std::sync::Arc<dyn crate::jobs::JobEndHook>>,
}

/// A model that can be retrained: its spec, its backend and the data it trains on.
struct Retrainable {
    spec: RetrainSpec,
    backend: Arc<dyn RetrainBackend>,
    data: StartSpec,
}

struct Inner {
    store: Arc<dyn Store>,
    registries: Registries,
    traces: TraceLog,
    models: HashMap<String, Retrainable>,
    settings: RunnerSettings,
    events: broadcast::Sender<Job>,
    /// This process, as other replicas see it.
    replica: Replica,
}

/// Cheap to clone.
#[derive(Clone)]
pub struct Runner {
    inner: Arc<Inner>,
}

/// A backend for `spec`, or why there is none.
fn backend_for(
    spec: &RetrainSpec,
    settings: &RunnerSettings,
) -> Result<Arc<dyn RetrainBackend>, String> {
    let request_timeout = Duration::from_secs(spec.request_timeout_secs);
    match spec.backend {
        BackendKind::Local => Ok(Arc::new(
            LocalBackend::new(
                spec.command.clone(),
                settings.jobs_dir.clone(),
                Duration::from_secs(spec.timeout_secs),
            )
            .passing_env(spec.env.clone()),
        )),
        BackendKind::Webhook => spec
            .webhook
            .clone()
            .map(|w| Arc::new(WebhookBackend::new(w, request_timeout)) as Arc<dyn RetrainBackend>)
            .ok_or_else(|| "the webhook backend needs [models.retrain.webhook]".to_owned()),
        BackendKind::GithubActions => spec
            .github_actions
            .clone()
            .map(|g| {
                Arc::new(GithubActionsBackend::new(g, request_timeout)) as Arc<dyn RetrainBackend>
            })
            .ok_or_else(|| {
                "the github_actions backend needs [models.retrain.github_actions]".to_owned()
            }),
        BackendKind::Airflow => spec
            .airflow
            .clone()
            .map(|a| Arc::new(AirflowBackend::new(a, request_timeout)) as Arc<dyn RetrainBackend>)
            .ok_or_else(|| "the airflow backend needs [models.retrain.airflow]".to_owned()),
    }
}

impl Runner {
    /// A runner for the configured models that have `retrain`. Errors name a model whose
    /// backend cannot be built.
    pub fn new(
        store: Arc<dyn Store>,
        registries: Registries,
        traces: TraceLog,
        models: &[ModelSpec],
        settings: RunnerSettings,
    ) -> Result<Self, String> {
        let mut map = HashMap::new();
        for m in models {
            let Some(spec) = &m.retrain else { continue };
            let backend =
                backend_for(spec, &settings).map_err(|e| format!("model `{}`: {e}", m.name))?;
            let training_data = if spec.training_data.is_empty() {
                m.reference_data
                    .iter()
                    .chain(m.current_data.iter())
                    .cloned()
                    .collect()
            } else {
                spec.training_data.clone()
            };
            map.insert(
                m.name.clone(),
                Retrainable {
                    spec: spec.clone(),
                    backend,
                    data: StartSpec {
                        training_data,
                        holdout_data: spec.holdout_data.clone(),
                        champion: None,
                    },
                },
            );
        }
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                registries,
                traces,
                models: map,
                settings,
                events,
                replica: crate::jobs::this_replica(),
            }),
        })
    }

    /// Every change of a job this process makes.
    pub fn subscribe(&self) -> broadcast::Receiver<Job> {
        self.inner.events.subscribe()
    }

    fn publish(&self, job: &Job) {
        // No listener is fine.
        let _ = self.inner.events.send(job.clone());
    }

    async fn trace(&self, job: &Job, who: &str, action: &str, outcome: Outcome, why: String) {
        let trace_id = job
            .trace_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let arguments = serde_json::json!({ "job_id": job.id, "model": job.model });
        let event = NewTraceEvent::new(trace_id, who, action, &arguments, outcome, why, 0);
        if let Err(error) = self.inner.traces.record(event).await {
            tracing::error!(%error, job = %job.id, "job trace event not recorded");
        }
    }

    /// A job as it may be shown: its message and the last `log_lines` of its log, with held
    /// secrets redacted.
    pub fn shown(&self, job: Job, log_lines: usize) -> (Job, Option<String>) {
        let tail = self
            .inner
            .models
            .get(&job.model)
            .filter(|m| m.backend.name() == job.backend)
            .and_then(|m| m.backend.log_tail(&job, log_lines))
            .map(|t| self.inner.settings.secrets.redact(&t));
        let mut job = job;
        job.message = job.message.map(|m| self.inner.settings.secrets.redact(&m));
        (job, tail)
    }

    /// The job, after waiting up to `wait` for it to end. `on_change` is called with
    /// the job as a wait begins and with each change seen while waiting (for progress
    /// notifications).
    pub async fn get(
        &self,
        principal: &Principal,
        id: &str,
        wait: Duration,
        mut on_change: impl FnMut(&Job),
    ) -> Result<Job, RetrainError> {
        let unknown = || RetrainError::UnknownJob(id.to_owned());
        let mut changes = self.subscribe();
        let mut job = self
            .inner
            .store
            .get_job(id)
            .await?
            .filter(|j| principal.may_access_model(&j.model))
            .ok_or_else(unknown)?;
        let deadline = Instant::now() + wait.min(MAX_WAIT);
        if !wait.is_zero() && job.state.is_active() {
            // Where the job stands as the wait begins.
            on_change(&job);
        }
        while job.state.is_active() && Instant::now() < deadline {
            // Changes made here arrive at once; changes made by another process (a CLI cancel,
            // another replica) are seen by re-reading the store each second.
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::select! {
                changed = changes.recv() => match changed {
                    Ok(j) if j.id == job.id => {}
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                () = tokio::time::sleep(left.min(Duration::from_secs(1))) => {}
            }
            let fresh = self.inner.store.get_job(id).await?.ok_or_else(unknown)?;
            if fresh != job {
                on_change(&fresh);
            }
            job = fresh;
        }
        Ok(job)
    }

    /// Cancels an active job: it ends `cancelled` in the store, then the backend is told to
    /// stop it (a local trainer's whole process group is killed).
    pub async fn cancel(&self, id: &str, by: &str) -> Result<Job, RetrainError> {
        let store = &self.inner.store;
        let job = store
            .get_job(id)
            .await?
            .ok_or_else(|| RetrainError::UnknownJob(id.to_owned()))?;
        let update = JobUpdate {
            state: Some(JobState::Cancelled),
            raw_state: Some("cancelled".into()),
            message: Some(format!("cancelled by {by}")),
            ..JobUpdate::default()
        };
        let (ended, changed) = store.finish_job(id, &update, None).await?;
        if !changed {
            return Err(RetrainError::AlreadyEnded {
                id: id.to_owned(),
                state: ended.state.as_str(),
            });
        }
        if let Some(model) = self.inner.models.get(&job.model)
            && let Err(e) = model.backend.cancel(&ended).await
        {
            tracing::warn!(error = %e, job = %id, "the backend did not confirm the cancellation");
        }
        self.publish(&ended);
        self.trace(
            &ended,
            by,
            "retrain.cancelled",
            Outcome::Ok,
            format!("cancelled by {by}"),
        )
        .await;
        Ok(ended)
    }
}

/// Mirrors a registered candidate into MLflow: a run with its metrics, then a model version
/// tagged with this server's version label and artifact digest. Returns MLflow's version.
async fn mirror(
    mlflow: &crate::registry::MlflowRegistry,
    job: &Job,
    version: &str,
    c: &super::Candidate,
) -> Result<String, crate::registry::mlflow::MlflowError> {
    mlflow.ensure_model().await?;
    let (run_id, source) = mlflow
        .log_run(
            &format!("{version} ({})", job.id),
            &c.metrics,
            &c.artifact_uri,
        )
        .await?;
    mlflow
        .create_version(
            &source,
            &run_id,
            &[
                ("mlops_version", version),
                ("artifact_digest", &c.artifact_digest),
                ("training_job", &job.id),
            ],
        )
        .await
}

fn failed(raw: &str, message: String) -> Status {
    Status::failed(raw, message)
}

fn not_configured() -> Status {
    failed(
        "not configured",
        "the model is no longer configured for retraining".into(),
    )
}
