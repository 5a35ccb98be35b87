//! Evidently's normed Wasserstein distance: `W1(ref, cur) / max(std(ref), 0.001)`, with scipy's
//! `_cdf_distance(1, …)` and the population standard deviation of the reference.

/// W1 between two sorted samples: the area between their right-continuous ECDFs, summed over
/// the gaps between consecutive pooled values (scipy sorts the pooled values; merging the two
/// sorted samples gives the same sequence without a sort).
pub fn distance(reference: &[f64], current: &[f64]) -> f64 {
    let (n1, n2) = (reference.len() as f64, current.len() as f64);
    let (mut i, mut j) = (0, 0);
    let mut previous: Option<f64> = None;
    let mut total = 0.0;
    while i < reference.len() || j < current.len() {
        let from_reference =
            j >= current.len() || (i < reference.len() && reference[i] <= current[j]);
        let value = if from_reference {
            reference[i]
        } else {
            current[j]
        };
        // Every value up to `previous` is counted once the merge moves past it.
        if let Some(p) = previous
            && value > p
        {
            total += (i as f64 / n1 - j as f64 / n2).abs() * (value - p);
        }
        if from_reference {
            i += 1;
        } else {
            j += 1;
        }
        previous = Some(value);
    }
    total
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
