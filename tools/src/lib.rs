//! The MLOps engine behind mlops-mcp, independent of MCP: one module per tool (its input and
//! output types and its `run`), the job runner and its backends, the registry backends, trace
//! verification and the checkpoint writer. The domain types come from `mlops-domain`, the store
//! from `mlops-store`, the statistics from `mlops-drift`; they are re-exported here under the
//! names the edge uses.

pub mod alerts;
pub mod blocks;
pub mod calibration_rows;
pub mod chain_key_file;
pub mod check_drift;
pub mod check_performance;
pub mod datasets;
pub mod decide_promotion;
pub mod demo;
pub mod get_job;
pub mod get_promotion;
pub mod get_validation;
pub mod jobs;
pub mod list_models;
pub mod monitors;
pub mod promotion_gate;
pub mod quality;
pub mod records;
mod records_arrow;
mod records_parquet;
pub mod registry;
pub mod request_promotion;
pub mod signing;
pub mod trace;
pub mod trace_checkpoint;
pub mod trace_log;
pub mod trigger_retrain;

pub use mlops_domain::{
    FeatureKind, FeatureSpec, ModelSpec, admission, alert, approver_session, chain_key,
    drift_record, evidence, mac, model, monitor, params, promotion, record, registry_spec,
    retrain_spec, secrets, untrusted, validation, version,
};
pub use mlops_drift as drift;
pub use mlops_store as store;
pub use mlops_store::{Store, StoreError};
