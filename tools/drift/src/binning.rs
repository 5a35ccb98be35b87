//! Evidently's `get_binned_data`: numpy-compatible Sturges bins over the combined range for
//! numeric columns with more than 20 distinct reference values, else one bin per value.

use super::Counts;
use super::source::sorted_counts;

/// Edges of `np.histogram_bin_edges(values, bins="sturges")` for `n` values spanning
/// `lo..=hi`, computed with numpy's float operations.
pub fn sturges_edges(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    // numpy takes the width from the data's range, and widens only the outer edges of a
    // zero-width range (one bin then).
    let width = (hi - lo) / ((n as f64).log2() + 1.0);
    let (lo, hi) = if lo == hi {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    };
    let bins = if width > 0.0 {
        ((hi - lo) / width).ceil().max(1.0) as usize
    } else {
        1
    };
    let step = (hi - lo) / bins as f64;
    let mut edges: Vec<f64> = (0..bins).map(|i| i as f64 * step + lo).collect();
    edges.push(hi);
    edges
}

/// Counts per bin as `np.histogram(sorted, edges)`: `[e_i, e_i+1)`, the last bin closed.
pub fn histogram(sorted: &[f64], edges: &[f64]) -> Vec<u64> {
    let below = |e: f64| sorted.partition_point(|&x| x < e);
    let k = edges.len() - 1;
    let mut cum: Vec<usize> = edges[..k].iter().map(|&e| below(e)).collect();
    cum.push(sorted.partition_point(|&x| x <= edges[k]));
    cum.windows(2).map(|w| (w[1] - w[0]) as u64).collect()
}

/// Proportions over the union of keys, in key order (0 where a key is absent).
pub fn proportions<K: Ord + Clone>(
    reference: &Counts<K>,
    current: &Counts<K>,
) -> (Vec<f64>, Vec<f64>) {
    let n_ref: u64 = reference.values().sum();
    let n_cur: u64 = current.values().sum();
    let keys: std::collections::BTreeSet<&K> = reference.keys().chain(current.keys()).collect();
    keys.into_iter()
        .map(|k| {
            let r = reference.get(k).copied().unwrap_or(0) as f64 / n_ref.max(1) as f64;
            let c = current.get(k).copied().unwrap_or(0) as f64 / n_cur.max(1) as f64;
            (r, c)
        })
        .unzip()
}

/// Binned proportions of two sorted numeric samples, as Evidently bins them.
pub fn numeric(reference: &[f64], current: &[f64]) -> (Vec<f64>, Vec<f64>) {
    // Sorted, so equal values are adjacent: stop counting distinct values past 20.
    if reference.chunk_by(|a, b| a == b).take(21).count() > 20 {
        let lo = reference[0].min(current[0]);
        let hi = reference[reference.len() - 1].max(current[current.len() - 1]);
        let edges = sturges_edges(lo, hi, reference.len() + current.len());
        let share = |h: Vec<u64>, n: usize| h.into_iter().map(|c| c as f64 / n as f64).collect();
        (
            share(histogram(reference, &edges), reference.len()),
            share(histogram(current, &edges), current.len()),
        )
    } else {
        proportions(&sorted_counts(reference), &sorted_counts(current))
    }
}

/// Evidently's zero fill (PSI, KL): each 0 becomes `min_nonzero / 1e6` if that minimum is at
/// most 1e-4, else 1e-4. Not renormalised.
pub fn fill_zeroes(p: &[f64]) -> Vec<f64> {
    let min = p
        .iter()
        .copied()
        .filter(|&x| x > 0.0)
        .fold(f64::INFINITY, f64::min);
    let eps = if min <= 1e-4 { min / 1e6 } else { 1e-4 };
    p.iter().map(|&x| if x == 0.0 { eps } else { x }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_and_counts_match_numpy() {
        // np.histogram_bin_edges(np.arange(10.0), "sturges") -> 5 bins over 0..9.
        let edges = sturges_edges(0.0, 9.0, 10);
        let expected = [0.0, 1.8, 3.6, 5.4, 7.2, 9.0];
        assert_eq!(edges.len(), expected.len());
        assert!(
            edges
                .iter()
                .zip(expected)
                .all(|(a, b)| (a - b).abs() < 1e-12),
            "{edges:?}"
        );
        let data: Vec<f64> = (0..10).map(f64::from).collect();
        assert_eq!(histogram(&data, &edges), vec![2, 2, 2, 2, 2]);
        // The maximum falls in the last, closed bin; a value on an inner edge goes right.
        assert_eq!(histogram(&[0.0, 1.8, 9.0], &edges), vec![1, 1, 0, 0, 1]);
        assert_eq!(sturges_edges(3.0, 3.0, 4), vec![2.5, 3.5]);
    }

    #[test]
    fn zero_fill_follows_evidently() {
        assert_eq!(fill_zeroes(&[0.5, 0.0, 0.5]), vec![0.5, 1e-4, 0.5]);
        assert_eq!(
            fill_zeroes(&[0.99995, 0.00005, 0.0]),
            vec![0.99995, 0.00005, 0.00005 / 1e6]
        );
    }
}
