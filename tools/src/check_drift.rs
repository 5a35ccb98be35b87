//! `check_drift`: drift of a model's current data against its reference (training) data, with a
//! recommended action from the model's policy and the reasons in words.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use mlops_auth::Principal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::drift::profile_cache::{Lookup, ProfileCache};
use crate::drift::report::{self, DriftReport, Options};
use crate::drift::select::StatTest;
use crate::drift::source::{self, Schema, Table};
use crate::model::ModelSpec;
use crate::store::{Store, StoreError};

/// Input of `check_drift`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckDriftInput {
    /// The model to check (a `name` from list_models).
    pub model: String,
    /// Only these features (default: every feature of the model).
    pub features: Option<Vec<String>>,
    /// One test for every feature instead of the automatic choice: ks, wasserstein, psi,
    /// kl_div, jensenshannon, hellinger, chisquare, z, chi2_contingency (two-sample) or
    /// l_infinity.
    pub stattest: Option<StatTest>,
    /// One threshold for every feature instead of each test's default.
    pub threshold: Option<f64>,
}

/// What to do about the drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecommendedAction {
    /// No feature drifted.
    None,
    /// Some features drifted, below the model's dataset threshold: look, don't retrain yet.
    Investigate,
    /// The dataset drifted by the model's policy: retrain.
    Retrain,
}

impl RecommendedAction {
    pub fn as_str(self) -> &'static str {
        match self {
            RecommendedAction::None => "none",
            RecommendedAction::Investigate => "investigate",
            RecommendedAction::Retrain => "retrain",
        }
    }
}

/// Output of `check_drift` (also what `mlops://drift-reports/{id}` serves).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CheckDriftOutput {
    /// Id of the stored report; read it as `mlops://drift-reports/{report_id}`, and cite it
    /// when you trigger a retrain.
    pub report_id: String,
    pub model: String,
    pub checked_at: DateTime<Utc>,
    /// Sample sizes, per-feature results and the dataset verdict (the model policy's
    /// `drift_share` is the threshold).
    #[serde(flatten)]
    pub report: DriftReport,
    pub recommended_action: RecommendedAction,
    /// Why, in words.
    pub reasons: Vec<String>,
    /// What to do next.
    pub next_step: String,
    /// True when the reference profile came from the cache (the reference file is unchanged).
    #[serde(default)]
    pub reference_cached: bool,
}

/// A report as stored, with who asked for it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDriftReport {
    pub requested_by: String,
    pub output: CheckDriftOutput,
}

/// A refusal or failure an agent can act on.
#[derive(Debug, thiserror::Error)]
pub enum CheckDriftError {
    #[error("model `{0}` is not known; call list_models to see the models you may use")]
    UnknownModel(String),
    #[error("model `{0}` has no {1} data configured (models[].{1}_data); an operator must add it")]
    NoData(String, &'static str),
    #[error("{0}")]
    BadInput(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn schema(spec: &ModelSpec) -> Schema {
    spec.features
        .iter()
        .map(|f| (f.name.clone(), f.kind))
        .collect()
}

/// Reads the current file and the reference (from the profile cache when it is unchanged), one
/// thread each, and gives the reference the current data's column types.
fn read_pair(
    profiles: &ProfileCache,
    reference_path: &std::path::Path,
    current: &std::path::Path,
    schema: &Schema,
) -> Result<(Table, Table, Lookup), CheckDriftError> {
    let bad = |e: source::ReadError| CheckDriftError::BadInput(e.to_string());
    let (r, c) = std::thread::scope(|s| {
        let c = s.spawn(|| source::read(current, schema));
        let r = profiles.get_or_read(reference_path, schema);
        (r, c.join())
    });
    let c = c.map_err(|_| CheckDriftError::BadInput("the reader stopped".into()))?;
    let ((reference, lookup), current) = (r.map_err(bad)?, c.map_err(bad)?);
    let reference = source::align(&reference, &current, reference_path).map_err(bad)?;
    Ok((reference, current, lookup))
}

/// Runs `check_drift` for `principal` and stores the report.
pub async fn check_drift(
    store: &dyn Store,
    profiles: &Arc<ProfileCache>,
    principal: &Principal,
    input: &CheckDriftInput,
) -> Result<CheckDriftOutput, CheckDriftError> {
    let unknown = || CheckDriftError::UnknownModel(input.model.clone());
    if !principal.may_access_model(&input.model) {
        return Err(unknown());
    }
    let spec = store
        .get_model(&input.model)
        .await?
        .ok_or_else(unknown)?
        .spec;
    if let Some(t) = input.threshold
        && !(t.is_finite() && t >= 0.0)
    {
        return Err(CheckDriftError::BadInput(format!(
            "threshold {t}: use a number ≥ 0"
        )));
    }
    let reference_path = spec
        .reference_data
        .clone()
        .ok_or_else(|| CheckDriftError::NoData(spec.name.clone(), "reference"))?;
    let current_path = spec
        .current_data
        .clone()
        .ok_or_else(|| CheckDriftError::NoData(spec.name.clone(), "current"))?;
    let declared: Vec<String> = spec.features.iter().map(|f| f.name.clone()).collect();
    if let Some(wanted) = &input.features
        && let Some(bad) = wanted
            .iter()
            .find(|w| !declared.is_empty() && !declared.contains(w))
    {
        return Err(CheckDriftError::BadInput(format!(
            "`{bad}` is not a feature of `{}`; its features are {}",
            spec.name,
            declared.join(", ")
        )));
    }
    let schema = schema(&spec);
    // File reading and the statistics are CPU and disk work: keep them off the async threads.
    let cache = profiles.clone();
    let (reference, current, lookup) = tokio::task::spawn_blocking(move || {
        read_pair(&cache, &reference_path, &current_path, &schema)
    })
    .await
    .map_err(|e| CheckDriftError::BadInput(format!("the drift check stopped: {e}")))??;
    let options = Options {
        stattest: input.stattest,
        threshold: input.threshold,
        drift_share: Some(spec.policy.drift_share),
        features: input
            .features
            .clone()
            .or_else(|| (!declared.is_empty()).then_some(declared)),
    };
    let report = report::compare(&reference, &current, &options);
    let (action, reasons) = recommend(&report, spec.policy.drift_share);
    let report_id = uuid::Uuid::new_v4().to_string();
    let next_step = match action {
        RecommendedAction::Retrain => format!(
            "Call trigger_retrain with model \"{}\", a reason citing drift report {report_id}, and drift_report_id \"{report_id}\".",
            spec.name
        ),
        RecommendedAction::Investigate => {
            "Report the drifted features to the model owner; do not retrain yet.".into()
        }
        RecommendedAction::None => "Nothing to do; the model's data is stable.".into(),
    };
    let output = CheckDriftOutput {
        report_id,
        model: spec.name.clone(),
        checked_at: Utc::now(),
        report,
        recommended_action: action,
        reasons,
        next_step,
        reference_cached: lookup == Lookup::Cached,
    };
    store
        .save_drift_report(&StoredDriftReport {
            requested_by: principal.subject.clone(),
            output: output.clone(),
        })
        .await?;
    Ok(output)
}

fn recommend(r: &report::DriftReport, drift_share: f64) -> (RecommendedAction, Vec<String>) {
    let mut reasons = vec![format!(
        "{} of {} features drifted (share {:.2} {} {drift_share})",
        r.drifted_features,
        r.tested_features,
        r.drifted_share,
        if r.dataset_drift { "≥" } else { "<" }
    )];
    for f in r.features.iter().filter(|f| f.drift_detected) {
        let mut why = format!(
            "`{}` drifted: {} = {:.4} (threshold {})",
            f.name,
            f.stattest.map_or("?", StatTest::name),
            f.score.unwrap_or(f64::NAN),
            f.threshold.unwrap_or(f64::NAN)
        );
        if !f.new_categories.is_empty() {
            why.push_str(&format!(
                "; new categories: {}",
                f.new_categories.join(", ")
            ));
        }
        reasons.push(why);
    }
    for f in r.features.iter().filter(|f| f.untested_reason.is_some()) {
        reasons.push(format!(
            "`{}` not tested: {}",
            f.name,
            f.untested_reason.clone().unwrap_or_default()
        ));
    }
    let action = if r.dataset_drift {
        RecommendedAction::Retrain
    } else if r.drifted_features > 0 {
        RecommendedAction::Investigate
    } else {
        RecommendedAction::None
    };
    reasons[0].push_str(&format!("; {}", action.as_str()));
    (action, reasons)
}
