//! Confidence-based performance estimation (CBPE, as NannyML defines it) for binary classifiers:
//! with scores that are calibrated probabilities, a row predicted positive with probability `p`
//! is expected to be `p` of a true positive and `1 − p` of a false positive, so the expected
//! confusion matrix of rows without labels gives their expected accuracy, precision, recall, F1
//! and ROC AUC.
//!
//! Calibration is learnt on labelled reference rows (isotonic, [`crate::isotonic`]) and used only
//! when it helps: not for a one-class reference, not when the reference ROC AUC is above 0.999,
//! and not when, over ten stratified folds of the reference, the calibrated held-out scores have
//! a larger expected calibration error (ten equal-count bins) than the raw ones. NannyML makes the
//! same decision over ten random 90/10 splits; ours are fixed folds, so a borderline reference
//! may be decided the other way, and the estimate says which way it went.
//!
//! The estimate assumes no concept drift (P(label | inputs) is the reference's) and that the
//! calibration still holds on the new inputs.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::classification::Scored;
use crate::isotonic::Isotonic;

/// The estimated metric names, in the order [`estimate`] returns them.
pub const METRICS: [&str; 5] = ["accuracy", "precision", "recall", "f1", "roc_auc"];

/// Folds of the calibration decision.
const FOLDS: usize = 10;
/// Bins of the expected calibration error.
const BINS: usize = 10;
/// Seed of the fold assignment.
const SEED: u64 = 0x6d6c_6f70_735f_6362;

/// How scores are turned into probabilities, and why.
#[derive(Debug, Clone)]
pub struct Calibration {
    map: Option<Isotonic>,
    /// Why the scores are or are not recalibrated, in words.
    pub why: &'static str,
}

impl Calibration {
    /// Learns the calibration from labelled reference rows.
    pub fn fit(scores: &[f64], labels: &[bool]) -> Self {
        let none = |why| Self { map: None, why };
        let positives = labels.iter().filter(|y| **y).count();
        if positives == 0 || positives == labels.len() {
            return none("the reference has one class: scores used as they are");
        }
        let weights = vec![1u32; scores.len()];
        let auc = Scored::new(scores, labels).metrics(&weights, 0.5)[4];
        if auc.is_some_and(|a| a > 0.999) {
            return none("the reference ROC AUC is above 0.999: scores used as they are");
        }
        match helps(scores, labels) {
            Some(true) => Self {
                map: Isotonic::fit(scores, labels),
                why: "isotonic calibration on the reference lowers the held-out calibration error",
            },
            Some(false) => none(
                "isotonic calibration on the reference does not lower the held-out calibration error: scores used as they are",
            ),
            None => none("too few reference rows to test calibration: scores used as they are"),
        }
    }

    /// Whether the scores are recalibrated.
    pub fn is_isotonic(&self) -> bool {
        self.map.is_some()
    }

    /// The probability of the positive class for `score`.
    pub fn probability(&self, score: f64) -> f64 {
        self.map.as_ref().map_or(score, |m| m.predict(score))
    }
}

/// Expected calibration error over equal-count bins of the rows sorted by probability.
fn ece(mut rows: Vec<(f64, f64)>) -> Option<f64> {
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = rows.len();
    let bins = if n <= 2 * BINS { n / 2 } else { BINS };
    if bins < 2 {
        return None;
    }
    let width = n / bins;
    let mut edges: Vec<usize> = (0..=n).step_by(width).collect();
    if let Some(last) = edges.last_mut() {
        *last = n;
    }
    let mut total = 0.0;
    for pair in edges.windows(2) {
        let (Some(&a), Some(&b)) = (pair.first(), pair.get(1)) else {
            continue;
        };
        let bin = rows.get(a..b)?;
        if bin.is_empty() {
            continue;
        }
        let len = bin.len() as f64;
        let p: f64 = bin.iter().map(|r| r.0).sum::<f64>() / len;
        let y: f64 = bin.iter().map(|r| r.1).sum::<f64>() / len;
        total += len / n as f64 * (p - y).abs();
    }
    Some(total)
}

/// Whether isotonic calibration lowers the calibration error of held-out rows over stratified
/// folds; `None` with too few rows to tell.
fn helps(scores: &[f64], labels: &[bool]) -> Option<bool> {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let mut fold = vec![0usize; scores.len()];
    for class in [true, false] {
        let mut members: Vec<usize> = (0..labels.len())
            .filter(|i| labels.get(*i) == Some(&class))
            .collect();
        members.shuffle(&mut rng);
        for (k, i) in members.into_iter().enumerate() {
            if let Some(f) = fold.get_mut(i) {
                *f = k % FOLDS;
            }
        }
    }
    let (mut before, mut after) = (Vec::new(), Vec::new());
    for k in 0..FOLDS {
        let (mut train_s, mut train_y, mut test) = (Vec::new(), Vec::new(), Vec::new());
        for ((s, y), f) in scores.iter().zip(labels).zip(&fold) {
            if *f == k {
                test.push((*s, *y));
            } else {
                train_s.push(*s);
                train_y.push(*y);
            }
        }
        let Some(map) = Isotonic::fit(&train_s, &train_y) else {
            continue;
        };
        for (s, y) in test {
            let y = if y { 1.0 } else { 0.0 };
            before.push((s, y));
            after.push((map.predict(s), y));
        }
    }
    Some(ece(before)? > ece(after)?)
}

/// Every metric of [`METRICS`] expected on rows with model `scores` (the decision is
/// `score >= threshold`) and calibrated `probabilities` of the positive class; `None` where the
/// expected confusion matrix leaves a metric undefined.
pub fn estimate(scores: &[f64], probabilities: &[f64], threshold: f64) -> [Option<f64>; 5] {
    let (mut tp, mut fp, mut tn, mut fn_) = (0.0, 0.0, 0.0, 0.0);
    for (&s, &p) in scores.iter().zip(probabilities) {
        if s >= threshold {
            tp += p;
            fp += 1.0 - p;
        } else {
            fn_ += p;
            tn += 1.0 - p;
        }
    }
    let n = tp + fp + tn + fn_;
    let ratio = |a: f64, b: f64| (b > 0.0).then(|| a / b);
    [
        ratio(tp + tn, n),
        ratio(tp, tp + fp),
        ratio(tp, tp + fn_),
        ratio(tp, tp + 0.5 * (fp + fn_)),
        roc_auc(scores, probabilities),
    ]
}

/// The area under the expected ROC curve: rows in descending score order, each adding `p` to the
/// true and `1 − p` to the false positives; equal scores form one step.
fn roc_auc(scores: &[f64], probabilities: &[f64]) -> Option<f64> {
    let mut rows: Vec<(f64, f64)> = scores
        .iter()
        .copied()
        .zip(probabilities.iter().copied())
        .collect();
    rows.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut tp, mut fp, mut area) = (0.0, 0.0, 0.0);
    let mut i = 0;
    while let Some(&(score, _)) = rows.get(i) {
        let (mut dtp, mut dfp) = (0.0, 0.0);
        while let Some(&(s, p)) = rows.get(i) {
            if s != score {
                break;
            }
            dtp += p;
            dfp += 1.0 - p;
            i += 1;
        }
        area += dfp * (tp + tp + dtp) / 2.0;
        tp += dtp;
        fp += dfp;
    }
    (tp > 0.0 && fp > 0.0).then(|| area / (tp * fp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certain_probabilities_give_the_realised_metrics() {
        // With p equal to the label the expected confusion matrix is the real one.
        let scores = [0.1, 0.35, 0.4, 0.8];
        let labels = [0.0, 1.0, 0.0, 1.0];
        let m = estimate(&scores, &labels, 0.5);
        let weights = [1u32; 4];
        let real = Scored::new(&scores, &[false, true, false, true]).metrics(&weights, 0.5);
        for k in 0..5 {
            assert_eq!(m[k], real[k], "{}", METRICS[k]);
        }
    }

    #[test]
    fn expected_counts_by_hand() {
        // TP = .9, FP = .1, FN = .2, TN = .8 → accuracy .85, precision .9, recall .818…
        let m = estimate(&[0.7, 0.3], &[0.9, 0.2], 0.5);
        assert!((m[0].unwrap() - 0.85).abs() < 1e-12);
        assert!((m[1].unwrap() - 0.9).abs() < 1e-12);
        assert!((m[2].unwrap() - 0.9 / 1.1).abs() < 1e-12);
        // AUC: positive mass above negative mass, a row's own two halves tied (one half):
        // (.9·.8 + ½·.9·.1 + ½·.2·.8) / (1.1·.9).
        assert!((m[4].unwrap() - 0.845 / 0.99).abs() < 1e-12);
    }

    #[test]
    fn a_one_class_or_perfect_reference_is_not_recalibrated() {
        let one = Calibration::fit(&[0.2, 0.4, 0.6], &[true, true, true]);
        assert!(!one.is_isotonic());
        let perfect = Calibration::fit(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]);
        assert!(!perfect.is_isotonic());
        assert_eq!(perfect.probability(0.8), 0.8);
    }

    #[test]
    fn badly_calibrated_scores_are_recalibrated() {
        // Every score is 0.9 points too high for its true rate.
        let mut scores = Vec::new();
        let mut labels = Vec::new();
        for i in 0..2000u32 {
            let p = f64::from(i % 100) / 1000.0;
            scores.push(p + 0.9);
            labels.push(f64::from((i * 7919) % 1000) < p * 1000.0);
        }
        let c = Calibration::fit(&scores, &labels);
        assert!(c.is_isotonic(), "{}", c.why);
        assert!(c.probability(0.95) < 0.2);
    }
}
