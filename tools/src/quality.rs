//! Model quality over scored rows: the metrics of the model's task with their intervals, and the
//! same per category of each categorical feature. What `check_performance` and
//! `mlops-mcp quality` compute; the statistics themselves are in `mlops-quality`.

use std::collections::BTreeMap;

use mlops_quality::{Estimate, bootstrap, cbpe, classification, regression};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The learning tasks quality is measured for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// The prediction is the positive class's score in [0, 1]; the label is 0 or 1.
    BinaryClassification,
    /// The prediction and the label are numbers.
    Regression,
}

impl Task {
    /// The task of a model's `task` setting, if quality can be measured for it.
    pub fn of(task: &str) -> Option<Self> {
        match task {
            "binary_classification" | "classification" => Some(Task::BinaryClassification),
            "regression" => Some(Task::Regression),
            _ => None,
        }
    }

    /// Metric names and whether larger is better.
    pub fn metrics(self) -> Vec<(&'static str, bool)> {
        match self {
            Task::BinaryClassification => classification::METRICS
                .into_iter()
                .zip(classification::GREATER_IS_BETTER)
                .collect(),
            Task::Regression => regression::METRICS
                .into_iter()
                .zip(regression::GREATER_IS_BETTER)
                .collect(),
        }
    }
}

/// One row with both a prediction and a label.
#[derive(Debug, Clone, PartialEq)]
pub struct Labelled {
    pub prediction: f64,
    pub label: f64,
}

/// Metrics by name, each with its interval.
pub type Metrics = BTreeMap<String, Estimate>;

/// Why rows cannot be measured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QualityError {
    #[error("row {row}: the label {label} is not 0 or 1 (binary classification)")]
    NotBinary { row: usize, label: String },
    #[error("row {row}: the prediction {prediction} is not a score in [0, 1]")]
    NotAScore { row: usize, prediction: String },
    #[error("row {row}: a prediction or label is not a finite number")]
    NotFinite { row: usize },
}

/// Checks the rows for the task.
pub fn check_rows(task: Task, rows: &[Labelled]) -> Result<(), QualityError> {
    for (i, r) in rows.iter().enumerate() {
        if !r.prediction.is_finite() || !r.label.is_finite() {
            return Err(QualityError::NotFinite { row: i + 1 });
        }
        if task == Task::BinaryClassification {
            if r.label != 0.0 && r.label != 1.0 {
                return Err(QualityError::NotBinary {
                    row: i + 1,
                    label: r.label.to_string(),
                });
            }
            if !(0.0..=1.0).contains(&r.prediction) {
                return Err(QualityError::NotAScore {
                    row: i + 1,
                    prediction: r.prediction.to_string(),
                });
            }
        }
    }
    Ok(())
}

/// Every metric of `task` on `rows` (checked by [`check_rows`]) with bootstrap intervals;
/// `threshold` is the classifier's decision threshold.
pub fn measure(task: Task, rows: &[Labelled], threshold: f64) -> Metrics {
    let names = task.metrics();
    let estimates: Vec<Estimate> = match task {
        Task::BinaryClassification => {
            let scores: Vec<f64> = rows.iter().map(|r| r.prediction).collect();
            let labels: Vec<bool> = rows.iter().map(|r| r.label == 1.0).collect();
            let scored = classification::Scored::new(&scores, &labels);
            bootstrap::estimate(scored.len(), |w| scored.metrics(w, threshold)).to_vec()
        }
        Task::Regression => {
            let predicted: Vec<f64> = rows.iter().map(|r| r.prediction).collect();
            let actual: Vec<f64> = rows.iter().map(|r| r.label).collect();
            bootstrap::estimate(rows.len(), |w| regression::metrics(&predicted, &actual, w))
                .to_vec()
        }
    };
    names
        .into_iter()
        .zip(estimates)
        .map(|((name, _), e)| (name.to_owned(), e))
        .collect()
}

/// What every estimate assumes, said with it.
pub const ESTIMATE_ASSUMPTIONS: &str = "an estimate, not a measurement: confidence-based \
(CBPE), it assumes the calibrated scores are the true probabilities of the positive class \
(calibration learnt on the labelled reference still holds) and no concept drift (the link \
from inputs to labels is the reference's)";

/// Metrics of a binary classifier estimated from its scores alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Estimated {
    /// Scored rows the estimate covers.
    pub rows: usize,
    /// Estimated accuracy, precision, recall, f1 and roc_auc (`null` where undefined).
    pub metrics: BTreeMap<String, Option<f64>>,
    /// `isotonic` or `none`: how scores became probabilities, learnt on the reference.
    pub calibration: String,
    /// Why that calibration.
    pub calibration_reason: String,
    pub assumptions: String,
}

/// Estimates the metrics of a binary classifier on `scores` (no labels needed) with calibration
/// learnt from labelled `reference` rows (checked by [`check_rows`]).
pub fn estimate(reference: &[Labelled], scores: &[f64], threshold: f64) -> Estimated {
    let ref_scores: Vec<f64> = reference.iter().map(|r| r.prediction).collect();
    let ref_labels: Vec<bool> = reference.iter().map(|r| r.label == 1.0).collect();
    let calibration = cbpe::Calibration::fit(&ref_scores, &ref_labels);
    let probabilities: Vec<f64> = scores.iter().map(|s| calibration.probability(*s)).collect();
    let values = cbpe::estimate(scores, &probabilities, threshold);
    Estimated {
        rows: scores.len(),
        metrics: cbpe::METRICS
            .iter()
            .zip(values)
            .map(|(name, v)| ((*name).to_owned(), v))
            .collect(),
        calibration: if calibration.is_isotonic() {
            "isotonic"
        } else {
            "none"
        }
        .to_owned(),
        calibration_reason: calibration.why.to_owned(),
        assumptions: ESTIMATE_ASSUMPTIONS.to_owned(),
    }
}
