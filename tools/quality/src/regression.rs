//! Regression: MAE, RMSE, MAPE (|y − ŷ| / max(|y|, ε), ε the f64 machine epsilon, as
//! scikit-learn) and R² (not defined for a constant target).

/// The metric names, in the order [`metrics`] returns them.
pub const METRICS: [&str; 4] = ["mae", "rmse", "mape", "r2"];

/// Whether larger is better, per metric of [`METRICS`].
pub const GREATER_IS_BETTER: [bool; 4] = [false, false, false, true];

/// Every metric of [`METRICS`] with row `i` counted `weights[i]` times.
pub fn metrics(predicted: &[f64], actual: &[f64], weights: &[u32]) -> [Option<f64>; 4] {
    let (mut n, mut sum_y) = (0.0, 0.0);
    for (&y, &w) in actual.iter().zip(weights) {
        n += f64::from(w);
        sum_y += f64::from(w) * y;
    }
    if n == 0.0 {
        return [None; 4];
    }
    let mean = sum_y / n;
    let (mut abs, mut sq, mut pct, mut tot) = (0.0, 0.0, 0.0, 0.0);
    for ((&p, &y), &w) in predicted.iter().zip(actual).zip(weights) {
        let w = f64::from(w);
        let e = y - p;
        abs += w * e.abs();
        sq += w * e * e;
        pct += w * e.abs() / y.abs().max(f64::EPSILON);
        tot += w * (y - mean) * (y - mean);
    }
    [
        Some(abs / n),
        Some((sq / n).sqrt()),
        Some(pct / n),
        (tot > 0.0).then(|| 1.0 - sq / tot),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_case_by_hand() {
        // scikit-learn: mean_absolute_error([3,-0.5,2,7],[2.5,0,2,8]) = 0.5, r2_score = 0.9486…
        let m = metrics(&[2.5, 0.0, 2.0, 8.0], &[3.0, -0.5, 2.0, 7.0], &[1; 4]);
        assert_eq!(m[0], Some(0.5));
        assert!((m[1].unwrap() - 0.375_f64.sqrt()).abs() < 1e-12);
        assert!((m[3].unwrap() - 0.948_608_137_044_967_9).abs() < 1e-12);
        assert_eq!(metrics(&[1.0, 2.0], &[5.0, 5.0], &[1, 1])[3], None);
    }
}
