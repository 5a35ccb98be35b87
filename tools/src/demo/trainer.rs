//! The demo's real trainer: an L2-regularised logistic regression (`linfa-logistic`) on the
//! same feature transforms as `v1`, with one weight per category level seen in the training
//! data, written as a [`LinearScorer`] artifact and evaluated on a holdout set.

use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2};

use super::dataset::{CATEGORIES, CHANNELS, Row};
use super::metrics::{Metrics, evaluate};
use super::scorer::{LinearScorer, NumericTerm, Transform};

/// The numeric terms `v1` uses; the trainer fits their weights.
fn numeric_terms() -> Vec<(&'static str, Transform)> {
    vec![
        ("amount", Transform::Log1p { center: 3.5 }),
        ("hour", Transform::Below { bound: 6.0 }),
        ("distance_km", Transform::Log1p { center: 1.5 }),
        ("account_age_days", Transform::Below { bound: 30.0 }),
        ("tx_count_24h", Transform::Linear { center: 0.0 }),
    ]
}

fn transformed(x: f64, t: &Transform) -> f64 {
    match *t {
        Transform::Linear { center } => x - center,
        Transform::Log1p { center } => x.ln_1p() - center,
        Transform::Below { bound } => f64::from(u8::from(x < bound)),
    }
}

/// Category levels as model inputs: (feature, level).
fn levels() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = CATEGORIES
        .iter()
        .map(|c| ("merchant_category", *c))
        .collect();
    out.extend(CHANNELS.iter().map(|c| ("channel", *c)));
    out
}

fn design(rows: &[Row]) -> Array2<f64> {
    let terms = numeric_terms();
    let levels = levels();
    let width = terms.len() + levels.len();
    Array2::from_shape_fn((rows.len(), width), |(i, j)| {
        let row = &rows[i];
        if j < terms.len() {
            let (name, t) = &terms[j];
            transformed(row.numeric(name).unwrap_or(0.0), t)
        } else {
            let (feature, level) = levels[j - terms.len()];
            f64::from(u8::from(row.categorical(feature) == Some(level)))
        }
    })
}

/// Fits a scorer on `training` rows (labels in `is_fraud`).
pub fn fit(training: &[Row], threshold: f64) -> Result<LinearScorer, String> {
    if training.is_empty() {
        return Err("no training rows".into());
    }
    let x = design(training);
    let y: Array1<bool> = training.iter().map(|r| r.is_fraud).collect();
    let model = LogisticRegression::default()
        .alpha(0.01)
        .max_iterations(500)
        .fit(&Dataset::new(x, y))
        .map_err(|e| format!("logistic regression failed: {e}"))?;
    // linfa orders the two classes itself; make the weights those of `is_fraud = true`.
    let sign = if model.labels().pos.class { 1.0 } else { -1.0 };
    let params = model.params();
    let terms = numeric_terms();
    let numeric = terms
        .iter()
        .enumerate()
        .map(|(j, (name, t))| NumericTerm {
            feature: (*name).to_owned(),
            transform: t.clone(),
            weight: sign * params[j],
        })
        .collect();
    let mut categorical =
        std::collections::BTreeMap::<String, std::collections::BTreeMap<String, f64>>::new();
    for (k, (feature, level)) in levels().into_iter().enumerate() {
        categorical
            .entry(feature.to_owned())
            .or_default()
            .insert(level.to_owned(), sign * params[terms.len() + k]);
    }
    Ok(LinearScorer {
        intercept: sign * model.intercept(),
        numeric,
        categorical,
        threshold,
    })
}

/// Metrics of `scorer` on labelled `rows`.
pub fn evaluate_on(scorer: &LinearScorer, rows: &[Row]) -> Metrics {
    let scored: Vec<(f64, bool)> = rows.iter().map(|r| (scorer.score(r), r.is_fraud)).collect();
    evaluate(&scored, scorer.threshold)
}

/// A row's level of one categorical feature.
type Level = fn(&Row) -> &str;

/// Fewest holdout rows a segment needs to be reported.
const MIN_SEGMENT_ROWS: usize = 20;

/// Both scorers per category of the demo's categorical features on `rows`: accuracy and, where
/// the segment holds both classes, ROC AUC.
pub fn segments(
    candidate: &LinearScorer,
    champion: &LinearScorer,
    rows: &[Row],
) -> Vec<crate::model::SegmentMetrics> {
    let pick = |m: Metrics, both: bool| {
        let mut map = std::collections::BTreeMap::from([("accuracy".to_owned(), m.accuracy)]);
        if both {
            map.insert("roc_auc".to_owned(), m.roc_auc);
        }
        map
    };
    let features: [(&str, &[&str], Level); 2] = [
        ("merchant_category", CATEGORIES, |r| r.merchant_category),
        ("channel", CHANNELS, |r| r.channel),
    ];
    let mut out = Vec::new();
    for (feature, levels, of) in features {
        for level in levels {
            let part: Vec<Row> = rows.iter().filter(|r| of(r) == *level).cloned().collect();
            if part.len() < MIN_SEGMENT_ROWS {
                continue;
            }
            let frauds = part.iter().filter(|r| r.is_fraud).count();
            let both = frauds > 0 && frauds < part.len();
            out.push(crate::model::SegmentMetrics {
                feature: feature.to_owned(),
                category: (*level).to_owned(),
                rows: part.len() as u64,
                candidate: pick(evaluate_on(candidate, &part), both),
                champion: pick(evaluate_on(champion, &part), both),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::{Era, generate};

    #[test]
    fn retraining_on_drifted_data_beats_v1_on_a_drifted_holdout() {
        let mut training = generate(Era::Reference, 4000, 11);
        training.extend(generate(Era::Drifted, 3000, 12));
        let holdout = generate(Era::Drifted, 3000, 13);
        let v1 = LinearScorer::demo_v1();
        let v2 = fit(&training, v1.threshold).unwrap();
        let (old, new) = (evaluate_on(&v1, &holdout), evaluate_on(&v2, &holdout));
        assert!(
            new.roc_auc > old.roc_auc + 0.01,
            "v2 roc_auc {} vs v1 {}",
            new.roc_auc,
            old.roc_auc
        );
        // It learned the new risk: crypto weighs more than any reference-era category.
        let crypto = v2.categorical["merchant_category"]["crypto"];
        assert!(
            crypto > v2.categorical["merchant_category"]["grocery"] + 1.0,
            "{crypto}"
        );
    }
}
