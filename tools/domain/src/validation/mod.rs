//! Validation: a candidate version against the current champion, by the model's rules
//! (`models[].policy.validation`, MLflow `MetricThreshold` semantics, see [`rules`]).
//!
//! The champion's values are, in order of preference: the champion's metrics re-measured by the
//! trainer on the candidate's own holdout (recorded with the candidate as its baseline, so like
//! is compared with like), else the champion's metrics as registered (the report says so). A
//! model without rules never passes: promotion needs evidence.

pub mod rules;
pub mod segments;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::ModelRecord;
use crate::model::{Baseline, CHAMPION, ModelVersion};
pub use rules::MetricCheck;
pub use segments::SegmentChange;

/// The verdict of a validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Passed,
    Failed,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
        }
    }
}

/// Where the champion's values came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BaselineSource {
    /// Re-measured by the trainer on the candidate's holdout.
    SameHoldout,
    /// The champion's metrics as registered (measured on its own holdout).
    Registered,
    /// The model has no champion: change rules cannot pass.
    NoChampion,
}

/// A stored validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Validation {
    pub id: String,
    pub model: String,
    pub candidate_version: String,
    /// `sha256:` digest of the candidate's artifact when it was validated.
    pub candidate_digest: String,
    /// The champion it was compared with (none if the model had none).
    pub champion_version: Option<String>,
    pub baseline_source: BaselineSource,
    /// The job that produced the candidate, if known.
    pub job_id: Option<String>,
    /// Every rule with its values and result.
    pub checks: Vec<MetricCheck>,
    /// Every other metric both versions report, with the change; regressions flagged, not
    /// failed.
    #[serde(default)]
    pub other_metrics: Vec<MetricChange>,
    /// Both versions per holdout category (if the trainer measured them), worst first.
    #[serde(default)]
    pub segments: Vec<SegmentChange>,
    pub verdict: Verdict,
    /// The verdict in sentences an agent can act on.
    pub reasons: Vec<String>,
    /// The report as Markdown.
    pub report: String,
    /// `sha256:` of the Markdown report's bytes; a promotion request is bound to it.
    pub report_digest: String,
    /// Where the candidate's metrics came from.
    #[serde(default)]
    pub metrics_source: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// A metric no rule covers, on both versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MetricChange {
    pub metric: String,
    pub candidate: f64,
    pub champion: f64,
    /// `candidate - champion`.
    pub change: f64,
    /// Worse than the champion (lower, or higher for a loss or an error).
    pub regressed: bool,
}

/// Metrics where smaller is better; any other is taken as larger-is-better.
const SMALLER_IS_BETTER: &[&str] = &[
    "log_loss",
    "brier_score",
    "mae",
    "mse",
    "rmse",
    "mape",
    "loss",
    "error_rate",
];

pub(crate) fn changes(
    rules: &[crate::model::ValidationRule],
    candidate: &BTreeMap<String, f64>,
    champion: Option<&BTreeMap<String, f64>>,
) -> Vec<MetricChange> {
    let Some(champion) = champion else {
        return Vec::new();
    };
    candidate
        .iter()
        .filter(|(name, _)| !rules.iter().any(|r| &r.metric == *name))
        .filter_map(|(name, &c)| {
            let b = *champion.get(name)?;
            let smaller = SMALLER_IS_BETTER.contains(&name.as_str());
            Some(MetricChange {
                metric: name.clone(),
                candidate: c,
                champion: b,
                change: c - b,
                regressed: if smaller { c > b } else { c < b },
            })
        })
        .collect()
}

/// Validates `candidate` of `record` against its current champion.
pub fn validate(
    id: String,
    record: &ModelRecord,
    candidate: &ModelVersion,
    baseline: Option<&Baseline>,
    job_id: Option<String>,
    created_by: &str,
    now: DateTime<Utc>,
) -> Validation {
    let champion = record.aliased(CHAMPION);
    let (champion_metrics, source) = match (champion, baseline) {
        (None, _) => (None, BaselineSource::NoChampion),
        (Some(c), Some(b)) if b.version == c.version => {
            (Some(b.metrics.clone()), BaselineSource::SameHoldout)
        }
        (Some(c), _) => (Some(c.metrics.clone()), BaselineSource::Registered),
    };
    let rules = &record.spec.policy.validation;
    let checks: Vec<MetricCheck> = rules
        .iter()
        .map(|r| {
            rules::check(
                r,
                candidate.metrics.get(&r.metric).copied(),
                champion_metrics
                    .as_ref()
                    .and_then(|m| m.get(&r.metric).copied()),
            )
        })
        .collect();
    let other_metrics = changes(rules, &candidate.metrics, champion_metrics.as_ref());
    // Segments compare with the champion measured on the same holdout, or not at all.
    let segments = match (source, baseline) {
        (BaselineSource::SameHoldout, Some(b)) => segments::compare(&b.segments),
        _ => Vec::new(),
    };
    let failed: Vec<&MetricCheck> = checks.iter().filter(|c| !c.passed).collect();
    let mut reasons = Vec::new();
    let verdict = if rules.is_empty() {
        reasons.push(format!(
            "model `{}` has no validation rules (models[].policy.validation), so no candidate can pass; ask an operator to configure them",
            record.spec.name
        ));
        Verdict::Failed
    } else if failed.is_empty() {
        reasons.push(format!(
            "all {} rules passed: {} may be proposed for promotion with request_promotion",
            checks.len(),
            candidate.version
        ));
        Verdict::Passed
    } else {
        for f in &failed {
            reasons.push(format!("`{}` failed: {}", f.metric, f.reasons.join("; ")));
        }
        reasons.push(format!(
            "{} of {} rules failed: do not request promotion of {}",
            failed.len(),
            checks.len(),
            candidate.version
        ));
        Verdict::Failed
    };
    let regressed: Vec<String> = other_metrics
        .iter()
        .filter(|m| m.regressed)
        .map(|m| {
            // A trainer names its metrics: shown as data.
            format!(
                "{} {:.4} → {:.4} ({:+.4})",
                crate::untrusted::table_code(&m.metric),
                m.champion,
                m.candidate,
                m.change
            )
        })
        .collect();
    if !regressed.is_empty() {
        reasons.push(format!(
            "no rule covers these, but they regressed against the champion: {}; tell the approver",
            regressed.join(", ")
        ));
    }
    reasons.extend(segments::reason(&segments));
    let mut v = Validation {
        id,
        model: record.spec.name.clone(),
        candidate_version: candidate.version.clone(),
        candidate_digest: candidate.artifact_digest.clone(),
        champion_version: champion.map(|c| c.version.clone()),
        baseline_source: source,
        job_id,
        checks,
        other_metrics,
        segments,
        verdict,
        reasons,
        report: String::new(),
        report_digest: String::new(),
        metrics_source: "the metrics registered with the version".into(),
        created_by: created_by.to_owned(),
        created_at: now,
    };
    v.render();
    v
}

impl Validation {
    /// Records where the candidate's metrics came from (and renders the report again).
    pub fn set_metrics_source(&mut self, source: String) {
        self.metrics_source = source;
        self.render();
    }

    fn render(&mut self) {
        self.report = markdown(self);
        self.report_digest = format!(
            "sha256:{}",
            hex::encode(Sha256::digest(self.report.as_bytes()))
        );
    }
}

fn num(x: Option<f64>) -> String {
    x.map_or("—".to_owned(), |v| format!("{v:.6}"))
}

fn rule_text(c: &MetricCheck) -> String {
    let r = &c.rule;
    let dir = if r.greater_is_better { "≥" } else { "≤" };
    let mut parts = Vec::new();
    if let Some(t) = r.threshold {
        parts.push(format!("{dir} {t}"));
    }
    if let Some(d) = r.min_absolute_change {
        parts.push(format!(
            "champion {} {d}",
            if r.greater_is_better { "+" } else { "−" }
        ));
    }
    if let Some(d) = r.min_relative_change {
        parts.push(format!("{:.1} % better than champion", d * 100.0));
    }
    parts.join(", ")
}

/// The report: who was compared with whom, every rule, the verdict.
fn markdown(v: &Validation) -> String {
    let mut md = format!(
        "# Validation {}\n\nModel `{}`: candidate **{}** (artifact `{}`) against champion **{}**.\n\n",
        v.id,
        v.model,
        v.candidate_version,
        v.candidate_digest,
        v.champion_version.as_deref().unwrap_or("none"),
    );
    let _ = writeln!(md, "The candidate's metrics are {}.\n", v.metrics_source);
    md.push_str(match v.baseline_source {
        BaselineSource::SameHoldout => {
            "The champion's values were measured on the candidate's holdout data.\n\n"
        }
        BaselineSource::Registered => {
            "The champion's values are its registered metrics (measured on its own holdout; the trainer did not re-measure it).\n\n"
        }
        BaselineSource::NoChampion => "The model has no champion.\n\n",
    });
    md.push_str(
        "| metric | candidate | champion | rule | result | why |\n|---|---|---|---|---|---|\n",
    );
    for c in &v.checks {
        let _ = writeln!(
            md,
            "| `{}` | {} | {} | {} | {} | {} |",
            c.metric,
            num(c.candidate),
            num(c.champion),
            rule_text(c),
            if c.passed { "pass" } else { "**fail**" },
            c.reasons.join("; ")
        );
    }
    if !v.other_metrics.is_empty() {
        md.push_str(
            "\nMetrics no rule covers:\n\n| metric | candidate | champion | change | |\n|---|---|---|---|---|\n",
        );
        for m in &v.other_metrics {
            let _ = writeln!(
                md,
                "| {} | {:.6} | {:.6} | {:+.6} | {} |",
                crate::untrusted::table_code(&m.metric),
                m.candidate,
                m.champion,
                m.change,
                if m.regressed { "**regressed**" } else { "" }
            );
        }
    }
    segments::markdown(&mut md, &v.segments);
    let _ = write!(md, "\n**Verdict: {}**\n\n", v.verdict.as_str());
    for r in &v.reasons {
        let _ = writeln!(md, "- {r}");
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Alias, ModelSpec};

    fn version(v: &str, metrics: &[(&str, f64)]) -> ModelVersion {
        ModelVersion {
            model: "m".into(),
            version: v.into(),
            metrics: metrics.iter().map(|(k, x)| ((*k).to_owned(), *x)).collect(),
            artifact_uri: String::new(),
            artifact_digest: format!("sha256:{v}"),
            training_job: None,
            data_snapshot: None,
            created_by: "t".into(),
            created_at: Utc::now(),
            baseline: None,
        }
    }

    #[test]
    fn unruled_metrics_that_regressed_are_flagged_without_failing_the_rules() {
        let spec: ModelSpec = serde_json::from_value(serde_json::json!({
            "name": "m",
            "policy": {"validation": [{"metric": "roc_auc", "min_absolute_change": 0.0}]},
        }))
        .unwrap();
        let champion = version(
            "v1",
            &[("roc_auc", 0.78), ("accuracy", 0.7365), ("log_loss", 0.40)],
        );
        let candidate = version(
            "v2",
            &[
                ("roc_auc", 0.84),
                ("accuracy", 0.6895),
                ("log_loss", 0.35),
                ("x`|y", 1.0),
            ],
        );
        let record = ModelRecord {
            spec,
            versions: vec![champion.clone(), candidate.clone()],
            aliases: vec![Alias {
                alias: CHAMPION.into(),
                version: "v1".into(),
                set_by: "t".into(),
                set_at: Utc::now(),
            }],
        };
        let v = validate(
            "id".into(),
            &record,
            &candidate,
            None,
            None,
            "t",
            Utc::now(),
        );
        assert_eq!(v.verdict, Verdict::Passed);
        let by: BTreeMap<&str, &MetricChange> = v
            .other_metrics
            .iter()
            .map(|m| (m.metric.as_str(), m))
            .collect();
        assert!(by["accuracy"].regressed);
        assert!(!by["log_loss"].regressed, "a smaller loss is better");
        assert!(
            !by.contains_key("roc_auc"),
            "ruled metrics are in the checks"
        );
        assert!(!by.contains_key("x`|y"), "the champion does not report it");
        assert!(
            v.reasons
                .iter()
                .any(|r| r.contains("` accuracy ` 0.7365 → 0.6895 (-0.0470)")),
            "{:?}",
            v.reasons
        );
        assert!(
            v.report
                .contains("| ` accuracy ` | 0.689500 | 0.736500 | -0.047000 | **regressed** |"),
            "{}",
            v.report
        );
    }
}
