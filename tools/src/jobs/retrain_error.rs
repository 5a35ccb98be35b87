//! Why a retraining request, a job lookup or a job command could not do what was asked.

use crate::admission::Refusal;
use crate::store::StoreError;

/// Why `trigger_retrain`, `get_job` or a job command could not do what was asked. Every
/// message says what the caller can do.
#[derive(Debug, thiserror::Error)]
pub enum RetrainError {
    #[error("model `{0}` is not known; call list_models to see the models you may use")]
    UnknownModel(String),
    #[error(
        "retraining is not configured for model `{0}` (no models[].retrain in the server's configuration); ask an operator to configure it"
    )]
    NotConfigured(String),
    #[error(
        "job `{0}` is not known; trigger_retrain returns job ids, and list_models shows each model's active job"
    )]
    UnknownJob(String),
    #[error("{0}")]
    BadInput(String),
    /// A cost control refused; nothing was created.
    #[error("retraining refused by a cost control: {0}")]
    Refused(#[from] Refusal),
    #[error("job `{id}` already ended ({state}); nothing to cancel")]
    AlreadyEnded { id: String, state: &'static str },
    #[error(transparent)]
    Store(#[from] StoreError),
}
