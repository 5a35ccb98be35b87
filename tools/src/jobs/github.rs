//! The `github_actions` backend: dispatches a `workflow_dispatch` workflow and follows its run.
//!
//! The workflow must declare the inputs `model` and `correlation_id` (plus any parameter a
//! caller may pass, `models[].retrain.allowed_params`; GitHub refuses undeclared inputs) and
//! put the correlation id in its run name, e.g. `run-name: retrain ${{ inputs.correlation_id }}`.
//! The dispatch asks for the run's id (`return_run_details`, GitHub since 2026-02); where the
//! server does not give it (older GitHub Enterprise answers 204, or 400 to the field), the run is
//! found by its correlation id (the job id) in its name. The same search runs before every
//! dispatch, so a job whose start was not recorded is not dispatched twice.
//!
//! Runs report no model here: a succeeded job registers no version unless the workflow
//! registers it elsewhere (documented limitation).

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::backend::{BackendError, RetrainBackend, StartSpec, Started, Status};
use super::http;
use super::{Job, JobState};
use crate::retrain_spec::GithubActionsSpec;

const TOKEN_FIELD: &str = "models[].retrain.github_actions.token_env";
const API_VERSION: &str = "2022-11-28";
/// Searches for a dispatched run by its correlation id before giving up.
const FIND_ATTEMPTS: usize = 5;
const FIND_PAUSE: Duration = Duration::from_secs(2);

pub struct GithubActionsBackend {
    spec: GithubActionsSpec,
    client: reqwest::Client,
}

/// `status` (and `conclusion` once completed) as a normalised state.
fn state(status: &str, conclusion: Option<&str>) -> JobState {
    match (status, conclusion) {
        ("completed", Some("success")) => JobState::Succeeded,
        ("completed", Some("failure" | "timed_out" | "startup_failure")) => JobState::Failed,
        ("completed", _) => JobState::Cancelled,
        ("in_progress", _) => JobState::Running,
        _ => JobState::Pending,
    }
}

impl GithubActionsBackend {
    pub fn new(spec: GithubActionsSpec, timeout: Duration) -> Self {
        Self {
            spec,
            client: http::client(timeout),
        }
    }

    fn url(&self, tail: &str) -> String {
        format!(
            "{}/repos/{}/actions/{tail}",
            self.spec.api_url.trim_end_matches('/'),
            self.spec.repository
        )
    }

    fn authed(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, BackendError> {
        let token = http::env_secret(&self.spec.token_env, TOKEN_FIELD)?;
        Ok(request
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", API_VERSION))
    }

    fn run_id(job: &Job) -> Result<&str, BackendError> {
        job.external_id
            .as_deref()
            .ok_or_else(|| BackendError::Refused("the job has no workflow run id".into()))
    }

    /// The run whose name carries the job id, if GitHub lists it.
    async fn find_run(&self, job: &Job) -> Result<Option<Started>, BackendError> {
        let since = (job.created_at - chrono::Duration::minutes(5)).format("%Y-%m-%dT%H:%M:%SZ");
        let url = self.url(&format!("workflows/{}/runs", self.spec.workflow));
        let url = reqwest::Url::parse_with_params(
            &url,
            &[
                ("event", "workflow_dispatch".to_owned()),
                ("created", format!(">={since}")),
                ("per_page", "100".to_owned()),
            ],
        )
        .map_err(|e| BackendError::Refused(format!("bad GitHub API URL {url}: {e}")))?;
        let request = self.client.get(url);
        let body = http::send_ok(self.authed(request)?, "GitHub list workflow runs").await?;
        let runs = body
            .get("workflow_runs")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Ok(runs
            .iter()
            .find(|r| {
                r.get("display_title")
                    .or_else(|| r.get("name"))
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.contains(&job.id))
            })
            .and_then(|r| {
                let id = r.get("id").and_then(Value::as_u64)?;
                Some(Started {
                    external_id: id.to_string(),
                    external_url: r.get("html_url").and_then(Value::as_str).map(str::to_owned),
                    raw_state: r
                        .get("status")
                        .and_then(Value::as_str)
                        .unwrap_or("queued")
                        .to_owned(),
                })
            }))
    }

    async fn dispatch(
        &self,
        job: &Job,
        details: bool,
    ) -> Result<(reqwest::StatusCode, Value), BackendError> {
        let mut inputs = serde_json::Map::new();
        inputs.insert("model".into(), json!(job.model));
        inputs.insert("correlation_id".into(), json!(job.id));
        if let Some(params) = job.params.as_object() {
            for (k, v) in params {
                // Workflow inputs are strings.
                let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                inputs.insert(k.clone(), json!(text));
            }
        }
        let body = if details {
            json!({"ref": self.spec.git_ref, "inputs": inputs, "return_run_details": true})
        } else {
            json!({"ref": self.spec.git_ref, "inputs": inputs})
        };
        let url = self.url(&format!("workflows/{}/dispatches", self.spec.workflow));
        let request = self.authed(self.client.post(&url).json(&body))?;
        http::send(request, "GitHub workflow dispatch").await
    }
}

#[async_trait]
impl RetrainBackend for GithubActionsBackend {
    fn name(&self) -> &'static str {
        "github_actions"
    }

    async fn start(&self, job: &Job, _spec: &StartSpec) -> Result<Started, BackendError> {
        if let Some(run) = self.find_run(job).await? {
            return Ok(run);
        }
        let (mut status, mut body) = self.dispatch(job, true).await?;
        if status == reqwest::StatusCode::BAD_REQUEST {
            // Older GitHub Enterprise does not know `return_run_details`.
            (status, body) = self.dispatch(job, false).await?;
        }
        if status == reqwest::StatusCode::OK
            && let Some(id) = body.get("workflow_run_id").and_then(Value::as_u64)
        {
            return Ok(Started {
                external_id: id.to_string(),
                external_url: body
                    .get("html_url")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                raw_state: "dispatched".into(),
            });
        }
        if !status.is_success() {
            return Err(http::refused("GitHub workflow dispatch", status, &body));
        }
        for attempt in 0..FIND_ATTEMPTS {
            if let Some(run) = self.find_run(job).await? {
                return Ok(run);
            }
            if attempt + 1 < FIND_ATTEMPTS {
                tokio::time::sleep(FIND_PAUSE).await;
            }
        }
        Err(BackendError::Refused(format!(
            "the workflow was dispatched but no run named with the correlation id {} appeared; \
             its run-name must include ${{{{ inputs.correlation_id }}}}",
            job.id
        )))
    }

    async fn poll(&self, job: &Job) -> Result<Status, BackendError> {
        let url = self.url(&format!("runs/{}", Self::run_id(job)?));
        let run = http::send_ok(self.authed(self.client.get(&url))?, "GitHub workflow run").await?;
        let status = run
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("queued");
        let conclusion = run.get("conclusion").and_then(Value::as_str);
        let state = state(status, conclusion);
        let raw = match conclusion {
            Some(c) => format!("{status}/{c}"),
            None => status.to_owned(),
        };
        let message = matches!(state, JobState::Failed | JobState::Cancelled).then(|| {
            format!(
                "the workflow run ended {}; see {}",
                conclusion.unwrap_or("without a conclusion"),
                run.get("html_url")
                    .and_then(Value::as_str)
                    .unwrap_or("GitHub")
            )
        });
        Ok(Status {
            state,
            raw_state: raw,
            progress: None,
            message,
        })
    }

    async fn cancel(&self, job: &Job) -> Result<(), BackendError> {
        let url = self.url(&format!("runs/{}/cancel", Self::run_id(job)?));
        http::send_ok(self.authed(self.client.post(&url))?, "GitHub cancel run")
            .await
            .map(|_| ())
    }

    fn restart_is_idempotent(&self) -> bool {
        true
    }
}
