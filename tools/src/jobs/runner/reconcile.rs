//! Taking over the jobs of replicas that are gone, at start-up and then periodically.

use chrono::Utc;

use crate::jobs::RetrainError;
use crate::jobs::{Job, JobState, Replica};
use crate::trace::Outcome;

use super::*;

impl Runner {
    /// This process, as other replicas see it.
    pub fn replica(&self) -> &Replica {
        &self.inner.replica
    }

    /// Records this process's heartbeat, then picks up the jobs nobody drives: pending ones
    /// (at start-up, or left pending longer than three heartbeats: their creator is gone) are
    /// started, once, whoever claims them; running ones whose owner is gone (a previous
    /// process, or a replica that crashed) are taken over and watched again; a local job whose
    /// start was never recorded is failed rather than started a second time. Returns how many
    /// jobs it picked up.
    pub async fn reconcile(&self) -> Result<usize, RetrainError> {
        self.reconcile_once(true).await
    }

    pub(super) async fn reconcile_once(&self, starting: bool) -> Result<usize, RetrainError> {
        let store = &self.inner.store;
        let me = &self.inner.replica;
        let now = Utc::now();
        store.heartbeat(me, now).await?;
        let stale_after = self.inner.settings.heartbeat * 3;
        let mut count = 0;
        for owner in store.job_owners().await? {
            let pending = owner.state == JobState::Pending;
            let stale = chrono::Duration::from_std(stale_after).unwrap_or(chrono::Duration::MAX);
            if pending && !starting && now - owner.created_at <= stale {
                continue; // its creator is about to start it
            }
            if !pending && !owner.orphaned(me, now, stale_after, crate::jobs::local::process_alive)
            {
                continue;
            }
            if !pending
                && !store
                    .take_over(&owner.job, owner.owner.as_deref(), &me.id)
                    .await?
            {
                continue; // another replica took it first
            }
            let Some(job) = store.get_job(&owner.job).await? else {
                continue;
            };
            if !pending {
                tracing::info!(
                    job = %job.id,
                    from = owner.owner.as_deref().unwrap_or("nobody"),
                    "taking over a retraining job whose owner is gone"
                );
            }
            count += 1;
            let runner = self.clone();
            tokio::spawn(async move {
                let id = job.id.clone();
                if let Err(error) = runner.resume(job).await {
                    tracing::error!(%error, job = %id, "reconciling a job failed");
                }
            });
        }
        Ok(count)
    }

    /// Reconciles every heartbeat interval, for as long as the process runs (replicas take
    /// over each other's jobs this way).
    pub async fn keep_reconciling(self) {
        let mut tick = tokio::time::interval(self.inner.settings.heartbeat);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            match self.reconcile_once(false).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(jobs = n, "reconciled retraining jobs"),
                Err(error) => tracing::warn!(%error, "reconciling retraining jobs failed"),
            }
        }
    }

    pub(super) async fn resume(&self, job: Job) -> Result<(), RetrainError> {
        if job.state == JobState::Pending {
            self.drive(&job.id).await;
            return Ok(());
        }
        let Some(model) = self.inner.models.get(&job.model) else {
            return self.end(&job, not_configured()).await;
        };
        if job.external_id.is_none() {
            if !model.backend.restart_is_idempotent() {
                return self
                    .end(
                        &job,
                        failed(
                            "start not recorded",
                            "the server stopped while starting this job; it was not started again, so that it cannot run twice. Trigger a new job.".into(),
                        ),
                    )
                    .await;
            }
            return self.start_and_watch(job, model).await;
        }
        self.trace(
            &job,
            "mlops-mcp",
            "retrain.reconciled",
            Outcome::Ok,
            format!("watching job {} again after a restart", job.id),
        )
        .await;
        self.watch(job).await
    }
}
