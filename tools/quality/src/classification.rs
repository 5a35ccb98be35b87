//! Binary classification at a decision threshold (positive when `score >= threshold`): accuracy,
//! precision, recall, F1, ROC AUC (ties count one half, as scikit-learn's trapezoidal curve does),
//! average precision (scikit-learn's step-wise PR AUC), log loss (scores clipped to
//! `[ε, 1 − ε]`, ε the f64 machine epsilon) and the Brier score.

/// Rows sorted by score, ascending, with their labels: sort once, weigh many times.
#[derive(Debug, Clone)]
pub struct Scored {
    scores: Vec<f64>,
    labels: Vec<bool>,
}

/// The metric names, in the order [`Scored::metrics`] returns them.
pub const METRICS: [&str; 8] = [
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "average_precision",
    "log_loss",
    "brier_score",
];

/// Whether larger is better, per metric of [`METRICS`].
pub const GREATER_IS_BETTER: [bool; 8] = [true, true, true, true, true, true, false, false];

impl Scored {
    /// `scores` and `labels` of the same rows; non-finite scores are the caller's to refuse.
    pub fn new(scores: &[f64], labels: &[bool]) -> Self {
        let mut rows: Vec<(f64, bool)> =
            scores.iter().copied().zip(labels.iter().copied()).collect();
        rows.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (scores, labels) = rows.into_iter().unzip();
        Self { scores, labels }
    }

    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// The rows in score order, for resampling.
    pub fn labels(&self) -> &[bool] {
        &self.labels
    }

    /// Every metric of [`METRICS`] with each row counted `weights[i]` times (in score order);
    /// `None` where a metric is not defined.
    pub fn metrics(&self, weights: &[u32], threshold: f64) -> [Option<f64>; 8] {
        let (mut tp, mut fp, mut tn, mut fn_) = (0.0, 0.0, 0.0, 0.0);
        let (mut log_loss, mut brier, mut n) = (0.0, 0.0, 0.0);
        let eps = f64::EPSILON;
        for ((&s, &y), &w) in self.scores.iter().zip(&self.labels).zip(weights) {
            if w == 0 {
                continue;
            }
            let w = f64::from(w);
            n += w;
            let predicted = s >= threshold;
            match (predicted, y) {
                (true, true) => tp += w,
                (true, false) => fp += w,
                (false, false) => tn += w,
                (false, true) => fn_ += w,
            }
            let p = s.clamp(eps, 1.0 - eps);
            let t = if y { 1.0 } else { 0.0 };
            log_loss -= w * (t * p.ln() + (1.0 - t) * (1.0 - p).ln());
            brier += w * (s - t) * (s - t);
        }
        if n == 0.0 {
            return [None; 8];
        }
        let ratio = |a: f64, b: f64| (b > 0.0).then(|| a / b);
        let precision = ratio(tp, tp + fp);
        let recall = ratio(tp, tp + fn_);
        // 2TP / (2TP + FP + FN): defined whenever a positive is labelled or predicted (then 0
        // without a true positive), as scikit-learn computes it.
        let f1 = ratio(2.0 * tp, 2.0 * tp + fp + fn_);
        [
            Some((tp + tn) / n),
            precision,
            recall,
            f1,
            self.roc_auc(weights),
            self.average_precision(weights),
            Some(log_loss / n),
            Some(brier / n),
        ]
    }

    /// Groups of equal scores: (start, end) index ranges in score order.
    fn ties(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        let mut start = 0;
        std::iter::from_fn(move || {
            let first = *self.scores.get(start)?;
            let len = self
                .scores
                .get(start..)?
                .iter()
                .take_while(|s| **s == first)
                .count();
            let group = (start, start + len);
            start += len;
            Some(group)
        })
    }

    fn group_weights(&self, weights: &[u32], (a, b): (usize, usize)) -> (f64, f64) {
        let (mut pos, mut neg) = (0.0, 0.0);
        for i in a..b {
            let w = f64::from(weights.get(i).copied().unwrap_or(0));
            if self.labels.get(i).copied().unwrap_or(false) {
                pos += w;
            } else {
                neg += w;
            }
        }
        (pos, neg)
    }

    /// The probability that a positive scores above a negative, ties counting one half.
    fn roc_auc(&self, weights: &[u32]) -> Option<f64> {
        let (mut below, mut sum, mut positives) = (0.0, 0.0, 0.0);
        for group in self.ties() {
            let (pos, neg) = self.group_weights(weights, group);
            sum += pos * (below + 0.5 * neg);
            below += neg;
            positives += pos;
        }
        (positives > 0.0 && below > 0.0).then(|| sum / (positives * below))
    }

    /// Σ (Rₙ − Rₙ₋₁) Pₙ over the distinct scores, highest first.
    fn average_precision(&self, weights: &[u32]) -> Option<f64> {
        let groups: Vec<(usize, usize)> = self.ties().collect();
        let totals = groups
            .iter()
            .map(|g| self.group_weights(weights, *g))
            .fold(0.0, |acc, (p, _)| acc + p);
        if totals <= 0.0 {
            return None;
        }
        let (mut tp, mut fp, mut last_recall, mut ap) = (0.0, 0.0, 0.0, 0.0);
        for group in groups.iter().rev() {
            let (pos, neg) = self.group_weights(weights, *group);
            if pos == 0.0 && neg == 0.0 {
                continue;
            }
            tp += pos;
            fp += neg;
            let recall = tp / totals;
            ap += (recall - last_recall) * (tp / (tp + fp));
            last_recall = recall;
        }
        Some(ap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(s: &Scored, threshold: f64) -> [Option<f64>; 8] {
        s.metrics(&vec![1; s.len()], threshold)
    }

    #[test]
    fn a_small_case_by_hand() {
        // scikit-learn: roc_auc_score([0,0,1,1],[0.1,0.4,0.35,0.8]) = 0.75,
        // average_precision_score(...) = 0.8333…, accuracy at 0.5 = 0.75.
        let s = Scored::new(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]);
        let m = all(&s, 0.5);
        assert_eq!(m[0], Some(0.75));
        assert_eq!(m[1], Some(1.0));
        assert_eq!(m[2], Some(0.5));
        assert_eq!(m[4], Some(0.75));
        assert!((m[5].unwrap() - 0.833_333_333_333_333_4).abs() < 1e-12);
    }

    #[test]
    fn ties_count_one_half_and_one_class_is_not_computable() {
        let s = Scored::new(&[0.5, 0.5], &[false, true]);
        assert_eq!(all(&s, 0.5)[4], Some(0.5));
        let one = Scored::new(&[0.2, 0.9], &[true, true]);
        let m = all(&one, 0.5);
        assert_eq!(m[4], None, "ROC AUC needs both classes");
        assert_eq!(m[0], Some(0.5));
        let none_predicted = Scored::new(&[0.1, 0.2], &[false, true]);
        assert_eq!(
            all(&none_predicted, 0.5)[1],
            None,
            "precision without predicted positives"
        );
    }

    #[test]
    fn weights_are_repeated_rows() {
        let s = Scored::new(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]);
        let doubled = Scored::new(
            &[0.1, 0.1, 0.4, 0.35, 0.8, 0.8],
            &[false, false, false, true, true, true],
        );
        // In score order the weights are for 0.1, 0.35, 0.4, 0.8.
        let weighted = s.metrics(&[2, 1, 1, 2], 0.5);
        let repeated = all(&doubled, 0.5);
        for (a, b) in weighted.iter().zip(repeated.iter()) {
            assert!((a.unwrap() - b.unwrap()).abs() < 1e-12, "{a:?} {b:?}");
        }
    }
}
