//! The MLOps domain of mlops-mcp: models, versions and aliases; retraining jobs, their states
//! and backend specs; validation; promotions and decisions; decision traces and their hashing;
//! stored drift records. The rules are pure functions over these values (admitting a retrain,
//! checking a promotion's evidence, the next version label, walking the trace chain); the store
//! gathers their inputs inside its transactions and calls them. No I/O happens here.

pub mod admission;
pub mod alert;
pub mod approver_session;
pub mod chain_key;
pub mod drift_record;
pub mod evidence;
pub mod jobs;
pub mod mac;
pub mod model;
pub mod monitor;
pub mod params;
pub mod promotion;
pub mod quality_record;
pub mod record;
pub mod registry_spec;
pub mod retrain_spec;
pub mod secrets;
pub mod subject;
pub mod trace;
pub mod untrusted;
pub mod validation;
pub mod version;

pub use model::{FeatureKind, FeatureSpec, ModelSpec};
