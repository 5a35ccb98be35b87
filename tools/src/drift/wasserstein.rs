//! Evidently's normed Wasserstein distance: `W1(ref, cur) / max(std(ref), 0.001)`, with scipy's
//! `_cdf_distance(1, …)` and the population standard deviation of the reference.

/// W1 between two sorted samples. scipy sums the gaps between the pooled values weighted by the
/// difference of the two ECDFs; the same area is the integral of the difference of the quantile
/// functions, summed here: the reference's quantile function is `reference[i]` for `u` in
/// `[i/n1, (i+1)/n1)`, the current one's `current[j]` for `u` in `[j/n2, (j+1)/n2)`, so the
/// pieces where both are constant follow from the sizes alone. Positions are integers in units
/// of `1/(n1·n2)`, and the walk needs no comparison of values (which a merge of the samples
/// would, mispredicted half the time on mixed samples).
pub fn distance(reference: &[f64], current: &[f64]) -> f64 {
    let (n1, n2) = (reference.len() as u64, current.len() as u64);
    if n1 == 0 || n2 == 0 {
        return 0.0;
    }
    let (mut i, mut j) = (0, 0);
    let (mut at, mut total) = (0u64, 0.0);
    while let (Some(&x), Some(&y)) = (reference.get(i), current.get(j)) {
        let (end_r, end_c) = ((i as u64 + 1) * n2, (j as u64 + 1) * n1);
        let end = end_r.min(end_c);
        total += (end - at) as f64 * (x - y).abs();
        at = end;
        // Both advance where the pieces end together (every step when n1 == n2).
        i += usize::from(end_r == end);
        j += usize::from(end_c == end);
    }
    total / (n1 as f64 * n2 as f64)
}

/// Population standard deviation (numpy's default `ddof=0`).
pub fn population_std(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    (values.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n).sqrt()
}

/// The normed distance of two sorted samples.
pub fn normed(reference: &[f64], current: &[f64]) -> f64 {
    distance(reference, current) / population_std(reference).max(0.001)
}

#[cfg(test)]
mod tests {
    use super::super::golden::*;
    use super::*;

    #[test]
    fn golden_values() {
        for (m, n, expected) in [
            (800, 1200, 0.027_692_115_406_892_18),
            (5000, 3000, 0.022_227_019_653_178_38),
            (20000, 15000, 0.021_651_634_111_085_35),
        ] {
            let (mut r, mut c) = (ref_num(m), cur_num(n));
            r.sort_by(f64::total_cmp);
            c.sort_by(f64::total_cmp);
            let w = normed(&r, &c);
            assert!(close(w, expected), "{m}/{n}: {w}");
        }
    }

    #[test]
    fn shifting_by_one_std_gives_one() {
        let r: Vec<f64> = (0..1000).map(|i| f64::from(i) / 999.0).collect();
        let c: Vec<f64> = r.iter().map(|x| x + population_std(&r)).collect();
        assert!((normed(&r, &c) - 1.0).abs() < 1e-9);
        assert_eq!(normed(&r, &r), 0.0);
    }
}
