//! Driving a job: starting it once (whoever moves it to running), watching the backend until
//! it ends, and stopping a cancelled one.

use chrono::Utc;

use crate::jobs::backend::{BackendError, ChampionRef};
use crate::jobs::{Job, JobState, JobUpdate, RetrainError};
use crate::trace::Outcome;

use super::*;

impl Runner {
    /// Starts the job if this process wins the claim, then watches it to the end.
    pub(super) async fn drive(&self, id: &str) {
        if let Err(error) = self.try_drive(id).await {
            tracing::error!(%error, job = %id, "retraining job could not be driven");
        }
    }

    pub(super) async fn try_drive(&self, id: &str) -> Result<(), RetrainError> {
        let store = &self.inner.store;
        let Some(job) = store.claim_start(id, &self.inner.replica.id).await? else {
            return Ok(());
        };
        self.publish(&job);
        let Some(model) = self.inner.models.get(&job.model) else {
            return self.end(&job, not_configured()).await;
        };
        self.start_and_watch(job, model).await
    }

    /// Asks the backend to start a claimed job, records the run, then watches it.
    pub(super) async fn start_and_watch(
        &self,
        job: Job,
        model: &Retrainable,
    ) -> Result<(), RetrainError> {
        let mut data = model.data.clone();
        data.champion = self
            .inner
            .store
            .get_model(&job.model)
            .await?
            .and_then(|r| r.aliased(crate::model::CHAMPION).cloned())
            .map(|c| ChampionRef {
                artifact: c
                    .artifact_uri
                    .strip_prefix("file://")
                    .unwrap_or(&c.artifact_uri)
                    .to_owned(),
                version: c.version,
            });
        let started = match model.backend.start(&job, &data).await {
            Ok(started) => started,
            Err(e) => {
                let why = format!("the backend could not start the job: {e}");
                return self.end(&job, failed("not started", why)).await;
            }
        };
        let update = JobUpdate {
            raw_state: Some(started.raw_state),
            external_id: Some(started.external_id.clone()),
            external_url: started.external_url,
            ..JobUpdate::default()
        };
        let job = self.inner.store.update_job(&job.id, &update).await?;
        if !job.state.is_active() {
            // Cancelled while it was starting: whoever cancelled it could not know the run yet.
            let run = Job {
                external_id: Some(started.external_id),
                ..job
            };
            self.stop_cancelled(model, &run).await;
            return Ok(());
        }
        self.publish(&job);
        self.trace(
            &job,
            "mlops-mcp",
            "retrain.started",
            Outcome::Ok,
            format!("{} started run {}", job.backend, started.external_id),
        )
        .await;
        self.watch(job).await
    }

    /// Follows an active job until it ends (here or elsewhere).
    pub(super) async fn watch(&self, mut job: Job) -> Result<(), RetrainError> {
        let Some(model) = self.inner.models.get(&job.model) else {
            return self.end(&job, not_configured()).await;
        };
        let interval = self.inner.settings.poll_interval;
        let timeout =
            chrono::Duration::seconds(i64::try_from(model.spec.timeout_secs).unwrap_or(i64::MAX));
        loop {
            let status = match model.backend.next_status(&job, interval).await {
                Ok(status) => status,
                Err(e) => {
                    // A remote backend may be briefly unreachable; the job's timeout bounds it.
                    let overdue = job.started_at.is_some_and(|t| Utc::now() - t > timeout);
                    if overdue || !matches!(e, BackendError::Unreachable(_)) {
                        return self
                            .end(&job, failed("error", format!("lost track of the job: {e}")))
                            .await;
                    }
                    tracing::warn!(error = %e, job = %job.id, "backend unreachable; retrying");
                    continue;
                }
            };
            if !status.state.is_active() {
                return self.end(&job, status).await;
            }
            let update = JobUpdate {
                state: Some(status.state),
                raw_state: Some(status.raw_state),
                progress: status.progress,
                message: status.message,
                ..JobUpdate::default()
            };
            let fresh = self.inner.store.update_job(&job.id, &update).await?;
            if !fresh.state.is_active() {
                // Ended elsewhere (cancelled by a human, finished by another process).
                self.stop_cancelled(
                    model,
                    &Job {
                        state: fresh.state,
                        ..job
                    },
                )
                .await;
                return Ok(());
            }
            if fresh != job {
                self.publish(&fresh);
            }
            job = fresh;
        }
    }

    /// Stops the run of a job cancelled in another process while this one ran it (the
    /// canceller stops what it knows of; stopping twice is harmless).
    pub(super) async fn stop_cancelled(&self, model: &Retrainable, job: &Job) {
        if job.state != JobState::Cancelled {
            return;
        }
        if let Err(e) = model.backend.cancel(job).await {
            tracing::warn!(error = %e, job = %job.id, "could not stop a cancelled job's run");
        }
    }
}
