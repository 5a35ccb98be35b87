//! Evidently's two-proportion z-test: the first value (in sorted order) against all others,
//! pooled proportion, `p = 2 · (1 − Φ(|z|))`. Both samples holding the same single value: p = 1.

use statrs::distribution::{ContinuousCDF, Normal};

use super::Counts;

pub fn z_test<K: Ord + Clone>(reference: &Counts<K>, current: &Counts<K>) -> f64 {
    let keys: std::collections::BTreeSet<&K> = reference.keys().chain(current.keys()).collect();
    let Some(first) = keys.first() else {
        return 1.0;
    };
    if keys.len() == 1 {
        return 1.0;
    }
    let n1 = reference.values().sum::<u64>() as f64;
    let n2 = current.values().sum::<u64>() as f64;
    // Share of values that are *not* the first key (Evidently maps keys[0] → 0, others → 1).
    let p1 = 1.0 - reference.get(*first).copied().unwrap_or(0) as f64 / n1;
    let p2 = 1.0 - current.get(*first).copied().unwrap_or(0) as f64 / n2;
    let pooled = (p1 * n1 + p2 * n2) / (n1 + n2);
    let z = (p1 - p2) / (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    Normal::new(0.0, 1.0).map_or(f64::NAN, |n| 2.0 * (1.0 - n.cdf(z.abs())))
}
