//! `check_performance`: the model's realised quality over a window of ingested rows that carry
//! both its prediction and their label, against the champion's registered metrics, per segment,
//! and what to do about it. Rows without a label are counted, not measured.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use mlops_auth::Principal;
use mlops_quality::Estimate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::blocks::BlockError;
use crate::calibration_rows;
use crate::check_drift::DriftEnv;
use crate::check_drift::RecommendedAction;
use crate::model::{CHAMPION, FeatureKind, ModelSpec, ValidationRule};
use crate::quality::{self, Estimated, Labelled, Task};
use crate::record::WindowRow;
use crate::records;
use crate::store::{Store, StoreError};
use crate::validation::rules::{self, MetricCheck};
use mlops_domain::quality_record::QualityRecord;

/// Segments named in the output, worst first.
const MAX_SEGMENTS: usize = 10;
/// Fewest labelled rows a segment needs to be ranked.
const MIN_SEGMENT_ROWS: usize = 20;

/// Input of `check_performance`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckPerformanceInput {
    /// The model to check (a `name` from list_models).
    pub model: String,
    /// The rows ingested in this last period, e.g. "24h", "7d" (default "24h").
    pub last: Option<String>,
    /// Rows ingested from this time (RFC 3339) instead of `last`.
    pub from: Option<DateTime<Utc>>,
    /// End (exclusive) of the `from` window; default now.
    pub to: Option<DateTime<Utc>>,
}

/// A metric that degraded: its value in the window against the champion's registered value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Degradation {
    pub metric: String,
    pub value: f64,
    pub champion: f64,
    /// `value - champion`.
    pub change: f64,
    /// The rule or the interval that says so.
    pub why: String,
}

/// One category of a categorical feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Segment {
    pub feature: String,
    pub category: String,
    /// Labelled rows in the segment.
    pub count: usize,
    pub metric: String,
    pub value: Option<f64>,
    /// The segment's value minus the whole window's (in the metric's better direction: negative
    /// is worse).
    pub versus_window: Option<f64>,
}

/// Output of `check_performance` (also what `mlops://quality-reports/{id}` serves).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CheckPerformanceOutput {
    /// `mlops://quality-reports/{id}`; trigger_retrain takes it as `drift_report_id`.
    pub report_id: String,
    pub model: String,
    pub task: Task,
    pub checked_at: DateTime<Utc>,
    /// The window checked.
    pub window: String,
    /// Rows in the window with a prediction.
    pub rows: usize,
    /// Of those, rows with a label: the only ones measured.
    pub labelled_rows: usize,
    /// `labelled_rows / rows`.
    pub labelled_share: f64,
    /// Median seconds from a row to its late label.
    pub label_delay_seconds: Option<f64>,
    /// Each metric with its 95 % interval (none with too few labels).
    pub metrics: BTreeMap<String, Estimate>,
    /// The champion version whose registered metrics were compared with.
    pub champion: Option<String>,
    /// Metrics worse than the champion's (by the `performance` rules, else the interval).
    pub degraded: Vec<Degradation>,
    /// Categories of categorical features, worst first.
    pub segments: Vec<Segment>,
    /// Classifiers: metrics estimated (CBPE) for the rows without a label yet.
    pub estimated: Option<Estimated>,
    /// Estimated metrics failing the `performance` rules.
    pub estimated_degraded: Vec<Degradation>,
    /// The newest drift report's recommendation, if any.
    pub drift: Option<RecommendedAction>,
    pub recommended_action: RecommendedAction,
    pub reasons: Vec<String>,
    pub next_step: String,
}

impl CheckPerformanceOutput {
    /// Whether the check measured enough labelled rows for a verdict of its own.
    pub fn has_verdict(&self) -> bool {
        !self.metrics.is_empty()
    }
}

/// Why `check_performance` refused.
#[derive(Debug, thiserror::Error)]
pub enum CheckPerformanceError {
    #[error("model `{0}` is not known; call list_models for the models you may see")]
    UnknownModel(String),
    #[error("{0}")]
    BadInput(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A label cell as 0/1 or a number.
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

struct Row {
    labelled: Labelled,
    segments: Vec<(String, String)>,
}

/// What the window's rows hold for quality.
struct Parsed {
    /// Rows with a prediction.
    predicted: usize,
    /// Of those, the labelled ones.
    rows: Vec<Row>,
    /// Seconds from each late-labelled row to its label.
    delays: Vec<f64>,
    /// The predictions of rows without a label yet.
    unlabelled: Vec<f64>,
}

/// The rows with a prediction (and, for each, its label if any: the row's own, else the one
/// sent later), and how long each late label took (seconds from the row to when it was known).
fn parse_rows(spec: &ModelSpec, rows: &[WindowRow]) -> Parsed {
    let label = spec.label.as_deref().unwrap_or("label");
    let categorical: Vec<&str> = spec
        .features
        .iter()
        .filter(|f| f.kind == FeatureKind::Categorical)
        .map(|f| f.name.as_str())
        .collect();
    let (mut predicted, mut out, mut delays, mut unlabelled) =
        (0, Vec::new(), Vec::new(), Vec::new());
    for window_row in rows {
        let row = &window_row.data;
        let Some(prediction) = row.get(&spec.prediction).and_then(number) else {
            continue;
        };
        predicted += 1;
        let own = row.get(label).and_then(number);
        let late = window_row.late_label.as_ref().and_then(|(text, at)| {
            let value = serde_json::from_str::<Value>(text)
                .ok()
                .as_ref()
                .and_then(number)?;
            Some((value, *at))
        });
        let label = match (own, late) {
            (Some(own), _) => own,
            (None, Some((value, at))) => {
                delays.push((at - window_row.timestamp).num_milliseconds() as f64 / 1000.0);
                value
            }
            (None, None) => {
                unlabelled.push(prediction);
                continue;
            }
        };
        let segments = categorical
            .iter()
            .filter_map(|f| {
                let v = row.get(*f)?;
                let text = match v {
                    Value::String(s) => s.clone(),
                    Value::Null => return None,
                    other => other.to_string(),
                };
                Some(((*f).to_owned(), text))
            })
            .collect();
        out.push(Row {
            labelled: Labelled { prediction, label },
            segments,
        });
    }
    Parsed {
        predicted,
        rows: out,
        delays,
        unlabelled,
    }
}

/// The estimate for the rows still without a label, or why there is none.
async fn estimate(
    spec: &ModelSpec,
    unlabelled: Vec<f64>,
    max_rows: usize,
) -> Result<Option<Estimated>, String> {
    if unlabelled.is_empty() {
        return Ok(None);
    }
    if let Some(i) = unlabelled
        .iter()
        .position(|p| !(p.is_finite() && (0.0..=1.0).contains(p)))
    {
        return Err(format!(
            "no estimate for the rows without labels: unlabelled row {} has a prediction that is not a score in [0, 1]",
            i + 1
        ));
    }
    let Some(path) = spec
        .calibration_data
        .clone()
        .or_else(|| spec.reference_data.clone())
    else {
        return Err("no estimate for the rows without labels: the model has neither calibration_data nor reference_data".into());
    };
    let prediction = spec.prediction.clone();
    let label = spec.label.clone().unwrap_or_else(|| "label".into());
    let threshold = spec.decision_threshold;
    let fit = move || -> Result<Estimated, String> {
        let reference = calibration_rows::read(&path, &prediction, &label, max_rows)
            .map_err(|e| e.to_string())?;
        quality::check_rows(Task::BinaryClassification, &reference)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if reference.is_empty() {
            return Err(format!(
                "{} has no row with both `{prediction}` and `{label}`",
                path.display()
            ));
        }
        Ok(quality::estimate(&reference, &unlabelled, threshold))
    };
    match tokio::task::spawn_blocking(fit).await {
        Ok(Ok(e)) => Ok(Some(e)),
        Ok(Err(why)) => Err(format!("no estimate for the rows without labels: {why}")),
        Err(_) => Err("no estimate for the rows without labels: the estimator stopped".into()),
    }
}

fn median(mut xs: Vec<f64>) -> Option<f64> {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => xs.get(n / 2).copied(),
        _ => Some((xs.get(n / 2 - 1)? + xs.get(n / 2)?) / 2.0),
    }
}

/// The metric segments are ranked by: the first performance rule's, else accuracy or MAE.
fn segment_metric(task: Task, rules: &[ValidationRule]) -> (String, bool) {
    if let Some(r) = rules.first()
        && task.metrics().iter().any(|(m, _)| *m == r.metric)
    {
        return (r.metric.clone(), r.greater_is_better);
    }
    match task {
        Task::BinaryClassification => ("accuracy".into(), true),
        Task::Regression => ("mae".into(), false),
    }
}

fn point(task: Task, rows: &[Labelled], threshold: f64, metric: &str) -> Option<f64> {
    let ones = vec![1u32; rows.len()];
    let names = task.metrics();
    let at = names.iter().position(|(m, _)| *m == metric)?;
    let values: Vec<Option<f64>> = match task {
        Task::BinaryClassification => {
            let scores: Vec<f64> = rows.iter().map(|r| r.prediction).collect();
            let labels: Vec<bool> = rows.iter().map(|r| r.label == 1.0).collect();
            mlops_quality::classification::Scored::new(&scores, &labels)
                .metrics(&ones, threshold)
                .to_vec()
        }
        Task::Regression => {
            let p: Vec<f64> = rows.iter().map(|r| r.prediction).collect();
            let y: Vec<f64> = rows.iter().map(|r| r.label).collect();
            mlops_quality::regression::metrics(&p, &y, &ones).to_vec()
        }
    };
    values.get(at).copied().flatten()
}

fn segments(
    task: Task,
    rows: &[Row],
    threshold: f64,
    metric: &str,
    better_up: bool,
    whole: Option<f64>,
) -> Vec<Segment> {
    let mut groups: BTreeMap<(String, String), Vec<Labelled>> = BTreeMap::new();
    for r in rows {
        for key in &r.segments {
            groups
                .entry(key.clone())
                .or_default()
                .push(r.labelled.clone());
        }
    }
    let mut out: Vec<Segment> = groups
        .into_iter()
        .filter(|(_, rows)| rows.len() >= MIN_SEGMENT_ROWS)
        .map(|((feature, category), rows)| {
            let value = point(task, &rows, threshold, metric);
            let versus_window = value
                .zip(whole)
                .map(|(v, w)| if better_up { v - w } else { w - v });
            Segment {
                feature,
                category,
                count: rows.len(),
                metric: metric.to_owned(),
                value,
                versus_window,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        let key = |s: &Segment| s.versus_window.unwrap_or(f64::INFINITY);
        key(a).total_cmp(&key(b))
    });
    out.truncate(MAX_SEGMENTS);
    out
}

/// The `performance` rules checked on the values `value` gives, against the champion's.
fn check_rules(
    rules: &[ValidationRule],
    value: impl Fn(&str) -> Option<f64>,
    champion: &BTreeMap<String, f64>,
) -> Vec<MetricCheck> {
    rules
        .iter()
        .map(|r| rules::check(r, value(&r.metric), champion.get(&r.metric).copied()))
        .collect()
}

/// The failed rules as degradations.
fn failed(checks: &[MetricCheck]) -> Vec<Degradation> {
    checks
        .iter()
        .filter(|c| !c.passed)
        .filter_map(|c| {
            let (value, base) = (c.candidate?, c.champion?);
            Some(Degradation {
                metric: c.metric.clone(),
                value,
                champion: base,
                change: value - base,
                why: c.reasons.join("; "),
            })
        })
        .collect()
}

/// Degradations against the champion: by the policy's rules when it has any, else each metric
/// whose whole 95 % interval lies on the worse side of the champion's value.
fn degradations(
    task: Task,
    metrics: &BTreeMap<String, Estimate>,
    champion: &BTreeMap<String, f64>,
    checks: &[MetricCheck],
) -> Vec<Degradation> {
    if !checks.is_empty() {
        return failed(checks);
    }
    task.metrics()
        .into_iter()
        .filter_map(|(name, up)| {
            let e = metrics.get(name)?;
            let (value, interval, base) = (e.value?, e.interval?, *champion.get(name)?);
            let worse = if up { interval.high < base } else { interval.low > base };
            worse.then(|| Degradation {
                metric: name.to_owned(),
                value,
                champion: base,
                change: value - base,
                why: format!(
                    "the champion's {base:.4} is outside the window's 95 % interval [{:.4}, {:.4}], on the worse side",
                    interval.low, interval.high
                ),
            })
        })
        .collect()
}

/// Runs `check_performance` for `principal`.
pub async fn check_performance(
    store: &dyn Store,
    principal: &Principal,
    input: &CheckPerformanceInput,
    env: &DriftEnv,
) -> Result<CheckPerformanceOutput, CheckPerformanceError> {
    let unknown = || CheckPerformanceError::UnknownModel(input.model.clone());
    if !principal.may_access_model(&input.model) {
        return Err(unknown());
    }
    let record = store.get_model(&input.model).await?.ok_or_else(unknown)?;
    let spec = &record.spec;
    let task = Task::of(&spec.task).ok_or_else(|| {
        CheckPerformanceError::BadInput(format!(
            "`{}` is a {} model; quality is measured for binary_classification and regression",
            spec.name, spec.task
        ))
    })?;
    let now = Utc::now();
    let last = match (&input.last, input.from) {
        (None, None) => Some("24h"),
        (l, _) => l.as_deref(),
    };
    let window = records::window(last, input.from, input.to, now)
        .map_err(CheckPerformanceError::BadInput)?
        .ok_or_else(|| CheckPerformanceError::BadInput("give `last` or `from`".into()))?;
    let max_rows = env.max_window_rows as u64;
    let held = env
        .blocks
        .rows_in(store, &spec.name, window)
        .await
        .map_err(BlockError::into_store)?;
    if held > max_rows {
        return Err(CheckPerformanceError::BadInput(format!(
            "the window from {window} reaches {held} ingested rows, more than limits.max_window_rows ({max_rows}, a bound on memory); narrow the window or raise the limit"
        )));
    }
    let raw = env
        .blocks
        .rows(store, &spec.name, window)
        .await
        .map_err(BlockError::into_store)?;
    let Parsed {
        predicted,
        rows,
        delays,
        unlabelled,
    } = parse_rows(spec, &raw);
    let labelled: Vec<Labelled> = rows.iter().map(|r| r.labelled.clone()).collect();
    quality::check_rows(task, &labelled)
        .map_err(|e| CheckPerformanceError::BadInput(format!("ingested rows: {e}")))?;
    let champion_version = record.aliased(CHAMPION);
    let champion_metrics = champion_version
        .map(|v| v.metrics.clone())
        .unwrap_or_default();
    let drift = store
        .last_drift_report(&spec.name)
        .await?
        .map(|d| d.recommended_action);
    let enough = labelled.len() >= spec.policy.min_labels;
    let threshold = spec.decision_threshold;
    let (metrics, degraded, segs) = if enough {
        let metrics = quality::measure(task, &labelled, threshold);
        let value = |m: &str| metrics.get(m).and_then(|e| e.value);
        let checks = check_rules(&spec.policy.performance, value, &champion_metrics);
        let degraded = degradations(task, &metrics, &champion_metrics, &checks);
        let (metric, up) = segment_metric(task, &spec.policy.performance);
        let whole = metrics.get(&metric).and_then(|e| e.value);
        let segs = segments(task, &rows, threshold, &metric, up, whole);
        (metrics, degraded, segs)
    } else {
        (BTreeMap::new(), Vec::new(), Vec::new())
    };
    let mut reasons = Vec::new();
    // Said last in the reasons: why there is no estimate, or what it says.
    let (estimated, mut estimate_reason) = match task {
        Task::BinaryClassification => match estimate(spec, unlabelled, env.max_window_rows).await {
            Ok(e) => (e, None),
            Err(why) => (None, Some(why)),
        },
        Task::Regression => (None, None),
    };
    let estimated_degraded: Vec<Degradation> = estimated
        .as_ref()
        .map(|e| {
            let value = |m: &str| e.metrics.get(m).copied().flatten();
            failed(&check_rules(
                &spec.policy.performance,
                value,
                &champion_metrics,
            ))
        })
        .unwrap_or_default();
    let action = if !enough {
        reasons.push(format!(
            "not enough labels: {}, at least {} needed (policy.min_labels)",
            labelled.len(),
            spec.policy.min_labels
        ));
        for d in &estimated_degraded {
            reasons.push(format!(
                "estimated {} degraded: {:.4} against the champion's {:.4}; an estimate: wait for labels before retraining",
                d.metric, d.value, d.champion
            ));
        }
        match drift {
            _ if !estimated_degraded.is_empty() => RecommendedAction::Investigate,
            Some(d) if d != RecommendedAction::None => {
                reasons.push(format!(
                    "falling back to drift: the newest drift report recommends {}",
                    d.as_str()
                ));
                RecommendedAction::Investigate
            }
            Some(_) => {
                reasons.push("falling back to drift: the newest drift report found none".into());
                RecommendedAction::None
            }
            None => {
                reasons.push("no drift report either; call check_drift".into());
                RecommendedAction::None
            }
        }
    } else if !degraded.is_empty() {
        for d in &degraded {
            reasons.push(format!(
                "{} degraded: {:.4} against the champion's {:.4} ({:+.4})",
                d.metric, d.value, d.champion, d.change
            ));
        }
        if let Some(s) = segs
            .first()
            .filter(|s| s.versus_window.is_some_and(|v| v < 0.0))
        {
            reasons.push(format!(
                "worst segment: {} = {:?} ({} labelled rows, {} {:.4})",
                s.feature,
                s.category,
                s.count,
                s.metric,
                s.value.unwrap_or(f64::NAN)
            ));
        }
        RecommendedAction::Retrain
    } else if drift.is_some_and(|d| d != RecommendedAction::None) {
        reasons.push(
            "no metric degraded, though the newest drift report found drift: look before retraining"
                .into(),
        );
        RecommendedAction::Investigate
    } else {
        reasons.push("no metric degraded".into());
        RecommendedAction::None
    };
    if let Some(e) = &estimated {
        let shown: Vec<String> = e
            .metrics
            .iter()
            .filter_map(|(m, v)| {
                let v = (*v)?;
                Some(match champion_metrics.get(m) {
                    Some(c) => format!("{m} {v:.4} (champion {c:.4})"),
                    None => format!("{m} {v:.4}"),
                })
            })
            .collect();
        estimate_reason = Some(format!(
            "estimated on the {} rows without labels (CBPE, calibration {}): {}",
            e.rows,
            e.calibration,
            shown.join(", ")
        ));
    }
    reasons.extend(estimate_reason);
    let report_id = uuid::Uuid::new_v4().to_string();
    let next_step = match action {
        RecommendedAction::Retrain => format!(
            "Call trigger_retrain with model \"{}\", a reason naming the degraded metrics, and drift_report_id \"{report_id}\" (this quality report).",
            spec.name
        ),
        RecommendedAction::Investigate => {
            "Report the drift or the missing labels to the model owner; do not retrain yet.".into()
        }
        RecommendedAction::None => "Nothing to do.".into(),
    };
    let output = CheckPerformanceOutput {
        report_id,
        model: spec.name.clone(),
        task,
        checked_at: now,
        window: window.to_string(),
        rows: predicted,
        labelled_rows: labelled.len(),
        labelled_share: if predicted == 0 {
            0.0
        } else {
            labelled.len() as f64 / predicted as f64
        },
        label_delay_seconds: median(delays),
        metrics,
        champion: champion_version.map(|v| v.version.clone()),
        degraded,
        segments: segs,
        estimated,
        estimated_degraded,
        drift,
        recommended_action: action,
        reasons,
        next_step,
    };
    let document =
        serde_json::to_string(&output).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    store
        .save_quality_report(&QualityRecord {
            id: output.report_id.clone(),
            model: output.model.clone(),
            checked_at: output.checked_at,
            requested_by: principal.subject.clone(),
            recommended_action: output.recommended_action,
            document,
        })
        .await?;
    Ok(output)
}
