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
    if n1 == n2 {
        // Every piece ends where both samples step: the mean gap between the order statistics.
        return sum(reference, current, |x, y| (x - y).abs()) / n1 as f64;
    }
    let (mut i, mut j) = (0, 0);
    let (mut at, mut total) = (0u64, 0.0);
    while let (Some(&x), Some(&y)) = (reference.get(i), current.get(j)) {
        let (end_r, end_c) = ((i as u64 + 1) * n2, (j as u64 + 1) * n1);
        let end = end_r.min(end_c);
        total += (end - at) as f64 * (x - y).abs();
        at = end;
        // Both advance where the pieces end together.
        i += usize::from(end_r == end);
        j += usize::from(end_c == end);
    }
    total / (n1 as f64 * n2 as f64)
}

/// Population standard deviation (numpy's default `ddof=0`).
pub fn population_std(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = sum(values, values, |x, _| x) / n;
    (sum(values, values, |x, _| (x - mean) * (x - mean)) / n).sqrt()
}

/// The normed distance of two sorted samples.
pub fn normed(reference: &[f64], current: &[f64]) -> f64 {
    distance(reference, current) / population_std(reference).max(0.001)
}

/// The sum of `f` over the pairs of `a` and `b` (of equal length), in eight running totals
/// (numpy sums in blocks as well): with one total, every addition waits for the one before it,
/// which bounds a million-value sum by the latency of an addition rather than by how many
/// additions the CPU can do at once.
fn sum(a: &[f64], b: &[f64], f: impl Fn(f64, f64) -> f64) -> f64 {
    let mut totals = [0.0; 8];
    let (chunks_a, chunks_b) = (a.chunks_exact(8), b.chunks_exact(8));
    let rest: f64 = (chunks_a.remainder().iter())
        .zip(chunks_b.remainder())
        .map(|(&x, &y)| f(x, y))
        .sum();
    for (ca, cb) in chunks_a.zip(chunks_b) {
        for ((t, &x), &y) in totals.iter_mut().zip(ca).zip(cb) {
            *t += f(x, y);
        }
    }
    let [t0, t1, t2, t3, t4, t5, t6, t7] = totals;
    ((t0 + t1) + (t2 + t3)) + ((t4 + t5) + (t6 + t7)) + rest
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
    fn the_standard_deviation_is_numpys() {
        // np.std(np.arange(1, 101) ** 1.5); the golden reference sample summed one by one.
        let v: Vec<f64> = (1..=100).map(|i| f64::from(i).powf(1.5)).collect();
        assert!((population_std(&v) - 301.645_622_006_971_7).abs() < 1e-9);
        assert_eq!(population_std(&[2.5; 13]), 0.0);
        assert_eq!(population_std(&[1.0, 3.0]), 1.0);
        let r = ref_num(5000);
        let mean = r.iter().sum::<f64>() / 5000.0;
        let one_by_one = (r.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / 5000.0).sqrt();
        assert!((population_std(&r) - one_by_one).abs() < 1e-12);
    }

    #[test]
    fn shifting_by_one_std_gives_one() {
        let r: Vec<f64> = (0..1000).map(|i| f64::from(i) / 999.0).collect();
        let c: Vec<f64> = r.iter().map(|x| x + population_std(&r)).collect();
        assert!((normed(&r, &c) - 1.0).abs() < 1e-9);
        assert_eq!(normed(&r, &r), 0.0);
    }
}
