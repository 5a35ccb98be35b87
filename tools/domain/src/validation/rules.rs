//! MLflow's `MetricThreshold` checks (`mlflow/models/evaluation/validation.py`, 3.17): each
//! rule compares a candidate's metric with an absolute `threshold` and/or the baseline's
//! (champion's) value by `min_absolute_change` and `min_relative_change`, in the direction
//! `greater_is_better` gives. A missing candidate metric fails; a change rule without a baseline
//! value fails ("missing baseline"); a zero baseline makes the relative rule fall back to
//! `candidate >= baseline + 1e-10` (or `<=` … `- 1e-10`); the relative change divides by
//! `|baseline|`. MLflow computes `baseline + change` (or `- change`) in floating point and
//! compares the candidate with it (converting both to `Decimal`, exact for doubles): the same
//! comparison of doubles is made here, so `0.85 >= 0.8 + 0.05` fails in both.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::ValidationRule;

/// MLflow's stand-in change when the baseline is zero.
pub const ZERO_BASELINE_EPSILON: f64 = 1e-10;

/// One rule applied to one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MetricCheck {
    pub metric: String,
    pub candidate: Option<f64>,
    /// The champion's value (the baseline).
    pub champion: Option<f64>,
    pub rule: ValidationRule,
    pub passed: bool,
    /// Why it passed or failed, one sentence per part of the rule.
    pub reasons: Vec<String>,
}

fn fmt(x: f64) -> String {
    format!("{x}")
}

/// Applies `rule` to a candidate value and the champion's value.
pub fn check(rule: &ValidationRule, candidate: Option<f64>, champion: Option<f64>) -> MetricCheck {
    let mut reasons = Vec::new();
    let mut passed = true;
    let better = if rule.greater_is_better { ">=" } else { "<=" };
    let Some(c) = candidate else {
        return MetricCheck {
            metric: rule.metric.clone(),
            candidate,
            champion,
            rule: rule.clone(),
            passed: false,
            reasons: vec![format!(
                "the candidate has no `{}` metric, so the rule cannot pass",
                rule.metric
            )],
        };
    };
    if let Some(t) = rule.threshold {
        let ok = if rule.greater_is_better {
            c >= t
        } else {
            c <= t
        };
        passed &= ok;
        reasons.push(format!(
            "threshold: {} {} {}",
            fmt(c),
            if ok {
                better.to_owned()
            } else {
                format!("is not {better}")
            },
            fmt(t)
        ));
    }
    let wants_baseline = rule.min_absolute_change.is_some() || rule.min_relative_change.is_some();
    match (wants_baseline, champion) {
        (false, _) => {}
        (true, None) => {
            passed = false;
            reasons.push(format!(
                "missing baseline: the champion has no `{}` metric to compare with",
                rule.metric
            ));
        }
        (true, Some(b)) => {
            if let Some(d) = rule.min_absolute_change {
                // MLflow forms `baseline ± change` in floating point, then compares.
                let target = if rule.greater_is_better { b + d } else { b - d };
                let ok = if rule.greater_is_better {
                    c >= target
                } else {
                    c <= target
                };
                passed &= ok;
                reasons.push(format!(
                    "absolute change: candidate {} {} champion {} {} {} (= {})",
                    fmt(c),
                    if ok {
                        better.to_owned()
                    } else {
                        format!("is not {better}")
                    },
                    fmt(b),
                    if rule.greater_is_better { "+" } else { "-" },
                    fmt(d),
                    fmt(target)
                ));
            }
            if let Some(r) = rule.min_relative_change {
                if b == 0.0 {
                    let ok = if rule.greater_is_better {
                        c >= b + ZERO_BASELINE_EPSILON
                    } else {
                        c <= b - ZERO_BASELINE_EPSILON
                    };
                    passed &= ok;
                    reasons.push(format!(
                        "relative change: the champion's value is 0, so the candidate must be {} 0 by at least {ZERO_BASELINE_EPSILON} (MLflow's fallback): {}",
                        if rule.greater_is_better { "above" } else { "below" },
                        if ok { "it is" } else { "it is not" }
                    ));
                } else {
                    let change = if rule.greater_is_better {
                        (c - b) / b.abs()
                    } else {
                        (b - c) / b.abs()
                    };
                    let ok = change >= r;
                    passed &= ok;
                    reasons.push(format!(
                        "relative change: {} {} the required {}",
                        fmt(change),
                        if ok { ">=" } else { "is below" },
                        fmt(r)
                    ));
                }
            }
        }
    }
    MetricCheck {
        metric: rule.metric.clone(),
        candidate,
        champion,
        rule: rule.clone(),
        passed,
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        threshold: Option<f64>,
        abs: Option<f64>,
        rel: Option<f64>,
        greater_is_better: bool,
    ) -> ValidationRule {
        ValidationRule {
            metric: "m".into(),
            threshold,
            min_absolute_change: abs,
            min_relative_change: rel,
            greater_is_better,
        }
    }

    #[test]
    fn mlflow_metric_threshold_semantics() {
        // (rule, candidate, baseline, passes) — MLflow's documented behaviour, both directions.
        let cases: Vec<(ValidationRule, Option<f64>, Option<f64>, bool)> = vec![
            // threshold, greater is better: candidate >= threshold
            (rule(Some(0.8), None, None, true), Some(0.8), None, true),
            (rule(Some(0.8), None, None, true), Some(0.79), None, false),
            // threshold, lower is better: candidate <= threshold
            (rule(Some(0.2), None, None, false), Some(0.2), None, true),
            (rule(Some(0.2), None, None, false), Some(0.21), None, false),
            // absolute change, greater is better: candidate >= baseline + d
            (
                rule(None, Some(0.05), None, true),
                Some(0.86),
                Some(0.8),
                true,
            ),
            // as MLflow: 0.8 + 0.05 is 0.8500000000000001 in floating point, so 0.85 fails
            (
                rule(None, Some(0.05), None, true),
                Some(0.85),
                Some(0.8),
                false,
            ),
            (
                rule(None, Some(0.05), None, true),
                Some(0.84),
                Some(0.8),
                false,
            ),
            (
                rule(None, Some(0.2), None, true),
                Some(0.3),
                Some(0.1),
                false,
            ),
            (
                rule(None, Some(0.25), None, true),
                Some(0.75),
                Some(0.5),
                true,
            ),
            // absolute change, lower is better: candidate <= baseline - d
            (
                rule(None, Some(1.0), None, false),
                Some(9.0),
                Some(10.0),
                true,
            ),
            (
                rule(None, Some(1.0), None, false),
                Some(9.5),
                Some(10.0),
                false,
            ),
            // relative change, greater is better: (c - b) / |b| >= r
            (
                rule(None, None, Some(0.1), true),
                Some(0.89),
                Some(0.8),
                true,
            ),
            // (0.88 - 0.8) / 0.8 is 0.09999999999999995 in floating point: below 0.1, as in MLflow
            (
                rule(None, None, Some(0.1), true),
                Some(0.88),
                Some(0.8),
                false,
            ),
            // negative baseline (e.g. R2 < 0): divides by |b|, so improving from -0.5 to -0.375 is +25 %
            (
                rule(None, None, Some(0.2), true),
                Some(-0.375),
                Some(-0.5),
                true,
            ),
            (
                rule(None, None, Some(0.2), true),
                Some(-0.6),
                Some(-0.5),
                false,
            ),
            // relative change, lower is better: (b - c) / |b| >= r
            (
                rule(None, None, Some(0.1), false),
                Some(0.875),
                Some(1.0),
                true,
            ),
            (
                rule(None, None, Some(0.1), false),
                Some(0.95),
                Some(1.0),
                false,
            ),
            (
                rule(None, None, Some(0.5), false),
                Some(-3.0),
                Some(-2.0),
                true,
            ),
            // zero baseline: falls back to candidate >= 0 + 1e-10 (or <= 0 - 1e-10)
            (
                rule(None, None, Some(0.5), true),
                Some(1e-9),
                Some(0.0),
                true,
            ),
            (
                rule(None, None, Some(0.5), true),
                Some(0.0),
                Some(0.0),
                false,
            ),
            (
                rule(None, None, Some(0.5), false),
                Some(-1e-9),
                Some(0.0),
                true,
            ),
            (
                rule(None, None, Some(0.5), false),
                Some(0.0),
                Some(0.0),
                false,
            ),
            // missing candidate metric fails; change rules without a baseline fail
            (rule(Some(0.1), None, None, true), None, Some(0.5), false),
            (rule(None, Some(0.0), None, true), Some(0.9), None, false),
            (rule(None, None, Some(0.0), true), Some(0.9), None, false),
            // a threshold alone needs no baseline
            (rule(Some(0.5), None, None, true), Some(0.9), None, true),
            // every part must pass
            (
                rule(Some(0.5), Some(0.01), None, true),
                Some(0.9),
                Some(0.95),
                false,
            ),
            (
                rule(Some(0.5), Some(0.01), Some(0.01), true),
                Some(0.97),
                Some(0.95),
                true,
            ),
        ];
        for (i, (r, c, b, expected)) in cases.iter().enumerate() {
            let got = check(r, *c, *b);
            assert_eq!(
                got.passed, *expected,
                "case {i}: {r:?} c={c:?} b={b:?}: {got:?}"
            );
            assert!(!got.reasons.is_empty(), "case {i}");
        }
    }

    #[test]
    fn reasons_say_what_failed() {
        let got = check(&rule(None, Some(0.05), None, true), Some(0.84), Some(0.8));
        assert_eq!(
            got.reasons,
            [
                "absolute change: candidate 0.84 is not >= champion 0.8 + 0.05 (= 0.8500000000000001)"
            ]
        );
        let got = check(&rule(None, Some(0.0), None, true), Some(0.9), None);
        assert!(got.reasons[0].starts_with("missing baseline"));
        let got = check(&rule(Some(0.5), None, None, true), None, None);
        assert!(got.reasons[0].contains("has no `m` metric"));
    }
}
