//! Percentile bootstrap intervals with a fixed seed: the same rows give the same interval on
//! every run and replica. Each resample draws `n` rows with replacement (as weights, so nothing
//! is copied) and recomputes every metric; the interval is the 2.5th and 97.5th percentile of a
//! metric over the resamples where it is defined.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Resamples per interval.
pub const RESAMPLES: usize = 200;
/// The seed of every interval.
pub const SEED: u64 = 0x6d6c_6f70_735f_7131;

/// A 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

/// A metric's value on the rows and its interval (`None` where the metric is not defined).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Estimate {
    pub value: Option<f64>,
    pub interval: Option<Interval>,
}

fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    // Linear interpolation between closest ranks (numpy's default).
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let (a, b) = (*sorted.get(lo)?, *sorted.get(hi)?);
    Some(a + (b - a) * (pos - lo as f64))
}

/// The `K` metrics `compute` gives on all `n` rows (each weight 1), with intervals from
/// [`RESAMPLES`] resamples.
pub fn estimate<const K: usize>(
    n: usize,
    compute: impl Fn(&[u32]) -> [Option<f64>; K],
) -> [Estimate; K] {
    let ones = vec![1u32; n];
    let point = compute(&ones);
    let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(RESAMPLES); K];
    if n > 0 {
        let mut rng = ChaCha8Rng::seed_from_u64(SEED);
        let mut weights = vec![0u32; n];
        for _ in 0..RESAMPLES {
            weights.iter_mut().for_each(|w| *w = 0);
            for _ in 0..n {
                if let Some(w) = weights.get_mut(rng.random_range(0..n)) {
                    *w += 1;
                }
            }
            for (k, value) in compute(&weights).into_iter().enumerate() {
                if let (Some(v), Some(s)) = (value, samples.get_mut(k)) {
                    s.push(v);
                }
            }
        }
    }
    let mut out = [Estimate {
        value: None,
        interval: None,
    }; K];
    for (k, e) in out.iter_mut().enumerate() {
        e.value = point.get(k).copied().flatten();
        if let Some(s) = samples.get_mut(k) {
            s.sort_by(f64::total_cmp);
            // Fewer than half the resamples defined: no honest interval.
            if e.value.is_some()
                && s.len() * 2 >= RESAMPLES
                && let (Some(low), Some(high)) = (percentile(s, 0.025), percentile(s, 0.975))
            {
                e.interval = Some(Interval { low, high });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_repeatable_and_hold_the_value() {
        let values: Vec<f64> = (0..500).map(|i| f64::from(i % 7)).collect();
        let mean = |w: &[u32]| {
            let n: f64 = w.iter().map(|x| f64::from(*x)).sum();
            let s: f64 = values.iter().zip(w).map(|(v, x)| v * f64::from(*x)).sum();
            [Some(s / n)]
        };
        let a = estimate(values.len(), mean);
        let b = estimate(values.len(), mean);
        assert_eq!(a, b);
        let i = a[0].interval.unwrap();
        let v = a[0].value.unwrap();
        assert!(i.low < v && v < i.high, "{i:?} {v}");
        assert!(i.high - i.low < 0.5, "{i:?}");
    }

    #[test]
    fn percentiles_interpolate_like_numpy() {
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 0.5), Some(2.5));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
