//! Survival function of the finite-n two-sided one-sample Kolmogorov statistic D_n, i.e. scipy's
//! `kstwo.sf(x, n)`, which `ks_2samp` uses for samples over 10,000 values with
//! n = round(m·n / (m + n)). The branch structure follows Simard & L'Ecuyer (2011), "Computing the
//! two-sided Kolmogorov-Smirnov distribution", as scipy does:
//!
//! * the closed forms of Ruben & Gambino near the ends of the support;
//! * `2 · smirnov(n, x)` (the one-sided Birnbaum-Tingey sum, exact) where the tails do not overlap;
//! * Durbin's matrix formula (as computed by Marsaglia, Tsang & Wang 2003) for the exact CDF;
//! * the Pelz-Good asymptotic expansion where n is large and x moderate.
//!
//! scipy uses Pomeranz's recursion for n ≤ 140 and 0.754693 < n·x² ≤ 4; Pomeranz and Durbin both
//! compute the exact CDF, so Durbin's matrix is used there too (the tests compare the two regions
//! against scipy's values).

use std::f64::consts::PI;

/// Pr(D_n > x).
pub fn sf(n: u64, x: f64) -> f64 {
    if n == 0 || x.is_nan() {
        return f64::NAN;
    }
    if x >= 1.0 {
        return 0.0;
    }
    if x <= 0.0 {
        return 1.0;
    }
    let nf = n as f64;
    let t = nf * x;
    if t <= 1.0 {
        if t <= 0.5 {
            return 1.0;
        }
        // Pr(D_n <= x) = n!/n^n · (2t − 1)^n for 1/(2n) < x ≤ 1/n.
        let log_cdf = ln_factorial(n) - nf * nf.ln() + nf * (2.0 * t - 1.0).ln();
        return clip(1.0 - log_cdf.exp());
    }
    if t >= nf - 1.0 {
        return clip(2.0 * (1.0 - x).powf(nf));
    }
    if x >= 0.5 {
        return clip(2.0 * smirnov_sf(n, x));
    }
    let nx2 = t * x;
    if n <= 140 {
        if nx2 <= 4.0 {
            return clip(1.0 - durbin_cdf(n, x));
        }
        return clip(2.0 * smirnov_sf(n, x));
    }
    if nx2 >= 370.0 {
        return 0.0;
    }
    if nx2 >= 2.2 {
        return clip(2.0 * smirnov_sf(n, x));
    }
    let cdf = if n <= 100_000 && nf * x.powf(1.5) <= 1.4 {
        durbin_cdf(n, x)
    } else {
        pelz_good_cdf(n, x)
    };
    clip(1.0 - cdf)
}

fn clip(p: f64) -> f64 {
    p.clamp(0.0, 1.0)
}

fn ln_factorial(n: u64) -> f64 {
    statrs::function::gamma::ln_gamma(n as f64 + 1.0)
}

/// p · 2^e without overflowing the intermediate power of two.
fn scale_by_power_of_two(mut p: f64, mut e: i64) -> f64 {
    while e != 0 && p != 0.0 && p.is_finite() {
        let step = e.clamp(-1000, 1000);
        p *= 2f64.powi(step as i32);
        e -= step;
    }
    p
}

/// Pr(D+_n > x), the one-sided statistic, by the Birnbaum-Tingey sum
/// x · Σ_{j=0}^{⌊n(1−x)⌋} C(n, j) (1 − x − j/n)^(n−j) (x + j/n)^(j−1), every term positive and
/// computed in logarithms so nothing overflows. For n over a million the terms are too many and
/// the approximation exp(−(6nx + 1)² / 18n) is used, as scipy does.
pub fn smirnov_sf(n: u64, x: f64) -> f64 {
    if n == 1 {
        return 1.0 - x;
    }
    if x <= 0.0 {
        return 1.0;
    }
    if x >= 1.0 {
        return 0.0;
    }
    let nf = n as f64;
    if -2.0 * nf * x * x < -708.0 - 38.0 {
        return 0.0;
    }
    if x <= 1.0 / nf {
        return 1.0 - x * (1.0 + x).powf(nf - 1.0);
    }
    if x >= 1.0 - 1.0 / nf {
        return (1.0 - x).powf(nf);
    }
    if n > 1_000_000 {
        return (-(6.0 * nf * x + 1.0).powi(2) / 18.0 / nf).exp();
    }
    // The last index with 1 − x − j/n > 0 (a zero factor contributes nothing).
    let mut last = (nf * (1.0 - x)).floor() as u64;
    if 1.0 - x - last as f64 / nf <= 0.0 {
        last = last.saturating_sub(1);
    }
    let ln_n_fact = ln_factorial(n);
    let mut sum = 0.0;
    for j in 0..=last {
        let jf = j as f64;
        let ln_choose = ln_n_fact - ln_factorial(j) - ln_factorial(n - j);
        let below = 1.0 - x - jf / nf;
        let above = x + jf / nf;
        let ln_term = ln_choose + (nf - jf) * below.ln() + (jf - 1.0) * above.ln();
        sum += ln_term.exp();
    }
    (x * sum).clamp(0.0, 1.0)
}

/// Pr(D_n ≤ d) by Durbin's matrix formula: with k = ⌈nd⌉ and h = k − nd, the (k, k) entry of
/// H^n times n!/n^n, where H is the (2k−1)-square matrix of Marsaglia, Tsang & Wang (2003).
/// Powers are taken by squaring, with the exponent of two tracked separately.
pub fn durbin_cdf(n: u64, d: f64) -> f64 {
    let nd = n as f64 * d;
    if d >= 1.0 {
        return 1.0;
    }
    if nd <= 0.5 {
        return 0.0;
    }
    let k = nd.ceil() as usize;
    let h = k as f64 - nd;
    let m = 2 * k - 1;
    // 1/j! for j = 0..=m.
    let mut inv_fact = vec![1.0; m + 1];
    for j in 1..=m {
        inv_fact[j] = inv_fact[j - 1] / j as f64;
    }
    let mut base = Matrix::zeros(m);
    for i in 0..m {
        for j in 0..m {
            // Below-or-on the first super-diagonal: 1/(i − j + 1)!.
            if i + 1 >= j {
                base.set(i, j, inv_fact[i + 1 - j]);
            }
        }
    }
    for i in 0..m {
        let first_column = (1.0 - h.powi(i as i32 + 1)) * inv_fact[i + 1];
        base.set(i, 0, first_column);
        base.set(m - 1, m - 1 - i, first_column);
    }
    let corner =
        (1.0 - 2.0 * h.powi(m as i32) + (2.0 * h - 1.0).max(0.0).powi(m as i32)) * inv_fact[m];
    base.set(m - 1, 0, corner);

    const BIG: f64 = 3.402_823_669_209_385e38; // 2^128
    let mut result = Matrix::identity(m);
    let mut result_exp: i64 = 0;
    let mut base_exp: i64 = 0;
    let mut remaining = n;
    while remaining > 0 {
        if remaining % 2 == 1 {
            result = result.mul(&base);
            result_exp += base_exp;
        }
        base = base.mul(&base);
        base_exp *= 2;
        if base.get(k - 1, k - 1).abs() > BIG {
            base.scale(1.0 / BIG);
            base_exp += 128;
        }
        remaining /= 2;
    }
    let mut p = result.get(k - 1, k - 1);
    let nf = n as f64;
    for i in 1..=n {
        p = i as f64 * p / nf;
        if p.abs() < 1.0 / BIG {
            p *= BIG;
            result_exp -= 128;
        }
    }
    clip(scale_by_power_of_two(p, result_exp))
}

/// The Pelz-Good (1976) expansion of Pr(D_n ≤ x) in powers of 1/√n, with the series of each
/// term written for small z = x√n (Simard & L'Ecuyer 2011, section 3).
pub fn pelz_good_cdf(n: u64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let nf = n as f64;
    let z = nf.sqrt() * x;
    let (z2, z4, z6) = (z * z, z.powi(4), z.powi(6));
    let ln_q = -PI * PI / 8.0 / z2;
    if ln_q < -708.0 {
        return 0.0;
    }
    let (pi2, pi4, pi6) = (PI * PI, PI.powi(4), PI.powi(6));
    let terms = (16.0 * z / PI).ceil() as u64;
    let mut k = [0.0_f64; 4];
    for i in 1..=terms {
        let odd = (2 * i - 1) as f64;
        let (o2, o4, o6) = (odd * odd, odd.powi(4), odd.powi(6));
        let weight = (ln_q * o2).exp();
        k[0] += weight;
        k[1] += weight * (-z2 + pi2 / 4.0 * o2);
        k[2] += weight
            * (6.0 * z6
                + 2.0 * z4
                + (2.0 * z4 - 5.0 * z2) * pi2 / 4.0 * o2
                + pi4 * (1.0 - 2.0 * z2) / 16.0 * o4);
        k[3] += weight
            * (-30.0 * z6 - 90.0 * z.powi(8)
                + pi2 * (135.0 * z4 - 96.0 * z6) / 4.0 * o2
                + pi4 * (-60.0 * z2 + 212.0 * z4) / 16.0 * o4
                + pi6 * (5.0 - 30.0 * z2) / 64.0 * o6);
    }
    let root_two_pi = (2.0 * PI).sqrt();
    let denominators = [z, 6.0 * z4, 72.0 * z.powi(7), 6480.0 * z.powi(10)];
    for (value, denominator) in k.iter_mut().zip(denominators) {
        *value *= root_two_pi / denominator;
    }
    let ln_q2 = -PI * PI / 2.0 / z2;
    let (mut extra2, mut extra3) = (0.0, 0.0);
    for i in 1..=terms {
        let i2 = (i * i) as f64;
        let weight = i2 * (ln_q2 * i2).exp();
        extra2 += weight;
        extra3 += weight * (3.0 * z2 - pi2 * i2);
    }
    k[2] += extra2 * pi2 * root_two_pi / (-36.0 * z.powi(3));
    k[3] += extra3 * pi2 * root_two_pi / (216.0 * z6);
    k[0] + k[1] / nf.sqrt() + k[2] / nf + k[3] / nf.powf(1.5)
}

/// A small dense square matrix, row-major.
struct Matrix {
    size: usize,
    cells: Vec<f64>,
}

impl Matrix {
    fn zeros(size: usize) -> Self {
        Self {
            size,
            cells: vec![0.0; size * size],
        }
    }

    fn identity(size: usize) -> Self {
        let mut m = Self::zeros(size);
        for i in 0..size {
            m.set(i, i, 1.0);
        }
        m
    }

    fn get(&self, i: usize, j: usize) -> f64 {
        self.cells[i * self.size + j]
    }

    fn set(&mut self, i: usize, j: usize, v: f64) {
        self.cells[i * self.size + j] = v;
    }

    fn scale(&mut self, factor: f64) {
        self.cells.iter_mut().for_each(|c| *c *= factor);
    }

    fn mul(&self, other: &Self) -> Self {
        let s = self.size;
        let mut out = Self::zeros(s);
        for i in 0..s {
            let row = &mut out.cells[i * s..(i + 1) * s];
            for l in 0..s {
                let a = self.cells[i * s + l];
                if a == 0.0 {
                    continue;
                }
                let other_row = &other.cells[l * s..(l + 1) * s];
                for (cell, b) in row.iter_mut().zip(other_row) {
                    *cell += a * b;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (n, x, scipy 1.17.1 `kstwo.sf(x, n)`) over every branch of the dispatch.
    const SCIPY_KSTWO_SF: &[(u64, f64, f64)] = &[
        (3, 0.31622776601683794, 0.8394178812740485),
        (3, 0.48304589153964794, 0.37398420708340896),
        (3, 0.5773502691896257, 0.17863279495408188),
        (3, 0.816496580927726, 0.012358406530009093),
        (3, 0.2333333333333333, 0.9857777777777778),
        (3, 0.31666666666666665, 0.8380000000000001),
        (3, 0.6, 0.14400000000000004),
        (3, 0.8333333333333334, 0.009259259259259254),
        (20, 0.1224744871391589, 0.890041965695165),
        (20, 0.18708286933869706, 0.4331423095607565),
        (20, 0.22360679774997896, 0.23255659230168213),
        (20, 0.31622776601683794, 0.02815403987659637),
        (20, 0.4183300132670378, 0.0010976405983622595),
        (20, 0.5, 3.787595240539032e-05),
        (20, 0.034999999999999996, 0.9999999999999998),
        (20, 0.0475, 0.9999999971791831),
        (20, 0.6, 2.0483011649719853e-07),
        (20, 0.975, 1.8189894035458887e-32),
        (100, 0.05477225575051661, 0.9088773735543619),
        (100, 0.08366600265340755, 0.4610541880530099),
        (100, 0.1, 0.2526927570063874),
        (100, 0.1414213562373095, 0.033021291602222995),
        (100, 0.18708286933869708, 0.0015454757172025397),
        (100, 0.22360679774997896, 7.124324462133145e-05),
        (100, 0.4472135954999579, 9.270407602904664e-19),
        (100, 0.006999999999999999, 1.0),
        (100, 0.0095, 1.0),
        (100, 0.6, 5.912822156396238e-35),
        (100, 0.995, 1.5777218104421636e-230),
        (140, 0.04629100498862757, 0.9113451622901063),
        (140, 0.07071067811865475, 0.4647484277001545),
        (140, 0.08451542547285165, 0.25530484459737574),
        (140, 0.11952286093343936, 0.03360006627137182),
        (140, 0.15811388300841897, 0.001594567547663974),
        (140, 0.1889822365046136, 7.493647835359271e-05),
        (140, 0.3779644730092272, 1.7650164901619118e-18),
        (140, 0.8451542547285166, 2.052246954673804e-113),
        (140, 0.005, 1.0),
        (140, 0.0067857142857142855, 1.0),
        (140, 0.6, 1.0052268370224967e-48),
        (140, 0.9964285714285714, 0.0),
        (141, 0.04612656040144426, 0.9113931894286869),
        (141, 0.07045948486252364, 0.4648186842971528),
        (141, 0.08421519210665189, 0.2553544927215675),
        (141, 0.11909826683508273, 0.03361177839745977),
        (141, 0.1575521978122203, 0.0015955000175785763),
        (141, 0.18831089428867737, 7.500614872081074e-05),
        (141, 0.37662178857735473, 1.7847089343950947e-18),
        (141, 0.8421519210665189, 5.325671079908681e-113),
        (141, 0.004964539007092198, 1.0),
        (141, 0.006737588652482269, 1.0),
        (141, 0.6, 4.550154415759682e-49),
        (141, 0.9964539007092199, 0.0),
        (400, 0.027386127875258306, 0.9169075790525985),
        (400, 0.04183300132670378, 0.4731596716331765),
        (400, 0.05, 0.26121244607129124),
        (400, 0.07071067811865475, 0.03486454522844551),
        (400, 0.09354143466934854, 0.0016965891659396228),
        (400, 0.11180339887498948, 8.2391239374767e-05),
        (400, 0.22360679774997896, 4.73249224994895e-18),
        (400, 0.5, 5.390131481240781e-93),
        (400, 0.0017499999999999998, 1.0),
        (400, 0.002375, 1.0),
        (400, 0.6, 3.166177454421944e-138),
        (400, 0.99875, 0.0),
        (1000, 0.017320508075688773, 0.9198987616045818),
        (1000, 0.026457513110645904, 0.4777422207351657),
        (1000, 0.03162277660168379, 0.2644092421903177),
        (1000, 0.044721359549995794, 0.03552291113252082),
        (1000, 0.05916079783099616, 0.0017463477403632636),
        (1000, 0.07071067811865475, 8.584431698919054e-05),
        (1000, 0.1414213562373095, 6.514968438605172e-18),
        (1000, 0.31622776601683794, 2.1241648394741345e-89),
        (1000, 0.0007, 1.0),
        (1000, 0.00095, 1.0),
        (1000, 0.6, 0.0),
        (1000, 0.9995, 0.0),
        (8571, 0.00591622769064075, 0.9233090261461162),
        (8571, 0.009037187073651672, 0.4830250884474797),
        (8571, 0.010801504538335447, 0.2680769340374035),
        (8571, 0.015275634212148526, 0.036256128458854064),
        (8571, 0.02020776462206754, 0.0017985399850123922),
        (8571, 0.02415289840699054, 8.925662104998383e-05),
        (8571, 0.04830579681398108, 8.06651963191003e-18),
        (8571, 0.10801504538335446, 1.5360226484034549e-87),
        (8571, 8.167075020417687e-05, 1.0),
        (8571, 0.00011083887527709718, 1.0),
        (8571, 0.6, 0.0),
        (8571, 0.9999416637498542, 0.0),
        (60000, 0.0022360679774997894, 0.9244136447664515),
        (60000, 0.003415650255319866, 0.48475107788158933),
        (60000, 0.004082482904638631, 0.2692713143987787),
        (60000, 0.005773502691896258, 0.036489791557579476),
        (60000, 0.007637626158259733, 0.0018143836198076496),
        (60000, 0.009128709291752768, 9.02355637748114e-05),
        (60000, 0.018257418583505537, 8.370307644330038e-18),
        (60000, 0.040824829046386304, 2.502826268216002e-87),
        (60000, 1.1666666666666666e-05, 1.0),
        (60000, 1.5833333333333333e-05, 1.0),
        (60000, 0.6, 0.0),
        (60000, 0.9999916666666666, 0.0),
        (150000, 0.001414213562373095, 0.9246605742207306),
        (150000, 0.0021602468994692866, 0.4851379655206354),
        (150000, 0.0025819888974716113, 0.2695387835221361),
        (150000, 0.0036514837167011074, 0.03654177417486748),
        (150000, 0.004830458915396479, 0.001817853129705224),
        (150000, 0.005773502691896258, 9.044567896732773e-05),
        (150000, 0.011547005383792516, 8.42206054373041e-18),
        (150000, 0.025819888974716113, 2.6418767429951637e-87),
        (150000, 4.666666666666666e-06, 1.0),
        (150000, 6.333333333333333e-06, 1.0),
        (150000, 0.6, 0.0),
        (150000, 0.9999966666666666, 0.0),
        (2000000, 0.00038729833462074166, 0.9249692358420745),
        (2000000, 0.0005916079783099615, 0.48562212846019115),
        (2000000, 0.0007071067811865475, 0.26987337175671866),
        (2000000, 0.001, 0.03660662431970485),
        (2000000, 0.0013228756555322954, 0.001822156180922723),
        (2000000, 0.0015811388300841897, 9.070419597628132e-05),
        (2000000, 0.0031622776601683794, 8.478814509034728e-18),
        (2000000, 0.007071067811865475, 2.7547761803607726e-87),
        (2000000, 3.5e-07, 1.0),
        (2000000, 4.7499999999999995e-07, 1.0),
        (2000000, 0.6, 0.0),
        (2000000, 0.99999975, 0.0),
    ];

    #[test]
    fn matches_scipy_on_every_branch() {
        for &(n, x, expected) in SCIPY_KSTWO_SF {
            let p = sf(n, x);
            assert!(
                (p - expected).abs() <= 1e-9,
                "n = {n}, x = {x}: {p} vs scipy {expected}"
            );
        }
    }

    #[test]
    fn durbin_and_pelz_good_agree_where_both_apply() {
        // n = 5000 with n·x² = 1: Pelz-Good's expansion is accurate to well below 1e-6 there.
        let (n, x) = (5000, (1.0_f64 / 5000.0).sqrt());
        assert!((durbin_cdf(n, x) - pelz_good_cdf(n, x)).abs() < 1e-6);
    }

    #[test]
    fn survival_function_is_monotone_in_x() {
        for n in [7, 150, 2000] {
            let mut previous = 1.0;
            for i in 1..200 {
                let p = sf(n, f64::from(i) / 200.0);
                assert!(p <= previous + 1e-12, "n = {n}, i = {i}");
                previous = p;
            }
        }
    }
}
