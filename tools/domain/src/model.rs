//! Models as declared in configuration, and the versions the registry keeps.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A model declared in configuration. Synced into the store at start-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Unique name, e.g. `fraud-detector` (letters, digits, `-`, `_`, `.`).
    pub name: String,
    /// One or two sentences on what the model does.
    #[serde(default)]
    pub description: String,
    /// Team or person accountable for the model.
    #[serde(default)]
    pub owner: String,
    /// Learning task, e.g. `binary_classification`, `regression`.
    #[serde(default = "default_task")]
    pub task: String,
    /// Labels to filter a fleet by in `list_models` (e.g. `"team:payments"`, `"eu"`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// What the model is meant to be used for (shown in the model card).
    #[serde(default)]
    pub intended_use: String,
    /// Known limitations (shown in the model card).
    #[serde(default)]
    pub limitations: Vec<String>,
    /// Name of the label column in training data and ingested rows, if any.
    #[serde(default)]
    pub label: Option<String>,
    /// Name of the column of ingested rows holding the model's prediction: the positive class's
    /// score for binary classification, the predicted value for regression.
    #[serde(default = "default_prediction")]
    pub prediction: String,
    /// A classifier's decision threshold: positive when the score is at least this.
    #[serde(default = "default_threshold")]
    pub decision_threshold: f64,
    /// The feature schema: each input column and whether it is numeric or categorical.
    #[serde(default)]
    pub features: Vec<FeatureSpec>,
    /// The reference (training) dataset drift is measured against: a file (CSV, Parquet or JSON
    /// lines), or a partitioned Parquet dataset (a directory, a glob, or an `s3://`, `gs://` or
    /// `az://` URL; hive-style `dt=YYYY-MM-DD/` partitions).
    #[serde(default)]
    pub reference_data: Option<PathBuf>,
    /// The most recent production data, a file or a dataset as `reference_data`: compared with
    /// the reference when a drift check names no window. When it is a dataset, a window (`last`,
    /// `from`/`to`) reads the dataset's partitions and row groups in it, not ingested rows.
    #[serde(default)]
    pub current_data: Option<PathBuf>,
    /// The column of a dataset that holds each row's time (a Parquet timestamp): windows skip the
    /// row groups whose statistics fall outside them.
    #[serde(default)]
    pub time_column: Option<String>,
    /// Labelled rows scored by the champion (its holdout, ideally), CSV or JSON lines with the
    /// `prediction` and label columns: what estimates of a binary classifier's quality before
    /// labels arrive are calibrated on. Default: `reference_data`.
    #[serde(default)]
    pub calibration_data: Option<PathBuf>,
    /// Decision thresholds for drift, retraining and validation.
    #[serde(default)]
    pub policy: ModelPolicy,
    /// How the model is retrained and the cost controls on it (none: no retraining).
    #[serde(default)]
    pub retrain: Option<crate::retrain_spec::RetrainSpec>,
    /// Where versions and the champion alias live (none: the embedded registry only).
    #[serde(default)]
    pub registry: Option<crate::registry_spec::RegistrySpec>,
    /// A check the server runs on a schedule (none: only agents check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor: Option<crate::monitor::MonitorSpec>,
}

fn default_task() -> String {
    "binary_classification".into()
}

fn default_prediction() -> String {
    "prediction".into()
}

fn default_threshold() -> f64 {
    0.5
}

/// One input column of a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeatureSpec {
    /// Column name.
    pub name: String,
    /// `numeric`, `categorical` or `text`.
    pub kind: FeatureKind,
}

/// Type of a feature column.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FeatureKind {
    Numeric,
    Categorical,
    /// Free text (more than half the values distinct): reported, not drift-tested.
    Text,
}

/// Decision thresholds of one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelPolicy {
    /// Share of drifted features at or above which the dataset counts as drifted (0..=1).
    #[serde(default = "default_drift_share")]
    pub drift_share: f64,
    /// Per-feature test threshold; `None` uses each statistical test's default.
    #[serde(default)]
    pub stattest_threshold: Option<f64>,
    /// Fewest rows each sample (reference and current) needs for a drift verdict; below it
    /// `check_drift` answers "insufficient data" and recommends nothing.
    #[serde(default = "default_min_rows")]
    pub min_rows: usize,
    /// Most ingested rows kept for this model (default: the server's
    /// `limits.max_rows_per_model`); a request past it stores nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ingested_rows: Option<u64>,
    /// How long ingested rows (and their late labels) are kept, e.g. `"30d"`; older ones are
    /// deleted by the server's retention sweep. None: kept until `max_ingested_rows` refuses more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retain: Option<String>,
    /// Metric rules a candidate must pass against the champion before it may be promoted.
    #[serde(default)]
    pub validation: Vec<ValidationRule>,
    /// Metric rules the live quality (`check_performance`) must pass against the champion's
    /// registered metrics; a failed rule means the model degraded.
    #[serde(default)]
    pub performance: Vec<ValidationRule>,
    /// Fewest labelled rows a quality verdict needs; below it `check_performance` says so and
    /// falls back to drift.
    #[serde(default = "default_min_rows")]
    pub min_labels: usize,
}

fn default_drift_share() -> f64 {
    0.5
}

/// 100 rows: below it a two-sample KS test at the 0.05 level misses shifts smaller than about
/// a fifth of the distribution (1.36·sqrt(2/n) ≈ 0.19), and a chi-square test of a handful of
/// categories has expected counts under 5, so a verdict would be noise either way.
fn default_min_rows() -> usize {
    100
}

impl ModelPolicy {
    /// How long ingested rows are kept, if the policy says.
    pub fn retention(&self) -> Option<std::time::Duration> {
        humantime::parse_duration(self.retain.as_deref()?.trim()).ok()
    }
}

impl Default for ModelPolicy {
    fn default() -> Self {
        Self {
            drift_share: default_drift_share(),
            min_rows: default_min_rows(),
            max_ingested_rows: None,
            retain: None,
            stattest_threshold: None,
            validation: Vec::new(),
            performance: Vec::new(),
            min_labels: default_min_rows(),
        }
    }
}

/// One validation rule, with MLflow `MetricThreshold` semantics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidationRule {
    /// Metric name, e.g. `roc_auc`.
    pub metric: String,
    /// Absolute bound the candidate must reach.
    #[serde(default)]
    pub threshold: Option<f64>,
    /// Minimum absolute improvement over the champion.
    #[serde(default)]
    pub min_absolute_change: Option<f64>,
    /// Minimum improvement relative to |champion| (0..=1).
    #[serde(default)]
    pub min_relative_change: Option<f64>,
    /// Whether larger values are better.
    #[serde(default = "yes")]
    pub greater_is_better: bool,
}

fn yes() -> bool {
    true
}

/// Whether `name` may name a model: 1-128 letters, digits, `-`, `_` or `.`, not starting with
/// `.` (so a name put into a path template never climbs out of its directory).
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

impl ModelSpec {
    /// Problems a user must fix, each naming the offending field.
    pub fn problems(&self, index: usize) -> Vec<String> {
        let at = format!("models[{index}]");
        let mut out = Vec::new();
        if !is_valid_name(&self.name) {
            out.push(format!(
                "{at}.name = {:?}: use 1-128 letters, digits, '-', '_' or '.', not starting with '.'",
                self.name
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, f) in self.features.iter().enumerate() {
            if !seen.insert(f.name.as_str()) {
                out.push(format!(
                    "{at}.features[{i}].name = {:?}: declared twice",
                    f.name
                ));
            }
        }
        if !(0.0..=1.0).contains(&self.policy.drift_share) || self.policy.drift_share == 0.0 {
            out.push(format!(
                "{at}.policy.drift_share = {}: must be in (0, 1]",
                self.policy.drift_share
            ));
        }
        if !(self.decision_threshold.is_finite() && (0.0..=1.0).contains(&self.decision_threshold))
        {
            out.push(format!(
                "{at}.decision_threshold = {}: must be in [0, 1]",
                self.decision_threshold
            ));
        }
        if self.policy.min_labels == 0 {
            out.push(format!("{at}.policy.min_labels = 0: must be at least 1"));
        }
        if let Some(retain) = &self.policy.retain {
            match self.policy.retention() {
                Some(d) if d >= std::time::Duration::from_secs(3600) => {}
                _ => out.push(format!(
                    "{at}.policy.retain = {retain:?}: use a duration of at least an hour, e.g. \"30d\""
                )),
            }
        }
        if self.policy.min_rows == 0 {
            out.push(format!(
                "{at}.policy.min_rows = 0: must be at least 1 (the default is {})",
                default_min_rows()
            ));
        }
        if let Some(r) = &self.retrain {
            out.extend(r.problems(&format!("{at}.retrain")));
        }
        if let Some(r) = &self.registry {
            out.extend(r.problems(&format!("{at}.registry")));
        }
        if let Some(m) = &self.monitor {
            out.extend(m.problems(&format!("{at}.monitor")));
        }
        for (i, t) in self.tags.iter().enumerate() {
            if t.is_empty() || t.len() > 64 || t.chars().any(char::is_control) {
                out.push(format!(
                    "{at}.tags[{i}] = {t:?}: use 1-64 printable characters"
                ));
            }
        }
        for (i, r) in self.policy.validation.iter().enumerate() {
            if let Some(c) = r.min_relative_change
                && !(0.0..=1.0).contains(&c)
            {
                out.push(format!(
                    "{at}.policy.validation[{i}].min_relative_change = {c}: must be in [0, 1]"
                ));
            }
        }
        out
    }
}

/// A version in the embedded registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModelVersion {
    /// Model name.
    pub model: String,
    /// Version label, e.g. `v1`.
    pub version: String,
    /// Evaluation metrics on the holdout, by name.
    pub metrics: BTreeMap<String, f64>,
    /// Where the artifact lives.
    pub artifact_uri: String,
    /// `sha256:<hex>` of the artifact's bytes.
    pub artifact_digest: String,
    /// The job that produced it, if any.
    pub training_job: Option<String>,
    /// Description of the training data snapshot (path and digest).
    pub data_snapshot: Option<String>,
    /// Who registered it.
    pub created_by: String,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// The champion's metrics re-measured on this version's holdout, if the trainer did so.
    pub baseline: Option<Baseline>,
}

/// A champion's metrics measured on a candidate's holdout data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Baseline {
    /// The champion version measured.
    pub version: String,
    pub metrics: BTreeMap<String, f64>,
    /// Both versions per category of the holdout's categorical features, if the trainer
    /// measured them.
    #[serde(default)]
    pub segments: Vec<SegmentMetrics>,
}

/// One category of a categorical feature in the holdout, with both versions' metrics on its
/// rows. Every name in it is the trainer's text: data, never markup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SegmentMetrics {
    pub feature: String,
    pub category: String,
    /// Holdout rows in the segment.
    pub rows: u64,
    pub candidate: BTreeMap<String, f64>,
    pub champion: BTreeMap<String, f64>,
}

/// A version to register.
#[derive(Debug, Clone, PartialEq)]
pub struct NewVersion {
    pub model: String,
    pub version: String,
    pub metrics: BTreeMap<String, f64>,
    pub artifact_uri: String,
    pub artifact_digest: String,
    pub training_job: Option<String>,
    pub data_snapshot: Option<String>,
    pub created_by: String,
    pub baseline: Option<Baseline>,
}

/// A named pointer to a version, e.g. `champion`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Alias {
    pub alias: String,
    pub version: String,
    pub set_by: String,
    pub set_at: DateTime<Utc>,
}

/// One move of an alias, kept forever: the model card's approval history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AliasChange {
    pub alias: String,
    pub version: String,
    pub previous_version: Option<String>,
    pub set_by: String,
    pub reason: String,
    pub set_at: DateTime<Utc>,
}

/// The name of the alias that marks the production version.
pub const CHAMPION: &str = "champion";

/// A model as stored: its spec plus registry state.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRecord {
    pub spec: ModelSpec,
    pub versions: Vec<ModelVersion>,
    pub aliases: Vec<Alias>,
}

impl ModelRecord {
    /// The version an alias points at.
    pub fn aliased(&self, alias: &str) -> Option<&ModelVersion> {
        let target = self.aliases.iter().find(|a| a.alias == alias)?;
        self.versions.iter().find(|v| v.version == target.version)
    }
}
