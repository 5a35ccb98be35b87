//! Evidently's chi-square test: goodness of fit of the current counts against the reference
//! proportions scaled to the current size (`scipy.stats.chisquare(cur, ref · n_cur/n_ref)`),
//! p from the chi-square survival function with k − 1 degrees of freedom. A category absent
//! from the reference makes the statistic infinite and p = 0, as in Evidently.

use statrs::distribution::{ChiSquared, ContinuousCDF};

use super::Counts;

pub fn chisquare<K: Ord + Clone>(reference: &Counts<K>, current: &Counts<K>) -> f64 {
    let n_ref: u64 = reference.values().sum();
    let n_cur: u64 = current.values().sum();
    let keys: std::collections::BTreeSet<&K> = reference.keys().chain(current.keys()).collect();
    let k = keys.len();
    let stat: f64 = keys
        .iter()
        .map(|key| {
            let expected =
                reference.get(*key).copied().unwrap_or(0) as f64 * (n_cur as f64 / n_ref as f64);
            let observed = current.get(*key).copied().unwrap_or(0) as f64;
            if expected == 0.0 {
                f64::INFINITY
            } else {
                (observed - expected).powi(2) / expected
            }
        })
        .sum();
    if k < 2 {
        return 1.0;
    }
    if stat.is_infinite() {
        return 0.0;
    }
    ChiSquared::new((k - 1) as f64).map_or(f64::NAN, |dist| dist.sf(stat))
}
