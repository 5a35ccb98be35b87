//! Binary classification metrics of a scorer on labelled rows.

use std::collections::BTreeMap;

/// Accuracy, precision, recall, F1 (at a threshold) and ROC AUC.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    pub accuracy: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub roc_auc: f64,
    pub rows: usize,
}

impl Metrics {
    /// As stored in the registry.
    pub fn to_map(&self) -> BTreeMap<String, f64> {
        [
            ("accuracy", self.accuracy),
            ("precision", self.precision),
            ("recall", self.recall),
            ("f1", self.f1),
            ("roc_auc", self.roc_auc),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// Evaluates `(score, label)` pairs. ROC AUC is the Mann-Whitney statistic with ties counted
/// half; it is 0.5 when one class is absent.
pub fn evaluate(scored: &[(f64, bool)], threshold: f64) -> Metrics {
    let (mut tp, mut fp, mut tn, mut fn_) = (0, 0, 0, 0);
    for &(s, y) in scored {
        match (s >= threshold, y) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, false) => tn += 1,
            (false, true) => fn_ += 1,
        }
    }
    let precision = ratio(tp, tp + fp);
    let recall = ratio(tp, tp + fn_);
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    Metrics {
        accuracy: ratio(tp + tn, scored.len()),
        precision,
        recall,
        f1,
        roc_auc: roc_auc(scored),
        rows: scored.len(),
    }
}

fn roc_auc(scored: &[(f64, bool)]) -> f64 {
    let mut sorted: Vec<(f64, bool)> = scored.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let positives = sorted.iter().filter(|(_, y)| *y).count();
    let negatives = sorted.len() - positives;
    if positives == 0 || negatives == 0 {
        return 0.5;
    }
    // Sum of the (1-based, tie-averaged) ranks of the positives.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j + 1].0 == sorted[i].0 {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += avg_rank * sorted[i..=j].iter().filter(|(_, y)| *y).count() as f64;
        i = j + 1;
    }
    let p = positives as f64;
    (rank_sum - p * (p + 1.0) / 2.0) / (p * negatives as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // Perfect separation, inverted, and a hand-computed mixed case.
        let perfect = [(0.9, true), (0.8, true), (0.2, false), (0.1, false)];
        assert_eq!(evaluate(&perfect, 0.5).roc_auc, 1.0);
        let inverted = [(0.1, true), (0.9, false)];
        assert_eq!(evaluate(&inverted, 0.5).roc_auc, 0.0);
        // Pairs (pos, neg): (0.8,0.6) yes, (0.8,0.3) yes, (0.4,0.6) no, (0.4,0.3) yes → 3/4.
        let mixed = [(0.8, true), (0.4, true), (0.6, false), (0.3, false)];
        let m = evaluate(&mixed, 0.5);
        assert!((m.roc_auc - 0.75).abs() < 1e-12);
        assert!((m.accuracy - 0.5).abs() < 1e-12);
        assert!((m.precision - 0.5).abs() < 1e-12 && (m.recall - 0.5).abs() < 1e-12);
        // Ties count half.
        assert!((evaluate(&[(0.5, true), (0.5, false)], 0.5).roc_auc - 0.5).abs() < 1e-12);
    }
}
