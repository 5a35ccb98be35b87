//! L-infinity distance: the largest difference of any category's share between the samples
//! (NannyML's categorical `l_infinity`).

pub fn l_infinity(p_ref: &[f64], p_cur: &[f64]) -> f64 {
    p_ref
        .iter()
        .zip(p_cur)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    #[test]
    fn largest_share_difference() {
        assert_eq!(
            super::l_infinity(&[0.5, 0.3, 0.2, 0.0], &[0.4, 0.3, 0.1, 0.2]),
            0.2
        );
        assert_eq!(super::l_infinity(&[1.0], &[1.0]), 0.0);
    }
}
