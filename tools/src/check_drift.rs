//! `check_drift`: drift of a model's current data against its reference (training) data, with a
//! recommended action from the model's policy and the reasons in words.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use mlops_auth::Principal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::blocks::{BlockError, Blocks};
use crate::datasets;
use crate::drift::profile_cache::{Lookup, ProfileCache};
use crate::drift::report::{self, DriftReport, FeatureDrift, Options};
use crate::drift::select::StatTest;
use crate::drift::source::{self, Schema, Table};
use crate::model::ModelSpec;
use crate::records::{self, Window};
use crate::store::{Store, StoreError};
pub use mlops_domain::drift_record::{DriftRecord, RecommendedAction};

/// Input of `check_drift`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckDriftInput {
    /// The model to check (a `name` from list_models).
    pub model: String,
    /// Only these features (default: every feature of the model).
    pub features: Option<Vec<String>>,
    /// One test for every feature instead of the automatic choice.
    pub stattest: Option<StatTest>,
    /// One threshold for every feature instead of each test's default.
    pub threshold: Option<f64>,
    /// Check the rows ingested in this last period (e.g. "24h", "7d") instead of the model's
    /// configured current data.
    pub last: Option<String>,
    /// Check the rows ingested from this time (RFC 3339) instead of the configured current data.
    pub from: Option<DateTime<Utc>>,
    /// End (exclusive) of the `from` window; default now.
    pub to: Option<DateTime<Utc>>,
    /// Compare against the rows ingested from this time instead of the training snapshot.
    pub reference_from: Option<DateTime<Utc>>,
    /// End (exclusive) of the `reference_from` window.
    pub reference_to: Option<DateTime<Utc>>,
}

/// What `check_drift` works with besides the store.
#[derive(Clone)]
pub struct DriftEnv {
    pub profiles: Arc<ProfileCache>,
    /// Most ingested rows one window may hold (a bound on memory).
    pub max_window_rows: usize,
    /// Where ingested rows are kept.
    pub blocks: Arc<Blocks>,
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
    /// Where the current sample came from (a file, or ingested rows in a window).
    pub current_source: String,
    /// Where the reference sample came from (the training snapshot, or ingested rows).
    pub reference_source: String,
    /// True when the reference profile came from the cache (the reference file is unchanged).
    #[serde(default)]
    pub reference_cached: bool,
    /// Drift of the model's predictions, when both samples carry them (not in the verdict).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prediction_drift: Option<FeatureDrift>,
}

impl CheckDriftOutput {
    /// Whether the check gave a verdict (both samples had the policy's `min_rows`).
    pub fn has_verdict(&self) -> bool {
        !self
            .reasons
            .first()
            .is_some_and(|r| r.starts_with(INSUFFICIENT))
    }

    /// The report as the store keeps it.
    pub fn record(&self, requested_by: &str) -> Result<DriftRecord, StoreError> {
        let document =
            serde_json::to_string(self).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(DriftRecord {
            id: self.report_id.clone(),
            model: self.model.clone(),
            checked_at: self.checked_at,
            requested_by: requested_by.to_owned(),
            dataset_drift: self.report.dataset_drift,
            drifted_share: self.report.drifted_share,
            recommended_action: self.recommended_action,
            format: mlops_domain::drift_record::FORMAT,
            document,
        })
    }

    /// The output a stored report was written from.
    pub fn from_record(r: &DriftRecord) -> Result<Self, StoreError> {
        if r.format != mlops_domain::drift_record::FORMAT {
            return Err(StoreError::Corrupt(format!(
                "drift report {} is in format {}; this build reads format {}",
                r.id,
                r.format,
                mlops_domain::drift_record::FORMAT
            )));
        }
        serde_json::from_str(&r.document)
            .map_err(|e| StoreError::Corrupt(format!("drift report {}: {e}", r.id)))
    }
}

/// A refusal or failure an agent can act on.
#[derive(Debug, thiserror::Error)]
pub enum CheckDriftError {
    #[error("model `{0}` is not known; call list_models to see the models you may use")]
    UnknownModel(String),
    #[error(
        "model `{0}` has no {1} data configured (models[].{1}_data); pass a window of ingested rows (`last`, or `from`/`to`) or ask an operator to configure it"
    )]
    NoData(String, &'static str),
    #[error("{0}")]
    BadInput(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn schema(spec: &ModelSpec) -> Schema {
    let mut schema: Schema = spec
        .features
        .iter()
        .map(|f| (f.name.clone(), f.kind))
        .collect();
    // The model's own scores, when the data carries them: compared as a number.
    schema
        .entry(spec.prediction.clone())
        .or_insert(crate::model::FeatureKind::Numeric);
    schema
}

/// A sample to compare: a file, or rows already read into a table (ingested rows or a
/// dataset), with what they are.
enum Sample {
    File(PathBuf),
    Loaded(Table, String),
}

impl Sample {
    fn describe(&self) -> String {
        match self {
            Sample::File(p) => format!("file {}", p.display()),
            Sample::Loaded(_, what) => what.clone(),
        }
    }
}

/// Builds both tables (files on their own thread; the reference file from the profile cache
/// when it is unchanged) and gives the reference the current data's column types.
fn load_pair(
    profiles: &ProfileCache,
    reference: Sample,
    current: Sample,
    schema: &Schema,
) -> Result<(Arc<Table>, Table, Lookup), CheckDriftError> {
    let bad = CheckDriftError::BadInput;
    let path = match &reference {
        Sample::File(p) => Some(p.clone()),
        Sample::Loaded(..) => None,
    };
    let read_current = move || match current {
        Sample::File(path) => source::read(&path, schema).map_err(|e| e.to_string()),
        Sample::Loaded(table, _) => Ok(table),
    };
    let (r, c) = std::thread::scope(|s| {
        let c = s.spawn(read_current);
        let r = match reference {
            Sample::File(path) => profiles
                .get_or_read(&path, schema)
                .map_err(|e| e.to_string()),
            Sample::Loaded(table, _) => Ok((Arc::new(table), Lookup::Read)),
        };
        (r, c.join())
    });
    let c = c.map_err(|_| bad("the reader stopped".into()))?;
    let ((r, lookup), c) = (r.map_err(bad)?, c.map_err(bad)?);
    let r = source::align_shared(r, &c, path.as_deref()).map_err(|e| bad(e.to_string()))?;
    Ok((r, c, lookup))
}

/// The rows of `model` in `w` as a table; refused before reading when the window's blocks hold
/// more than `limit` rows.
async fn rows(
    store: &dyn Store,
    env: &DriftEnv,
    model: &str,
    w: Window,
    what: &str,
    schema: &Schema,
) -> Result<Sample, CheckDriftError> {
    let limit = env.max_window_rows as u64;
    let held = env
        .blocks
        .rows_in(store, model, w)
        .await
        .map_err(BlockError::into_store)?;
    if held > limit {
        return Err(CheckDriftError::BadInput(format!(
            "the {what} window from {w} reaches {held} ingested rows, more than limits.max_window_rows ({limit}, a bound on memory: about 8 bytes per numeric value); narrow the window or raise the limit"
        )));
    }
    match env
        .blocks
        .table(store, model, w, schema)
        .await
        .map_err(BlockError::into_store)?
    {
        Some(t) => {
            let what = format!("{} ingested rows from {w}", t.table.rows);
            Ok(Sample::Loaded(t.table, what))
        }
        None => Err(CheckDriftError::BadInput(format!(
            "no {what} rows of `{model}` were ingested from {w}; send rows with POST /v1/models/{model}/records or widen the window"
        ))),
    }
}

/// The rows of the dataset at `data` in `w` (all of it without a window) as a table.
async fn dataset(
    env: &DriftEnv,
    spec: &ModelSpec,
    data: &std::path::Path,
    w: Option<Window>,
    what: &str,
    schema: &Schema,
) -> Result<Sample, CheckDriftError> {
    let bad = CheckDriftError::BadInput;
    let location = datasets::open(data).map_err(|e| bad(format!("{what} data: {e}")))?;
    let time_column = spec.time_column.as_deref();
    let read = datasets::table(&location, w, time_column, schema, env.max_window_rows)
        .await
        .map_err(|e| bad(format!("{what} data: {e}")))?;
    let within = w.map(|w| format!(" from {w}")).unwrap_or_default();
    match read {
        Some(t) if t.table.rows > 0 => {
            let what = t.describe(&location.display);
            tracing::info!(model = %spec.name, dataset = %location.display, objects_listed = t.listed, objects_read = t.read, row_groups = t.groups, row_groups_read = t.groups_read, rows = t.table.rows, "dataset read");
            Ok(Sample::Loaded(t.table, what))
        }
        _ => Err(bad(format!(
            "the {what} dataset {} holds no rows{within}",
            location.display
        ))),
    }
}

/// The sample for `data` (the model's reference or current data) and an optional window: a
/// dataset is read (in the window), a file is the file without a window, and a window over a
/// file means the model's ingested rows.
async fn sample(
    store: &dyn Store,
    env: &DriftEnv,
    spec: &ModelSpec,
    data: Option<&PathBuf>,
    w: Option<Window>,
    what: &'static str,
    schema: &Schema,
) -> Result<Sample, CheckDriftError> {
    match (data, w) {
        (Some(d), w) if datasets::is_dataset(d) => dataset(env, spec, d, w, what, schema).await,
        (_, Some(w)) => rows(store, env, &spec.name, w, what, schema).await,
        (Some(d), None) => Ok(Sample::File(d.clone())),
        (None, None) => Err(CheckDriftError::NoData(spec.name.clone(), what)),
    }
}

/// Runs `check_drift` for `principal` and stores the report.
pub async fn check_drift(
    store: &dyn Store,
    env: &DriftEnv,
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
    let now = Utc::now();
    let bad = CheckDriftError::BadInput;
    let window = records::window(input.last.as_deref(), input.from, input.to, now).map_err(bad)?;
    let reference_window = match (input.reference_from, input.reference_to) {
        (None, None) => None,
        (Some(from), to) => records::window(None, Some(from), to, now).map_err(bad)?,
        (None, Some(_)) => return Err(bad("`reference_to` needs a `reference_from`".into())),
    };
    let schema = schema(&spec);
    let current = sample(
        store,
        env,
        &spec,
        spec.current_data.as_ref(),
        window,
        "current",
        &schema,
    )
    .await?;
    let reference = sample(
        store,
        env,
        &spec,
        spec.reference_data.as_ref(),
        reference_window,
        "reference",
        &schema,
    )
    .await?;
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
    // File reading and the statistics are CPU and disk work: keep them off the async threads.
    let (current_source, reference_source) = (current.describe(), reference.describe());
    let cache = env.profiles.clone();
    let (reference, current, lookup) =
        tokio::task::spawn_blocking(move || load_pair(&cache, reference, current, &schema))
            .await
            .map_err(|e| CheckDriftError::BadInput(format!("the drift check stopped: {e}")))??;
    // A declared feature absent from a file is a broken data set-up, not drift.
    for (table, source) in [
        (&*reference, &reference_source),
        (&current, &current_source),
    ] {
        if let Some(missing) = declared.iter().find(|f| table.column(f).is_none()) {
            let has: Vec<&str> = table.columns.iter().map(|(n, _)| n.as_str()).collect();
            return Err(CheckDriftError::BadInput(format!(
                "{source}: column `{missing}` (a feature of `{}`) is missing; the data has columns {}",
                spec.name,
                has.join(", ")
            )));
        }
    }
    let options = Options {
        stattest: input.stattest,
        threshold: input.threshold,
        drift_share: Some(spec.policy.drift_share),
        features: input
            .features
            .clone()
            .or_else(|| (!declared.is_empty()).then_some(declared)),
    };
    let mut report = report::compare(&reference, &current, &options);
    let predicted = !spec.features.is_empty()
        && !spec.features.iter().any(|f| f.name == spec.prediction)
        && reference.column(&spec.prediction).is_some()
        && current.column(&spec.prediction).is_some();
    let prediction_drift = predicted
        .then(|| {
            let only = Options {
                features: Some(vec![spec.prediction.clone()]),
                ..options.clone()
            };
            report::compare(&reference, &current, &only)
                .features
                .into_iter()
                .next()
        })
        .flatten();
    let (action, mut reasons) = match insufficient(&report, spec.policy.min_rows) {
        Some(why) => {
            report.dataset_drift = false;
            (RecommendedAction::None, vec![why])
        }
        None => recommend(&report, spec.policy.drift_share),
    };
    if let Some(p) = prediction_drift.as_ref().filter(|p| p.drift_detected) {
        reasons.push(format!(
            "the model's predictions (`{}`) drifted too: {} score {:.4} (threshold {:.4})",
            p.name,
            p.stattest.map_or("—".to_owned(), |t| t.to_string()),
            p.score.unwrap_or(f64::NAN),
            p.threshold.unwrap_or(f64::NAN)
        ));
    }
    let report_id = uuid::Uuid::new_v4().to_string();
    let next_step = match action {
        RecommendedAction::Retrain => format!(
            "Call trigger_retrain with model \"{}\", a reason citing drift report {report_id}, and drift_report_id \"{report_id}\".",
            spec.name
        ),
        RecommendedAction::Investigate => {
            "Report the drifted features to the model owner; do not retrain yet.".into()
        }
        RecommendedAction::None if !report_is_sufficient(&report, spec.policy.min_rows) => format!(
            "Wait for more rows or widen the window: a verdict needs at least {} rows in each sample.",
            spec.policy.min_rows
        ),
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
        current_source,
        reference_source,
        reference_cached: lookup == Lookup::Cached,
        prediction_drift,
    };
    store
        .save_drift_report(&output.record(&principal.subject)?)
        .await?;
    Ok(output)
}

fn report_is_sufficient(r: &report::DriftReport, min_rows: usize) -> bool {
    r.reference_rows >= min_rows && r.current_rows >= min_rows
}

/// How the first reason of a check without a verdict begins.
const INSUFFICIENT: &str = "insufficient data: ";

/// "insufficient data: …" when a sample is smaller than the policy's `min_rows`.
fn insufficient(r: &report::DriftReport, min_rows: usize) -> Option<String> {
    if report_is_sufficient(r, min_rows) {
        return None;
    }
    let (which, n) = if r.current_rows < min_rows {
        ("current", r.current_rows)
    } else {
        ("reference", r.reference_rows)
    };
    Some(format!(
        "{INSUFFICIENT}{n} rows, at least {min_rows} needed (the {which} sample; policy.min_rows); no verdict"
    ))
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
            // Category values come from the data: no control characters, no unbounded length.
            let shown: Vec<String> = f
                .new_categories
                .iter()
                .take(20)
                .map(|c| crate::untrusted::strip_controls(&c.chars().take(64).collect::<String>()))
                .collect();
            why.push_str(&format!("; new categories: {}", shown.join(", ")));
            if f.new_categories.len() > shown.len() {
                why.push_str(&format!(
                    " and {} more",
                    f.new_categories.len() - shown.len()
                ));
            }
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
    if let Some(first) = reasons.first_mut() {
        first.push_str(&format!("; {}", action.as_str()));
    }
    (action, reasons)
}
