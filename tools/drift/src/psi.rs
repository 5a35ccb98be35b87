//! Population Stability Index on Evidently's zero-filled bins:
//! `Σ (p_ref − p_cur) · ln(p_ref / p_cur)`.

use super::binning::fill_zeroes;

pub fn psi(p_ref: &[f64], p_cur: &[f64]) -> f64 {
    let (r, c) = (fill_zeroes(p_ref), fill_zeroes(p_cur));
    r.iter().zip(&c).map(|(a, b)| (a - b) * (a / b).ln()).sum()
}
