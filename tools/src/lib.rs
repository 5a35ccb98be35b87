//! The MLOps engine behind mlops-mcp, independent of MCP: the domain types, the state store,
//! the embedded model registry, decision traces, and the input/output types of each tool.

pub mod approvals;
pub mod chain_key;
pub mod check_drift;
pub mod demo;
pub mod drift;
pub mod jobs;
pub mod list_models;
pub mod model;
pub mod promotion;
pub mod records;
pub mod registry;
pub mod retrain;
pub mod secrets;
pub mod sessions;
pub mod signing;
pub mod store;
pub mod trace;
pub mod trace_checkpoint;
pub mod trace_log;
pub mod untrusted;
pub mod validation;

pub use model::{FeatureKind, FeatureSpec, ModelSpec};
pub use store::{Store, StoreError};
