//! The state store: one trait, one implementation per database, each with its own migrations
//! (`migrations/sqlite`, `migrations/postgres`). It keeps the domain's values and applies the
//! domain's rules inside its transactions; it knows nothing of tools, MCP or HTTP.

mod sql;

use mlops_domain::{
    admission, alert, approver_session, chain_key, drift_record, evidence, jobs, model, monitor,
    promotion, quality_record, record, trace, validation,
};

use async_trait::async_trait;

pub use sql::{AlreadyLabelled, Dialect, SqlStore};

use crate::drift_record::DriftRecord;
pub use crate::model::ModelRecord;
use crate::model::{AliasChange, ModelSpec, ModelVersion, NewVersion};
use crate::trace::{NewTraceEvent, TraceEvent};

/// Errors from the store. Messages name what was missing; database details are logged, not
/// shown to agents.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("model `{0}` is not known")]
    UnknownModel(String),
    #[error("job `{0}` is not known")]
    UnknownJob(String),
    #[error("model `{model}` has no version `{version}`")]
    UnknownVersion { model: String, version: String },
    #[error("model `{model}` already has a version `{version}`")]
    VersionExists { model: String, version: String },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Unsupported(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error(
        "model `{model}` holds {held} ingested rows; {adding} more would pass its budget of {max} (limits.max_rows_per_model)"
    )]
    OverBudget {
        model: String,
        held: u64,
        adding: u64,
        max: u64,
    },
    #[error("the store is not ready: {0}")]
    NotReady(String),
    #[error("cannot connect to the store at {url}: {cause}")]
    Unreachable { url: String, cause: String },
}

/// `url` with any password replaced by `***`, for messages and output.
pub fn redacted(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((credentials, host)) if credentials.contains(':') => {
                let user = credentials.split(':').next().unwrap_or_default();
                format!("{scheme}://{user}:***@{host}")
            }
            _ => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// What `list_models` shows of one model, read together: the record, the newest job, the
/// newest drift report, the promotions waiting for a decision, the monitor's newest run and the
/// unresolved alert.
#[derive(Debug, Clone)]
pub struct ModelOverview {
    pub record: ModelRecord,
    /// The model's newest job, whatever its state.
    pub last_job: Option<crate::jobs::Job>,
    pub last_drift: Option<DriftRecord>,
    /// Requests in state `pending_approval`; whether one has expired since depends on the time
    /// of reading (`Promotion::effective_state`).
    pub pending: Vec<crate::promotion::Promotion>,
    /// The newest run of the model's monitor.
    pub last_run: Option<crate::monitor::MonitorRun>,
    /// The model's alert that is not resolved.
    pub alert: Option<crate::alert::Alert>,
    /// The newest quality report.
    pub last_quality: Option<crate::quality_record::QualityRecord>,
}

impl ModelOverview {
    /// The model's job in progress.
    pub fn active_job(&self) -> Option<&crate::jobs::Job> {
        self.last_job.as_ref().filter(|j| j.state.is_active())
    }
}

/// Everything the server persists.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Inserts or refreshes a configured model.
    async fn sync_model(&self, spec: &ModelSpec) -> Result<(), StoreError>;
    /// All models with their versions and aliases, by name.
    async fn list_models(&self) -> Result<Vec<ModelRecord>, StoreError>;
    /// One model, or `None`.
    async fn get_model(&self, name: &str) -> Result<Option<ModelRecord>, StoreError>;
    /// Registers a new version; an existing version is never overwritten.
    async fn register_version(&self, version: &NewVersion) -> Result<ModelVersion, StoreError>;
    /// Points `alias` at `version`, recording the move in the alias history.
    async fn set_alias(
        &self,
        model: &str,
        alias: &str,
        version: &str,
        set_by: &str,
        reason: &str,
    ) -> Result<(), StoreError>;
    /// Every alias move of a model, oldest first.
    async fn alias_history(&self, model: &str) -> Result<Vec<AliasChange>, StoreError>;
    /// Stores a drift report.
    async fn save_drift_report(&self, report: &DriftRecord) -> Result<(), StoreError>;
    /// One drift report, or `None`.
    async fn drift_report(&self, id: &str) -> Result<Option<DriftRecord>, StoreError>;
    /// The newest drift report of a model, or `None`.
    async fn last_drift_report(&self, model: &str) -> Result<Option<DriftRecord>, StoreError>;
    /// Every model's overview, sorted by name. Unchanged data is served from memory: the store
    /// checks one counter that every committed change to these rows moves forward, whichever
    /// process made it.
    /// Claims `model`'s monitor slot for `replica`: true if this call claimed it, false if a run
    /// (of any replica) already has. The claim is one row insert, so it holds across processes.
    async fn claim_monitor_slot(
        &self,
        model: &str,
        slot: chrono::DateTime<chrono::Utc>,
        replica: &str,
    ) -> Result<bool, StoreError>;
    /// Records how a claimed run ended.
    async fn finish_monitor_run(
        &self,
        model: &str,
        slot: chrono::DateTime<chrono::Utc>,
        outcome: crate::monitor::RunOutcome,
        report_id: Option<&str>,
        detail: &str,
    ) -> Result<(), StoreError>;
    /// Monitor runs, newest slot first (of one model, or all).
    async fn monitor_runs(
        &self,
        model: Option<&str>,
        limit: u32,
    ) -> Result<Vec<crate::monitor::MonitorRun>, StoreError>;
    /// Applies a check's verdict to the model's alert ([`alert::on_verdict`]) in one writing
    /// transaction; `report` is the check's report URI (`mlops://drift-reports/{id}`,
    /// `mlops://quality-reports/{id}`). Returns the step taken and the alert after it.
    async fn apply_verdict(
        &self,
        model: &str,
        report: &str,
        verdict: Option<crate::drift_record::RecommendedAction>,
        by: &str,
    ) -> Result<Option<(crate::alert::Step, crate::alert::Alert)>, StoreError>;
    /// Acknowledges or resolves the model's unresolved alert; `None` if there was nothing to
    /// change.
    async fn settle_alert(
        &self,
        model: &str,
        how: crate::alert::Settle,
        note: &str,
    ) -> Result<Option<crate::alert::Alert>, StoreError>;
    /// Alerts, most recently changed first.
    async fn alerts(
        &self,
        unresolved_only: bool,
        limit: u32,
    ) -> Result<Vec<crate::alert::Alert>, StoreError>;
    /// One alert, or `None`.
    async fn alert(&self, id: &str) -> Result<Option<crate::alert::Alert>, StoreError>;
    /// Stores labels of `model`'s ingested rows in one transaction: ids with no row are
    /// reported and not stored; an id that already has a label refuses the whole request unless
    /// `replace`.
    async fn insert_labels(
        &self,
        model: &str,
        labels: &[crate::record::NewLabel],
        replace: bool,
    ) -> Result<Result<crate::record::LabelsStored, AlreadyLabelled>, StoreError>;
    /// Stores a quality report.
    async fn save_quality_report(
        &self,
        report: &crate::quality_record::QualityRecord,
    ) -> Result<(), StoreError>;
    /// One quality report, or `None`.
    async fn quality_report(
        &self,
        id: &str,
    ) -> Result<Option<crate::quality_record::QualityRecord>, StoreError>;
    async fn model_overviews(&self) -> Result<std::sync::Arc<Vec<ModelOverview>>, StoreError>;
    /// Adds a block of `model`'s ingested rows to the catalog in one transaction (all or
    /// none), with its row ids; returns its rows. Refused ([`StoreError::OverBudget`]) when the
    /// model would then hold more than `max_rows`. A block kept in a file is written (and
    /// synced) before this is called.
    async fn insert_block(
        &self,
        model: &str,
        block: &crate::record::NewBlock,
        max_rows: u64,
    ) -> Result<u64, StoreError>;

    /// The catalog entries of `model`'s blocks holding rows with `from <= timestamp < to`,
    /// in the order they were stored.
    async fn blocks(
        &self,
        model: &str,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<crate::record::BlockEntry>, StoreError>;

    /// `model`'s blocks of fewer than `small` rows, in the order they were stored, at most
    /// `limit` of them (what compaction merges).
    async fn small_blocks(
        &self,
        model: &str,
        small: u64,
        limit: u32,
    ) -> Result<Vec<crate::record::BlockEntry>, StoreError>;

    /// Replaces `model`'s blocks `old` with `block` (their rows together) and moves their row
    /// ids to it, in one transaction; `false`, changing nothing, when one of them is gone
    /// already (another replica compacted or retention deleted it).
    async fn replace_blocks(
        &self,
        model: &str,
        old: &[String],
        block: &crate::record::NewBlock,
    ) -> Result<bool, StoreError>;

    /// The bytes of a block kept in the database.
    async fn block_data(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// The late labels of `model`'s rows `ids`: id, label (JSON) and when it became known.
    async fn labels_of(
        &self,
        model: &str,
        ids: &[String],
    ) -> Result<Vec<(String, String, chrono::DateTime<chrono::Utc>)>, StoreError>;

    /// Deletes `model`'s blocks whose newest row is older than `before`, their row ids and the
    /// late labels left without a row, in one transaction; the block files to delete.
    async fn prune_records(
        &self,
        model: &str,
        before: chrono::DateTime<chrono::Utc>,
    ) -> Result<crate::record::Pruned, StoreError>;

    /// Ingested rows and block bytes held per model.
    async fn held_records(&self) -> Result<Vec<crate::record::Held>, StoreError>;

    /// Every block file the catalog names.
    async fn block_files(&self) -> Result<Vec<String>, StoreError>;

    /// The oldest batch of rows stored one JSON text per row (before blocks), at most
    /// `max_rows` of it, to convert.
    async fn legacy_batch(
        &self,
        max_rows: usize,
    ) -> Result<Option<crate::record::LegacyBatch>, StoreError>;

    /// Adds `block` (converted from `legacy`) and deletes those rows, in one transaction.
    async fn convert_legacy(
        &self,
        legacy: &crate::record::LegacyBatch,
        block: &crate::record::NewBlock,
    ) -> Result<(), StoreError>;

    /// Creates a retraining job, unless the model already has one with the same idempotency
    /// key or an active one (then that job is returned and nothing is created), or a cost
    /// control in `budget` refuses. Serialised by the database (one writer at a time, unique
    /// indexes on the active slot and the key), so it holds across processes.
    async fn create_job(
        &self,
        job: &crate::jobs::NewJob,
        budget: &crate::jobs::Budget<'_>,
    ) -> Result<crate::jobs::Admission, StoreError>;

    async fn get_job(&self, id: &str) -> Result<Option<crate::jobs::Job>, StoreError>;

    /// Jobs newest first, of one model or all, at most `limit`.
    async fn list_jobs(
        &self,
        model: Option<&str>,
        limit: u32,
    ) -> Result<Vec<crate::jobs::Job>, StoreError>;

    /// Moves a pending job to running (raw state `starting`) owned by replica `owner` and
    /// returns it, or `None` if it is not pending any more: whoever gets `Some` is the one
    /// process that starts it.
    async fn claim_start(
        &self,
        id: &str,
        owner: &str,
    ) -> Result<Option<crate::jobs::Job>, StoreError>;

    /// Records that `replica` is alive at `now` (registering it the first time).
    async fn heartbeat(
        &self,
        replica: &crate::jobs::Replica,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError>;

    /// Every active job with its owner and the owner's last heartbeat.
    async fn job_owners(&self) -> Result<Vec<crate::jobs::JobOwner>, StoreError>;

    /// Gives active job `id` to replica `to` if `from` (`None`: nobody) still owns it; true if
    /// it moved. Of several replicas taking over one job, exactly one succeeds.
    async fn take_over(&self, id: &str, from: Option<&str>, to: &str) -> Result<bool, StoreError>;

    /// Applies a state report to an active job and returns it as stored. A finished job is
    /// final: the report is ignored and the job returned unchanged.
    async fn update_job(
        &self,
        id: &str,
        update: &crate::jobs::JobUpdate,
    ) -> Result<crate::jobs::Job, StoreError>;

    /// Ends an active job with `update` (a final state) and, if given, registers `candidate` as
    /// the model's next version (`v<N+1>`), in one transaction. Returns the job and whether this
    /// call ended it (`false`: it had already ended; nothing changed).
    async fn finish_job(
        &self,
        id: &str,
        update: &crate::jobs::JobUpdate,
        candidate: Option<&crate::jobs::Candidate>,
    ) -> Result<(crate::jobs::Job, bool), StoreError>;

    /// Every pending or running job (what a runner reconciles after a restart).
    async fn active_jobs(&self) -> Result<Vec<crate::jobs::Job>, StoreError>;

    /// What the cost controls of `model` need to know at `now`.
    async fn retrain_history(
        &self,
        model: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<crate::admission::History, StoreError>;

    /// Closes the circuit breaker of `model`: earlier failures no longer count.
    async fn reset_breaker(&self, model: &str, by: &str) -> Result<(), StoreError>;

    /// Stores a validation.
    async fn save_validation(
        &self,
        validation: &crate::validation::Validation,
    ) -> Result<(), StoreError>;

    async fn validation(
        &self,
        id: &str,
    ) -> Result<Option<crate::validation::Validation>, StoreError>;

    /// The newest validation of a model's version.
    async fn latest_validation(
        &self,
        model: &str,
        version: &str,
    ) -> Result<Option<crate::validation::Validation>, StoreError>;

    /// Opens a promotion request, unless the model has one waiting for a decision (returned).
    /// Requests past their expiry are marked expired first, in the same transaction.
    async fn open_promotion(
        &self,
        request: &crate::promotion::NewPromotion,
    ) -> Result<crate::promotion::Opened, StoreError>;

    async fn promotion(&self, id: &str) -> Result<Option<crate::promotion::Promotion>, StoreError>;

    /// Requests newest first, optionally in one state, at most `limit`.
    async fn list_promotions(
        &self,
        state: Option<crate::promotion::PromotionState>,
        limit: u32,
    ) -> Result<Vec<crate::promotion::Promotion>, StoreError>;

    /// Records a human's decision if the request is still pending, not expired and `by` did not
    /// request it; exactly one of any number of concurrent decisions wins. Approval moves the
    /// request to `promoting` ([`Store::complete_promotion`] then moves the alias).
    async fn decide_promotion(
        &self,
        id: &str,
        by: &str,
        decision: &crate::promotion::Decision,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Result<crate::promotion::Promotion, crate::promotion::DecisionRefused>, StoreError>;

    /// For a `promoting` request, in one transaction: checks the evidence again (the
    /// candidate's artifact digest, the validation report's digest, the champion) and moves the
    /// `champion` alias (`promoted`), or records which precondition failed (`failed`).
    async fn complete_promotion(
        &self,
        id: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<crate::promotion::Promotion, StoreError>;

    /// Ends a `promoting` request as `failed` with `reason` (nothing moves); returns it as stored.
    async fn fail_promotion(
        &self,
        id: &str,
        reason: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<crate::promotion::Promotion, StoreError>;

    /// Records a signed delivery's id; `false` if it was seen before (a replay).
    async fn record_delivery(&self, id: &str) -> Result<bool, StoreError>;

    /// Stores an approver session (and forgets sessions that have ended).
    async fn create_session(
        &self,
        session: &crate::approver_session::ApproverSession,
    ) -> Result<(), StoreError>;
    /// The session whose id hashes to `id_hash`, if it exists and has not ended at `now`.
    async fn session(
        &self,
        id_hash: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<crate::approver_session::ApproverSession>, StoreError>;
    /// Ends a session (sign-out); `false` if there was none.
    async fn revoke_session(&self, id_hash: &str) -> Result<bool, StoreError>;

    /// How many jobs are in each state (states without jobs are left out).
    async fn job_counts(&self) -> Result<Vec<(crate::jobs::JobState, u64)>, StoreError>;

    /// Whether the store answers and its schema has every migration this build knows
    /// (`/readyz`); the error says which is missing.
    async fn ready(&self) -> Result<(), StoreError>;

    async fn append_traces(&self, events: &[NewTraceEvent]) -> Result<Vec<TraceEvent>, StoreError>;
    /// The events of one trace, in order.
    async fn trace(&self, trace_id: &str) -> Result<Vec<TraceEvent>, StoreError>;
    /// The newest event of the chain, if any.
    async fn trace_head(&self) -> Result<Option<TraceEvent>, StoreError>;
    /// Up to `limit` events with `seq > after`, in order (for chain verification and export).
    async fn trace_events_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<TraceEvent>, StoreError>;
}

/// Opens the store named by `url` (`sqlite://path` or `postgres://...`), creating a SQLite
/// file if needed and applying migrations; trace events are chained under `key`.
pub async fn open(
    url: &str,
    key: crate::chain_key::ChainKey,
) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    Ok(std::sync::Arc::new(SqlStore::open(url, key).await?))
}
