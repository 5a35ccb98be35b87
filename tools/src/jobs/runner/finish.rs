//! The end of a job: registering what it produced, tracing the outcome, and the end event
//! that sets off validation.

use crate::jobs::RetrainError;
use crate::jobs::backend::Status;
use crate::jobs::{Job, JobState, JobUpdate};
use crate::trace::Outcome;

use super::*;

impl Runner {
    /// Ends `job` with `status`, registering its model if it succeeded.
    pub(super) async fn end(&self, job: &Job, status: Status) -> Result<(), RetrainError> {
        let mut status = status;
        let mut candidate = None;
        if status.state == JobState::Succeeded
            && let Some(model) = self.inner.models.get(&job.model)
        {
            match model.backend.collect(job).await {
                Ok(c) => candidate = c,
                Err(e) => {
                    status = failed(
                        &status.raw_state,
                        format!("the job's output is unusable: {e}"),
                    );
                }
            }
        }
        // With an MLflow registry the candidate is registered there first, under the label it
        // gets here, so a succeeded job always has its version in both registries.
        if let (Some(c), Some(mlflow)) =
            (candidate.as_mut(), self.inner.registries.mlflow(&job.model))
        {
            let taken: Vec<String> = self
                .inner
                .store
                .get_model(&job.model)
                .await?
                .map(|m| m.versions.into_iter().map(|v| v.version).collect())
                .unwrap_or_default();
            let label = crate::version::next_version(taken.iter().map(String::as_str));
            match mirror(mlflow, job, &label, c).await {
                Ok(mv) => {
                    c.label = Some(label.clone());
                    self.trace(
                        job,
                        "mlops-mcp",
                        "registry.registered",
                        Outcome::Ok,
                        format!(
                            "registered {label} in MLflow as `{}` version {mv}",
                            mlflow.name
                        ),
                    )
                    .await;
                }
                Err(e) => {
                    status = failed(
                        &status.raw_state,
                        format!("the model could not be registered in MLflow: {e}"),
                    );
                }
            }
        }
        if status.state != JobState::Succeeded {
            candidate = None;
        }
        if let Some(c) = candidate.as_mut() {
            c.data_snapshot = self.inner.models.get(&job.model).map(|m| {
                m.data
                    .training_data
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            });
        }
        let update = JobUpdate {
            state: Some(status.state),
            raw_state: Some(status.raw_state.clone()),
            progress: status.progress,
            message: status.message.clone(),
            ..JobUpdate::default()
        };
        let (ended, changed) = self
            .inner
            .store
            .finish_job(&job.id, &update, candidate.as_ref())
            .await?;
        if !changed {
            return Ok(());
        }
        self.publish(&ended);
        let (outcome, why) = match (&ended.state, &ended.produced_version) {
            (JobState::Succeeded, Some(v)) => (
                Outcome::Ok,
                format!("succeeded; registered candidate version {v}"),
            ),
            (JobState::Succeeded, None) => (
                Outcome::Ok,
                "succeeded; the backend reported no model, nothing registered".to_owned(),
            ),
            (state, _) => (
                Outcome::Error,
                format!(
                    "{}: {}",
                    state.as_str(),
                    ended.message.clone().unwrap_or_default()
                ),
            ),
        };
        self.trace(&ended, "mlops-mcp", "retrain.finished", outcome, why)
            .await;
        for hook in &self.inner.settings.on_end {
            if let Some((action, outcome, why)) = hook.ended(&ended).await {
                self.trace(&ended, "mlops-mcp", action, outcome, why).await;
            }
        }
        Ok(())
    }
}
