//! Kullback-Leibler divergence KL(reference ‖ current) as `scipy.stats.entropy` on Evidently's
//! zero-filled bins (renormalised to sum 1, natural log).

use super::binning::fill_zeroes;

pub fn kl_div(p_ref: &[f64], p_cur: &[f64]) -> f64 {
    let (r, c) = (fill_zeroes(p_ref), fill_zeroes(p_cur));
    let (sr, sc): (f64, f64) = (r.iter().sum(), c.iter().sum());
    r.iter()
        .zip(&c)
        .map(|(a, b)| {
            let (p, q) = (a / sr, b / sc);
            if p > 0.0 { p * (p / q).ln() } else { 0.0 }
        })
        .sum()
}
