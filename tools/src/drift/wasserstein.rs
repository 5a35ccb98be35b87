//! Evidently's normed Wasserstein distance: `W1(ref, cur) / max(std(ref), 0.001)`, with scipy's
//! `_cdf_distance(1, …)` and the population standard deviation of the reference.

/// W1 between two sorted samples: the area between their right-continuous ECDFs, summed over
/// the gaps between consecutive pooled values (scipy sorts the pooled values; merging the two
/// sorted samples gives the same sequence without a sort).
///
/// Over the gap after `p` the ECDFs are `i/n1` and `j/n2` (the values merged so far, which are
/// exactly those up to `p`); their difference is summed as the integer `|i·n2 − j·n1|` and
/// divided by `n1·n2` once at the end.
pub fn distance(reference: &[f64], current: &[f64]) -> f64 {
    let (n1, n2) = (reference.len(), current.len());
    let (Some(&first_r), Some(&first_c)) = (reference.first(), current.first()) else {
        return 0.0;
    };
    let gap =
        |i: usize, j: usize| (i as i64 * n2 as i64 - j as i64 * n1 as i64).unsigned_abs() as f64;
    let (mut i, mut j) = (0, 0);
    // Gaps between equal values are empty, so the smallest value can start the sum.
    let mut previous = first_r.min(first_c);
    let mut total = 0.0;
    // Without a branch on which side comes next (mispredicted half the time on mixed samples).
    while let (Some(&x), Some(&y)) = (reference.get(i), current.get(j)) {
        let from_reference = x <= y;
        // `min` compiles to a select; an `if` here became a branch.
        let value = x.min(y);
        total += gap(i, j) * (value - previous);
        previous = value;
        i += usize::from(from_reference);
        j += usize::from(!from_reference);
    }
    for (k, &value) in reference.iter().enumerate().skip(i) {
        total += gap(k, j) * (value - previous);
        previous = value;
    }
    for (k, &value) in current.iter().enumerate().skip(j) {
        total += gap(i, k) * (value - previous);
        previous = value;
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
