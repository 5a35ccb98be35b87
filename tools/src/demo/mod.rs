//! The built-in demo model `fraud-detector`: deterministic synthetic data and a champion `v1`
//! whose metrics are computed by evaluating its artifact on a holdout set.

mod dataset;
mod metrics;
mod scorer;
pub mod trainer;

pub use dataset::{
    CATEGORIES, CHANNELS, Era, FEATURES, ReadError, Row, feature_specs, fraud_probability,
    generate, read_csv, write_csv,
};
pub use metrics::{Metrics, evaluate};
pub use scorer::{LinearScorer, NumericTerm, Transform};
