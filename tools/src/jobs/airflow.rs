//! The `airflow` backend: Airflow 3's REST API v2.
//!
//! Signs in with `POST /auth/token` (user name and password from the environment; signs in again
//! once on a 401) or uses a ready bearer token. A job is a DAG run whose `dag_run_id` is the
//! job's idempotency key (the job id when the caller sent none): Airflow answers 409 to a second
//! run with the same id, which is taken as "already started", so a restart never starts a second
//! run. The run's `conf` carries the model, job id, reason, parameters and data. With
//! `result_task` set, the produced model is read from that task's XCom `return_value`.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::backend::{BackendError, RetrainBackend, StartSpec, Started, Status};
use super::http;
use super::{Candidate, Job, JobState};
use crate::retrain_spec::AirflowSpec;

pub struct AirflowBackend {
    spec: AirflowSpec,
    client: reqwest::Client,
    token: Mutex<Option<String>>,
}

fn state(raw: &str) -> JobState {
    match raw {
        "queued" => JobState::Pending,
        "success" => JobState::Succeeded,
        "failed" => JobState::Failed,
        _ => JobState::Running,
    }
}

/// The DAG run id of a job.
pub fn dag_run_id(job: &Job) -> &str {
    job.idempotency_key.as_deref().unwrap_or(&job.id)
}

impl AirflowBackend {
    pub fn new(spec: AirflowSpec, timeout: Duration) -> Self {
        Self {
            spec,
            client: http::client(timeout),
            token: Mutex::new(None),
        }
    }

    fn base(&self) -> &str {
        self.spec.url.trim_end_matches('/')
    }

    fn run_url(&self, run_id: &str) -> String {
        format!(
            "{}/api/v2/dags/{}/dagRuns/{run_id}",
            self.base(),
            self.spec.dag_id
        )
    }

    /// A bearer token: the configured one, or one from `/auth/token` (cached).
    async fn token(&self, fresh: bool) -> Result<String, BackendError> {
        if let Some(var) = &self.spec.token_env {
            return http::env_secret(var, "models[].retrain.airflow.token_env");
        }
        let mut cached = self.token.lock().await;
        if !fresh && let Some(t) = cached.as_ref() {
            return Ok(t.clone());
        }
        let var = |v: &Option<String>, field: &str| {
            v.as_deref()
                .ok_or_else(|| BackendError::Refused(format!("{field} is not configured")))
                .and_then(|name| http::env_secret(name, field))
        };
        let username = var(
            &self.spec.username_env,
            "models[].retrain.airflow.username_env",
        )?;
        let password = var(
            &self.spec.password_env,
            "models[].retrain.airflow.password_env",
        )?;
        let request = self
            .client
            .post(format!("{}/auth/token", self.base()))
            .json(&json!({"username": username, "password": password}));
        let body = http::send_ok(request, "Airflow sign-in").await?;
        let token = body
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                BackendError::Refused("Airflow sign-in: no access_token in the answer".into())
            })?
            .to_owned();
        *cached = Some(token.clone());
        Ok(token)
    }

    /// Sends a request with the token, signing in again once if Airflow answers 401.
    async fn call(
        &self,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        what: &str,
    ) -> Result<(StatusCode, Value), BackendError> {
        let token = self.token(false).await?;
        let (status, body) = http::send(build(&self.client).bearer_auth(token), what).await?;
        if status != StatusCode::UNAUTHORIZED || self.spec.token_env.is_some() {
            return Ok((status, body));
        }
        let token = self.token(true).await?;
        http::send(build(&self.client).bearer_auth(token), what).await
    }

    async fn call_ok(
        &self,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        what: &str,
    ) -> Result<Value, BackendError> {
        let (status, body) = self.call(build, what).await?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(http::refused(what, status, &body))
        }
    }
}

#[async_trait]
impl RetrainBackend for AirflowBackend {
    fn name(&self) -> &'static str {
        "airflow"
    }

    async fn start(&self, job: &Job, spec: &StartSpec) -> Result<Started, BackendError> {
        let run_id = dag_run_id(job);
        let body = json!({
            "dag_run_id": run_id,
            // Required by the API (null: now).
            "logical_date": null,
            "conf": {
                "model": job.model,
                "job_id": job.id,
                "reason": job.reason,
                "params": job.params,
                "training_data": spec.training_data,
                "holdout_data": spec.holdout_data,
            },
            "note": format!("mlops-mcp job {}: {}", job.id, job.reason),
        });
        let url = format!("{}/api/v2/dags/{}/dagRuns", self.base(), self.spec.dag_id);
        let (status, answer) = self
            .call(|c| c.post(&url).json(&body), "Airflow trigger DAG run")
            .await?;
        let raw_state = match status {
            s if s.is_success() => answer
                .get("state")
                .and_then(Value::as_str)
                .unwrap_or("queued")
                .to_owned(),
            // A run with this id exists: it was started before (a retry or a restart).
            StatusCode::CONFLICT => "already started".to_owned(),
            _ => return Err(http::refused("Airflow trigger DAG run", status, &answer)),
        };
        Ok(Started {
            external_id: run_id.to_owned(),
            external_url: Some(format!(
                "{}/dags/{}/runs/{run_id}",
                self.base(),
                self.spec.dag_id
            )),
            raw_state,
        })
    }

    async fn poll(&self, job: &Job) -> Result<Status, BackendError> {
        let url = self.run_url(job.external_id.as_deref().unwrap_or(dag_run_id(job)));
        let run = self.call_ok(|c| c.get(&url), "Airflow DAG run").await?;
        let raw = run
            .get("state")
            .and_then(Value::as_str)
            .unwrap_or("queued")
            .to_owned();
        let state = state(&raw);
        Ok(Status {
            state,
            message: (state == JobState::Failed).then(|| {
                format!(
                    "the DAG run failed; see the run in Airflow ({})",
                    self.base()
                )
            }),
            raw_state: raw,
            progress: None,
        })
    }

    async fn cancel(&self, job: &Job) -> Result<(), BackendError> {
        let url = self.run_url(job.external_id.as_deref().unwrap_or(dag_run_id(job)));
        self.call_ok(
            |c| c.patch(&url).json(&json!({"state": "failed"})),
            "Airflow cancel DAG run",
        )
        .await
        .map(|_| ())
    }

    async fn collect(&self, job: &Job) -> Result<Option<Candidate>, BackendError> {
        let Some(task) = &self.spec.result_task else {
            return Ok(None);
        };
        let url = format!(
            "{}/taskInstances/{task}/xcomEntries/return_value",
            self.run_url(job.external_id.as_deref().unwrap_or(dag_run_id(job)))
        );
        let entry = self
            .call_ok(|c| c.get(&url), "Airflow XCom return_value")
            .await?;
        let value = match entry.get("value") {
            // Depending on the XCom backend the value comes back as JSON or as its text.
            Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::String(s.clone())),
            Some(v) => v.clone(),
            None => Value::Null,
        };
        http::candidate(&value, &format!("the return value of task `{task}`")).map(Some)
    }

    fn restart_is_idempotent(&self) -> bool {
        true
    }
}
