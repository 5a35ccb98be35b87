//! Admitting a retrain: the checks on the request, then the store's admission under the
//! model's cost controls, traced whatever the answer; a new job is handed to the driver.

use chrono::Utc;
use mlops_auth::Principal;

use crate::jobs::{Admission, Budget, Job, NewJob, RetrainError, TriggerRequest};
use crate::trace::{NewTraceEvent, Outcome};

use super::*;

fn idempotency_key_ok(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 100
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-:".contains(c))
}

impl Runner {
    /// `trigger_retrain`: creates the job (or returns the existing one) and starts it in the
    /// background; returns at once.
    pub async fn trigger(
        &self,
        principal: &Principal,
        input: &TriggerRequest,
        trace_id: &str,
    ) -> Result<(Job, bool), RetrainError> {
        let store = &self.inner.store;
        if !principal.may_access_model(&input.model)
            || store.get_model(&input.model).await?.is_none()
        {
            return Err(RetrainError::UnknownModel(input.model.clone()));
        }
        let model = self
            .inner
            .models
            .get(&input.model)
            .ok_or_else(|| RetrainError::NotConfigured(input.model.clone()))?;
        if input.reason.trim().is_empty() {
            return Err(RetrainError::BadInput(
                "`reason` is empty: say in a sentence why the model needs retraining (a reviewer reads it)".into(),
            ));
        }
        if let Some(key) = &input.idempotency_key
            && !idempotency_key_ok(key)
        {
            return Err(RetrainError::BadInput(format!(
                "idempotency_key {key:?} is not usable: use 1 to 100 letters, digits, `.`, `_`, `-` or `:`"
            )));
        }
        if let Err(problem) = model.spec.allowed_params.check(&input.params) {
            return Err(RetrainError::BadInput(format!(
                "`{}`: {problem}. Call again with parameters the model allows, or without them.",
                input.model
            )));
        }
        if let Some(report) = &input.drift_report_id {
            // The evidence: a drift report or a quality report of this model.
            let found = store
                .drift_report(report)
                .await?
                .is_some_and(|r| r.model == input.model)
                || store
                    .quality_report(report)
                    .await?
                    .is_some_and(|r| r.model == input.model);
            if !found {
                return Err(RetrainError::BadInput(format!(
                    "report `{report}` is not a drift or quality report of `{}`; pass the report_id check_drift or check_performance returned for this model, or omit it",
                    input.model
                )));
            }
        }
        let new = NewJob {
            id: uuid::Uuid::new_v4().to_string(),
            model: input.model.clone(),
            backend: model.backend.name().to_owned(),
            reason: self.inner.settings.secrets.redact(input.reason.trim()),
            drift_report_id: input.drift_report_id.clone(),
            idempotency_key: input.idempotency_key.clone(),
            requested_by: principal.subject.clone(),
            params: serde_json::to_value(&input.params).unwrap_or_default(),
            trace_id: Some(trace_id.to_owned()),
        };
        let budget = Budget {
            spec: &model.spec,
            max_concurrent: self.inner.settings.max_concurrent,
            now: Utc::now(),
        };
        let who = principal.subject.as_str();
        match store.create_job(&new, &budget).await? {
            Admission::New(job) => {
                self.trace(
                    &job,
                    who,
                    "retrain.created",
                    Outcome::Ok,
                    format!("created job {} ({}): {}", job.id, job.backend, job.reason),
                )
                .await;
                self.publish(&job);
                let runner = self.clone();
                let id = job.id.clone();
                tokio::spawn(async move { runner.drive(&id).await });
                Ok((job, true))
            }
            Admission::Existing(job) => {
                let why = if input.idempotency_key.is_some()
                    && job.idempotency_key == input.idempotency_key
                {
                    "same idempotency key"
                } else {
                    "the model already has a job in progress"
                };
                let mut traced = job.clone();
                traced.trace_id = Some(trace_id.to_owned());
                self.trace(
                    &traced,
                    who,
                    "retrain.deduplicated",
                    Outcome::Ok,
                    format!("returned existing job {} ({why})", job.id),
                )
                .await;
                Ok((job, false))
            }
            Admission::Refused(refusal) => {
                let event = NewTraceEvent::new(
                    trace_id,
                    who,
                    "retrain.refused",
                    &serde_json::json!({ "model": input.model }),
                    Outcome::Refused,
                    refusal.to_string(),
                    0,
                );
                if let Err(error) = self.inner.traces.record(event).await {
                    tracing::error!(%error, "refusal trace event not recorded");
                }
                Err(RetrainError::Refused(refusal))
            }
        }
    }
}
