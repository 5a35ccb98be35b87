//! Model-quality metrics over scored and labelled rows, as scikit-learn defines them, each with
//! a bootstrap interval. Every metric is computed on weighted rows (a weight is how many times a
//! row is drawn), so one sort of the scores serves the point estimate and every resample.
//!
//! A metric that is not defined on the rows (ROC AUC of a window with one class, precision with
//! no predicted positive, R² of a constant target) is `None`, never a made-up number.

pub mod bootstrap;
pub mod cbpe;
pub mod classification;
pub mod isotonic;
pub mod regression;

pub use bootstrap::{Estimate, Interval};
