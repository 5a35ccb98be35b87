//! The built-in demo model `fraud-detector`: deterministic synthetic data and a champion `v1`
//! whose metrics are computed by evaluating its artifact on a holdout set.

#![expect(
    clippy::indexing_slicing,
    reason = "the demo's generator, trainer and metrics index arrays whose lengths they set \
              a few lines above; the demo is not a production path"
)]

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
