//! Two-sample Kolmogorov-Smirnov test as `scipy.stats.ks_2samp(method="auto")`: the D statistic
//! from integer ECDF counts, the exact two-sided p-value when both samples have at most 10,000
//! values, and otherwise scipy's `asymp` branch: the finite-n Kolmogorov distribution
//! `kstwo.sf(D, round(m·n / (m + n)))` (see [`super::kstwo`]).

/// Largest sample for which scipy's `auto` method is exact.
pub const MAX_EXACT_N: usize = 10_000;

/// The statistic and the two-sided p-value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KsResult {
    pub d: f64,
    pub p_value: f64,
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// D = sup |F_ref - F_cur| over the pooled values, from integer counts divided once.
pub fn statistic(reference: &[f64], current: &[f64]) -> f64 {
    let (n1, n2) = (reference.len(), current.len());
    let (mut i, mut j) = (0, 0);
    let mut d: f64 = 0.0;
    while i < n1 && j < n2 {
        let x = reference[i].min(current[j]);
        while i < n1 && reference[i] <= x {
            i += 1;
        }
        while j < n2 && current[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / n1 as f64 - j as f64 / n2 as f64).abs());
    }
    d
}

/// P(D >= h / lcm) for samples of sizes `m` and `n` under the null hypothesis: one minus the
/// probability that a uniformly random lattice path from (0,0) to (m,n) stays strictly inside
/// `|i·n/g − j·m/g| < h`. The recurrence keeps each cell normalised by the number of paths
/// reaching it, so no binomial coefficient is ever formed.
fn exact_p(m: usize, n: usize, h: u64) -> f64 {
    let g = gcd(m as u64, n as u64);
    let (a, b) = (n as u64 / g, m as u64 / g);
    let inside = |i: usize, j: usize| (i as u64 * a).abs_diff(j as u64 * b) < h;
    let mut row = vec![0.0_f64; n + 1];
    for (j, cell) in row.iter_mut().enumerate() {
        if !inside(0, j) {
            break;
        }
        *cell = 1.0;
    }
    for i in 1..=m {
        row[0] = if inside(i, 0) { row[0] } else { 0.0 };
        for j in 1..=n {
            row[j] = if inside(i, j) {
                (i as f64 * row[j] + j as f64 * row[j - 1]) / (i + j) as f64
            } else {
                0.0
            };
        }
    }
    (1.0 - row[n]).clamp(0.0, 1.0)
}

/// The two-sided two-sample KS test of two sorted samples.
pub fn two_sample(reference: &[f64], current: &[f64]) -> KsResult {
    let (m, n) = (reference.len(), current.len());
    let d = statistic(reference, current);
    if m.max(n) > MAX_EXACT_N {
        let effective_n = (m as f64 * n as f64 / (m + n) as f64).round_ties_even() as u64;
        return KsResult {
            d,
            p_value: super::kstwo::sf(effective_n.max(1), d),
        };
    }
    let g = gcd(m as u64, n as u64);
    let lcm = (m as u64 / g) * n as u64;
    let h = (d * lcm as f64).round_ties_even() as u64;
    let p = if h == 0 { 1.0 } else { exact_p(m, n, h) };
    KsResult {
        d: h as f64 / lcm as f64,
        p_value: p,
    }
}

#[cfg(test)]
mod tests {
    use super::super::golden::*;
    use super::*;

    fn sorted(mut v: Vec<f64>) -> Vec<f64> {
        v.sort_by(f64::total_cmp);
        v
    }

    #[test]
    fn golden_values_of_the_exact_branch() {
        for (m, n, expected) in [
            (800, 1200, 0.993_625_719_464_032_6),
            (5000, 3000, 0.778_370_935_769_268_1),
        ] {
            let r = two_sample(&sorted(ref_num(m)), &sorted(cur_num(n)));
            let p = r.p_value;
            assert!(close(p, expected), "{m}/{n}: {p} vs {expected}");
        }
    }

    #[test]
    fn small_cases_against_hand_counts() {
        // m = n = 2, fully separated: D = 1 and 2 of the C(4,2) = 6 paths reach it.
        let r = two_sample(&[1.0, 2.0], &[3.0, 4.0]);
        assert_eq!(r.d, 1.0);
        assert!((r.p_value - 2.0 / 6.0).abs() < 1e-15);
        // Identical samples: D = 0, p = 1.
        let same = [1.0, 2.0, 3.0];
        assert_eq!(
            two_sample(&same, &same),
            KsResult {
                d: 0.0,
                p_value: 1.0
            }
        );
    }

    #[test]
    fn golden_value_of_the_kstwo_branch() {
        let r = two_sample(&sorted(ref_num(20_000)), &sorted(cur_num(15_000)));
        let p = r.p_value;
        assert!(close(p, 0.040_774_604_994_101_35), "{p}");
    }
}
