//! Isotonic regression of labels on scores (pool adjacent violators), the calibrator of
//! confidence-based estimation: equal scores are pooled first, the fitted steps are joined by
//! straight lines, and scores outside the fitted range take the nearest end's value, as
//! scikit-learn's `IsotonicRegression(out_of_bounds="clip")` predicts.

/// A fitted non-decreasing map from score to probability.
#[derive(Debug, Clone, PartialEq)]
pub struct Isotonic {
    /// Distinct scores, ascending.
    xs: Vec<f64>,
    /// The fitted value at each of `xs`, non-decreasing.
    ys: Vec<f64>,
}

impl Isotonic {
    /// Fits `labels` (0 or 1) on `scores`; `None` without rows.
    pub fn fit(scores: &[f64], labels: &[bool]) -> Option<Self> {
        let mut rows: Vec<(f64, f64)> = scores
            .iter()
            .zip(labels)
            .map(|(s, y)| (*s, if *y { 1.0 } else { 0.0 }))
            .collect();
        rows.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Pool equal scores: (score, mean label, weight).
        let mut pooled: Vec<(f64, f64, f64)> = Vec::new();
        for (x, y) in rows {
            match pooled.last_mut() {
                Some(last) if last.0 == x => {
                    last.1 = (last.1 * last.2 + y) / (last.2 + 1.0);
                    last.2 += 1.0;
                }
                _ => pooled.push((x, y, 1.0)),
            }
        }
        if pooled.is_empty() {
            return None;
        }
        // Pool adjacent violators: blocks of (mean, weight, count of points).
        let mut blocks: Vec<(f64, f64, usize)> = Vec::with_capacity(pooled.len());
        for &(_, y, w) in &pooled {
            blocks.push((y, w, 1));
            while blocks.len() >= 2 {
                let (Some(&b), Some(&a)) = (blocks.last(), blocks.get(blocks.len() - 2)) else {
                    break;
                };
                if a.0 <= b.0 {
                    break;
                }
                blocks.truncate(blocks.len() - 2);
                let w = a.1 + b.1;
                blocks.push(((a.0 * a.1 + b.0 * b.1) / w, w, a.2 + b.2));
            }
        }
        let ys = blocks
            .iter()
            .flat_map(|&(mean, _, count)| std::iter::repeat_n(mean, count))
            .collect();
        let xs = pooled.iter().map(|p| p.0).collect();
        Some(Self { xs, ys })
    }

    /// The calibrated probability of `score`.
    pub fn predict(&self, score: f64) -> f64 {
        let (Some(&first), Some(&last)) = (self.xs.first(), self.xs.last()) else {
            return f64::NAN;
        };
        let x = score.clamp(first, last);
        // The first fitted score at or above x.
        let i = self.xs.partition_point(|&v| v < x);
        let (Some(&x1), Some(&y1)) = (self.xs.get(i), self.ys.get(i)) else {
            return self.ys.last().copied().unwrap_or(f64::NAN);
        };
        if x1 == x || i == 0 {
            return y1;
        }
        let (Some(&x0), Some(&y0)) = (self.xs.get(i - 1), self.ys.get(i - 1)) else {
            return y1;
        };
        y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn violators_are_pooled_and_ends_clip() {
        // scikit-learn: IsotonicRegression(out_of_bounds="clip").fit([.1,.2,.3,.4],[0,1,0,1])
        // predicts [0, .5, .5, 1] at the fitted scores, .75 at .35, 0 below and 1 above.
        let f = Isotonic::fit(&[0.1, 0.2, 0.3, 0.4], &[false, true, false, true]).unwrap();
        let at: Vec<f64> = [0.1, 0.2, 0.3, 0.4].iter().map(|s| f.predict(*s)).collect();
        assert_eq!(at, vec![0.0, 0.5, 0.5, 1.0]);
        assert!((f.predict(0.35) - 0.75).abs() < 1e-12);
        assert_eq!(f.predict(-1.0), 0.0);
        assert_eq!(f.predict(2.0), 1.0);
    }

    #[test]
    fn equal_scores_share_one_value() {
        let f = Isotonic::fit(&[0.5, 0.5, 0.5, 0.9], &[true, false, false, true]).unwrap();
        assert!((f.predict(0.5) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(f.predict(0.9), 1.0);
        assert!(Isotonic::fit(&[], &[]).is_none());
    }
}
