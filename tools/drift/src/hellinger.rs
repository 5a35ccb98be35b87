//! Evidently's Hellinger distance: `sqrt(1 − BC)` with the Bhattacharyya coefficient clipped to
//! [0, 1]. Numeric columns are binned with Sturges over the combined range, the bin count from
//! the number of distinct values; categorical columns use one bin per value.

use super::binning::{histogram, proportions, sturges_edges};
use super::{Counts, NumKey, counts};

fn from_proportions(p_ref: &[f64], p_cur: &[f64]) -> f64 {
    let bc: f64 = p_ref.iter().zip(p_cur).map(|(a, b)| (a * b).sqrt()).sum();
    (1.0 - bc.clamp(0.0, 1.0)).sqrt()
}

/// Two sorted numeric samples.
pub fn numeric(reference: &[f64], current: &[f64]) -> f64 {
    let all: Vec<NumKey> = reference
        .iter()
        .chain(current)
        .map(|&x| NumKey(x))
        .collect();
    let distinct = counts(&all).len();
    let lo = reference[0].min(current[0]);
    let hi = reference[reference.len() - 1].max(current[current.len() - 1]);
    let edges = sturges_edges(lo, hi, distinct);
    let share = |h: Vec<u64>, n: usize| -> Vec<f64> {
        h.into_iter().map(|c| c as f64 / n as f64).collect()
    };
    from_proportions(
        &share(histogram(reference, &edges), reference.len()),
        &share(histogram(current, &edges), current.len()),
    )
}

/// Two categorical samples, as counts.
pub fn categorical<K: Ord + Clone>(reference: &Counts<K>, current: &Counts<K>) -> f64 {
    let (r, c) = proportions(reference, current);
    from_proportions(&r, &c)
}
