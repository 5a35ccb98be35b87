//! Two-sample chi-square test of homogeneity, as `scipy.stats.chi2_contingency` on the 2 × k
//! table of reference and current counts (Yates' correction when there is one degree of
//! freedom). Unlike Evidently's goodness-of-fit `chisquare`, it accounts for the reference's own
//! sampling error, and a category new in the current data does not force p = 0.

use statrs::distribution::{ChiSquared, ContinuousCDF};

use super::Counts;

pub fn chi2_contingency<K: Ord + Clone>(reference: &Counts<K>, current: &Counts<K>) -> f64 {
    let keys: std::collections::BTreeSet<&K> = reference.keys().chain(current.keys()).collect();
    let rows = [reference, current];
    let row_sums: Vec<f64> = rows
        .iter()
        .map(|r| r.values().sum::<u64>() as f64)
        .collect();
    let total: f64 = row_sums.iter().sum();
    let dof = keys.len().saturating_sub(1);
    if dof == 0 || total == 0.0 {
        return 1.0;
    }
    let mut stat = 0.0;
    for key in &keys {
        let observed: Vec<f64> = rows
            .iter()
            .map(|r| r.get(*key).copied().unwrap_or(0) as f64)
            .collect();
        let column: f64 = observed.iter().sum();
        for (o, row_sum) in observed.into_iter().zip(&row_sums) {
            let expected = row_sum * column / total;
            // Yates: move each observation up to 0.5 towards its expectation.
            let o = if dof == 1 {
                o + (expected - o).signum() * (expected - o).abs().min(0.5)
            } else {
                o
            };
            stat += (o - expected).powi(2) / expected;
        }
    }
    ChiSquared::new(dof as f64).map_or(f64::NAN, |d| d.sf(stat))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(a: &[u64], b: &[u64]) -> (Counts<usize>, Counts<usize>) {
        let m = |v: &[u64]| {
            v.iter()
                .copied()
                .enumerate()
                .filter(|(_, c)| *c > 0)
                .collect()
        };
        (m(a), m(b))
    }

    #[test]
    fn matches_scipy() {
        // scipy 1.17 chi2_contingency(...).pvalue
        for (a, b, p) in [
            (&[10, 20][..], &[20, 20][..], 0.249_976_057_520_485_07),
            (&[30, 10, 5][..], &[20, 25, 8][..], 0.014_089_681_891_328_93),
            (&[100, 0][..], &[90, 10][..], 0.003_500_475_821_755_827_3),
        ] {
            let (r, c) = table(a, b);
            let got = chi2_contingency(&r, &c);
            assert!((got - p).abs() < 1e-9, "{a:?}/{b:?}: {got} vs {p}");
        }
        let (r, _) = table(&[5, 5], &[]);
        assert_eq!(chi2_contingency(&r, &r), 1.0);
    }
}
