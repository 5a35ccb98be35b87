//! [`Store`] for [`SqlStore`]: each method is in the file of its aggregate.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::admission::History;
use crate::alert::{Alert, Settle, Step};
use crate::approver_session::ApproverSession;
use crate::drift_record::{DriftRecord, RecommendedAction};
use crate::jobs::{
    Admission, Budget, Candidate, Job, JobOwner, JobState, JobUpdate, NewJob, Replica,
};
use crate::model::{AliasChange, ModelSpec, ModelVersion, NewVersion};
use crate::monitor::{MonitorRun, RunOutcome};
use crate::promotion::{
    Decision, DecisionRefused, NewPromotion, Opened, Promotion, PromotionState,
};
use crate::trace::{NewTraceEvent, TraceEvent};
use crate::validation::Validation;
use crate::{ModelOverview, ModelRecord, Store, StoreError};

use super::{
    SqlStore, alerts, deliveries, drift_reports, job_history, jobs, labels, models, monitors,
    overviews, promotions, quality_reports, records, replicas, sessions, traces, validations,
};

#[async_trait]
impl Store for SqlStore {
    async fn ready(&self) -> Result<(), StoreError> {
        let expected = self
            .dialect
            .migrator()
            .iter()
            .map(|m| m.version)
            .max()
            .unwrap_or(0);
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await?;
        let applied = applied.unwrap_or(0);
        if applied < expected {
            return Err(StoreError::NotReady(format!(
                "the schema is at migration {applied}; this build needs {expected}"
            )));
        }
        Ok(())
    }

    async fn sync_model(&self, spec: &ModelSpec) -> Result<(), StoreError> {
        models::sync_model(self, spec).await
    }

    async fn list_models(&self) -> Result<Vec<ModelRecord>, StoreError> {
        models::list_models(self).await
    }

    async fn get_model(&self, name: &str) -> Result<Option<ModelRecord>, StoreError> {
        models::get_model(self, name).await
    }

    async fn register_version(&self, v: &NewVersion) -> Result<ModelVersion, StoreError> {
        models::register_version(self, v).await
    }

    async fn set_alias(
        &self,
        model: &str,
        alias: &str,
        version: &str,
        set_by: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        models::set_alias(self, model, alias, version, set_by, reason).await
    }

    async fn alias_history(&self, model: &str) -> Result<Vec<AliasChange>, StoreError> {
        models::alias_history(self, model).await
    }

    async fn model_overviews(&self) -> Result<Arc<Vec<ModelOverview>>, StoreError> {
        overviews::model_overviews(self).await
    }

    async fn save_drift_report(&self, r: &DriftRecord) -> Result<(), StoreError> {
        drift_reports::save_drift_report(self, r).await
    }

    async fn drift_report(&self, id: &str) -> Result<Option<DriftRecord>, StoreError> {
        drift_reports::drift_report(self, id).await
    }

    async fn last_drift_report(&self, model: &str) -> Result<Option<DriftRecord>, StoreError> {
        drift_reports::last_drift_report(self, model).await
    }

    async fn insert_block(
        &self,
        model: &str,
        block: &crate::record::NewBlock,
        max_rows: u64,
    ) -> Result<u64, StoreError> {
        records::insert_block(self, model, block, max_rows).await
    }

    async fn blocks(
        &self,
        model: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<crate::record::BlockEntry>, StoreError> {
        records::blocks(self, model, from, to).await
    }

    async fn small_blocks(
        &self,
        model: &str,
        small: u64,
        limit: u32,
    ) -> Result<Vec<crate::record::BlockEntry>, StoreError> {
        records::small_blocks(self, model, small, limit).await
    }

    async fn replace_blocks(
        &self,
        model: &str,
        old: &[String],
        block: &crate::record::NewBlock,
    ) -> Result<bool, StoreError> {
        records::replace_blocks(self, model, old, block).await
    }

    async fn block_data(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        records::block_data(self, id).await
    }

    async fn labels_of(
        &self,
        model: &str,
        ids: &[String],
    ) -> Result<Vec<(String, String, DateTime<Utc>)>, StoreError> {
        labels::labels_of(self, model, ids).await
    }

    async fn prune_records(
        &self,
        model: &str,
        before: DateTime<Utc>,
    ) -> Result<crate::record::Pruned, StoreError> {
        records::prune_records(self, model, before).await
    }

    async fn held_records(&self) -> Result<Vec<crate::record::Held>, StoreError> {
        records::held_records(self).await
    }

    async fn block_files(&self) -> Result<Vec<String>, StoreError> {
        records::block_files(self).await
    }

    async fn legacy_batch(
        &self,
        max_rows: usize,
    ) -> Result<Option<crate::record::LegacyBatch>, StoreError> {
        records::legacy_batch(self, max_rows).await
    }

    async fn convert_legacy(
        &self,
        legacy: &crate::record::LegacyBatch,
        block: &crate::record::NewBlock,
    ) -> Result<(), StoreError> {
        records::convert_legacy(self, legacy, block).await
    }

    async fn job_counts(&self) -> Result<Vec<(JobState, u64)>, StoreError> {
        jobs::job_counts(self).await
    }

    async fn create_job(&self, job: &NewJob, budget: &Budget<'_>) -> Result<Admission, StoreError> {
        jobs::create_job(self, job, budget).await
    }

    async fn get_job(&self, id: &str) -> Result<Option<Job>, StoreError> {
        jobs::get_job(self, id).await
    }

    async fn list_jobs(&self, model: Option<&str>, limit: u32) -> Result<Vec<Job>, StoreError> {
        jobs::list_jobs(self, model, limit).await
    }

    async fn claim_start(&self, id: &str, owner: &str) -> Result<Option<Job>, StoreError> {
        jobs::claim_start(self, id, owner).await
    }

    async fn update_job(&self, id: &str, u: &JobUpdate) -> Result<Job, StoreError> {
        jobs::update_job(self, id, u).await
    }

    async fn finish_job(
        &self,
        id: &str,
        u: &JobUpdate,
        candidate: Option<&Candidate>,
    ) -> Result<(Job, bool), StoreError> {
        jobs::finish_job(self, id, u, candidate).await
    }

    async fn active_jobs(&self) -> Result<Vec<Job>, StoreError> {
        jobs::active_jobs(self).await
    }

    async fn retrain_history(
        &self,
        model: &str,
        now: DateTime<Utc>,
    ) -> Result<History, StoreError> {
        job_history::retrain_history(self, model, now).await
    }

    async fn reset_breaker(&self, model: &str, by: &str) -> Result<(), StoreError> {
        job_history::reset_breaker(self, model, by).await
    }

    async fn heartbeat(&self, r: &Replica, now: DateTime<Utc>) -> Result<(), StoreError> {
        replicas::heartbeat(self, r, now).await
    }

    async fn job_owners(&self) -> Result<Vec<JobOwner>, StoreError> {
        replicas::job_owners(self).await
    }

    async fn take_over(&self, id: &str, from: Option<&str>, to: &str) -> Result<bool, StoreError> {
        replicas::take_over(self, id, from, to).await
    }

    async fn record_delivery(&self, id: &str) -> Result<bool, StoreError> {
        deliveries::record_delivery(self, id).await
    }

    async fn save_validation(&self, v: &Validation) -> Result<(), StoreError> {
        validations::save_validation(self, v).await
    }

    async fn validation(&self, id: &str) -> Result<Option<Validation>, StoreError> {
        validations::validation(self, id).await
    }

    async fn latest_validation(
        &self,
        model: &str,
        version: &str,
    ) -> Result<Option<Validation>, StoreError> {
        validations::latest_validation(self, model, version).await
    }

    async fn open_promotion(&self, p: &NewPromotion) -> Result<Opened, StoreError> {
        promotions::open_promotion(self, p).await
    }

    async fn promotion(&self, id: &str) -> Result<Option<Promotion>, StoreError> {
        promotions::promotion(self, id).await
    }

    async fn list_promotions(
        &self,
        state: Option<PromotionState>,
        limit: u32,
    ) -> Result<Vec<Promotion>, StoreError> {
        promotions::list_promotions(self, state, limit).await
    }

    async fn decide_promotion(
        &self,
        id: &str,
        by: &str,
        decision: &Decision,
        now: DateTime<Utc>,
    ) -> Result<Result<Promotion, DecisionRefused>, StoreError> {
        promotions::decide_promotion(self, id, by, decision, now).await
    }

    async fn complete_promotion(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Promotion, StoreError> {
        promotions::complete_promotion(self, id, now).await
    }

    async fn fail_promotion(
        &self,
        id: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Promotion, StoreError> {
        promotions::fail_promotion(self, id, reason, now).await
    }

    async fn create_session(&self, s: &ApproverSession) -> Result<(), StoreError> {
        sessions::create_session(self, s).await
    }

    async fn session(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ApproverSession>, StoreError> {
        sessions::session(self, id_hash, now).await
    }

    async fn revoke_session(&self, id_hash: &str) -> Result<bool, StoreError> {
        sessions::revoke_session(self, id_hash).await
    }

    async fn append_traces(&self, events: &[NewTraceEvent]) -> Result<Vec<TraceEvent>, StoreError> {
        traces::append_traces(self, events).await
    }

    async fn trace(&self, trace_id: &str) -> Result<Vec<TraceEvent>, StoreError> {
        traces::trace(self, trace_id).await
    }

    async fn trace_head(&self) -> Result<Option<TraceEvent>, StoreError> {
        traces::trace_head(self).await
    }

    async fn trace_events_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<TraceEvent>, StoreError> {
        traces::trace_events_after(self, after, limit).await
    }

    async fn claim_monitor_slot(
        &self,
        model: &str,
        slot: DateTime<Utc>,
        replica: &str,
    ) -> Result<bool, StoreError> {
        monitors::claim_monitor_slot(self, model, slot, replica).await
    }

    async fn finish_monitor_run(
        &self,
        model: &str,
        slot: DateTime<Utc>,
        outcome: RunOutcome,
        report_id: Option<&str>,
        detail: &str,
    ) -> Result<(), StoreError> {
        monitors::finish_monitor_run(self, model, slot, outcome, report_id, detail).await
    }

    async fn monitor_runs(
        &self,
        model: Option<&str>,
        limit: u32,
    ) -> Result<Vec<MonitorRun>, StoreError> {
        monitors::monitor_runs(self, model, limit).await
    }

    async fn apply_verdict(
        &self,
        model: &str,
        report: &str,
        verdict: Option<RecommendedAction>,
        by: &str,
    ) -> Result<Option<(Step, Alert)>, StoreError> {
        alerts::apply_verdict(self, model, report, verdict, by).await
    }

    async fn settle_alert(
        &self,
        model: &str,
        how: Settle,
        note: &str,
    ) -> Result<Option<Alert>, StoreError> {
        alerts::settle_alert(self, model, how, note).await
    }

    async fn alerts(&self, unresolved_only: bool, limit: u32) -> Result<Vec<Alert>, StoreError> {
        alerts::alerts(self, unresolved_only, limit).await
    }

    async fn alert(&self, id: &str) -> Result<Option<Alert>, StoreError> {
        alerts::alert(self, id).await
    }

    async fn insert_labels(
        &self,
        model: &str,
        labels: &[crate::record::NewLabel],
        replace: bool,
    ) -> Result<Result<crate::record::LabelsStored, super::AlreadyLabelled>, StoreError> {
        labels::insert_labels(self, model, labels, replace).await
    }

    async fn save_quality_report(
        &self,
        report: &crate::quality_record::QualityRecord,
    ) -> Result<(), StoreError> {
        quality_reports::save_quality_report(self, report).await
    }

    async fn quality_report(
        &self,
        id: &str,
    ) -> Result<Option<crate::quality_record::QualityRecord>, StoreError> {
        quality_reports::quality_report(self, id).await
    }
}
