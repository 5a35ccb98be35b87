//! A dataset drift report: every feature tested with Evidently's default (or the requested)
//! test, plus what Evidently does not give — q-values across features, an effect size and a
//! severity band beside every score, the reason for the test, new and vanished categories,
//! missing-value shares — and the dataset verdict with Evidently's share rule.

use rayon::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::column::{Column, distinct_values, score};
use super::select::{self, StatTest, benjamini_hochberg, dataset_drift, default_test};
use super::source::{ColumnProfile, Table};
use mlops_domain::FeatureKind;

/// What the caller may override.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Options {
    /// One test for every column instead of Evidently's per-column default.
    pub stattest: Option<StatTest>,
    /// One threshold for every column instead of each test's default.
    pub threshold: Option<f64>,
    /// Share of drifted features at or above which the dataset drifts (Evidently: 0.5).
    pub drift_share: Option<f64>,
    /// Only these features (default: every column present in either sample).
    pub features: Option<Vec<String>>,
}

/// How large a change is, in words an agent can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// PSI < 0.1
    Negligible,
    /// 0.1 ≤ PSI < 0.25
    Moderate,
    /// PSI ≥ 0.25
    Major,
}

/// The drift of one feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FeatureDrift {
    pub name: String,
    /// `numeric` or `categorical`.
    pub kind: FeatureKind,
    /// The test run, or null if the feature could not be tested.
    pub stattest: Option<StatTest>,
    /// Why this test (reference size and distinct values), or that it was requested.
    pub stattest_reason: String,
    /// p-value (for ks, chisquare, z) or distance (the others), as Evidently computes it.
    pub score: Option<f64>,
    pub threshold: Option<f64>,
    pub drift_detected: bool,
    /// Benjamini-Hochberg adjusted p-value across the p-value features of this report.
    pub q_value: Option<f64>,
    /// Effect size independent of sample size: normed Wasserstein (numeric, in reference
    /// standard deviations) or Jensen-Shannon distance (categorical).
    pub effect_size: Option<f64>,
    /// Which measure `effect_size` is.
    pub effect_size_measure: Option<String>,
    /// Population Stability Index on Evidently's bins, and its band.
    pub psi: Option<f64>,
    pub severity: Option<Severity>,
    /// Categories seen only in the current data, and only in the reference.
    pub new_categories: Vec<String>,
    pub vanished_categories: Vec<String>,
    pub reference_rows: usize,
    pub current_rows: usize,
    pub missing_share_reference: f64,
    pub missing_share_current: f64,
    /// Why the feature was not tested, if it was not.
    pub untested_reason: Option<String>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DriftReport {
    pub reference_rows: usize,
    pub current_rows: usize,
    pub features: Vec<FeatureDrift>,
    pub tested_features: usize,
    pub drifted_features: usize,
    pub drifted_share: f64,
    pub drift_share_threshold: f64,
    pub dataset_drift: bool,
}

fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn severity(psi: f64) -> Severity {
    if psi >= 0.25 {
        Severity::Major
    } else if psi >= 0.1 {
        Severity::Moderate
    } else {
        Severity::Negligible
    }
}

fn untested(name: &str, kind: FeatureKind, reason: String, rows: (usize, usize)) -> FeatureDrift {
    FeatureDrift {
        name: name.to_owned(),
        kind,
        stattest: None,
        stattest_reason: String::new(),
        score: None,
        threshold: None,
        drift_detected: false,
        q_value: None,
        effect_size: None,
        effect_size_measure: None,
        psi: None,
        severity: None,
        new_categories: Vec::new(),
        vanished_categories: Vec::new(),
        reference_rows: rows.0,
        current_rows: rows.1,
        missing_share_reference: 0.0,
        missing_share_current: 0.0,
        untested_reason: Some(reason),
    }
}

fn feature(
    name: &str,
    reference: &ColumnProfile,
    current: &ColumnProfile,
    options: &Options,
) -> FeatureDrift {
    let rows = (reference.rows, current.rows);
    let kind = current.kind;
    let mut f = untested(name, kind, String::new(), rows);
    f.missing_share_reference = share(reference.missing, reference.rows);
    f.missing_share_current = share(current.missing, current.rows);
    if let Some(why) = current
        .untestable
        .as_ref()
        .or(reference.untestable.as_ref())
    {
        f.untested_reason = Some(why.clone());
        return f;
    }
    if reference.kind != current.kind {
        f.untested_reason =
            Some("the column is numeric in one sample and categorical in the other".into());
        return f;
    }
    let (r, c) = (&reference.column, &current.column);
    if let (Column::Categorical(a), Column::Categorical(b)) = (r, c) {
        f.new_categories = b.keys().filter(|k| !a.contains_key(*k)).cloned().collect();
        f.vanished_categories = a.keys().filter(|k| !b.contains_key(*k)).cloned().collect();
    }
    let (test, reason) = match options.stattest {
        Some(t) => (t, format!("{t}: requested")),
        None => {
            let choice = default_test(
                kind,
                r.len(),
                distinct_values(r, c, select::ENOUGH_DISTINCT),
            );
            (choice.test, choice.reason)
        }
    };
    f.stattest_reason = reason;
    let threshold = options
        .threshold
        .unwrap_or_else(|| test.default_threshold());
    match score(test, r, c) {
        Ok(s) => {
            f.stattest = Some(test);
            f.score = Some(s);
            f.threshold = Some(threshold);
            f.drift_detected = test.drifted(s, threshold);
            f.untested_reason = None;
        }
        Err(e) => {
            f.untested_reason = Some(e.to_string());
            return f;
        }
    }
    // The effect size is the test's own score when the test is that measure.
    let (measure, effect) = match (r, f.stattest) {
        (Column::Numeric(_), Some(StatTest::Wasserstein)) => {
            ("wasserstein_normed", Ok(f.score.unwrap_or(f64::NAN)))
        }
        (Column::Numeric(_), _) => ("wasserstein_normed", score(StatTest::Wasserstein, r, c)),
        (Column::Categorical(_), Some(StatTest::Jensenshannon)) => {
            ("jensenshannon", Ok(f.score.unwrap_or(f64::NAN)))
        }
        (Column::Categorical(_), _) => ("jensenshannon", score(StatTest::Jensenshannon, r, c)),
    };
    f.effect_size = effect.ok();
    f.effect_size_measure = Some(measure.to_owned());
    f.psi = score(StatTest::Psi, r, c).ok();
    f.severity = f.psi.map(severity);
    f
}

/// Compares `current` with `reference`, feature by feature.
pub fn compare(reference: &Table, current: &Table, options: &Options) -> DriftReport {
    let mut names: Vec<String> = reference.columns.iter().map(|(n, _)| n.clone()).collect();
    for (n, _) in &current.columns {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    if let Some(only) = &options.features {
        names.retain(|n| only.contains(n));
        for wanted in only {
            if !names.contains(wanted) {
                names.push(wanted.clone());
            }
        }
    }
    let rows = (reference.rows, current.rows);
    // Features are independent: test them on every core.
    let mut features: Vec<FeatureDrift> = names
        .par_iter()
        .map(
            |name| match (reference.column(name), current.column(name)) {
                (Some(r), Some(c)) => feature(name, r, c, options),
                (Some(r), None) => {
                    untested(name, r.kind, "missing from the current data".into(), rows)
                }
                (None, Some(c)) => {
                    untested(name, c.kind, "missing from the reference data".into(), rows)
                }
                (None, None) => {
                    untested(name, FeatureKind::Numeric, "in neither sample".into(), rows)
                }
            },
        )
        .collect();
    let p_features: Vec<usize> = (0..features.len())
        .filter(|&i| {
            features[i].stattest.is_some_and(StatTest::is_p_value) && features[i].score.is_some()
        })
        .collect();
    let p: Vec<f64> = p_features
        .iter()
        .filter_map(|&i| features[i].score)
        .collect();
    for (&i, q) in p_features.iter().zip(benjamini_hochberg(&p)) {
        features[i].q_value = Some(q);
    }
    let tested = features.iter().filter(|f| f.score.is_some()).count();
    let drifted = features.iter().filter(|f| f.drift_detected).count();
    let drift_share = options.drift_share.unwrap_or(0.5);
    let (drifted_share, dataset) = dataset_drift(drifted, tested, drift_share);
    DriftReport {
        reference_rows: reference.rows,
        current_rows: current.rows,
        features,
        tested_features: tested,
        drifted_features: drifted,
        drifted_share,
        drift_share_threshold: drift_share,
        dataset_drift: dataset,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::golden::*;

    fn profile(kind: FeatureKind, column: Column, rows: usize) -> ColumnProfile {
        ColumnProfile {
            kind,
            rows,
            missing: rows - column.len(),
            column,
            integer: false,
            untestable: None,
        }
    }

    fn table(num: Vec<f64>, cat: Vec<String>) -> Table {
        let rows = num.len();
        Table {
            rows,
            columns: vec![
                (
                    "num".into(),
                    profile(FeatureKind::Numeric, Column::numeric(num), rows),
                ),
                (
                    "cat".into(),
                    profile(FeatureKind::Categorical, Column::categorical(&cat), rows),
                ),
            ],
        }
    }

    #[test]
    fn report_on_the_golden_data() {
        let r = table(ref_num(5000), ref_cat(5000));
        let c = table(cur_num(3000), cur_cat(3000));
        let report = compare(&r, &c, &Options::default());
        let num = &report.features[0];
        assert_eq!(num.stattest, Some(StatTest::Wasserstein));
        assert!(close(num.score.unwrap_or(0.0), 0.022_227_019_653_178_38));
        assert!(!num.drift_detected);
        let cat = &report.features[1];
        assert_eq!(cat.stattest, Some(StatTest::Jensenshannon));
        assert!(close(cat.score.unwrap_or(0.0), 0.027_155_232_525_735_623));
        assert_eq!(
            (
                report.tested_features,
                report.drifted_features,
                report.dataset_drift
            ),
            (2, 0, false)
        );

        // Forcing chi-square flags the categorical column (p = 0.0009), q-values appear.
        let forced = compare(
            &r,
            &c,
            &Options {
                stattest: Some(StatTest::Chisquare),
                ..Options::default()
            },
        );
        let cat = &forced.features[1];
        assert!(cat.drift_detected && cat.q_value.is_some());
        assert!(forced.features[1].stattest_reason.contains("requested"));
    }

    #[test]
    fn untested_features_do_not_fail_the_report() {
        let r = table(
            vec![1.0, 2.0, 3.0],
            vec!["a".into(), "b".into(), "c".into()],
        );
        let mut c = table(vec![f64::NAN; 3], vec!["a".into(), "z".into(), "z".into()]);
        c.columns.push((
            "extra".into(),
            profile(FeatureKind::Numeric, Column::numeric([1.0; 3]), 3),
        ));
        let report = compare(&r, &c, &Options::default());
        let by_name = |n: &str| report.features.iter().find(|f| f.name == n);
        assert!(
            by_name("num")
                .and_then(|f| f.untested_reason.clone())
                .unwrap_or_default()
                .contains("no values left")
        );
        assert_eq!(
            by_name("extra")
                .and_then(|f| f.untested_reason.clone())
                .as_deref(),
            Some("missing from the reference data")
        );
        let cat = by_name("cat");
        assert_eq!(
            cat.map(|f| f.new_categories.clone()),
            Some(vec!["z".to_owned()])
        );
        assert_eq!(
            cat.map(|f| f.vanished_categories.clone()),
            Some(vec!["b".to_owned(), "c".to_owned()])
        );
        assert_eq!(report.tested_features, 1);
    }
}
