//! The `webhook` backend: wires any system (Jenkins, Kubeflow, an in-house runner) without code.
//!
//! - Start: `POST url` with a JSON body (`type: "retrain.requested"`, job id, model, reason,
//!   drift report, parameters, training and holdout data) signed like Standard Webhooks
//!   (`webhook-id` = the job id, so a receiver can drop a repeated delivery; `webhook-timestamp`;
//!   `webhook-signature`). A 2xx answer may carry `{"id": ..., "url": ...}`: the run's id and a
//!   page for people.
//! - Status: `GET status_url` (signed the same way, empty body) answers
//!   `{"state": "pending|running|succeeded|failed|cancelled", "progress": 0.4, "message": "...",
//!   "model": {"metrics": {...}, "artifact_uri": "...", "artifact_digest": "sha256:..."}}`;
//!   `model` is read once the state is `succeeded`.
//! - Cancel: `POST cancel_url` (`type: "retrain.cancel"`), if configured.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::backend::{BackendError, RetrainBackend, StartSpec, Started, Status};
use super::http;
use super::{Candidate, Job, JobState};
use crate::retrain_spec::WebhookSpec;
use crate::signing;

const SECRET_FIELD: &str = "models[].retrain.webhook.secret_env";

pub struct WebhookBackend {
    spec: WebhookSpec,
    client: reqwest::Client,
}

/// Normalises the states a receiver may report (common spellings accepted).
fn state(raw: &str) -> Option<JobState> {
    match raw.to_ascii_lowercase().as_str() {
        "pending" | "queued" | "requested" | "waiting" => Some(JobState::Pending),
        "running" | "in_progress" | "started" => Some(JobState::Running),
        "succeeded" | "success" | "completed" | "done" => Some(JobState::Succeeded),
        "failed" | "failure" | "error" | "timed_out" => Some(JobState::Failed),
        "cancelled" | "canceled" | "aborted" => Some(JobState::Cancelled),
        _ => None,
    }
}

impl WebhookBackend {
    /// `timeout` bounds each request.
    pub fn new(spec: WebhookSpec, timeout: std::time::Duration) -> Self {
        Self {
            spec,
            client: http::client(timeout),
        }
    }

    fn fill(template: &str, job: &Job) -> String {
        template.replace("{job_id}", &job.id).replace(
            "{external_id}",
            job.external_id.as_deref().unwrap_or(&job.id),
        )
    }

    /// A request signed for `job` with `body`.
    fn signed(
        &self,
        request: reqwest::RequestBuilder,
        job: &Job,
        body: &[u8],
    ) -> Result<reqwest::RequestBuilder, BackendError> {
        let secret = http::env_secret(&self.spec.secret_env, SECRET_FIELD)?;
        let ts = chrono::Utc::now().timestamp();
        Ok(request
            .header(signing::ID_HEADER, &job.id)
            .header(signing::TIMESTAMP_HEADER, ts.to_string())
            .header(
                signing::SIGNATURE_HEADER,
                signing::sign(&secret, &job.id, ts, body),
            ))
    }

    async fn status_body(&self, job: &Job) -> Result<Value, BackendError> {
        let url = Self::fill(&self.spec.status_url, job);
        let request = self.signed(self.client.get(&url), job, b"")?;
        http::send_ok(request, "webhook status").await
    }

    async fn post_json(
        &self,
        url: &str,
        job: &Job,
        body: &Value,
        what: &str,
    ) -> Result<Value, BackendError> {
        let bytes = serde_json::to_vec(body).map_err(|e| BackendError::Refused(e.to_string()))?;
        let request = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        let request = self.signed(request, job, &bytes)?.body(bytes);
        http::send_ok(request, what).await
    }
}

#[async_trait]
impl RetrainBackend for WebhookBackend {
    fn name(&self) -> &'static str {
        "webhook"
    }

    async fn start(&self, job: &Job, spec: &StartSpec) -> Result<Started, BackendError> {
        let body = json!({
            "type": "retrain.requested",
            "job_id": job.id,
            "model": job.model,
            "reason": job.reason,
            "drift_report_id": job.drift_report_id,
            "idempotency_key": job.idempotency_key,
            "requested_by": job.requested_by,
            "params": job.params,
            "training_data": spec.training_data,
            "holdout_data": spec.holdout_data,
        });
        let answer = self
            .post_json(&self.spec.url, job, &body, "webhook start")
            .await?;
        let external_id = match answer.get("id") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => job.id.clone(),
        };
        Ok(Started {
            external_id,
            external_url: answer.get("url").and_then(Value::as_str).map(str::to_owned),
            raw_state: "requested".into(),
        })
    }

    async fn poll(&self, job: &Job) -> Result<Status, BackendError> {
        let body = self.status_body(job).await?;
        let raw = body
            .get("state")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                BackendError::Refused(format!(
                    "webhook status: the answer has no `state`: {}",
                    body.to_string().chars().take(200).collect::<String>()
                ))
            })?
            .to_owned();
        let state = state(&raw).ok_or_else(|| {
            BackendError::Refused(format!(
                "webhook status: unknown state `{raw}` (use pending, running, succeeded, failed or cancelled)"
            ))
        })?;
        Ok(Status {
            state,
            progress: body.get("progress").and_then(Value::as_f64),
            message: body
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_owned),
            raw_state: raw,
        })
    }

    async fn cancel(&self, job: &Job) -> Result<(), BackendError> {
        let Some(url) = &self.spec.cancel_url else {
            return Ok(());
        };
        let body = json!({"type": "retrain.cancel", "job_id": job.id});
        self.post_json(&Self::fill(url, job), job, &body, "webhook cancel")
            .await
            .map(|_| ())
    }

    async fn collect(&self, job: &Job) -> Result<Option<Candidate>, BackendError> {
        let body = self.status_body(job).await?;
        match body.get("model") {
            None | Some(Value::Null) => Ok(None),
            Some(model) => http::candidate(model, "webhook status `model`").map(Some),
        }
    }

    fn restart_is_idempotent(&self) -> bool {
        // The delivery id is the job id: a receiver that drops repeated ids starts it once.
        true
    }
}
